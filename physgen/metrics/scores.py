r"""Score-distance diagnostics for continuous data, and the dynamical-regime theory of Biroli et al.

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

**Dynamical regimes** (Biroli, Bonnaire, de Bortoli, Mézard, arXiv:2402.18491), in
Ornstein–Uhlenbeck time :math:`s` with :math:`\bar\alpha = e^{-2s}` and
:math:`\Delta_s = 1 - e^{-2s}`:

* speciation (:func:`speciation_time`): :math:`s_S = \tfrac12 \log\Lambda`, :math:`\Lambda` the
  largest eigenvalue of the data covariance;
* collapse (:func:`collapse_time`): :math:`f(s_C) = (\log n)/d`, with the excess entropy density

  .. math:: f(s) = -\frac1d\,E_{x\sim P_s}\log P_s(x) - \tfrac12\bigl(1 + \log 2\pi\Delta_s\bigr),

  the entropy per dimension of the noised distribution :math:`P_s` minus that of one Gaussian
  cell of variance :math:`\Delta_s`. :math:`f` decreases from :math:`+\infty` (:math:`s\to 0`)
  to 0 (:math:`s\to\infty`); the empirical measure of ``n`` points collapses onto single points
  once :math:`f(s) > (\log n)/d`. :func:`excess_entropy` estimates :math:`f` by Monte Carlo:
  draw :math:`x = \sqrt{\bar\alpha}\,x_0 + \sqrt{1-\bar\alpha}\,\varepsilon` from ``m`` probe
  points and average :math:`-\log P_s(x)`, with :math:`\log P_s` either exact (a
  :class:`~physgen.models.gmm.GaussianMixture`'s ``log_prob``) or the log-density of the
  *noised empirical measure* of a separate reference sample,
  :math:`\log \frac1{|R|}\sum_{r\in R}\mathcal N(x; \sqrt{\bar\alpha}\,r, \Delta_s I)`
  (:func:`noised_empirical_log_density`; probe and reference points disjoint, so the estimate is
  not biased by self-matches; it overestimates :math:`f` at small :math:`s`, where a probe is
  far from every reference point on the scale :math:`\sqrt{\Delta_s}` — below the collapse time
  of :math:`R` itself — and agrees with the exact :math:`f` around the collapse time of the
  smaller training set, where it is used).
  The same noise is used at every time (common random numbers), so :math:`f` is smooth in
  :math:`s` and the crossing is found by interpolation on a log grid.

**Measured times on the exact empirical-score dynamics** (:func:`clone_agreement`): start from
:math:`x_t` drawn from the noised empirical measure (the exact marginal of the backward dynamics
driven by the empirical score), run two independent reverse chains from it to :math:`t = 0` and
record whether they end in the same class (nearest component mean) or on the same training point.
The agreement :math:`\phi(t)` rises from its chance level at large :math:`t` (1/2 for two
balanced classes, :math:`\approx 1/n` for points) to 1 at small :math:`t`;
:func:`crossing_time` gives the time where it passes halfway: the measured speciation and
collapse times.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np
from scipy.special import logsumexp

from physgen.diffusion import Schedule, ddpm_sample, q_sample
from physgen.errors import PhysgenError
from physgen.metrics._common import denoise_batched, noise_prediction
from physgen.models.base import as_alpha_bar
from physgen.rng import per_sample_normal

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


def ou_time(alpha_bar: float | np.ndarray) -> np.ndarray:
    r"""Ornstein–Uhlenbeck time :math:`s = -\tfrac12\log\bar\alpha`."""
    return -0.5 * np.log(np.asarray(alpha_bar, dtype=np.float64))


def alpha_bar_of_ou(s: float | np.ndarray) -> np.ndarray:
    r""":math:`\bar\alpha = e^{-2s}`."""
    return np.exp(-2.0 * np.asarray(s, dtype=np.float64))


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


def speciation_time(covariance: np.ndarray) -> float:
    r"""OU speciation time :math:`s_S = \tfrac12\log\Lambda` from a covariance ``(d, d)``
    (:math:`\Lambda` its largest eigenvalue; 0 when :math:`\Lambda \le 1`: no speciation)."""
    c = np.asarray(covariance, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] != c.shape[1]:
        raise PhysgenError(f"covariance must be a square matrix, got shape {c.shape}")
    lam = float(np.linalg.eigvalsh(0.5 * (c + c.T))[-1])
    return max(0.0, 0.5 * np.log(lam)) if lam > 0 else 0.0


def noised_empirical_log_density(
    reference: np.ndarray,
) -> Callable[[np.ndarray, float], np.ndarray]:
    r"""``log_density(x, alpha_bar)`` of the noised empirical measure of ``reference`` ``(m, d)``:
    :math:`\log\frac1m\sum_r \mathcal N(x; \sqrt{\bar\alpha}\,r, (1-\bar\alpha) I)`, ``x`` of
    shape ``(n, d)`` → ``(n,)``."""
    r = np.asarray(reference, dtype=np.float64)
    r2 = np.sum(r**2, axis=1)

    def log_density(x: np.ndarray, alpha_bar: float) -> np.ndarray:
        a = float(alpha_bar)
        v = 1.0 - a
        sq = np.sum(x**2, axis=1)[:, None] - 2.0 * np.sqrt(a) * (x @ r.T) + a * r2[None, :]
        logk = -np.maximum(sq, 0.0) / (2.0 * v) - 0.5 * x.shape[1] * np.log(2.0 * np.pi * v)
        return logsumexp(logk, axis=1) - np.log(r.shape[0])

    return log_density


def excess_entropy(
    log_density: Callable[[np.ndarray, float], np.ndarray],
    probes: np.ndarray,
    alpha_bars: np.ndarray,
    seed: int,
) -> np.ndarray:
    r"""Monte-Carlo excess entropy density :math:`f` at each ``alpha_bar`` (module docstring).

    ``log_density(x, alpha_bar)`` → :math:`\log P(x)` of the noised distribution (``(n,)``);
    ``probes``: clean points ``(m, d)`` noised with one fixed noise draw (streams ``(seed, i)``).
    Returns ``(len(alpha_bars),)``.
    """
    x0 = np.asarray(probes, dtype=np.float64)
    m, d = x0.shape
    noise = per_sample_normal(seed, np.arange(m), (d,))
    out = np.empty(len(alpha_bars))
    for j, a in enumerate(np.asarray(alpha_bars, dtype=np.float64)):
        if not 0.0 < a < 1.0:
            raise PhysgenError(f"alpha_bar must lie in (0, 1), got {a}")
        x = q_sample(x0, a, noise)
        entropy = -float(np.mean(log_density(x, a))) / d
        out[j] = entropy - 0.5 * (1.0 + np.log(2.0 * np.pi * (1.0 - a)))
    return out


def collapse_time(ou_times: np.ndarray, f: np.ndarray, n: int, dim: int) -> float:
    r"""OU collapse time: where :math:`f(s)` (sampled at increasing ``ou_times``) crosses
    :math:`(\log n)/d`, by linear interpolation in :math:`\log s`. NaN if it does not cross
    inside the grid."""
    s = np.asarray(ou_times, dtype=np.float64)
    g = np.asarray(f, dtype=np.float64) - np.log(int(n)) / int(dim)
    if s.ndim != 1 or s.shape != g.shape or np.any(np.diff(s) <= 0):
        raise PhysgenError("ou_times must be increasing and match f in shape")
    idx = np.flatnonzero((g[:-1] > 0) & (g[1:] <= 0))
    if idx.size == 0:
        return float("nan")
    i = idx[0]
    ls = np.log(s[i : i + 2])
    w = g[i] / (g[i] - g[i + 1])
    return float(np.exp(ls[0] + w * (ls[1] - ls[0])))


def clone_agreement(
    denoiser: Any,
    schedule: Schedule,
    data: np.ndarray,
    t_grid: np.ndarray,
    labels: Callable[[np.ndarray], np.ndarray],
    n_clones: int,
    seed: int,
) -> np.ndarray:
    r"""Agreement :math:`\phi(t)` of cloned reverse trajectories (module docstring).

    For each step ``t`` of ``t_grid``: ``n_clones`` starts :math:`x_t = \sqrt{\bar\alpha_t}\,a +
    \sqrt{1-\bar\alpha_t}\,\varepsilon` with :math:`a` drawn uniformly from ``data`` ``(m, d)``,
    two reverse DDPM chains from each (independent noise), and the fraction of starts whose two
    ends get the same labels. ``labels`` maps ends ``(n, d)`` to ``(n,)`` or ``(n, k)`` integer
    labels (``k`` labellings scored on the same chains, e.g. class and nearest training point).
    Returns ``(len(t_grid),)`` or ``(len(t_grid), k)``. All draws come from ``seed``.
    """
    x = np.asarray(data, dtype=np.float64)
    g = np.random.default_rng(np.random.SeedSequence(int(seed)))
    rows = []
    for j, t in enumerate(np.asarray(t_grid, dtype=np.int64)):
        a = x[g.integers(x.shape[0], size=int(n_clones))]
        x_t = q_sample(a, schedule.alpha_bar[t], g.standard_normal(a.shape))
        ends = [
            ddpm_sample(
                denoiser,
                schedule,
                len(a),
                a.shape[1:],
                seed,
                start=(2 * j + c) * int(n_clones),
                t_start=int(t),
                x_start=x_t,
            )
            for c in (0, 1)
        ]
        rows.append(np.mean(np.asarray(labels(ends[0])) == np.asarray(labels(ends[1])), axis=0))
    return np.asarray(rows, dtype=np.float64)


def crossing_time(t_grid: np.ndarray, phi: np.ndarray, level: float) -> float:
    """The step at which the agreement ``phi`` (decreasing in ``t`` on increasing ``t_grid``)
    first falls below ``level``, interpolated linearly; NaN when it never crosses."""
    t = np.asarray(t_grid, dtype=np.float64)
    p = np.asarray(phi, dtype=np.float64)
    idx = np.flatnonzero((p[:-1] >= level) & (p[1:] < level))
    if idx.size == 0:
        return float("nan")
    i = idx[0]
    w = (p[i] - level) / (p[i] - p[i + 1])
    return float(t[i] + w * (t[i + 1] - t[i]))
