r"""The data-model contract shared by every toy model.

A *data model* is a distribution :math:`p_0` over clean data with an exact posterior mean under
variance-preserving Gaussian noising

.. math:: x_t = \sqrt{\bar\alpha}\, x_0 + \sqrt{1-\bar\alpha}\,\varepsilon, \qquad
          \varepsilon \sim \mathcal N(0, I).

Its methods, shared by every model (and by learned denoisers, see :class:`Denoiser`):

* ``sample(n, seed)`` → ``n`` clean samples in the model's *native* encoding (int tokens for
  sequences, floats otherwise); sample ``i`` depends only on ``(seed, i)``.
* ``encode(native)`` / ``decode(x)`` between native data and the continuous diffusion space
  (one-hot / argmax for tokens; identity for vectors and images).
* ``denoise(x_t, alpha_bar)`` → :math:`\hat x_0(x_t) = E[x_0 \mid x_t]` in the diffusion space,
  shape of ``x_t``; ``alpha_bar`` is a float or one value per sample (shape ``(n,)``).
* ``score(x_t, alpha_bar)`` → :math:`\nabla \log p_t(x_t)` by Tweedie's formula,
  :math:`(\sqrt{\bar\alpha}\,\hat x_0 - x_t)/(1-\bar\alpha)`.
* ``log_prob(native)`` → exact :math:`\log p_0` where the model has one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["DataModel", "Denoiser", "as_alpha_bar", "tweedie_score"]


@runtime_checkable
class Denoiser(Protocol):
    """Anything that maps noisy data to a posterior-mean estimate.

    ``denoise(x_t, alpha_bar)``: ``x_t`` of shape ``(n, *event_shape)``, ``alpha_bar`` a float or
    an array of shape ``(n,)``; returns :math:`\\hat x_0` with the shape of ``x_t``.
    """

    def denoise(self, x_t: np.ndarray, alpha_bar: float | np.ndarray) -> np.ndarray: ...


def as_alpha_bar(alpha_bar: float | np.ndarray, n: int) -> np.ndarray:
    """``alpha_bar`` as a float64 array of shape ``(n,)`` with values checked in ``(0, 1]``."""
    a = np.asarray(alpha_bar, dtype=np.float64)
    if a.ndim == 0:
        a = np.full(n, float(a))
    if a.shape != (n,):
        raise ValueError(f"alpha_bar must be a scalar or have shape ({n},), got {a.shape}")
    if not np.all((a > 0.0) & (a <= 1.0)):
        raise ValueError("alpha_bar must lie in (0, 1]")
    return a


def tweedie_score(x_t: np.ndarray, x0_hat: np.ndarray, alpha_bar: float | np.ndarray) -> np.ndarray:
    r"""Score from the posterior mean, :math:`(\sqrt{\bar\alpha}\,\hat x_0 - x_t)/(1-\bar\alpha)`."""
    a = as_alpha_bar(alpha_bar, x_t.shape[0]).reshape((-1,) + (1,) * (x_t.ndim - 1))
    return (np.sqrt(a) * x0_hat - x_t) / (1.0 - a)


class DataModel(ABC):
    """Base class of the data models: subclasses implement ``sample`` and ``denoise``.

    ``event_shape`` is the shape of one datum in the diffusion space. Token models set
    ``vocab_size`` (q) and override ``encode``/``decode``; continuous models keep the identity.
    """

    event_shape: tuple[int, ...] = ()
    vocab_size: int | None = None

    @abstractmethod
    def sample(self, n: int, seed: int) -> np.ndarray:
        """``n`` clean samples in the native encoding; sample ``i`` depends only on (seed, i)."""

    @abstractmethod
    def denoise(self, x_t: np.ndarray, alpha_bar: float | np.ndarray) -> np.ndarray:
        """Exact :math:`E[x_0 \\mid x_t]`, shape of ``x_t``."""

    def encode(self, native: np.ndarray) -> np.ndarray:
        """Native data → diffusion space (identity for continuous data)."""
        return np.asarray(native, dtype=np.float64)

    def decode(self, x: np.ndarray) -> np.ndarray:
        """Diffusion space → native data (identity for continuous data)."""
        return np.asarray(x)

    def score(self, x_t: np.ndarray, alpha_bar: float | np.ndarray, **kwargs: Any) -> np.ndarray:
        r""":math:`\nabla_{x_t} \log p_t(x_t)` by Tweedie's formula from :meth:`denoise`."""
        return tweedie_score(x_t, self.denoise(x_t, alpha_bar, **kwargs), alpha_bar)

    def params(self) -> dict[str, Any]:
        """Constructor parameters (JSON-serialisable), recorded in output files."""
        return {}
