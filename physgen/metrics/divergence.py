r"""KL divergences between denoisers: the sample-split divergence S and the KL along time.

For token data a denoiser's output :math:`\hat x_0(x_t) \in \mathbb R^{N\times q}` is one
posterior distribution over the :math:`q` symbols per position. The divergence of two denoisers on
one input is the KL summed over symbols and positions (docs/theory.md §4),

.. math:: \mathrm{KL}(p\,\|\,q) = \sum_{i=1}^N \sum_{a=1}^q p_{ia} \log\frac{p_{ia}}{q_{ia}},

with both probabilities clipped at ``eps = 1e-8`` and renormalised per position (so the KL is
:math:`\ge 0`, and 0 iff the clipped rows agree). :func:`denoiser_divergence` averages it over
inputs :math:`x_t`:

* the **sample-split divergence** :math:`S(\tau) = E\,\mathrm{KL}(\hat x_0^{\theta_A}\|\hat
  x_0^{\theta_B})` of two models trained on disjoint sets A and B (and, for two seeds on one set,
  its seed-noise baseline);
* the **oracle ladder** :math:`D_k` (:mod:`physgen.metrics.oracle`) with BP_k as first argument.

:func:`kl_along_time` traces :math:`E\,\mathrm{KL}(\hat x_0^p\|\hat x_0^q)` over diffusion steps
with one frozen noise per item (the same :math:`\varepsilon` at every step, so the curve is smooth
in :math:`t`). :class:`Bound` fixes keyword options of a denoiser, e.g. a filtering level:
``Bound(tree, filtered_levels=k)`` is the BP_k denoiser.

For continuous data (``kind="mse"``) the divergence is the squared distance
:math:`\|\hat x_0^p - \hat x_0^q\|^2` summed over the event dimensions.

Precision. :func:`divergence_estimate` evaluates the divergence on :math:`n` clean inputs, each
noised with :math:`r` independent draws, and returns the mean with its standard error
(:func:`nested_mean_se`): with :math:`v_{ij}` the divergence of input :math:`i` under draw
:math:`j` and :math:`\bar v_i = \frac1r \sum_j v_{ij}`, the inputs are i.i.d., so

.. math:: \hat S = \frac1n \sum_i \bar v_i, \qquad
          \mathrm{SE}^2 = \frac{1}{n(n-1)} \sum_i (\bar v_i - \hat S)^2,

unbiased for :math:`\mathrm{Var}\,\hat S = \sigma_{\rm in}^2/n + \sigma_{\rm noise}^2/(nr)`
whatever the split between the variance across inputs and across noise draws. The same
estimator gives the precision of a frozen-noise test loss, and of the difference of a curve
between two checkpoints when it is applied to the per-item differences (the same inputs and noise
at both: a paired difference, much more precise than either value).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from physgen.diffusion import Schedule
from physgen.errors import PhysgenError
from physgen.metrics._common import DEFAULT_EPS, clipped_probs, denoise_batched
from physgen.metrics.losses import frozen_noise

__all__ = [
    "Bound",
    "DivergenceEstimate",
    "denoiser_divergence",
    "divergence_estimate",
    "item_divergence",
    "kl_along_time",
    "kl_divergence",
    "nested_mean_se",
]


class Bound:
    """A denoiser with keyword options fixed: ``Bound(den, **kw).denoise(x, a)`` calls
    ``den.denoise(x, a, **kw)``."""

    def __init__(self, den: Any, **kwargs: Any) -> None:
        self.den = den
        self.kwargs = kwargs

    def denoise(self, x_t: np.ndarray, alpha_bar: float | np.ndarray) -> np.ndarray:
        """:math:`\\hat x_0` of shape ``x_t.shape`` from the wrapped denoiser."""
        return self.den.denoise(x_t, alpha_bar, **self.kwargs)

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())
        return f"Bound({self.den!r}, {opts})"


def kl_divergence(p: np.ndarray, q: np.ndarray, eps: float = DEFAULT_EPS) -> np.ndarray:
    """Per-item KL(p‖q) summed over symbols (last axis) and positions.

    ``p``, ``q``: ``(n, ..., q)`` probabilities, each row over the last axis a distribution.
    Returns ``(n,)``.
    """
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if p.shape != q.shape:
        raise PhysgenError(f"p and q must have the same shape, got {p.shape} and {q.shape}")
    if p.ndim < 2:
        raise PhysgenError(f"p and q must have shape (n, ..., q), got {p.shape}")
    pc = clipped_probs(p, eps)
    qc = clipped_probs(q, eps)
    kl = np.sum(pc * (np.log(pc) - np.log(qc)), axis=tuple(range(1, p.ndim)))
    # Gibbs: KL ≥ 0; summing nearly cancelling terms can round to -1e-17
    return np.maximum(kl, 0.0)


def item_divergence(
    den_p: Any,
    den_q: Any,
    x_t: np.ndarray,
    alpha_bar: float | np.ndarray,
    *,
    kind: Literal["kl", "mse"] = "kl",
    eps: float = DEFAULT_EPS,
    batch_size: int | None = None,
) -> np.ndarray:
    """Per-input KL(den_p(x_t) ‖ den_q(x_t)) (or the squared distance, ``"mse"``), shape ``(n,)``.

    ``x_t``: ``(n, *event)``; ``alpha_bar``: a float or ``(n,)``. Both denoisers see the same
    inputs.
    """
    p = denoise_batched(den_p, x_t, alpha_bar, batch_size)
    q = denoise_batched(den_q, x_t, alpha_bar, batch_size)
    if kind == "kl":
        return kl_divergence(p, q, eps)
    if kind == "mse":
        return np.sum((p - q) ** 2, axis=tuple(range(1, p.ndim)))
    raise PhysgenError(f"unknown divergence kind {kind!r}; choose 'kl' or 'mse'")


def denoiser_divergence(
    den_p: Any,
    den_q: Any,
    x_t: np.ndarray,
    alpha_bar: float | np.ndarray,
    *,
    kind: Literal["kl", "mse"] = "kl",
    eps: float = DEFAULT_EPS,
    batch_size: int | None = None,
) -> float:
    """Mean over inputs of :func:`item_divergence`: S, its seed baseline and the ladder D_k are
    this quantity."""
    return float(
        np.mean(
            item_divergence(den_p, den_q, x_t, alpha_bar, kind=kind, eps=eps, batch_size=batch_size)
        )
    )


@dataclass(frozen=True)
class DivergenceEstimate:
    """A mean over inputs × noise draws with its standard error (module docstring)."""

    mean: float
    se: float
    n_inputs: int
    n_draws: int


def nested_mean_se(values: np.ndarray) -> DivergenceEstimate:
    """Mean and standard error of ``values`` of shape ``(n_inputs, n_draws)`` (row i: input i
    under its noise draws; a 1-d array is one draw per input), from the spread of the per-input
    means (module docstring). Needs ``n_inputs ≥ 2``."""
    v = np.asarray(values, dtype=np.float64)
    v = v[:, None] if v.ndim == 1 else v
    if v.ndim != 2 or v.shape[0] < 2 or v.shape[1] < 1:
        raise PhysgenError(f"values must have shape (n_inputs ≥ 2, n_draws ≥ 1), got {v.shape}")
    per_input = v.mean(axis=1)
    se = float(np.std(per_input, ddof=1) / np.sqrt(v.shape[0]))
    return DivergenceEstimate(float(per_input.mean()), se, v.shape[0], v.shape[1])


def divergence_estimate(
    den_p: Any,
    den_q: Any,
    x0: np.ndarray,
    alpha_bar: float,
    noise: np.ndarray,
    *,
    kind: Literal["kl", "mse"] = "kl",
    eps: float = DEFAULT_EPS,
    batch_size: int | None = None,
) -> DivergenceEstimate:
    r""":math:`E\,\mathrm{KL}(\hat x_0^p \| \hat x_0^q)` over ``x0`` (``(n, *event)``, clean,
    diffusion space) noised at ``alpha_bar`` with each of the draws ``noise``
    (``(r, n, *event)``, e.g. :func:`~physgen.metrics.losses.frozen_noise` under ``r`` seeds):
    the mean and its standard error by :func:`nested_mean_se`."""
    x0 = np.asarray(x0, dtype=np.float64)
    noise = np.asarray(noise, dtype=np.float64)
    if noise.ndim != x0.ndim + 1 or noise.shape[1:] != x0.shape:
        raise PhysgenError(f"noise must have shape (r, *{x0.shape}), got {noise.shape}")
    values = np.stack(
        [
            item_divergence(
                den_p,
                den_q,
                np.sqrt(alpha_bar) * x0 + np.sqrt(1.0 - alpha_bar) * eps_j,
                alpha_bar,
                kind=kind,
                eps=eps,
                batch_size=batch_size,
            )
            for eps_j in noise
        ],
        axis=1,
    )
    return nested_mean_se(values)


def kl_along_time(
    den_p: Any,
    den_q: Any,
    x0: np.ndarray,
    schedule: Schedule,
    t_grid: Sequence[int] | np.ndarray,
    seed: int,
    *,
    kind: Literal["kl", "mse"] = "kl",
    eps: float = DEFAULT_EPS,
    batch_size: int | None = None,
) -> np.ndarray:
    """:math:`E\\,\\mathrm{KL}(\\hat x_0^p \\| \\hat x_0^q)` at each step of ``t_grid``.

    ``x0``: ``(n, *event)`` clean items, noised at every ``t`` with one frozen noise per item
    (:func:`~physgen.metrics.losses.frozen_noise` under ``seed``). Returns ``(len(t_grid),)``.
    """
    x0 = np.asarray(x0, dtype=np.float64)
    # ε does not depend on t (frozen_noise), so draw it once and re-noise at each step.
    noise = frozen_noise(x0, schedule, seed, 1).noise
    out = np.empty(len(t_grid))
    for j, t in enumerate(t_grid):
        if not 1 <= int(t) <= schedule.T:
            raise PhysgenError(f"t_grid values must be diffusion steps in 1..{schedule.T}, got {t}")
        ab = float(schedule.alpha_bar[int(t)])
        x_t = np.sqrt(ab) * x0 + np.sqrt(1.0 - ab) * noise
        out[j] = denoiser_divergence(
            den_p, den_q, x_t, ab, kind=kind, eps=eps, batch_size=batch_size
        )
    return out
