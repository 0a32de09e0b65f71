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
* ``log_prob(x, alpha_bar=1.0)`` → exact :math:`\log p_t(x)` of the noised marginal where the
  model has one (``alpha_bar = 1``: the clean :math:`\log p_0` of native data).

**What each experiment needs** is a named :class:`typing.Protocol`, checked when a cell starts
(:func:`missing_members`): :class:`TreeModel` (the tree experiment: tokens with the filtered BP
oracles, validity and exact likelihood), :class:`VectorModel` and :class:`ImageModel`. Optional
extras of a vector model are protocols of their own (:class:`HasMixture`, :class:`HasCovariance`,
:class:`HasLogProb`), tested with ``isinstance``.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = [
    "DataModel",
    "Denoiser",
    "HasCovariance",
    "HasLogProb",
    "HasMixture",
    "ImageModel",
    "TreeModel",
    "VectorModel",
    "as_alpha_bar",
    "missing_members",
    "tweedie_score",
]


@runtime_checkable
class Denoiser(Protocol):
    """Anything that maps noisy data to a posterior-mean estimate.

    ``denoise(x_t, alpha_bar)``: ``x_t`` of shape ``(n, *event_shape)``, ``alpha_bar`` a float or
    an array of shape ``(n,)``; returns :math:`\\hat x_0` with the shape of ``x_t``.
    """

    def denoise(self, x_t: np.ndarray, alpha_bar: float | np.ndarray) -> np.ndarray: ...


@runtime_checkable
class VectorModel(Protocol):
    """What the vector experiment needs: ``event_shape = (d,)``, samples and the exact denoiser."""

    event_shape: tuple[int, ...]

    def sample(self, n: int, seed: int) -> np.ndarray: ...

    def encode(self, native: np.ndarray) -> np.ndarray: ...

    def denoise(self, x_t: np.ndarray, alpha_bar: float | np.ndarray) -> np.ndarray: ...


@runtime_checkable
class ImageModel(Protocol):
    """What the image experiment needs: ``event_shape = (C, H, W)``, samples, the exact
    denoiser, and the ``mean_image`` ``(C, H, W)`` subtracted from every image (zeros when the
    images are not centred)."""

    event_shape: tuple[int, ...]
    mean_image: np.ndarray

    def sample(self, n: int, seed: int) -> np.ndarray: ...

    def encode(self, native: np.ndarray) -> np.ndarray: ...

    def denoise(self, x_t: np.ndarray, alpha_bar: float | np.ndarray) -> np.ndarray: ...


@runtime_checkable
class TreeModel(Protocol):
    """What the tree experiment needs: token sequences (``vocab_size`` q, ``event_shape =
    (N,)``) with a hierarchy of ``depth`` L whose filtered exact denoisers BP_k are
    ``denoise(x_t, alpha_bar, filtered_levels=k)``, k = 0..L; the per-level ``validity`` of
    sequences ``(n, N)`` → ``(n, L)`` and their exact ``log_prob`` (``-inf`` off the support)."""

    vocab_size: int
    depth: int
    event_shape: tuple[int, ...]

    def sample(self, n: int, seed: int) -> np.ndarray: ...

    def encode(self, native: np.ndarray) -> np.ndarray: ...

    def decode(self, x: np.ndarray) -> np.ndarray: ...

    def denoise(
        self, x_t: np.ndarray, alpha_bar: float | np.ndarray, filtered_levels: int = 0
    ) -> np.ndarray: ...

    def validity(self, tokens: np.ndarray) -> np.ndarray: ...

    def log_prob(self, x: np.ndarray, alpha_bar: float | np.ndarray = 1.0) -> np.ndarray: ...


@runtime_checkable
class HasLogProb(Protocol):
    """An exact log-density of the noised marginal, ``log_prob(x, alpha_bar)`` → ``(n,)``."""

    def log_prob(self, x: np.ndarray, alpha_bar: float | np.ndarray = 1.0) -> np.ndarray: ...


@runtime_checkable
class HasMixture(Protocol):
    """Component ``means`` ``(K, d)`` and ``weights`` ``(K,)`` of a mixture."""

    means: np.ndarray
    weights: np.ndarray


@runtime_checkable
class HasCovariance(Protocol):
    """The exact data covariance ``covariance()`` → ``(d, d)``."""

    def covariance(self) -> np.ndarray: ...


# keyword arguments a protocol method must accept beyond its positional ones
_KEYWORDS = {(TreeModel, "denoise"): ("filtered_levels",), (TreeModel, "log_prob"): ("alpha_bar",)}


def missing_members(model: Any, protocol: type) -> list[str]:
    """The members of ``protocol`` that ``model`` lacks (attributes, methods, and the keyword
    arguments a method must take, e.g. ``denoise(filtered_levels=)``), in declaration order;
    empty when ``model`` satisfies it."""
    names = list(getattr(protocol, "__annotations__", {})) + [
        n for n, v in vars(protocol).items() if callable(v) and not n.startswith("_")
    ]
    missing = [n for n in names if getattr(model, n, None) is None]
    for (proto, method), keywords in _KEYWORDS.items():
        if proto is protocol and method not in missing:
            params = inspect.signature(getattr(model, method)).parameters
            kinds = {p.kind for p in params.values()}
            for kw in keywords:
                if kw not in params and inspect.Parameter.VAR_KEYWORD not in kinds:
                    missing.append(f"{method}({kw}=)")
    return missing


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
