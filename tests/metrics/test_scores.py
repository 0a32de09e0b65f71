"""Score distances, onsets and the dynamical-regime theory (speciation and collapse times)."""

from __future__ import annotations

import numpy as np
import pytest

from physgen.diffusion import Schedule, ddpm_sample
from physgen.errors import PhysgenError
from physgen.metrics.scores import (
    alpha_bar_of_ou,
    clone_agreement,
    closer_onset,
    collapse_time,
    crossing_time,
    denoiser_distance,
    excess_entropy,
    generalisation_onset,
    noised_empirical_log_density,
    ou_time,
    speciation_time,
)
from physgen.models import Empirical, GaussianMixture, gmm


class _Scale:
    """x̂0 = c · x_t: a denoiser with closed-form distances."""

    def __init__(self, c: float) -> None:
        self.c = c

    def denoise(self, x_t: np.ndarray, alpha_bar: float | np.ndarray) -> np.ndarray:
        return self.c * x_t


def test_denoiser_distance_closed_forms() -> None:
    x = np.random.default_rng(0).standard_normal((50, 3))
    a = 0.36
    d = denoiser_distance(_Scale(1.0), _Scale(0.5), x, a)
    np.testing.assert_allclose(d, 0.25 * np.mean(x**2, axis=1))
    np.testing.assert_allclose(
        denoiser_distance(_Scale(1.0), _Scale(0.5), x, a, "eps"), d * a / (1 - a)
    )
    np.testing.assert_allclose(
        denoiser_distance(_Scale(1.0), _Scale(0.5), x, a, "score"), d * a / (1 - a) ** 2
    )
    with pytest.raises(PhysgenError, match="unknown distance kind"):
        denoiser_distance(_Scale(1.0), _Scale(1.0), x, a, "kl")


def test_onsets() -> None:
    steps = np.array([1, 10, 100, 1000])
    assert generalisation_onset(steps, np.array([1.0, 0.5, 0.08, 0.05])) == 100
    assert np.isnan(generalisation_onset(steps, np.array([1.0, 0.5, 0.3, 0.2])))
    np.testing.assert_array_equal(
        closer_onset(steps, np.array([[3, 2, 1, 0.5], [3, 3, 3, 3]]), np.ones((2, 4))),
        [100, np.nan],
    )


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


def test_population_denoiser_samples_match_mixture_moments() -> None:
    model = GaussianMixture(
        means=np.array([[2.0, 0.0, -1.0], [-1.0, 1.0, 0.5], [0.0, -2.0, 1.0]]),
        stds=[0.5, 0.8, 0.4],
        weights=[0.5, 0.3, 0.2],
    )
    x = ddpm_sample(model, Schedule.linear(100), 3000, (3,), seed=11)
    se = np.sqrt(np.diag(model.covariance()) / 3000)
    assert np.all(np.abs(x.mean(axis=0) - model.mean()) < 4 * se)
    np.testing.assert_allclose(np.cov(x.T), model.covariance(), atol=0.15)


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


def test_prediction_variance_and_relative_error() -> None:
    from physgen.metrics import noise_prediction
    from physgen.metrics.scores import prediction_variance, relative_error

    train = np.random.default_rng(0).standard_normal((12, 3))
    x = np.random.default_rng(1).standard_normal((40, 3))
    emp = Empirical(train)
    eps = noise_prediction(x, 0.3, emp.denoise(x, 0.3))
    assert prediction_variance(emp, x, 0.3) == pytest.approx(np.mean(np.var(eps, axis=0)))
    d = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 6.0]])
    np.testing.assert_allclose(
        relative_error(d, np.array([2.0, 2.0, 100.0]), np.array([True, True, False])),
        [0.75, 0.0],
    )
