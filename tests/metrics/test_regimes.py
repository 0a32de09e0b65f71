"""Dynamical regimes: speciation and collapse times, exact curves against brute force, cloned
exact-score trajectories against the exact curves, and the known collapse cases (n = 1, two
points)."""

from __future__ import annotations

import numpy as np
import pytest

from physgen.diffusion import Schedule
from physgen.errors import PhysgenError
from physgen.metrics import euclidean_nn
from physgen.metrics.regimes import (
    alpha_bar_of_ou,
    clone_agreement,
    cloned_speciation,
    collapse_time,
    crossing_time,
    excess_entropy,
    noised_empirical_log_density,
    ou_schedule,
    ou_time,
    same_class_probability,
    same_point_curve,
    speciation_crossing,
    speciation_offset,
    speciation_time,
    symmetric_collapse_time,
    symmetric_excess_entropy,
)
from physgen.models import Empirical, GaussianMixture, gmm


def test_speciation_time_on_a_known_covariance() -> None:
    rot = np.linalg.qr(np.random.default_rng(1).standard_normal((4, 4)))[0]
    cov = rot @ np.diag([4.0, 2.0, 1.0, 0.5]) @ rot.T
    assert speciation_time(cov) == pytest.approx(np.log(2.0))
    # Bonnaire et al.'s mixture: Λ = d μ² + σ²
    assert speciation_time(gmm(dim=8, mean=1.0, std=1.0).covariance()) == pytest.approx(
        0.5 * np.log(9)
    )
    assert speciation_time(0.5 * np.eye(3)) == 0.0


def test_excess_entropy_of_a_gaussian_matches_the_closed_form() -> None:
    # one Gaussian N(0, σ² I): P_s = N(0, v I), v = ᾱσ² + 1 - ᾱ, so f = ½ log(v / (1 - ᾱ))
    sigma, d = 2.0, 6
    model = GaussianMixture(means=np.zeros((2, d)), stds=[sigma, sigma])
    ab = alpha_bar_of_ou(np.array([0.05, 0.2, 1.0]))
    probes = model.sample(3000, seed=1)
    f = excess_entropy(lambda x, a: model.log_prob(x, a), probes, ab, seed=2)
    exact = 0.5 * np.log((ab * sigma**2 + 1 - ab) / (1 - ab))
    np.testing.assert_allclose(f, exact, rtol=0.03)
    # the noised empirical measure of a large reference sample estimates the same f
    ref = model.sample(4000, seed=3)
    f_data = excess_entropy(noised_empirical_log_density(ref), probes[:500], ab[1:], seed=2)
    np.testing.assert_allclose(f_data, exact[1:], rtol=0.08)


def test_collapse_time_solves_f_equal_log_n_over_d() -> None:
    s = np.geomspace(0.01, 3.0, 30)
    f = 1.0 - np.log(s)  # linear in log s: interpolation is exact
    n, d = 50, 4
    assert collapse_time(s, f, n, d) == pytest.approx(np.exp(1.0 - np.log(n) / d))
    assert np.isnan(collapse_time(s, f, 10**9, 1))


def test_crossing_time_interpolates() -> None:
    assert crossing_time(np.array([1, 3, 5]), np.array([1.0, 0.8, 0.4]), 0.6) == pytest.approx(4.0)
    assert np.isnan(crossing_time(np.array([1, 3]), np.array([1.0, 0.9]), 0.5))


def test_ou_time_round_trip() -> None:
    s = np.array([0.01, 0.5, 2.0])
    np.testing.assert_allclose(ou_time(alpha_bar_of_ou(s)), s)


