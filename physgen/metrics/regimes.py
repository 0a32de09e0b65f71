r"""Dynamical regimes of diffusion (Biroli, Bonnaire, de Bortoli, Mézard, arXiv:2402.18491):
speciation and collapse times, predicted and measured on cloned trajectories (docs/mixtures.md).

**Time.** Ornstein–Uhlenbeck (OU) time :math:`t` with :math:`\bar\alpha = e^{-2t}`,
:math:`\Delta_t = 1 - e^{-2t}`: the forward process :math:`dx = -x\,dt + \sqrt2\,dW` gives
:math:`x_t = e^{-t}x_0 + \sqrt{\Delta_t}\,\varepsilon` (:func:`ou_time`, :func:`alpha_bar_of_ou`).
:func:`ou_schedule` is the discrete schedule of ``K`` equal OU steps :math:`\delta`
(:math:`\bar\alpha_k = e^{-2k\delta}`); ancestral sampling on it
(:func:`physgen.diffusion.ddpm_sample`) is the exponential integrator of the reverse SDE
:math:`dx = [x + 2\nabla\log P_t(x)]\,dt + \sqrt2\,dW` (reverse time): each step draws
:math:`x_{t-\delta}` from the Gaussian bridge :math:`q(x_{t-\delta}\mid x_t, x_0 = \hat x_0(x_t))`,
exact when :math:`\hat x_0` is constant over the step, with an error that vanishes as
:math:`\delta\to0` (checked by halving :math:`\delta`).

**Speciation.** Two symmetric Gaussians :math:`\tfrac12\mathcal N(+m,\sigma^2I)
+\tfrac12\mathcal N(-m,\sigma^2I)` in :math:`d` dimensions have covariance :math:`\sigma^2 I +
mm^\top`, top eigenvalue :math:`\Lambda = \lVert m\rVert^2+\sigma^2`, and the theory's speciation
time :math:`t_S = \tfrac12\log\Lambda` (:func:`speciation_time`). *Measured* (:func:`cloned_speciation`):
run the reverse process with the exact score from :math:`T` down to a branching time :math:`t`,
clone each trajectory into two with independent noise below :math:`t`, and record
:math:`P_{\rm same}(t)`, the fraction of clone pairs whose ends lie nearest to the same mean. It
falls from 1 (:math:`t\to0`) to 1/2 (:math:`t\to\infty`); the **measured speciation time**
:math:`t_{1/2}` is where it crosses the midpoint 3/4 (:func:`crossing_time`).

*Exact curve* (:func:`same_class_probability`): the reverse chain from :math:`x_t` samples
:math:`x_0` from :math:`P(x_0\mid x_t)`, so :math:`P_{\rm same}(t) = E_{x_t\sim P_t}[p_+^2 +
(1-p_+)^2]` with :math:`p_+ = P(x_0\cdot m > 0\mid x_t)`. Only the coordinate
:math:`q = x\cdot m/\lVert m\rVert` enters: given the component :math:`c = \pm1`, :math:`q_t
\sim \mathcal N(c\lVert m\rVert e^{-t}, \Gamma_t)`, :math:`\Gamma_t = \sigma^2e^{-2t}+\Delta_t`; the
responsibility is :math:`r_+ = \mathrm{sigmoid}(2q\lVert m\rVert e^{-t}/\Gamma_t)` and the
posterior of :math:`q_0` given :math:`c` is :math:`\mathcal N((c\lVert m\rVert\Delta_t +
e^{-t}\sigma^2 q)/\Gamma_t,\ \sigma^2\Delta_t/\Gamma_t)`. A one-dimensional Gauss–Hermite
integral over :math:`q_t` gives the curve to machine precision at every :math:`d`.

*Large d.* With :math:`u = \lVert m\rVert^2e^{-2t}/\Gamma_t` (a signal-to-noise ratio) and
:math:`\Phi(\pm\lVert m\rVert/\sigma)\to` a sure label, :math:`P_{\rm same} \to F(u) =
E_g[s^2+(1-s)^2]`, :math:`s = \mathrm{sigmoid}(2u+2\sqrt u\,g)`, :math:`g\sim\mathcal N(0,1)`.
Near :math:`t_S`, :math:`\Gamma_t \to 1` and :math:`u \to e^{-2(t-t_S)}`: the curves of all
:math:`d` collapse onto :math:`F(e^{-2(t-t_S)})`, with corrections :math:`O(1/\Lambda)`. The
crossing of level :math:`\ell` therefore tends to :math:`t_S - \tfrac12\log u_\ell`,
:math:`F(u_\ell) = \ell` (:func:`speciation_offset`): :math:`t_S` itself for :math:`\ell = F(1)
\approx 0.775` (where the potential along :math:`m` turns from one well to two), and
:math:`t_S + 0.081` for the midpoint :math:`\ell = 3/4`.

**Collapse.** For :math:`n` training points :math:`a_\mu` the empirical score drives the reverse
chain onto the training points; from :math:`x_t` it ends on :math:`a_\mu` with probability
:math:`w_\mu(x_t) = \mathrm{softmax}_\mu(-\lVert x_t - e^{-t}a_\mu\rVert^2/2\Delta_t)`, so two
clones branched at :math:`x_t` end on the same point with probability :math:`\sum_\mu w_\mu^2`
(:meth:`physgen.models.Empirical.same_point_probability`). *Measured*
(:func:`same_point_curve`): :math:`P_{\rm point}(t) = E\sum_\mu w_\mu(x_t)^2` over :math:`x_t` from
the noised empirical measure (the exact marginal of the empirical-score reverse process started at
:math:`T`); the **measured collapse time** is where it crosses 1/2. *Predicted*: :math:`f(t_C) =
(\log n)/d` with the excess entropy density

.. math:: f(t) = -\frac1d\,E_{x\sim P_t}\log P_t(x) - \tfrac12\bigl(1 + \log 2\pi\Delta_t\bigr)

of the *population* :math:`P_t`: in closed form for the symmetric mixture
(:func:`symmetric_excess_entropy`, :math:`f = \tfrac12\log(\Gamma_t/\Delta_t) + \frac1d[\log2
- \tfrac12 - E_g\,\mathrm{logaddexp}(-g^2/2, -(g+2s)^2/2)]`, :math:`s = \lVert m\rVert
e^{-t}/\sqrt{\Gamma_t}`) and by Monte Carlo otherwise (:func:`excess_entropy`, with an exact
log-density or :func:`noised_empirical_log_density`). :math:`f` decreases from
:math:`+\infty` to 0, so :math:`t_C` grows with :math:`d` and falls with :math:`n`; :math:`n = 1`
never un-collapses (:math:`t_C = \infty`).

**Cloned trajectories for any denoiser** (:func:`clone_agreement`): starts :math:`x_t` either
drawn from the noised data at each branching step, or (``trunk=True``) read off one reverse
trajectory per clone pair started at :math:`T` from noised data, and two reverse chains from each
start with independent noise; the agreement of any labelling of their ends (class, nearest
training point) per branching step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import brentq
from scipy.special import expit, logsumexp, ndtr

from physgen.diffusion import Schedule, ddpm_sample, q_sample
from physgen.errors import PhysgenError
from physgen.models.empirical import Empirical
from physgen.models.gmm import GaussianMixture
from physgen.rng import per_sample_normal, stream

__all__ = [
    "Speciation",
    "alpha_bar_of_ou",
    "clone_agreement",
    "cloned_speciation",
    "collapse_time",
    "crossing_time",
    "excess_entropy",
    "noised_empirical_log_density",
    "ou_schedule",
    "ou_time",
    "same_class_probability",
    "same_point_curve",
    "speciation_crossing",
    "speciation_offset",
    "speciation_time",
    "symmetric_collapse_time",
    "symmetric_excess_entropy",
]

_HERMITE_NODES = 201
_G, _W = np.polynomial.hermite_e.hermegauss(_HERMITE_NODES)
_W = _W / _W.sum()  # E_g[h(g)] ≈ Σ _W h(_G), g ~ N(0, 1)

# ---------------------------------------------------------------------------------------- time


def ou_time(alpha_bar: float | np.ndarray) -> np.ndarray:
    r"""Ornstein–Uhlenbeck time :math:`t = -\tfrac12\log\bar\alpha`."""
    return -0.5 * np.log(np.asarray(alpha_bar, dtype=np.float64))


def alpha_bar_of_ou(t: float | np.ndarray) -> np.ndarray:
    r""":math:`\bar\alpha = e^{-2t}`."""
    return np.exp(-2.0 * np.asarray(t, dtype=np.float64))


def ou_schedule(t_max: float, n_steps: int) -> Schedule:
    r"""``n_steps`` equal OU steps :math:`\delta = t_{\max}/K` up to ``t_max``: step ``k`` has
    :math:`\bar\alpha_k = e^{-2k\delta}` (constant :math:`\beta = 1 - e^{-2\delta}`)."""
    if not (np.isfinite(t_max) and t_max > 0):
        raise PhysgenError(f"t_max must be finite and > 0, got {t_max}")
    if int(n_steps) < 1:
        raise PhysgenError(f"n_steps must be ≥ 1, got {n_steps}")
    delta = float(t_max) / int(n_steps)
    return Schedule(np.full(int(n_steps), -np.expm1(-2.0 * delta)), name="ou")


def crossing_time(t_grid: np.ndarray, phi: np.ndarray, level: float) -> float:
    """Where ``phi`` (decreasing along the increasing ``t_grid``) first falls below ``level``,
    interpolated linearly; NaN when it never crosses."""
    t = np.asarray(t_grid, dtype=np.float64)
    p = np.asarray(phi, dtype=np.float64)
    idx = np.flatnonzero((p[:-1] >= level) & (p[1:] < level))
    if idx.size == 0:
        return float("nan")
    i = idx[0]
    w = (p[i] - level) / (p[i] - p[i + 1])
    return float(t[i] + w * (t[i + 1] - t[i]))


# ---------------------------------------------------------------------------------- speciation


def speciation_time(covariance: np.ndarray) -> float:
    r"""OU speciation time :math:`t_S = \tfrac12\log\Lambda` from a covariance ``(d, d)``
    (:math:`\Lambda` its largest eigenvalue; 0 when :math:`\Lambda \le 1`: no speciation)."""
    c = np.asarray(covariance, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] != c.shape[1]:
        raise PhysgenError(f"covariance must be a square matrix, got shape {c.shape}")
    lam = float(np.linalg.eigvalsh(0.5 * (c + c.T))[-1])
    return max(0.0, 0.5 * np.log(lam)) if lam > 0 else 0.0


def _check_mixture(mean_norm: float, std: float) -> tuple[float, float]:
    m, s = float(mean_norm), float(std)
    if not (np.isfinite(m) and m > 0):
        raise PhysgenError(f"mean_norm must be finite and > 0, got {mean_norm}")
    if not (np.isfinite(s) and s >= 0):
        raise PhysgenError(f"std must be finite and ≥ 0, got {std}")
    return m, s


def same_class_probability(t: float | np.ndarray, mean_norm: float, std: float = 1.0) -> np.ndarray:
    r"""Exact :math:`P_{\rm same}(t)` for :math:`\tfrac12\mathcal N(\pm m, \sigma^2 I)` with
    :math:`\lVert m\rVert` = ``mean_norm``, :math:`\sigma` = ``std`` (module docstring): the
    probability that two exact reverse chains cloned at OU time ``t`` end on the same side of
    the hyperplane :math:`x\cdot m = 0`. Does not depend on :math:`d`. ``std = 0`` is two
    points :math:`\pm m` (then ``t > 0``). Returns the shape of ``t``.
    """
    m, s = _check_mixture(mean_norm, std)
    tt = np.asarray(t, dtype=np.float64)
    if np.any(tt < 0) or (s == 0 and np.any(tt == 0)):
        raise PhysgenError("t must be ≥ 0 (> 0 for std = 0)")
    e = np.exp(-tt)[..., None]
    delta = -np.expm1(-2.0 * tt)[..., None]
    gamma = s**2 * e**2 + delta
    q = m * e + np.sqrt(gamma) * _G  # component + (the other one by symmetry)
    r_plus = expit(2.0 * q * m * e / gamma)
    sd = np.sqrt(s**2 * delta / gamma)
    with np.errstate(divide="ignore", invalid="ignore"):
        # a zero posterior width (t = 0, or std = 0) makes the label sure: Φ(±∞)
        side = [ndtr((c * m * delta + e * s**2 * q) / (gamma * sd)) for c in (1.0, -1.0)]
    p_plus = r_plus * side[0] + (1.0 - r_plus) * side[1]
    return np.sum(_W * (p_plus**2 + (1.0 - p_plus) ** 2), axis=-1)


def speciation_crossing(mean_norm: float, std: float = 1.0, level: float = 0.75) -> float:
    """OU time where :func:`same_class_probability` crosses ``level`` (exact, finite ``d``)."""
    m, s = _check_mixture(mean_norm, std)
    if not 0.5 < level < 1.0:
        raise PhysgenError(f"level must lie in (1/2, 1), got {level}")
    hi = 0.5 * np.log(m**2 + s**2) + 20.0
    lo = 1e-9
    if same_class_probability(lo, m, s) < level:
        return 0.0
    return float(brentq(lambda t: float(same_class_probability(t, m, s)) - level, lo, hi))


def speciation_offset(level: float = 0.75) -> float:
    r"""Large-:math:`d` limit of (crossing of ``level``) :math:`- t_S`: :math:`-\tfrac12\log
    u_\ell` with :math:`F(u_\ell) = \ell` (module docstring; 0.0808 for the midpoint 3/4, 0 for
    :math:`\ell = F(1)`). :math:`F(u)` is the two-point curve (``std = 0``, ``mean_norm = 1``) at
    the OU time where :math:`u = e^{-2t}/\Delta_t`."""
    if not 0.5 < level < 1.0:
        raise PhysgenError(f"level must lie in (1/2, 1), got {level}")

    def excess(log_u: float) -> float:
        u = np.exp(log_u)
        return float(same_class_probability(0.5 * np.log1p(1.0 / u), 1.0, 0.0)) - level

    return float(-0.5 * brentq(excess, -30.0, 30.0))


@dataclass(frozen=True)
class Speciation:
    """Cloning measurement of one symmetric mixture (:func:`cloned_speciation`).

    ``t``: branching OU times ``(k,)``; ``p_same`` and ``se`` ``(k,)``: measured fraction of
    clone pairs ending in the same class and its binomial standard error; ``p_exact`` ``(k,)``:
    :func:`same_class_probability`; ``t_half`` / ``t_half_exact``: crossings of 3/4 measured and
    exact; ``t_half_se``: the standard error of ``t_half`` (that of a binomial 3/4 over
    ``n_clones`` pairs divided by the slope of the exact curve there); ``t_s``:
    :math:`\\tfrac12\\log\\Lambda`; ``dt``, ``n_steps``: the OU step and the steps up to ``T``;
    ``n_clones``: clone pairs per branching time.
    """

    t: np.ndarray
    p_same: np.ndarray
    se: np.ndarray
    p_exact: np.ndarray
    t_half: float
    t_half_exact: float
    t_half_se: float
    t_s: float
    dt: float
    n_steps: int
    n_clones: int


def _symmetric_parameters(model: GaussianMixture) -> tuple[float, float]:
    """``(‖m‖, σ)`` of a symmetric two-component mixture; raises otherwise."""
    mu, sd = model.means, model.stds
    if (
        model.n_components != 2
        or not np.allclose(mu[0], -mu[1])
        or sd[0] != sd[1]
        or not np.allclose(model.weights, 0.5)
    ):
        raise PhysgenError("speciation by cloning needs ½N(+m, σ²I) + ½N(-m, σ²I)")
    return float(np.linalg.norm(mu[0])), float(sd[0])


def cloned_speciation(
    model: GaussianMixture,
    t_branch: np.ndarray,
    n_clones: int,
    seed: int,
    *,
    dt: float = 0.02,
    headroom: float = 1.0,
) -> Speciation:
    r"""Measured speciation of a symmetric mixture by cloning exact-score trajectories.

    The OU grid has step ``dt`` up to :math:`T` = max(``t_branch``) + ``headroom``; branching
    times are rounded to it. ``n_clones`` trajectories start at :math:`T` from the exact
    :math:`P_T` (model samples noised to :math:`T`), run the exact reverse chain
    (:func:`clone_agreement` with ``trunk=True``), and branch at every ``t_branch``; ends are
    labelled by their nearest mean. All draws come from ``seed``.
    """
    norm, std = _symmetric_parameters(model)
    if not (np.isfinite(dt) and dt > 0):
        raise PhysgenError(f"dt must be finite and > 0, got {dt}")
    steps = np.unique(np.maximum(1, np.rint(np.asarray(t_branch, dtype=np.float64) / dt)))
    steps = steps.astype(np.int64)
    n_steps = int(steps[-1] + max(1, round(headroom / dt)))
    schedule = ou_schedule(n_steps * dt, n_steps)
    data = model.sample(int(n_clones), stream(seed, "clone_sources"))

    def nearest_mean(x: np.ndarray) -> np.ndarray:
        return np.argmax(x @ model.means.T, axis=1)  # equal norms: nearest = largest projection

    p = clone_agreement(model, schedule, data, steps, nearest_mean, int(n_clones), seed, trunk=True)
    t = steps * dt
    p_exact = same_class_probability(t, norm, std)
    t_exact = speciation_crossing(norm, std)
    h = 1e-4
    slope = float(
        np.diff(same_class_probability(np.array([t_exact - h, t_exact + h]), norm, std))[0]
    )
    return Speciation(
        t=t,
        p_same=p,
        se=np.sqrt(p * (1.0 - p) / int(n_clones)),
        p_exact=p_exact,
        t_half=crossing_time(t, p, 0.75),
        t_half_exact=t_exact,
        t_half_se=float(np.sqrt(0.75 * 0.25 / int(n_clones)) / abs(slope / (2 * h))),
        t_s=0.5 * np.log(norm**2 + std**2),  # Λ = ‖m‖² + σ², no d × d eigenproblem
        dt=float(dt),
        n_steps=n_steps,
        n_clones=int(n_clones),
    )


class _Brancher:
    """The trunk's denoiser: at each branching step it hands the trunk's states to ``branch``
    (which runs the clones) before denoising as usual."""

    def __init__(
        self,
        denoise: Callable[[np.ndarray, float], np.ndarray],
        alpha_bars: np.ndarray,
        branch: Callable[[int, np.ndarray], None],
    ) -> None:
        self._denoise = denoise
        self._at = {float(a): j for j, a in enumerate(alpha_bars)}
        self._branch = branch

    def __call__(self, x: np.ndarray, alpha_bar: float) -> np.ndarray:
        j = self._at.get(float(alpha_bar))
        if j is not None:
            self._branch(j, x)
        return self._denoise(x, alpha_bar)


def clone_agreement(
    denoiser: Any,
    schedule: Schedule,
    data: np.ndarray,
    t_grid: np.ndarray,
    labels: Callable[[np.ndarray], np.ndarray],
    n_clones: int,
    seed: int,
    *,
    trunk: bool = False,
) -> np.ndarray:
    r"""Agreement :math:`\phi(t)` of cloned reverse trajectories (module docstring).

    For each step ``t`` of ``t_grid`` (increasing, in ``[1, T]``): ``n_clones`` starts
    :math:`x_t`, two reverse DDPM chains from each (independent noise) and the fraction of starts
    whose two ends get the same labels. Starts: ``trunk=False``, :math:`x_t =
    \sqrt{\bar\alpha_t}\,a + \sqrt{1-\bar\alpha_t}\,\varepsilon` with :math:`a` drawn uniformly
    from ``data`` ``(m, d)`` afresh at each step (the exact marginal when ``data`` are draws of
    the distribution whose denoiser is used); ``trunk=True``, the states at step ``t`` of
    ``n_clones`` reverse chains started at :math:`T` from noised ``data`` (one trajectory branches
    at every step of ``t_grid``). ``labels`` maps ends ``(n, d)`` to ``(n,)`` or ``(n, k)`` integer
    labels (``k`` labellings scored on the same chains). Returns ``(len(t_grid),)`` or
    ``(len(t_grid), k)``. All draws come from ``seed``.
    """
    x = np.asarray(data, dtype=np.float64)
    steps = np.asarray(t_grid, dtype=np.int64)
    n = int(n_clones)
    if n < 1:
        raise PhysgenError(f"n_clones must be ≥ 1, got {n_clones}")
    if steps.ndim != 1 or np.any(np.diff(steps) <= 0) or steps[0] < 1 or steps[-1] > schedule.T:
        raise PhysgenError(f"t_grid must be increasing steps in [1, {schedule.T}]")
    g = np.random.default_rng(np.random.SeedSequence(int(seed)))
    rows: list[np.ndarray | None] = [None] * steps.size

    def branch(j: int, x_t: np.ndarray) -> None:
        ends = [
            ddpm_sample(
                denoiser,
                schedule,
                n,
                x.shape[1:],
                seed,
                start=(2 * j + c) * n,
                t_start=int(steps[j]),
                x_start=x_t,
            )
            for c in (0, 1)
        ]
        rows[j] = np.mean(np.asarray(labels(ends[0])) == np.asarray(labels(ends[1])), axis=0)

    if trunk:
        a = x[g.integers(x.shape[0], size=n)]
        x_big_t = q_sample(a, schedule.alpha_bar[-1], g.standard_normal(a.shape))
        fn = denoiser.denoise if hasattr(denoiser, "denoise") else denoiser
        brancher = _Brancher(fn, schedule.alpha_bar[steps], branch)
        ddpm_sample(
            brancher, schedule, n, x.shape[1:], stream(seed, "clone_trunk"), x_start=x_big_t
        )
    else:
        for j, t in enumerate(steps):
            a = x[g.integers(x.shape[0], size=n)]
            branch(j, q_sample(a, schedule.alpha_bar[t], g.standard_normal(a.shape)))
    return np.asarray(rows, dtype=np.float64)


# ------------------------------------------------------------------------------------ collapse


def noised_empirical_log_density(
    reference: np.ndarray,
) -> Callable[[np.ndarray, float], np.ndarray]:
    r"""``log_density(x, alpha_bar)`` of the noised empirical measure of ``reference`` ``(m, d)``:
    :math:`\log\frac1m\sum_r \mathcal N(x; \sqrt{\bar\alpha}\,r, (1-\bar\alpha) I)`, ``x`` of
    shape ``(n, d)`` → ``(n,)``. Probe and reference points should be disjoint, or a probe's own
    term biases the estimate."""
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
    ``probes``: clean points ``(m, d)`` noised with one fixed noise draw (streams ``(seed, i)``),
    the same at every time so that :math:`f` is smooth in :math:`t`. Returns
    ``(len(alpha_bars),)``.
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


def symmetric_excess_entropy(
    t: float | np.ndarray, dim: int, mean_norm: float, std: float = 1.0
) -> np.ndarray:
    r"""Exact :math:`f(t)` of :math:`\tfrac12\mathcal N(\pm m, \sigma^2 I_d)` (module docstring):
    ``d - 1`` Gaussian directions of variance :math:`\Gamma_t` and one two-Gaussian direction.
    ``t > 0``; returns the shape of ``t``."""
    m, s = _check_mixture(mean_norm, std)
    if int(dim) < 1:
        raise PhysgenError(f"dim must be ≥ 1, got {dim}")
    tt = np.asarray(t, dtype=np.float64)
    if np.any(tt <= 0):
        raise PhysgenError("t must be > 0 (f is infinite at t = 0)")
    delta = -np.expm1(-2.0 * tt)
    gamma = s**2 * np.exp(-2.0 * tt) + delta
    snr = (m * np.exp(-tt) / np.sqrt(gamma))[..., None]
    mixing = (
        np.log(2.0) - 0.5 - np.sum(_W * np.logaddexp(-0.5 * _G**2, -0.5 * (_G + 2 * snr) ** 2), -1)
    )
    return 0.5 * np.log(gamma / delta) + mixing / int(dim)


def collapse_time(ou_times: np.ndarray, f: np.ndarray, n: int, dim: int) -> float:
    r"""OU collapse time: where :math:`f(t)` (sampled at increasing ``ou_times``) crosses
    :math:`(\log n)/d`, by linear interpolation in :math:`\log t`. NaN if it does not cross
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


