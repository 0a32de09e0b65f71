r"""Denoising losses with frozen noise, and the loss decomposition of the paper (Eq. 4).

**Frozen noise.** A loss curve along training compares checkpoints, so each evaluation item gets
its diffusion step :math:`t_\mu \sim U\{1..T\}` and its noise :math:`\varepsilon_\mu \sim
\mathcal N(0, I)` drawn *once* (:func:`frozen_noise`) and reused at every checkpoint:

.. math:: x_{t,\mu} = \sqrt{\bar\alpha_{t_\mu}}\, x_{0,\mu}
          + \sqrt{1-\bar\alpha_{t_\mu}}\, \varepsilon_\mu .

Item :math:`\mu` draws from its own streams keyed by ``(seed, index_μ)`` (:mod:`physgen.rng`), one
for :math:`t` and one for :math:`\varepsilon`, so the noise does not depend on how many items are
evaluated nor on whether :math:`t` is random or fixed.

**Losses** (per item, :func:`denoising_loss`): the per-token cross-entropy of the x0-predictor,
averaged over the :math:`N` positions,

.. math:: \ell = -\frac1N \sum_{i=1}^N \sum_{a=1}^q x_{0,ia} \log \hat x^\theta_{0,ia}(x_t),

with :math:`\hat x^\theta` clipped at ``eps`` (and renormalised); or the mean squared error of
:math:`\hat x_0` (``"mse"``) or of the implied noise prediction
:math:`\hat\varepsilon = (x_t - \sqrt{\bar\alpha}\hat x_0)/\sqrt{1-\bar\alpha}` (``"eps_mse"``),
averaged over the elements of one item.

**Decomposition** (:func:`loss_decomposition`, paper Eq. 4). With the exact posterior mean
:math:`\hat x^*_0 = E[x_0\mid x_t]` (belief propagation for the tree model),

.. math:: \ell = \underbrace{-\tfrac1N \hat x^{*\top}_0 \log \hat x^\theta_0}_{\ell^*}
          \;\underbrace{-\;\tfrac1N (x_0 - \hat x^*_0)^\top \log \hat x^\theta_0}_{\tilde\ell}.

:math:`\ell^*` is the loss of distilling the exact posterior; :math:`\tilde\ell` is the
data-dependent excess. Since :math:`E[x_0 - \hat x^*_0 \mid x_t] = 0`, :math:`E[\tilde\ell] = 0`
for data the model has not seen (test data); on training data a model that fits its own samples
makes it negative.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import numpy as np

from physgen.diffusion import Schedule
from physgen.errors import PhysgenError
from physgen.metrics._common import DEFAULT_EPS, clipped_probs, denoise_batched
from physgen.rng import per_sample_normal, sample_generator

__all__ = ["FrozenNoise", "LossParts", "denoising_loss", "frozen_noise", "loss_decomposition"]

# Sub-stream labels of one item's draws (physgen.rng paths); distinct from any other stream.
_PATH_T = 0x4C4F5353  # "LOSS"
_PATH_NOISE = 0x4E4F4953  # "NOIS"


class FrozenNoise(NamedTuple):
    """Noise drawn once per evaluation item.

    ``t``: ``(n,)`` int steps in ``1..T``; ``alpha_bar``: ``(n,)``; ``noise``: ``(n, *event)``;
    ``x_t``: ``(n, *event)`` the noised items.
    """

    t: np.ndarray
    alpha_bar: np.ndarray
    noise: np.ndarray
    x_t: np.ndarray


class LossParts(NamedTuple):
    """The three terms of :math:`\\ell = \\ell^* + \\tilde\\ell`, each of shape ``(n,)``."""

    total: np.ndarray
    exact: np.ndarray
    excess: np.ndarray


def frozen_noise(
    x0: np.ndarray,
    schedule: Schedule,
    seed: int,
    t: int | None = None,
    *,
    indices: np.ndarray | None = None,
) -> FrozenNoise:
    """Draw ``(t, ε)`` once per item and noise ``x0`` with them.

    ``x0``: ``(n, *event)`` clean data in the diffusion space (one-hot for tokens). ``t=None``
    draws :math:`t \\sim U\\{1..T\\}` per item, an int fixes it for all. ``indices`` (default
    ``0..n-1``) are the items' stream indices: item ``μ`` depends only on ``(seed, indices[μ])``,
    and its ``ε`` is the same whatever ``t``.
    """
    x0 = np.asarray(x0, dtype=np.float64)
    n = x0.shape[0]
    idx = np.arange(n) if indices is None else np.asarray(indices, dtype=np.int64)
    if idx.shape != (n,):
        raise PhysgenError(f"indices must have shape ({n},), got {idx.shape}")
    T = schedule.T
    if t is None:
        steps = np.array(
            [sample_generator(seed, int(i), _PATH_T).integers(1, T + 1) for i in idx],
            dtype=np.int64,
        )
    else:
        if not 1 <= int(t) <= T:
            raise PhysgenError(f"t must be a diffusion step in 1..{T}, got {t}")
        steps = np.full(n, int(t), dtype=np.int64)
    noise = per_sample_normal(seed, idx, x0.shape[1:], _PATH_NOISE)
    ab = schedule.alpha_bar[steps]
    shape = (-1,) + (1,) * (x0.ndim - 1)
    x_t = np.sqrt(ab).reshape(shape) * x0 + np.sqrt(1.0 - ab).reshape(shape) * noise
    return FrozenNoise(steps, ab, noise, x_t)


def denoising_loss(
    den: Any,
    x0: np.ndarray,
    frozen: FrozenNoise,
    kind: Literal["ce", "mse", "eps_mse"] = "ce",
    *,
    eps: float = DEFAULT_EPS,
    batch_size: int | None = None,
) -> np.ndarray:
    """Per-item denoising loss of ``den`` on ``x0`` noised by ``frozen``; shape ``(n,)``.

    ``x0``: ``(n, *event)`` (for ``"ce"`` one-hot ``(n, N, q)``). ``"ce"``: per-token
    cross-entropy averaged over positions, probabilities clipped at ``eps``; ``"mse"``: mean
    squared error of :math:`\\hat x_0`; ``"eps_mse"``: mean squared error of the implied
    :math:`\\hat\\varepsilon`.
    """
    x0 = np.asarray(x0, dtype=np.float64)
    if frozen.x_t.shape != x0.shape:
        raise PhysgenError(
            f"frozen noise of shape {frozen.x_t.shape} does not match x0 of shape {x0.shape}"
        )
    x_hat = denoise_batched(den, frozen.x_t, frozen.alpha_bar, batch_size)
    axes = tuple(range(1, x0.ndim))
    if kind == "ce":
        return -np.sum(x0 * np.log(clipped_probs(x_hat, eps)), axis=axes) / _positions(x0)
    if kind == "mse":
        return np.mean((x_hat - x0) ** 2, axis=axes)
    if kind == "eps_mse":
        shape = (-1,) + (1,) * (x0.ndim - 1)
        ab = frozen.alpha_bar.reshape(shape)
        eps_hat = (frozen.x_t - np.sqrt(ab) * x_hat) / np.sqrt(1.0 - ab)
        return np.mean((eps_hat - frozen.noise) ** 2, axis=axes)
    raise PhysgenError(f"unknown loss kind {kind!r}; choose 'ce', 'mse' or 'eps_mse'")


def loss_decomposition(
    den: Any,
    den_exact: Any,
    x0: np.ndarray,
    x_t: np.ndarray,
    alpha_bar: float | np.ndarray,
    *,
    eps: float = DEFAULT_EPS,
    batch_size: int | None = None,
) -> LossParts:
    """Split the cross-entropy of ``den`` into the exact-posterior part and the excess.

    ``x0``, ``x_t``: ``(n, N, q)`` (one-hot clean data and its noised version); ``den_exact``
    gives the exact :math:`E[x_0\\mid x_t]`. Returns :class:`LossParts` of ``(n,)`` arrays with
    ``total == exact + excess`` to rounding (module docstring).
    """
    x0 = np.asarray(x0, dtype=np.float64)
    log_q = np.log(clipped_probs(denoise_batched(den, x_t, alpha_bar, batch_size), eps))
    x_star = denoise_batched(den_exact, x_t, alpha_bar, batch_size)
    n_pos = _positions(x0)
    axes = tuple(range(1, x0.ndim))
    total = -np.sum(x0 * log_q, axis=axes) / n_pos
    exact = -np.sum(x_star * log_q, axis=axes) / n_pos
    excess = -np.sum((x0 - x_star) * log_q, axis=axes) / n_pos
    return LossParts(total, exact, excess)


def _positions(x0: np.ndarray) -> int:
    if x0.ndim < 2:
        raise PhysgenError(f"token data must have shape (n, N, q), got {x0.shape}")
    return int(np.prod(x0.shape[1:-1]))
