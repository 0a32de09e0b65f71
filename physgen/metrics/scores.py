r"""Score-distance diagnostics for continuous data (distances between denoisers, τ_gen, τ_closer).

**Distances between denoisers.** For two denoisers :math:`a, b` (anything with
``denoise(x_t, alpha_bar)``) on inputs :math:`x_t`,

.. math:: D_{x_0}(a, b) = \frac1D\,E\,\lVert \hat x_0^a(x_t) - \hat x_0^b(x_t) \rVert^2, \qquad
          D_{\varepsilon} = \frac{\bar\alpha}{1-\bar\alpha}\,D_{x_0}, \qquad
          D_{s} = \frac{\bar\alpha}{(1-\bar\alpha)^2}\,D_{x_0},

the mean squared distance per coordinate of the posterior means, of the implied noise predictions
:math:`\hat\varepsilon = (x_t - \sqrt{\bar\alpha}\,\hat x_0)/\sqrt{1-\bar\alpha}` and of the scores
(Tweedie). A trained network compared with the exact *population* denoiser measures
generalisation; compared with the *empirical* denoiser of its own training set (the memorizer,
:class:`~physgen.models.empirical.Empirical`) it measures memorisation (Bonnaire et al.,
arXiv:2505.17638).

**Onsets** (steps of training checkpoints; NaN = not reached):

* :math:`\tau_{\rm gen}` (:func:`generalisation_onset`): the first checkpoint at which the
  relative population error :math:`r(\tau) = \sum D_{x_0}(\theta_\tau, \mathrm{pop}) /
  \sum D_{x_0}(\mathrm{pop}, \overline{\mathrm{pop}})` falls to ``threshold`` (default 0.1),
  the sums running over the evaluation times; the denominator is the variance of the exact
  denoiser's output over the inputs at each time, so :math:`r \le 0.1` reads "the network
  reproduces 90 % of what the exact denoiser does". It does not depend on ``n``.
* :math:`\tau_{\rm mem}`: the first checkpoint whose generated samples show a memorised fraction
  (:math:`d_1/d_2 < 1/3`) above the noise floor of fresh population samples
  (:func:`physgen.metrics.first_exceed_onset`, :func:`physgen.metrics.memorisation_floor`), and
  the companion :math:`\tau_{\rm closer}` (:func:`closer_onset`): the first checkpoint at which
  the network is closer to the empirical denoiser than to the population one.

The dynamical-regime theory (speciation and collapse times, predicted and measured on cloned
trajectories) lives in :mod:`physgen.metrics.regimes`; its names are re-exported here for the
callers that import them from this module.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from physgen.errors import PhysgenError
from physgen.metrics._common import denoise_batched, noise_prediction
from physgen.metrics.regimes import (
    alpha_bar_of_ou,
    clone_agreement,
    collapse_time,
    crossing_time,
    excess_entropy,
    noised_empirical_log_density,
    ou_time,
    speciation_time,
)
from physgen.models.base import as_alpha_bar

__all__ = [
    "alpha_bar_of_ou",
    "clone_agreement",
    "closer_onset",
    "collapse_time",
    "crossing_time",
    "denoiser_distance",
    "excess_entropy",
    "generalisation_onset",
    "noised_empirical_log_density",
    "ou_time",
    "prediction_variance",
    "relative_error",
    "speciation_time",
]


def denoiser_distance(
    den_a: Any,
    den_b: Any,
    x_t: np.ndarray,
    alpha_bar: float | np.ndarray,
    kind: Literal["x0", "eps", "score"] = "x0",
) -> np.ndarray:
    """Squared distance per coordinate of two denoisers on ``x_t`` (module docstring).

    ``x_t``: ``(n, *event)``; ``alpha_bar``: float or ``(n,)``. Returns ``(n,)``: the mean over
    coordinates of the squared difference of ``x̂0`` (``"x0"``), ``ε̂`` (``"eps"``) or the score.
    """
    x = np.asarray(x_t, dtype=np.float64)
    a = as_alpha_bar(alpha_bar, x.shape[0])
    diff = denoise_batched(den_a, x, a, None) - denoise_batched(den_b, x, a, None)
    d = np.mean(diff.reshape(x.shape[0], -1) ** 2, axis=1)
    if kind == "x0":
        return d
    if kind == "eps":
        return d * a / (1.0 - a)
    if kind == "score":
        return d * a / (1.0 - a) ** 2
    raise PhysgenError(f"unknown distance kind {kind!r}; choose 'x0', 'eps' or 'score'")


def prediction_variance(den: Any, x_t: np.ndarray, alpha_bar: float | np.ndarray) -> float:
    r"""Variance over the inputs of a denoiser's noise prediction :math:`\hat\varepsilon(x_t)`,
    averaged over coordinates: the normaliser of :func:`relative_error`.

    ``x_t``: ``(n, *event)``; ``alpha_bar``: a float or ``(n,)``.
    """
    x = np.asarray(x_t, dtype=np.float64)
    a = as_alpha_bar(alpha_bar, x.shape[0])
    eps = noise_prediction(x, a, denoise_batched(den, x, a, None))
    return float(np.mean(np.var(eps, axis=0)))


def relative_error(
    distance: np.ndarray, variance: np.ndarray, informative: np.ndarray
) -> np.ndarray:
    r"""The relative population error :math:`r = \sum_{t\in I} D_t / \sum_{t\in I} V_t`.

    ``distance``: ``(..., n_t)`` ε-distances to the population denoiser
    (:func:`denoiser_distance`, ``kind="eps"``, averaged over inputs); ``variance``: ``(n_t,)``
    (:func:`prediction_variance` of the population denoiser); ``informative``: bool ``(n_t,)``,
    the steps :math:`I` that enter. Returns the leading shape of ``distance``.
    """
    inf = np.asarray(informative, dtype=bool)
    return np.asarray(distance)[..., inf].sum(axis=-1) / np.asarray(variance)[inf].sum()


def _first_at_or_below(steps: np.ndarray, curve: np.ndarray, level: float | np.ndarray) -> Any:
    s = np.asarray(steps, dtype=np.float64)
    c = np.asarray(curve, dtype=np.float64)
    if c.shape[-1] != s.size:
        raise PhysgenError(f"a curve must have shape (..., {s.size}), got {c.shape}")
    hit = c <= np.asarray(level, dtype=np.float64)  # False for NaN
    out = np.where(hit.any(axis=-1), s[np.argmax(hit, axis=-1)], np.nan)
    return float(out) if out.ndim == 0 else out


def generalisation_onset(
    steps: np.ndarray, relative_error: np.ndarray, threshold: float = 0.1
) -> float | np.ndarray:
    """τ_gen: first step at which the relative population error ``(..., n_steps)`` is at most
    ``threshold``; NaN if never."""
    return _first_at_or_below(steps, relative_error, threshold)


def closer_onset(steps: np.ndarray, d_emp: np.ndarray, d_pop: np.ndarray) -> float | np.ndarray:
    """First step at which the distance to the empirical denoiser is below the distance to the
    population one (both ``(..., n_steps)``); NaN if never."""
    return _first_at_or_below(steps, np.asarray(d_emp) - np.asarray(d_pop), 0.0)
