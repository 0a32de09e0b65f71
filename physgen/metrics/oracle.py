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
:math:`D_0`. :func:`root_only_kl` is :math:`E\,\mathrm{KL}(\mathrm{BP}_0\|\mathrm{BP}_L)`, the
divergence of the root-only oracle from the exact one: a model whose :math:`D_0` is below it has
learned more than the root (the ``learned`` rule of :func:`physgen.metrics.onsets.bias_onset`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from physgen.errors import PhysgenError
from physgen.metrics._common import DEFAULT_EPS, denoise_batched
from physgen.metrics.divergence import kl_divergence

__all__ = ["oracle_ladder", "root_only_kl", "site_only_kl"]


def _depth(model: Any) -> int:
    depth = getattr(model, "depth", None)
    if depth is None:
        raise PhysgenError(
            f"{type(model).__name__} has no 'depth': the oracle ladder needs a model whose "
            "denoise takes filtered_levels=k (k = 0..depth), or pass levels explicitly"
        )
    return int(depth)


def oracle_ladder(
    den: Any,
    model: Any,
    x_t: np.ndarray,
    alpha_bar: float | np.ndarray,
    *,
    levels: Sequence[int] | None = None,
    eps: float = DEFAULT_EPS,
    batch_size: int | None = None,
) -> np.ndarray:
    """:math:`D_k` for ``k`` in ``levels`` (default ``0..model.depth``); shape ``(len(levels),)``.

    ``x_t``: ``(n, N, q)`` noised inputs, ``alpha_bar`` a float or ``(n,)``. The model's
    ``denoise(x_t, alpha_bar, filtered_levels=k)`` gives BP_k; ``den`` is evaluated once.
    """
    ks = range(_depth(model) + 1) if levels is None else [int(k) for k in levels]
    q = denoise_batched(den, x_t, alpha_bar, batch_size)
    return np.array(
        [
            np.mean(
                kl_divergence(
                    denoise_batched(model, x_t, alpha_bar, batch_size, filtered_levels=k), q, eps
                )
            )
            for k in ks
        ]
    )


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
    p = denoise_batched(model, x_t, alpha_bar, batch_size, filtered_levels=0)
    q = denoise_batched(model, x_t, alpha_bar, batch_size, filtered_levels=_depth(model))
    return float(np.mean(kl_divergence(p, q, eps)))


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
    p = denoise_batched(model, x, alpha_bar, batch_size, filtered_levels=0)
    return float(np.mean(kl_divergence(p, site, eps)))
