r"""Noise schedules, forward noising and reverse samplers for any denoiser.

Index convention (stated once, tested in ``tests/test_diffusion.py``): diffusion steps are
``t ∈ {0, 1, …, T}``; every schedule array has length ``T + 1`` and is indexed by ``t`` directly.

* ``beta[t]`` for ``t ≥ 1`` is the variance added by step ``t`` (``beta[0] = 0``),
* ``alpha[t] = 1 - beta[t]``,
* ``alpha_bar[t] = Π_{s=1..t} alpha[s]`` in float64, so ``alpha_bar[0] = 1`` (clean data),
* forward marginal: ``x_t = sqrt(alpha_bar[t]) x0 + sqrt(1 - alpha_bar[t]) ε``.

The paper's schedule is linear, ``beta[1..T] = linspace(2e-4, 0.04, T)`` at ``T = 500`` (the
Diffusion-LM ``1e-4 … 0.02`` schedule rescaled by ``1000 / T``).

Reverse samplers take *any* denoiser: an object with ``.denoise(x_t, alpha_bar)`` returning
``x̂0 = E[x0 | x_t]`` (exact data models, wrapped networks) or a plain callable of the same
signature.

* Ancestral DDPM with x0-parametrisation (docs/theory.md §2): from step ``t`` to ``t - 1``,
  ``x_{t-1} = μ̃_t + σ̃_t z`` with
  ``μ̃_t = sqrt(ᾱ_{t-1}) β_t / (1 - ᾱ_t) · x̂0 + sqrt(α_t) (1 - ᾱ_{t-1}) / (1 - ᾱ_t) · x_t`` and
  ``σ̃_t² = β_t (1 - ᾱ_{t-1}) / (1 - ᾱ_t)``. At ``t = 1`` (``ᾱ_0 = 1``) this is exactly
  ``x_0 = x̂0(x_1)``: the last step returns the posterior mean, no noise.
* DDIM (Song et al. 2021) on a decreasing subsequence ``t_K > … > t_1`` and ``t_0 = 0``, from
  each step ``t`` to the next one ``s``:
  ``ε̂ = (x_t - sqrt(ᾱ_t) x̂0) / sqrt(1 - ᾱ_t)``,
  ``σ = η sqrt((1 - ᾱ_s)/(1 - ᾱ_t)) sqrt(1 - ᾱ_t/ᾱ_s)``,
  ``x_s = sqrt(ᾱ_s) x̂0 + sqrt(1 - ᾱ_s - σ²) ε̂ + σ z``; ``η = 0`` is the deterministic ODE
  sampler, ``η = 1`` is ancestral sampling on the subsequence.

Classes: every sampler takes ``classes``, an ``(n,)`` int array (-1: unconditional); the
denoiser is then called as ``denoise(x_t, alpha_bar, classes=c)`` with the classes of the chunk's
rows (a denoiser with classes declares ``n_classes``), so conditional models and guided denoisers (:class:`physgen.guidance.GuidedDenoiser`)
sample through the same samplers. Without ``classes`` the call is ``denoise(x_t, alpha_bar)``.

Per-sample noise and coupling: sample ``i`` (global index ``start + i``) draws its starting noise
and then the ``z`` of each stochastic step, in that order, from one stream
:func:`physgen.rng.sample_generator` ``(seed, start + i)``. A sample therefore depends only on
``(seed, start + i)`` and its starting point, never on ``n``, ``chunk_size``, threads or device.
Two denoisers run with the same ``seed`` see the same ``x_T`` and the same ``z_t``: they are
*coupled*, so their samples can be compared one to one (:func:`coupled_sample` runs them in
lockstep on one draw of the noise). When ``x_start`` is given the stream's first draw is still
made (and ignored), so the ``z_t`` stay the same whether or not a start is supplied.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from physgen.errors import PhysgenError
from physgen.models.base import as_alpha_bar
from physgen.models.conditional import check_classes, n_classes_of
from physgen.rng import sample_generator

__all__ = ["Schedule", "coupled_sample", "ddim_sample", "ddpm_sample", "q_sample"]


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
        if beta_end is None and T <= 20:
            raise ValueError(
                f"the rescaled paper schedule needs T ≥ 21 (its last beta 20/T must be < 1), got T={T}"
            )
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


DenoiserLike = Any
"""An object with ``.denoise(x_t, alpha_bar)`` or a callable ``f(x_t, alpha_bar)`` → ``x̂0``."""

_NOISE_BLOCK_ELEMENTS = 1 << 22
"""Numbers of per-sample noise held at once (32 MiB): a chunk's trajectories are drawn in blocks of
steps of at most this size, so long schedules on large events never hold ``n × T × D`` numbers."""


def q_sample(x0: np.ndarray, alpha_bar: float | np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Forward noising ``x_t = sqrt(ᾱ) x0 + sqrt(1 - ᾱ) ε``.

    ``x0`` and ``noise``: shape ``(n, *event_shape)``; ``alpha_bar``: float or ``(n,)``.
    Returns ``x_t`` of the same shape (float64).
    """
    x = np.asarray(x0, dtype=np.float64)
    eps = np.asarray(noise, dtype=np.float64)
    if eps.shape != x.shape:
        raise PhysgenError(f"noise must have the shape of x0 {x.shape}, got {eps.shape}")
    a = as_alpha_bar(alpha_bar, x.shape[0]).reshape((-1,) + (1,) * (x.ndim - 1))
    return np.sqrt(a) * x + np.sqrt(1.0 - a) * eps