@pytest.mark.slow
def test_measured_speciation_and_collapse_match_the_predictions() -> None:
    d, n = 8, 100
    model = gmm(dim=d, mean=1.0, std=1.0)
    train = model.sample(n, seed=1)
    sched = Schedule.linear(100)
    t_grid = np.array([5, 10, 15, 20, 30, 40, 50, 60, 70, 85, 100])
    emp = Empirical(train)

    def same_class(x: np.ndarray) -> np.ndarray:
        return (x.sum(axis=1) > 0).astype(int)

    def same_point(x: np.ndarray) -> np.ndarray:
        return ((x[:, None] - train[None]) ** 2).sum(-1).argmin(axis=1)

    phi_s = clone_agreement(emp, sched, train, t_grid, same_class, 120, seed=0)
    phi_c = clone_agreement(emp, sched, train, t_grid, same_point, 120, seed=1)
    assert phi_s[0] == 1.0 and phi_c[0] == 1.0 and phi_c[-1] < 0.1

    def ou_of_step(t: float) -> float:
        return float(ou_time(np.interp(t, np.arange(101), sched.alpha_bar)))

    s_S = ou_of_step(crossing_time(t_grid, phi_s, 0.75))
    assert s_S == pytest.approx(speciation_time(np.cov(train.T)), abs=0.3)
    grid = np.geomspace(0.01, 3.0, 40)
    f = excess_entropy(
        lambda x, a: model.log_prob(x, a), model.sample(1000, 5), alpha_bar_of_ou(grid), 2
    )
    s_C = ou_of_step(crossing_time(t_grid, phi_c, 0.5))
    assert s_C == pytest.approx(collapse_time(grid, f, n, d), rel=0.5)


def test_ou_schedule_has_equal_ou_steps() -> None:
    sched = ou_schedule(3.0, 60)
    np.testing.assert_allclose(sched.alpha_bar, alpha_bar_of_ou(np.arange(61) * 0.05), rtol=1e-12)
    with pytest.raises(PhysgenError, match="n_steps"):
        ou_schedule(1.0, 0)


def _posterior_draw_same_side(model: GaussianMixture, t: float, n: int, seed: int) -> float:
    """Brute force in d dimensions: x_t from the noised mixture, two independent exact posterior
    draws of x_0 (component from the responsibilities, then its Gaussian posterior)."""
    g = np.random.default_rng(seed)
    a = float(alpha_bar_of_ou(t))
    x0 = model.sample(n, seed=seed)
    x = np.sqrt(a) * x0 + np.sqrt(1 - a) * g.standard_normal(x0.shape)
    logp, v = model._log_joint(x, np.full(n, a))
    r = np.exp(logp - logp.max(axis=1, keepdims=True))
    r /= r.sum(axis=1, keepdims=True)
    sides = []
    for _ in range(2):
        k = (g.random(n) > r[:, 0]).astype(int)
        s2 = model.stds[k] ** 2
        mean = model.means[k] + (np.sqrt(a) * s2 / v[np.arange(n), k])[:, None] * (
            x - np.sqrt(a) * model.means[k]
        )
        var = s2 * (1 - a) / v[np.arange(n), k]
        draw = mean + np.sqrt(var)[:, None] * g.standard_normal(x.shape)
        sides.append(draw @ model.means[0] > 0)
    return float(np.mean(sides[0] == sides[1]))


@pytest.mark.parametrize("t", [0.2, 0.7, 1.5])
def test_same_class_probability_matches_posterior_draws(t: float) -> None:
    model = GaussianMixture(means=np.array([[0.9, 0.6, 0.3], [-0.9, -0.6, -0.3]]), stds=[0.8, 0.8])
    norm = float(np.linalg.norm(model.means[0]))
    n = 40_000
    brute = _posterior_draw_same_side(model, t, n, seed=3)
    exact = float(same_class_probability(t, norm, 0.8))
    assert abs(brute - exact) < 4 * np.sqrt(exact * (1 - exact) / n)


def test_speciation_offset_and_crossing_approach_t_s_as_d_grows() -> None:
    # the midpoint 3/4 crosses at t_S + 0.0808 for d → ∞; level F(1) at t_S itself
    assert speciation_offset() == pytest.approx(0.0808, abs=1e-4)
    f1 = float(same_class_probability(0.5 * np.log(2.0), 1.0, 0.0))  # u = 1
    assert abs(speciation_offset(f1)) < 1e-9
    # the finite-d deviation of the exact crossing from that limit shrinks like 1/Λ
    std = 0.5
    devs = []
    for d in (8, 64, 512, 4096):
        lam = d + std**2
        dev = speciation_crossing(np.sqrt(d), std) - 0.5 * np.log(lam) - speciation_offset()
        assert abs(dev) < 1.0 / lam
        devs.append(abs(dev))
    assert devs == sorted(devs, reverse=True)


