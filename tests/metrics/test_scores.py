"""Score distances and the onsets built on them."""

from __future__ import annotations

import numpy as np
import pytest

from physgen.diffusion import Schedule, ddpm_sample
from physgen.errors import PhysgenError
from physgen.metrics.scores import closer_onset, denoiser_distance, generalisation_onset
from physgen.models import Empirical, GaussianMixture


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