def _denoise_fn(denoiser: DenoiserLike) -> Callable[[np.ndarray, float], np.ndarray]:
    fn = getattr(denoiser, "denoise", None)
    if callable(fn):
        return fn
    if callable(denoiser):
        return denoiser
    raise PhysgenError(
        f"a denoiser must have a .denoise(x_t, alpha_bar) method or be callable, got "
        f"{type(denoiser).__name__}"
    )


class _NoiseStreams:
    """Standard normal rows ``(b, *event_shape)`` for a chunk of samples, one stream each.

    Row ``r`` of sample ``i`` is the ``r``-th draw of shape ``event_shape`` from
    ``sample_generator(seed, i)``; rows are drawn in blocks (one call per sample per block), and
    splitting a Generator's draws into blocks does not change the values.
    """

    def __init__(
        self, seed: int, indices: range, event_shape: tuple[int, ...], n_rows: int
    ) -> None:
        self._gens = [sample_generator(seed, i) for i in indices]
        self._shape = event_shape
        self._left = n_rows
        per_row = len(indices) * int(np.prod(event_shape, dtype=np.int64))
        self._block = max(1, min(n_rows, _NOISE_BLOCK_ELEMENTS // max(per_row, 1)))
        self._buf = np.empty((len(indices), 0, *event_shape))
        self._pos = 0

    def next(self) -> np.ndarray:
        """The next row of every sample, shape ``(b, *event_shape)``."""
        if self._pos == self._buf.shape[1]:
            k = min(self._block, self._left)
            self._buf = np.empty((len(self._gens), k, *self._shape))
            for j, g in enumerate(self._gens):
                g.standard_normal(out=self._buf[j])
            self._left -= k
            self._pos = 0
        row = self._buf[:, self._pos]
        self._pos += 1
        return row


def _ddim_times(t_start: int, steps: int | None) -> np.ndarray:
    """Decreasing ``t_K = t_start > … > t_1 ≥ 1`` with ``K = steps`` (all steps when ``None``)."""
    if steps is None:
        return np.arange(t_start, 0, -1)
    if not 1 <= int(steps) <= t_start:
        raise PhysgenError(f"steps must be in [1, {t_start}], got {steps}")
    if int(steps) == 1:
        return np.array([t_start])
    return np.unique(np.round(np.linspace(1, t_start, int(steps))).astype(np.int64))[::-1]


def _reverse(
    denoisers: Sequence[DenoiserLike],
    schedule: Schedule,
    n: int,
    event_shape: Sequence[int],
    seed: int,
    *,
    eta: float | None,
    steps: int | None,
    start: int,
    t_start: int | None,
    x_start: np.ndarray | None,
    chunk_size: int | None,
    return_x0: bool,
    classes: Any = None,
) -> list[np.ndarray]:
    """Run the reverse chain for every denoiser on shared noise; ``eta=None`` is DDPM."""
    fns = [_denoise_fn(d) for d in denoisers]
    if not fns:
        raise PhysgenError("at least one denoiser is needed")
    n = int(n)
    ev = tuple(int(s) for s in event_shape)
    if n < 1:
        raise PhysgenError(f"n must be ≥ 1, got {n}")
    if int(start) < 0:
        raise PhysgenError(f"start must be ≥ 0, got {start}")
    T = schedule.T
    t0 = T if t_start is None else int(t_start)
    if not 1 <= t0 <= T:
        raise PhysgenError(f"t_start must be in [1, T={T}], got {t_start}")
    if x_start is None and t0 != T:
        raise PhysgenError(
            f"t_start={t0} < T={T} needs x_start (x_t at that step, e.g. from q_sample); only "
            "x_T is drawn from N(0, I)"
        )
    if x_start is not None:
        x_start = np.asarray(x_start, dtype=np.float64)
        if x_start.shape != (n, *ev):
            raise PhysgenError(f"x_start must have shape {(n, *ev)}, got {x_start.shape}")
    chunk = n if chunk_size is None else int(chunk_size)
    if chunk < 1:
        raise PhysgenError(f"chunk_size must be ≥ 1, got {chunk_size}")
    if eta is not None and eta < 0.0:
        raise PhysgenError(f"eta must be ≥ 0, got {eta}")
    if classes is not None:
        # checked against every denoiser's classes before any work (a denoiser with classes
        # declares ``n_classes``)
        for d in denoisers:
            classes = check_classes(classes, n, n_classes_of(d))

    ts = np.arange(t0, 0, -1) if eta is None else _ddim_times(t0, steps)
    pairs = list(zip(ts.tolist(), [*ts[1:].tolist(), 0], strict=True))
    # the last move (to t = 0) is deterministic in both samplers, so dropping it keeps the streams
    if not return_x0:
        pairs = pairs[:-1]
    stochastic = [s >= 1 and (eta is None or eta > 0.0) for _, s in pairs]
    ab = schedule.alpha_bar

    def move(x: np.ndarray, x0: np.ndarray, t: int, s: int, z: np.ndarray | None) -> np.ndarray:
        if eta is None:
            c0 = np.sqrt(ab[s]) * schedule.beta[t] / (1.0 - ab[t])
            ct = np.sqrt(schedule.alpha[t]) * (1.0 - ab[s]) / (1.0 - ab[t])
            sigma = np.sqrt(schedule.beta[t] * (1.0 - ab[s]) / (1.0 - ab[t]))
            out = c0 * x0 + ct * x
        else:
            eps = (x - np.sqrt(ab[t]) * x0) / np.sqrt(1.0 - ab[t])
            sigma = eta * np.sqrt((1.0 - ab[s]) / (1.0 - ab[t]) * (1.0 - ab[t] / ab[s]))
            out = np.sqrt(ab[s]) * x0 + np.sqrt(max(1.0 - ab[s] - sigma**2, 0.0)) * eps
        if z is not None:
            out += sigma * z
        return out

    outs = [np.empty((n, *ev)) for _ in fns]
    for lo in range(0, n, chunk):
        hi = min(lo + chunk, n)
        noise = _NoiseStreams(seed, range(start + lo, start + hi), ev, 1 + sum(stochastic))
        x_init = noise.next()
        first = x_init if x_start is None else x_start[lo:hi]
        xs = [np.array(first, dtype=np.float64) for _ in fns]
        for (t, s), has_z in zip(pairs, stochastic, strict=True):
            z = noise.next() if has_z else None
            for k, fn in enumerate(fns):
                if classes is None:
                    x0_hat = np.asarray(fn(xs[k], float(ab[t])), dtype=np.float64)
                else:
                    x0_hat = np.asarray(
                        fn(xs[k], float(ab[t]), classes=classes[lo:hi]), dtype=np.float64
                    )
                if x0_hat.shape != xs[k].shape:
                    raise PhysgenError(
                        f"denoiser {k} returned shape {x0_hat.shape} for input {xs[k].shape}"
                    )
                xs[k] = move(xs[k], x0_hat, t, s, z)
        for out, x in zip(outs, xs, strict=True):
            out[lo:hi] = x
    return outs


def ddpm_sample(
    denoiser: DenoiserLike,
    schedule: Schedule,
    n: int,
    event_shape: Sequence[int],
    seed: int,
    *,
    start: int = 0,
    t_start: int | None = None,
    x_start: np.ndarray | None = None,
    chunk_size: int | None = None,
    return_x0: bool = True,
    classes: Any = None,
) -> np.ndarray:
    """Ancestral DDPM with the x0-parametrisation (module docstring), shape ``(n, *event_shape)``.

    Parameters
    ----------
    denoiser:
        ``.denoise(x_t, alpha_bar)`` or a callable; called with a batch of at most ``chunk_size``
        samples of shape ``(b, *event_shape)`` and a float ``alpha_bar``.
    schedule:
        The noise schedule (``T`` steps).
    n, event_shape:
        Number of samples and the shape of one sample in the diffusion space.
    seed, start:
        Sample ``i`` uses the stream ``(seed, start + i)``: the first draw is ``x_T``, then one
        ``z`` per step ``t = t_start … 2``.
    t_start, x_start:
        Start the chain at step ``t_start`` (default ``T``) from ``x_start`` of shape
        ``(n, *event_shape)`` (required when ``t_start < T``; at ``T`` it replaces the drawn
        ``x_T``): the U-turn diagnostic noises data with :func:`q_sample` and denoises back.
    chunk_size:
        Samples per denoiser call (default: all ``n``); results do not depend on it.
    return_x0:
        ``True``: return ``x_0 = x̂0(x_1)``, the posterior mean of the last step (docs/theory.md §2).
        ``False``: stop at ``x_1`` (the last noisy iterate, before the final denoising).
    classes:
        Optional ``(n,)`` int class of each sample (-1: unconditional), passed to the denoiser
        as ``classes=`` (module docstring).
    """
    return _reverse(
        [denoiser],
        schedule,
        n,
        event_shape,
        seed,
        eta=None,
        steps=None,
        start=start,
        t_start=t_start,
        x_start=x_start,
        chunk_size=chunk_size,
        return_x0=return_x0,
        classes=classes,
    )[0]


def ddim_sample(
    denoiser: DenoiserLike,
    schedule: Schedule,
    n: int,
    event_shape: Sequence[int],
    seed: int,
    *,
    eta: float = 0.0,
    steps: int | None = None,
    start: int = 0,
    t_start: int | None = None,
    x_start: np.ndarray | None = None,
    chunk_size: int | None = None,
    return_x0: bool = True,
    classes: Any = None,
) -> np.ndarray:
    """DDIM (module docstring) on ``steps`` evenly spaced steps from ``t_start`` (default: every
    step), shape ``(n, *event_shape)``. ``eta = 0``: deterministic given ``x_T``; ``eta > 0``
    draws one ``z`` per step with ``t_s ≥ 1`` after ``x_T``. Other arguments as
    :func:`ddpm_sample`; ``return_x0=False`` stops at the smallest step of the subsequence."""
    return _reverse(
        [denoiser],
        schedule,
        n,
        event_shape,
        seed,
        eta=float(eta),
        steps=steps,
        start=start,
        t_start=t_start,
        x_start=x_start,
        chunk_size=chunk_size,
        return_x0=return_x0,
        classes=classes,
    )[0]


def coupled_sample(
    denoisers: Sequence[DenoiserLike],
    schedule: Schedule,
    n: int,
    event_shape: Sequence[int],
    seed: int,
    *,
    sampler: str = "ddpm",
    **kwargs: Any,
) -> list[np.ndarray]:
    """Sample every denoiser from the *same* ``x_T`` and the same ``z_t`` (one draw of the noise,
    the chains advanced in lockstep). Returns one ``(n, *event_shape)`` array per denoiser, each
    equal to what :func:`ddpm_sample` (``sampler="ddpm"``) or :func:`ddim_sample`
    (``sampler="ddim"``, ``eta`` and ``steps`` in ``kwargs``) returns for it alone with this seed.
    """
    if sampler not in ("ddpm", "ddim"):
        raise PhysgenError(f"sampler must be 'ddpm' or 'ddim', got {sampler!r}")
    eta = kwargs.pop("eta", 0.0) if sampler == "ddim" else None
    steps = kwargs.pop("steps", None) if sampler == "ddim" else None
    options = {
        "start": 0,
        "t_start": None,
        "x_start": None,
        "chunk_size": None,
        "return_x0": True,
        "classes": None,
    }
    unknown = set(kwargs) - set(options)
    if unknown:
        raise PhysgenError(f"unknown option(s) for {sampler}: {', '.join(sorted(unknown))}")
    options.update(kwargs)
    return _reverse(
        list(denoisers),
        schedule,
        n,
        event_shape,
        seed,
        eta=None if eta is None else float(eta),
        steps=steps,
        **options,
    )
