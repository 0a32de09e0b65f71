r"""Noise schedules, forward noising and reverse samplers for any denoiser.

Index convention (stated once, tested in ``tests/test_diffusion.py``): diffusion steps are
``t ∈ {0, 1, …, T}``; every schedule array has length ``T + 1`` and is indexed by ``t`` directly.

* ``beta[t]`` for ``t ≥ 1`` is the variance added by step ``t`` (``beta[0] = 0``),
* ``alpha[t] = 1 - beta[t]``,
* ``alpha_bar[t] = Π_{s=1..t} alpha[s]`` in float64, so ``alpha_bar[0] = 1`` (clean data),
* forward marginal: ``x_t = sqrt(alpha_bar[t]) x0 + sqrt(1 - alpha_bar[t]) ε``.

The paper's schedule is linear, ``beta[1..T] = linspace(2e-4, 0.04, T)`` at ``T = 500`` (the
Diffusion-LM ``1e-4 … 0.02`` schedule rescaled by ``1000 / T``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Schedule"]


@dataclass(frozen=True)
class Schedule:
    """A discrete variance-preserving noise schedule of ``T`` steps.

    Build it with :meth:`linear` (the paper's), :meth:`cosine` or from explicit ``betas``
    (length ``T``, for steps ``1..T``).
    """

    betas: np.ndarray  # shape (T,), the betas of steps 1..T
    name: str = "custom"
    beta: np.ndarray = field(init=False, repr=False)
    alpha: np.ndarray = field(init=False, repr=False)
    alpha_bar: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        b = np.asarray(self.betas, dtype=np.float64)
        if b.ndim != 1 or b.size < 1:
            raise ValueError("betas must be a non-empty 1-d array (steps 1..T)")
        if not np.all((b > 0.0) & (b < 1.0)):
            raise ValueError("every beta must lie in (0, 1)")
        beta = np.concatenate([[0.0], b])
        alpha = 1.0 - beta
        object.__setattr__(self, "betas", b)
        object.__setattr__(self, "beta", beta)
        object.__setattr__(self, "alpha", alpha)
        object.__setattr__(self, "alpha_bar", np.cumprod(alpha))

    @property
    def T(self) -> int:
        """Number of diffusion steps."""
        return self.betas.size

    @classmethod
    def linear(
        cls, T: int = 500, beta_start: float | None = None, beta_end: float | None = None
    ) -> Schedule:
        """Linear betas; by default the paper's ``1e-4 … 0.02`` rescaled by ``1000 / T``."""
        if int(T) < 1:
            raise ValueError(f"T must be ≥ 1, got {T}")
        scale = 1000.0 / T
        lo = 1e-4 * scale if beta_start is None else beta_start
        hi = 0.02 * scale if beta_end is None else beta_end
        return cls(np.linspace(lo, hi, int(T)), name="linear")

    @classmethod
    def cosine(cls, T: int = 500, s: float = 0.008, max_beta: float = 0.999) -> Schedule:
        """Nichol & Dhariwal's cosine schedule, betas clipped at ``max_beta``."""
        if int(T) < 1:
            raise ValueError(f"T must be ≥ 1, got {T}")
        f = np.cos((np.arange(int(T) + 1) / T + s) / (1 + s) * np.pi / 2) ** 2
        betas = np.clip(1.0 - f[1:] / f[:-1], 1e-12, max_beta)
        return cls(betas, name="cosine")

    def t_of_alpha_bar(self, alpha_bar: float | np.ndarray) -> np.ndarray:
        """Continuous step ``t`` whose ``alpha_bar`` matches, interpolating ``log alpha_bar``
        (exact on the grid); used to feed a time embedding from an ``alpha_bar``."""
        la = np.log(self.alpha_bar)[::-1]  # increasing
        ts = np.arange(self.T + 1, dtype=np.float64)[::-1]
        return np.interp(np.log(np.asarray(alpha_bar, dtype=np.float64)), la, ts)
