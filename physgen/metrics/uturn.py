r"""The U-turn overlap (docs/theory.md §4.7): how much of a clean sequence survives a round trip.

Start from a clean item :math:`x_0`, noise it to step :math:`t`,
:math:`x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon`, and run the reverse
sampler of a denoiser from :math:`x_t` back to 0 with fresh reverse noise. The overlap is the
fraction of positions where the decoded result equals the original,

.. math:: m(x_0, t) = \frac1N \sum_{i=1}^N \mathbb 1\big[\hat x_i = x_{0,i}\big],

averaged over ``reps`` independent round trips. It tends to 1 as :math:`t \to 0` and to the
chance level as :math:`t \to T`. The paper compares :math:`\langle m_\theta\rangle /
\langle m_{\rm BP}\rangle` on training and test starts: a model biased towards its training set
brings training starts back more often than the exact denoiser does.

Repetition :math:`r` of item :math:`\mu` noises with the stream ``(seed, μ·reps + r)`` and uses
the same stream index for its reverse noise (:func:`physgen.diffusion.ddpm_sample` with
``start``); so two denoisers evaluated with one ``seed`` start from the same :math:`x_t` and share
their reverse noise, and item :math:`\mu` does not depend on the other items.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from physgen.diffusion import Schedule, ddpm_sample
from physgen.errors import PhysgenError
from physgen.rng import per_sample_normal

__all__ = ["uturn_overlap"]

_PATH_UTURN = 0x5554524E  # "UTRN": the forward-noise stream, apart from the sampler's own


def uturn_overlap(
    den: Any,
    x0: np.ndarray,
    schedule: Schedule,
    t: int,
    reps: int,
    seed: int,
    decode: Callable[[np.ndarray], np.ndarray],
    *,
    chunk_size: int | None = None,
) -> np.ndarray:
    """Mean U-turn overlap per start; shape ``(n,)``.

    ``x0``: ``(n, *event)`` clean starts in the diffusion space; ``t``: the step in ``1..T`` to
    noise to; ``reps``: round trips per start; ``decode``: diffusion space → native tokens
    (``(m, *event)`` → ``(m, N)``), e.g. the model's ``decode``; ``chunk_size``: round trips
    per denoiser call (results do not depend on it).
    """
    x0 = np.asarray(x0, dtype=np.float64)
    n = x0.shape[0]
    if not 1 <= int(t) <= schedule.T:
        raise PhysgenError(f"t must be a diffusion step in 1..{schedule.T}, got {t}")
    if reps < 1:
        raise PhysgenError(f"reps must be ≥ 1, got {reps}")
    starts = np.repeat(x0, reps, axis=0)  # item μ, repetition r at row μ·reps + r
    eps = per_sample_normal(seed, np.arange(n * reps), x0.shape[1:], _PATH_UTURN)
    ab = schedule.alpha_bar[int(t)]
    x_t = np.sqrt(ab) * starts + np.sqrt(1.0 - ab) * eps
    back = ddpm_sample(
        den,
        schedule,
        n * reps,
        x0.shape[1:],
        seed,
        x_start=x_t,
        t_start=int(t),
        chunk_size=chunk_size,
    )
    same = np.asarray(decode(back)) == np.asarray(decode(starts))
    per_rep = same.reshape(n * reps, -1).mean(axis=1)
    return per_rep.reshape(n, reps).mean(axis=1)
