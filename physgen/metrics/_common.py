"""Helpers shared by the metrics: batched denoiser calls and clipped probabilities.

Every metric calls a denoiser through :func:`denoise_batched`, which feeds it chunks of at most
``batch_size`` inputs (bounding the memory of a network or of belief propagation) and returns
float64 NumPy arrays whatever the denoiser's own dtype.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from physgen.errors import PhysgenError

__all__ = ["DEFAULT_EPS", "clipped_probs", "denoise_batched"]

DEFAULT_EPS = 1e-8
"""Probability floor of every KL and cross-entropy (docs/theory.md §4)."""


def denoise_batched(
    den: Any,
    x_t: np.ndarray,
    alpha_bar: float | np.ndarray,
    batch_size: int | None = None,
    **kwargs: Any,
) -> np.ndarray:
    r"""``den.denoise(x_t, alpha_bar, **kwargs)`` in chunks of ``batch_size`` inputs.

    ``x_t``: ``(n, *event_shape)``; ``alpha_bar``: a float or ``(n,)``. Returns :math:`\hat x_0`
    of shape ``(n, *event_shape)`` in float64. ``batch_size=None`` makes one call.
    """
    if not hasattr(den, "denoise"):
        raise PhysgenError(
            f"{type(den).__name__} is not a denoiser: it has no denoise(x_t, alpha_bar) method"
        )
    x_t = np.asarray(x_t, dtype=np.float64)
    n = x_t.shape[0]
    a = np.asarray(alpha_bar, dtype=np.float64)
    if a.ndim == 0:
        a = np.full(n, float(a))
    if a.shape != (n,):
        raise PhysgenError(f"alpha_bar must be a scalar or have shape ({n},), got {a.shape}")
    if batch_size is None or batch_size >= n:
        return _call(den, x_t, a, kwargs)
    if batch_size < 1:
        raise PhysgenError(f"batch_size must be ≥ 1, got {batch_size}")
    parts = [
        _call(den, x_t[i : i + batch_size], a[i : i + batch_size], kwargs)
        for i in range(0, n, batch_size)
    ]
    return np.concatenate(parts, axis=0)


def _call(den: Any, x_t: np.ndarray, a: np.ndarray, kwargs: dict[str, Any]) -> np.ndarray:
    out = den.denoise(x_t, a, **kwargs)
    if hasattr(out, "detach"):  # a torch tensor from a bare module
        out = out.detach().cpu().numpy()
    out = np.asarray(out, dtype=np.float64)
    if out.shape != x_t.shape:
        raise PhysgenError(
            f"{type(den).__name__}.denoise returned shape {out.shape} for inputs of shape "
            f"{x_t.shape}; a denoiser must return x̂0 with the shape of x_t"
        )
    return out


def clipped_probs(p: np.ndarray, eps: float = DEFAULT_EPS) -> np.ndarray:
    """Probabilities over the last axis clipped to ``[eps, 1]`` and renormalised.

    Renormalising after the clip keeps each row a distribution, so a KL built from them is
    non-negative (Gibbs' inequality) and zero exactly when the rows agree.
    """
    p = np.clip(np.asarray(p, dtype=np.float64), eps, 1.0)
    return p / p.sum(axis=-1, keepdims=True)
