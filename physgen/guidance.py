r"""Classifier-free guidance (Ho & Salimans 2022) for any conditional denoiser, exact or learned.

From a conditional denoiser :math:`\hat x_0(x_t \mid c)` and an unconditional one
:math:`\hat x_0(x_t \mid \varnothing)` (the same denoiser with class -1, or a second denoiser), the
guided denoiser of weight :math:`w` is

.. math:: \hat x_0^{(w)}(x_t \mid c) = (1 + w)\,\hat x_0(x_t \mid c) - w\,\hat x_0(x_t \mid \varnothing).

**Where the combination happens.** physgen's denoisers return the posterior mean
:math:`\hat x_0`, so the combination is made there. At a fixed step the :math:`\varepsilon`- and
score parametrisations are affine maps of :math:`\hat x_0` with the same coefficients for both
terms, :math:`\hat\varepsilon = (x_t - \sqrt{\bar\alpha}\hat x_0)/\sqrt{1-\bar\alpha}` and
:math:`s = (\sqrt{\bar\alpha}\hat x_0 - x_t)/(1-\bar\alpha)`, and the weights :math:`1 + w` and
:math:`-w` sum to one: guiding :math:`\hat x_0`, :math:`\hat\varepsilon` or the score gives the
same sampler, step by step. In score form it is the usual
:math:`\nabla\log p_t(x_t \mid c) + w\,\nabla\log p_t(c \mid x_t)`, the score of the "tilted"
density :math:`p_t(x \mid c)^{1+w} p_t(x)^{-w}` (up to normalisation), which is *not* the noised
version of the tilted clean density: the reverse process leaves the target even with exact
scores. Combining logits (before a softmax) is a different, non-affine rule, not the one here.

**One-hot tokens.** :math:`\hat x_0(\cdot \mid c)` and :math:`\hat x_0(\cdot \mid \varnothing)` are
per-position probability vectors; for :math:`w > 0` their extrapolation still sums to one per
position but can have entries below 0 or above 1: the guided :math:`\hat x_0` leaves the simplex.
The samplers take it as it is (it enters the Gaussian update linearly); the final sample is the
argmax per position, and the posterior-mean-based diagnostics of a guided model should not be
read as probabilities.

**Guidance interval** (Kynkäänniemi et al. 2024): with ``interval = (t_lo, t_hi)`` the guidance is
applied only at steps :math:`t_{lo} \le t \le t_{hi}` (the step of an ``alpha_bar`` read from
the schedule, :meth:`physgen.diffusion.Schedule.t_of_alpha_bar`); elsewhere the guided denoiser
is the conditional one (:math:`w = 0`).

Samplers (:mod:`physgen.diffusion`) pass the per-sample ``classes`` of a chunk to the denoiser, so
``ddpm_sample(GuidedDenoiser(model, w), …, classes=c)`` samples the guided process for every
sampler; rows with class -1 are unconditional (guidance does nothing there).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from physgen.diffusion import Schedule, _denoise_fn
from physgen.errors import ConfigError, PhysgenError
from physgen.models.conditional import UNCONDITIONAL, conditional_inputs, n_classes_of

__all__ = ["GuidedDenoiser", "check_guidance_weight"]

# an alpha_bar is "at" a grid step when its interpolated step is this close (rounding of the
# log-interpolation)
_STEP_TOL = 1e-6


def check_guidance_weight(w: Any, key: str = "w") -> float:
    """``w`` as a float; any finite real number is accepted (negative guidance exists), NaN, ±inf
    or a non-number is a one-line :class:`~physgen.errors.ConfigError` naming ``key``."""
    if isinstance(w, bool) or not isinstance(w, (int, float, np.integer, np.floating)):
        raise ConfigError(key, f"the guidance weight must be a real number, got {w!r}")
    if not math.isfinite(float(w)):
        raise ConfigError(key, f"the guidance weight must be finite, got {w!r}")
    return float(w)


class GuidedDenoiser:
    """The classifier-free guided denoiser of weight ``w`` (module docstring).

    Parameters
    ----------
    conditional:
        A denoiser with classes: ``denoise(x_t, alpha_bar, classes=…)`` and ``n_classes > 0``
        (an exact model, a conditional :class:`~physgen.nets.NetDenoiser`).
    w:
        Guidance weight, any finite real: 0 is the conditional denoiser, -1 the unconditional one.
    unconditional:
        Optional separate unconditional denoiser ``denoise(x_t, alpha_bar)``; by default the
        conditional one with class -1.
    interval:
        Optional ``(t_lo, t_hi)``: guide only at steps in this window (needs ``schedule``).
    schedule:
        The schedule that maps ``alpha_bar`` to a step (only with ``interval``).

    ``denoise(x_t, alpha_bar, classes)`` → guided :math:`\\hat x_0`, shape of ``x_t``; ``classes``
    ``(n,)`` (-1 rows and ``None`` are unconditional).
    """

    def __init__(
        self,
        conditional: Any,
        w: float,
        *,
        unconditional: Any = None,
        interval: tuple[int, int] | None = None,
        schedule: Schedule | None = None,
    ) -> None:
        self.w = check_guidance_weight(w)
        self.n_classes = n_classes_of(conditional)
        if self.n_classes == 0:
            raise PhysgenError(
                f"guidance needs a class-conditional denoiser; {type(conditional).__name__} has "
                "no classes"
            )
        self._cond = _denoise_fn(conditional)
        self._uncond = None if unconditional is None else _denoise_fn(unconditional)
        self.interval: tuple[int, int] | None = None
        self.schedule = schedule
        if interval is not None:
            if schedule is None:
                raise ConfigError("interval", "a guidance interval needs the schedule")
            try:
                lo, hi = (int(v) for v in interval)
            except (TypeError, ValueError):
                raise ConfigError(
                    "interval", f"must be two steps (t_lo, t_hi), got {interval!r}"
                ) from None
            if not 0 <= lo <= hi <= schedule.T:
                raise ConfigError(
                    "interval", f"needs 0 ≤ t_lo ≤ t_hi ≤ T = {schedule.T}, got {interval!r}"
                )
            self.interval = (lo, hi)

    def active(self, alpha_bar: np.ndarray) -> np.ndarray:
        """Whether guidance applies at each ``alpha_bar`` (n,), bool (n,)."""
        if self.interval is None or self.schedule is None:
            return np.ones(alpha_bar.shape, dtype=bool)
        t = self.schedule.t_of_alpha_bar(alpha_bar)
        lo, hi = self.interval
        return (t >= lo - _STEP_TOL) & (t <= hi + _STEP_TOL)

    def denoise(
        self, x_t: np.ndarray, alpha_bar: float | np.ndarray, classes: Any = None
    ) -> np.ndarray:
        """Guided :math:`\\hat x_0`, shape of ``x_t`` ``(n, *event_shape)``."""
        x, a, cls = conditional_inputs(x_t, alpha_bar, classes, self.n_classes)
        n = x.shape[0]
        guided = (cls != UNCONDITIONAL) & self.active(a) & (self.w != 0.0)
        if not guided.any():
            return np.asarray(self._cond(x, a, classes=cls), dtype=np.float64)
        if self._uncond is None:
            # one call for both terms: the guided rows again, with the null class
            both = self._cond(
                np.concatenate([x, x[guided]]),
                np.concatenate([a, a[guided]]),
                classes=np.concatenate([cls, np.full(int(guided.sum()), UNCONDITIONAL)]),
            )
            out, uncond = np.asarray(both[:n], dtype=np.float64), both[n:]
        else:
            out = np.asarray(self._cond(x, a, classes=cls), dtype=np.float64)
            uncond = self._uncond(x[guided], a[guided])
        out[guided] = (1.0 + self.w) * out[guided] - self.w * np.asarray(uncond)
        return out
