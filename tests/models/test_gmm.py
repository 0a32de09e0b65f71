"""Gaussian mixture: exact denoiser against an independent autograd score, density against scipy,
sampler goodness of fit, the symmetric model's closed-form score, the sweep factory."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from scipy import stats
from scipy.integrate import quad

from physgen.errors import ConfigError, PhysgenError
from physgen.models import GaussianMixture, gmm
from physgen.registry import make_model

torch.set_num_threads(1)


@pytest.fixture
def mix3() -> GaussianMixture:
    """Three unequal components in d = 4."""
    g = np.random.default_rng(7)
    return GaussianMixture(
        means=2.0 * g.standard_normal((3, 4)), stds=[0.5, 1.0, 1.7], weights=[0.2, 0.5, 0.3]
    )


def torch_score(model: GaussianMixture, x: np.ndarray, a: float) -> np.ndarray:
    """∇ log p_t by autograd of torch.distributions' mixture density (independent code path)."""
    mu = torch.tensor(model.means) * a**0.5
    scale = torch.tensor(np.sqrt(a * model.stds**2 + 1 - a))
    comp = torch.distributions.Independent(
        torch.distributions.Normal(mu, scale[:, None].expand_as(mu)), 1
    )
    mix = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(probs=torch.tensor(model.weights)), comp
    )
    xt = torch.tensor(x, requires_grad=True)
    mix.log_prob(xt).sum().backward()
    return xt.grad.numpy()


