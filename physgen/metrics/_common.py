"""Helpers shared by the metrics: batched denoiser calls and clipped probabilities.

Every metric calls a denoiser through :func:`denoise_batched`, which feeds it chunks of at most
``batch_size`` inputs (bounding the memory of a network or of belief propagation) and returns
float64 NumPy arrays whatever the denoiser's own dtype.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from physgen.errors import PhysgenError

__all__ = ["DEFAULT_EPS", "Precomputed", "clipped_probs", "denoise_batched", "noise_prediction"]

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


class Precomputed:
    """A denoiser whose outputs on one fixed set of inputs are already computed.

    The experiments evaluate each network once per checkpoint on the frozen inputs and compare
    those outputs with other denoisers' afterwards (networks of a pair are trained one after the
    other). Wrapping the stored outputs as a denoiser lets every comparison go through the one
    public metric (:func:`~physgen.metrics.denoiser_divergence`,
    :func:`~physgen.metrics.scores.denoiser_distance`, …) instead of a copy of its formula.

    ``x_t``: ``(n, *event)`` the inputs; ``x0_hat``: ``(n, *event)`` the outputs on them.
    ``denoise`` on any other inputs raises :class:`PhysgenError`.
    """

    def __init__(self, x_t: np.ndarray, x0_hat: np.ndarray) -> None:
        self.x_t = np.asarray(x_t, dtype=np.float64)
        self.x0_hat = np.asarray(x0_hat, dtype=np.float64)
        if self.x0_hat.shape != self.x_t.shape:
            raise PhysgenError(
                f"outputs of shape {self.x0_hat.shape} for inputs of shape {self.x_t.shape}"
            )

    def denoise(self, x_t: np.ndarray, alpha_bar: float | np.ndarray) -> np.ndarray:
        """The stored outputs, when ``x_t`` are the stored inputs."""
        x = np.asarray(x_t)
        if x is not self.x_t and (x.shape != self.x_t.shape or not np.array_equal(x, self.x_t)):
            raise PhysgenError("a Precomputed denoiser only answers on the inputs it was built on")
        return self.x0_hat


def noise_prediction(
    x_t: np.ndarray, alpha_bar: float | np.ndarray, x0_hat: np.ndarray
) -> np.ndarray:
    r"""The noise prediction implied by a posterior mean,
    :math:`\hat\varepsilon = (x_t - \sqrt{\bar\alpha}\,\hat x_0)/\sqrt{1-\bar\alpha}`.

    ``x_t``, ``x0_hat``: ``(n, *event)``; ``alpha_bar``: a float or ``(n,)``. Returns
    ``(n, *event)``.
    """
    x = np.asarray(x_t, dtype=np.float64)
    a = np.asarray(alpha_bar, dtype=np.float64)
    a = a.reshape((-1,) + (1,) * (x.ndim - 1)) if a.ndim else a
    return (x - np.sqrt(a) * x0_hat) / np.sqrt(1.0 - a)


def clipped_probs(p: np.ndarray, eps: float = DEFAULT_EPS) -> np.ndarray:
    """Probabilities over the last axis clipped to ``[eps, 1]`` and renormalised.

    Renormalising after the clip keeps each row a distribution, so a KL built from them is
    non-negative (Gibbs' inequality) and zero exactly when the rows agree.
    """
    p = np.clip(np.asarray(p, dtype=np.float64), eps, 1.0)
    return p / p.sum(axis=-1, keepdims=True)