@pytest.mark.parametrize(
    ("dim", "n_clones"), [(64, 1500), pytest.param(512, 400, marks=pytest.mark.slow)]
)
def test_cloning_with_exact_scores_reproduces_speciation(dim: int, n_clones: int) -> None:
    model = gmm(dim=dim, mean=1.0, std=1.0)
    t_s = 0.5 * np.log(dim + 1.0)
    sp = cloned_speciation(model, t_s + np.arange(-1.0, 1.3, 0.25), n_clones, seed=4, dt=0.05)
    assert sp.t_s == pytest.approx(t_s)
    # measured curve = exact curve within Monte Carlo error (the OU step bias is ~0.005 here)
    z = (sp.p_same - sp.p_exact) / np.sqrt(sp.p_exact * (1 - sp.p_exact) / n_clones + 1e-6)
    assert np.all(np.abs(z) < 4.5)
    # the crossing of 3/4 lands on t_S + offset, within a tolerance that shrinks with d
    # (1/Λ: finite d) plus the sampling error
    tol = 1.0 / (dim + 1.0) + 4 * sp.t_half_se + 0.03
    assert abs(sp.t_half - t_s - speciation_offset()) < tol


def test_clone_agreement_rejects_bad_grids() -> None:
    model = gmm(dim=2)
    with pytest.raises(PhysgenError, match="t_grid"):
        clone_agreement(model, Schedule.linear(50), np.zeros((3, 2)), np.array([5, 3]), len, 4, 0)


def test_symmetric_excess_entropy_matches_monte_carlo() -> None:
    d, mean, std = 6, 0.7, 0.8
    model = gmm(dim=d, mean=mean, std=std)
    t = np.array([0.1, 0.4, 1.2])
    mc = excess_entropy(
        lambda x, a: model.log_prob(x, a), model.sample(4000, 1), alpha_bar_of_ou(t), 2
    )
    exact = symmetric_excess_entropy(t, d, mean * np.sqrt(d), std)
    np.testing.assert_allclose(mc, exact, rtol=0.03)
    # σ = 1, d → ∞: f = -½ log(1 - e^{-2t}) and t_C = -½ log(1 - n^{-2/d})
    np.testing.assert_allclose(
        symmetric_excess_entropy(t, 10**9, 1.0, 1.0), -0.5 * np.log1p(-np.exp(-2 * t))
    )
    n, big = 1000, 10**9
    assert symmetric_collapse_time(n, big, 1.0) == pytest.approx(
        -0.5 * np.log(-np.expm1(-2 * np.log(n) / big)), rel=1e-6
    )


def test_collapse_of_one_point_is_total() -> None:
    point = np.random.default_rng(0).standard_normal((1, 8))
    t = np.array([0.1, 1.0, 5.0])
    p, _ = same_point_curve(Empirical(point), t, 50, seed=0)
    np.testing.assert_array_equal(p, 1.0)
    assert symmetric_collapse_time(1, 8, 2.0) == np.inf


def test_collapse_of_two_points_is_the_two_point_speciation_curve() -> None:
    # n = 2 points ±a is the mixture with σ = 0: P_point(t) = same_class_probability(t, |a|, 0)
    a = np.full(16, 0.5)
    pair = Empirical(np.stack([a, -a]))
    t = np.array([0.5, 1.0, 1.5, 2.0, 3.0])
    p, se = same_point_curve(pair, t, 4000, seed=1)
    exact = same_class_probability(t, float(np.linalg.norm(a)), 0.0)
    assert np.all(np.abs(p - exact) < 4 * se + 1e-12)
    assert np.isnan(crossing_time(t, p, 0.5))  # two points never fall below 1/2


def test_cloned_empirical_chains_end_on_the_same_point_with_probability_sum_w2() -> None:
    # the identity behind same_point_curve, checked on simulated clones (OU ancestral chains)
    train = np.random.default_rng(2).standard_normal((12, 10))
    emp = Empirical(train)
    sched = ou_schedule(3.0, 60)
    steps = np.array([10, 20, 40])
    n = 1500

    def nearest(x: np.ndarray) -> np.ndarray:
        return euclidean_nn(x, train, 2, return_index=True)[0]

    sim = clone_agreement(emp, sched, train, steps, nearest, n, seed=5)
    p, se = same_point_curve(emp, steps * 0.05, 4000, seed=6)
    assert np.all(np.abs(sim - p) < 4 * np.sqrt(se**2 + p * (1 - p) / n) + 0.01)