@pytest.mark.parametrize("a", [0.999, 0.7, 0.2, 0.01])
def test_denoiser_is_tweedie_of_autograd_score(mix3: GaussianMixture, a: float) -> None:
    x = np.sqrt(a) * mix3.sample(64, seed=3) + np.sqrt(1 - a) * np.random.default_rng(4).normal(
        size=(64, 4)
    )
    x0_hat = mix3.denoise(x, a)
    expected = (x + (1 - a) * torch_score(mix3, x, a)) / np.sqrt(a)
    np.testing.assert_allclose(x0_hat, expected, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(mix3.score(x, a), torch_score(mix3, x, a), rtol=1e-8, atol=1e-9)


def test_per_sample_alpha_bar_equals_scalar_calls(mix3: GaussianMixture) -> None:
    x = np.random.default_rng(0).normal(size=(5, 4))
    a = np.array([0.9, 0.5, 0.1, 0.99, 0.3])
    rows = np.stack([mix3.denoise(x[i : i + 1], a[i])[0] for i in range(5)])
    np.testing.assert_allclose(mix3.denoise(x, a), rows, rtol=1e-12)


def test_log_prob_matches_scipy_at_every_noise_level(mix3: GaussianMixture) -> None:
    x = np.random.default_rng(1).normal(size=(20, 4)) * 3
    for a in (1.0, 0.6, 0.05):
        ref = sum(
            w * stats.multivariate_normal(np.sqrt(a) * m, (a * s**2 + 1 - a) * np.eye(4)).pdf(x)
            for m, s, w in zip(mix3.means, mix3.stds, mix3.weights, strict=True)
        )
        np.testing.assert_allclose(mix3.log_prob(x, a), np.log(ref), rtol=1e-10)


def test_log_prob_integrates_to_one_in_one_dimension() -> None:
    model = GaussianMixture(
        means=[[-2.0], [0.5], [3.0]], stds=[0.3, 1.0, 0.7], weights=[0.5, 0.2, 0.3]
    )
    total, _ = quad(lambda u: float(np.exp(model.log_prob(np.array([[u]]))[0])), -15, 15, limit=200)
    assert total == pytest.approx(1.0, abs=1e-9)


def test_sample_moments_and_component_frequencies(mix3: GaussianMixture) -> None:
    x = mix3.sample(4000, seed=11)
    n = x.shape[0]
    # mean: each coordinate within 4 standard errors
    se = np.sqrt(np.diag(mix3.covariance()) / n)
    assert np.all(np.abs(x.mean(0) - mix3.mean()) < 4 * se)
    np.testing.assert_allclose(np.cov(x.T), mix3.covariance(), atol=0.35)
    # component frequencies: well-separated components make each sample's component its nearest mean
    sep = GaussianMixture(
        means=[[-10.0, 0.0], [0.0, 10.0], [10.0, 0.0]],
        stds=[1.0, 1.0, 1.0],
        weights=[0.2, 0.5, 0.3],
    )
    comp = np.argmin(((sep.sample(3000, seed=5)[:, None, :] - sep.means) ** 2).sum(-1), axis=1)
    counts = np.bincount(comp, minlength=3)
    assert stats.chisquare(counts, 3000 * sep.weights).pvalue > 1e-3


def test_sample_depends_only_on_seed_and_index(mix3: GaussianMixture) -> None:
    np.testing.assert_array_equal(mix3.sample(5, seed=2), mix3.sample(9, seed=2)[:5])
    assert not np.array_equal(mix3.sample(5, seed=2), mix3.sample(5, seed=3))


def test_symmetric_model_closed_forms() -> None:
    d, mu, sd = 6, 1.3, 0.8
    model = GaussianMixture.symmetric(d, mean=mu, std=sd)
    np.testing.assert_allclose(model.covariance(), sd**2 * np.eye(d) + mu**2 * np.ones((d, d)))
    np.testing.assert_allclose(model.mean(), 0.0)
    # Ornstein–Uhlenbeck time: alpha_bar = e^{-2t}
    t = 0.4
    a = np.exp(-2 * t)
    m = mu * np.ones(d)
    gamma = sd**2 * np.exp(-2 * t) + 1 - np.exp(-2 * t)
    x = np.random.default_rng(8).normal(size=(10, d))
    closed = (m[None, :] * np.exp(-t) * np.tanh(x @ m * np.exp(-t) / gamma)[:, None] - x) / gamma
    np.testing.assert_allclose(model.score(x, a), closed, rtol=1e-10, atol=1e-12)


def test_gmm_factory_and_params_round_trip() -> None:
    sym = make_model("gmm", dim=5, mean=2.0, std=0.5)
    assert isinstance(sym, GaussianMixture)
    np.testing.assert_allclose(sym.means, [[2.0] * 5, [-2.0] * 5])
    many = gmm(dim=3, components=4, seed=1)
    np.testing.assert_array_equal(many.means, gmm(dim=3, components=4, seed=1).means)
    assert not np.array_equal(many.means, gmm(dim=3, components=4, seed=2).means)
    params = json.loads(json.dumps(many.params()))
    again = make_model("gaussian_mixture", **params)
    np.testing.assert_array_equal(again.means, many.means)
    np.testing.assert_array_equal(again.weights, many.weights)


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"means": [1.0, 2.0], "stds": [1.0]}, "model.means"),
        ({"means": [[0.0], [1.0]], "stds": [1.0]}, "model.stds"),
        ({"means": [[0.0], [1.0]], "stds": [1.0, -1.0]}, "model.stds"),
        ({"means": [[0.0], [1.0]], "stds": [1.0, 1.0], "weights": [0.7, 0.7]}, "model.weights"),
        ({"means": [[0.0], [1.0]], "stds": [1.0, 1.0], "weights": [1.0]}, "model.weights"),
    ],
)
def test_bad_parameters_raise_config_errors(kwargs: dict, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        GaussianMixture(**kwargs)
    assert err.value.key == key


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"dim": 0}, "model.dim"),
        ({"components": 1}, "model.components"),
        ({"std": 0.0}, "model.std"),
        ({"std": float("inf")}, "model.std"),
        ({"mean": float("nan")}, "model.mean"),
        ({"mean": float("inf")}, "model.mean"),
    ],
)
def test_bad_factory_parameters(kwargs: dict, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        gmm(**kwargs)
    assert err.value.key == key


def test_wrong_input_shape(mix3: GaussianMixture) -> None:
    with pytest.raises(PhysgenError, match=r"shape \(n, 4\)"):
        mix3.denoise(np.zeros((2, 3)), 0.5)


def test_sample_larger_than_memory_is_refused_before_allocating() -> None:
    with pytest.raises(ConfigError, match="GiB of memory available") as err:
        gmm(dim=4096).sample(10**12, seed=0)
    assert err.value.key == "n"