def symmetric_collapse_time(n: int, dim: int, mean_norm: float, std: float = 1.0) -> float:
    r"""Predicted :math:`t_C` of ``n`` points of the symmetric mixture: the root of
    :func:`symmetric_excess_entropy` :math:`= (\log n)/d` (``inf`` for ``n = 1``: always
    collapsed)."""
    if int(n) < 1:
        raise PhysgenError(f"n must be ≥ 1, got {n}")
    if int(n) == 1:
        return float("inf")
    target = np.log(int(n)) / int(dim)

    def excess(log_t: float) -> float:
        return float(symmetric_excess_entropy(np.exp(log_t), dim, mean_norm, std)) - target

    hi = 1.0
    while excess(hi) > 0:  # f → 0 as t → ∞: walk up until it falls below the target
        hi += 1.0
    return float(np.exp(brentq(excess, -30.0, hi)))


def same_point_curve(
    empirical: Empirical, ou_times: np.ndarray, n_starts: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    r"""Measured :math:`P_{\rm point}(t) = E\sum_\mu w_\mu(x_t)^2` and its standard error, both
    ``(len(ou_times),)`` (module docstring). ``n_starts`` starts :math:`x_t = e^{-t}a_\mu +
    \sqrt{\Delta_t}\,\varepsilon`, :math:`\mu` uniform; the same :math:`(\mu, \varepsilon)` at
    every time (common random numbers: a smooth curve). All draws come from ``seed``."""
    t = np.asarray(ou_times, dtype=np.float64)
    if t.ndim != 1 or np.any(t <= 0) or not np.all(np.isfinite(t)):
        raise PhysgenError("ou_times must be a 1-d array of finite times > 0")
    if int(n_starts) < 2:
        raise PhysgenError(f"n_starts must be ≥ 2, got {n_starts}")
    g = np.random.default_rng(np.random.SeedSequence(int(seed)))
    y = empirical.data.reshape(len(empirical), -1)
    a = y[g.integers(len(empirical), size=int(n_starts))]
    z = g.standard_normal(a.shape).astype(y.dtype)
    mean, se = np.empty(t.size), np.empty(t.size)
    for j, ab in enumerate(alpha_bar_of_ou(t)):
        x = np.sqrt(ab).astype(y.dtype) * a + np.sqrt(1.0 - ab).astype(y.dtype) * z
        p = empirical.same_point_probability(x.reshape(-1, *empirical.event_shape), ab)
        mean[j], se[j] = p.mean(), p.std(ddof=1) / np.sqrt(p.size)
    return mean, se
