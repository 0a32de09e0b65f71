r"""The model–oracle ladder :math:`D_k` (docs/theory.md §4.2).

For a tree model of depth :math:`L`, the filtered oracle BP_k (exact inference in the model whose
top :math:`k` levels are replaced by root-mediated independent channels, ``filtered_levels=k``)
keeps correlations only up to level :math:`L-k` of the hierarchy: BP_0 is the exact posterior,
BP_L the root-only one. The ladder

.. math:: D_k = E_{x_t}\, \mathrm{KL}\big(\hat x_0^{\mathrm{BP}_k}(x_t)\,\big\|\,
          \hat x_0^\theta(x_t)\big), \qquad k = 0..L,

(KL summed over symbols and positions, probabilities clipped at 1e-8, see
:mod:`physgen.metrics.divergence`) tells how deep the correlations a trained model has learned
reach: sequential learning shows as :math:`D_L` falling first, then :math:`D_{L-1}`, …, then
:math:`D_0`. The oracle–oracle ladder :func:`oracle_gaps` is
:math:`E\,\mathrm{KL}(\mathrm{BP}_0\|\mathrm{BP}_k)`; its last entry, :func:`root_only_kl`
:math:`= E\,\mathrm{KL}(\mathrm{BP}_0\|\mathrm{BP}_L)`, is the divergence of the root-only oracle
from the exact one: a model whose :math:`D_0` is below it has learned more than the root
(:func:`learned_beyond_root`, the ``learned`` rule of :func:`physgen.metrics.onsets.bias_onset`).

BP_k outputs on fixed inputs do not change along training, so the ladder functions accept them
precomputed (``oracle``, shape ``(n_levels, n, N, q)``) and then never call the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from physgen.errors import PhysgenError
from physgen.metrics._common import DEFAULT_EPS, denoise_batched
from physgen.metrics.divergence import kl_divergence

__all__ = [
    "learned_beyond_root",
    "oracle_gaps",
    "oracle_ladder",
    "oracle_outputs",
    "root_only_kl",
    "site_only_kl",
]


def _depth(model: Any) -> int:
    depth = getattr(model, "depth", None)
    if depth is None:
        raise PhysgenError(
            f"{type(model).__name__} has no 'depth': the oracle ladder needs a model whose "
            "denoise takes filtered_levels=k (k = 0..depth), or pass levels explicitly"
        )
    return int(depth)


def _levels(model: Any, levels: Sequence[int] | None) -> list[int]:
    return list(range(_depth(model) + 1)) if levels is None else [int(k) for k in levels]


def oracle_outputs(
    model: Any,
    x_t: np.ndarray,
    alpha_bar: float | np.ndarray,
    *,
    levels: Sequence[int] | None = None,
    batch_size: int | None = None,
) -> np.ndarray:
    """BP_k outputs for ``k`` in ``levels`` (default ``0..model.depth``) on ``x_t``
    (``(n, N, q)``): ``(len(levels), n, N, q)``."""
    return np.stack(
        [
            denoise_batched(model, x_t, alpha_bar, batch_size, filtered_levels=k)
            for k in _levels(model, levels)
        ]
    )


def _given_or_computed(
    oracle: np.ndarray | None,
    model: Any,
    x_t: np.ndarray,
    alpha_bar: float | np.ndarray,
    levels: Sequence[int] | None,
    batch_size: int | None,
) -> np.ndarray:
    if oracle is None:
        return oracle_outputs(model, x_t, alpha_bar, levels=levels, batch_size=batch_size)
    return np.asarray(oracle, dtype=np.float64)


def oracle_ladder(
    den: Any,
    model: Any,
    x_t: np.ndarray,
    alpha_bar: float | np.ndarray,
    *,
    levels: Sequence[int] | None = None,
    oracle: np.ndarray | None = None,
    eps: float = DEFAULT_EPS,
    batch_size: int | None = None,
) -> np.ndarray:
    """:math:`D_k` for ``k`` in ``levels`` (default ``0..model.depth``); shape ``(len(levels),)``.

    ``x_t``: ``(n, N, q)`` noised inputs, ``alpha_bar`` a float or ``(n,)``. The model's
    ``denoise(x_t, alpha_bar, filtered_levels=k)`` gives BP_k, unless ``oracle`` holds those
    outputs already (:func:`oracle_outputs` with the same ``levels``); ``den`` is evaluated once.
    """
    bp = _given_or_computed(oracle, model, x_t, alpha_bar, levels, batch_size)
    q = denoise_batched(den, x_t, alpha_bar, batch_size)
    return np.array([np.mean(kl_divergence(p, q, eps)) for p in bp])


def oracle_gaps(
    model: Any,
    x_t: np.ndarray,
    alpha_bar: float | np.ndarray,
    *,
    oracle: np.ndarray | None = None,
    eps: float = DEFAULT_EPS,
) -> np.ndarray:
    """The oracle–oracle ladder :math:`E\\,\\mathrm{KL}(\\mathrm{BP}_0\\|\\mathrm{BP}_k)` for
    k = 0..``model.depth``; shape ``(depth + 1,)``. ``oracle``: the BP_k outputs on ``x_t``
    (:func:`oracle_outputs`; computed when not given), its first entry BP_0."""
    bp = _given_or_computed(oracle, model, x_t, alpha_bar, None, None)
    return np.array([np.mean(kl_divergence(bp[0], q, eps)) for q in bp])


def root_only_kl(
    model: Any,
    x_t: np.ndarray,
    alpha_bar: float | np.ndarray,
    *,
    eps: float = DEFAULT_EPS,
    batch_size: int | None = None,
) -> float:
    """:math:`E\\,\\mathrm{KL}(\\mathrm{BP}_0 \\| \\mathrm{BP}_L)` on the inputs ``x_t``
    (``(n, N, q)``): the threshold of the ``learned`` onset rule."""
    bp = oracle_outputs(model, x_t, alpha_bar, levels=[0, _depth(model)], batch_size=batch_size)
    gaps = oracle_gaps(model, x_t, alpha_bar, oracle=bp, eps=eps)
    return float(gaps[-1])


def learned_beyond_root(d0: np.ndarray, root_only: float | np.ndarray) -> np.ndarray:
    """``1`` where a model's :math:`D_0` (``d0``, any shape) is below the root-only threshold
    :func:`root_only_kl` (it has learned correlations beyond the root), else ``0``; int8."""
    return (np.asarray(d0, dtype=np.float64) < np.asarray(root_only)).astype(np.int8)


def site_only_kl(
    model: Any,
    x_t: np.ndarray,
    alpha_bar: float | np.ndarray,
    *,
    eps: float = DEFAULT_EPS,
    batch_size: int | None = None,
) -> float:
    r""":math:`E\,\mathrm{KL}(\mathrm{BP}_0 \| \hat x_0^{\rm site})` on the inputs ``x_t``
    (``(n, N, q)``): the divergence from the exact denoiser of the independent-site predictor
    :math:`\hat x^{\rm site}_{0,i}(a) \propto m_i(a)\, e^{h_i(a)}`, :math:`m_i` the exact leaf
    marginals (``model.site_marginals()``, ``(N, q)``) and
    :math:`h_i(a) = \sqrt{\bar\alpha}\, x_{t,i}[a] / (1-\bar\alpha)` the leaf evidence. What a
    network knows at the end of the initial transient (single-site statistics only): the
    reference level of the ``progress`` rule of
    :func:`physgen.metrics.onsets.bias_onset_bracketed`."""
    x = np.asarray(x_t, dtype=np.float64)
    a = np.asarray(alpha_bar, dtype=np.float64).reshape((-1,) + (1,) * (x.ndim - 1))
    logits = np.log(np.maximum(model.site_marginals(), eps)) + np.sqrt(a) * x / (1.0 - a)
    site = np.exp(logits - logits.max(axis=-1, keepdims=True))
    site /= site.sum(axis=-1, keepdims=True)
    p = oracle_outputs(model, x, alpha_bar, levels=[0], batch_size=batch_size)[0]
    return float(np.mean(kl_divergence(p, site, eps)))
