"""Schedules, forward noising and the reverse samplers (DDPM, DDIM, coupled), on exact denoisers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import physgen.diffusion as diffusion
from physgen.diffusion import Schedule, coupled_sample, ddim_sample, ddpm_sample, q_sample
from physgen.errors import PhysgenError
from physgen.models import Empirical, GaussianMixture
from physgen.rng import sample_generator


@pytest.fixture(scope="module")
def mix() -> GaussianMixture:
    """Three components in d = 3 with unequal widths and weights."""
    return GaussianMixture(
        means=[[2.0, 0.0, -1.0], [-1.5, 1.0, 0.5], [0.0, -2.5, 1.5]],
        stds=[0.4, 0.7, 0.5],
        weights=[0.5, 0.3, 0.2],
    )


def test_paper_schedule_index_convention() -> None:
    s = Schedule.linear(500)
    assert s.T == 500
    assert s.beta.shape == s.alpha.shape == s.alpha_bar.shape == (501,)
    assert s.alpha_bar[0] == 1.0 and s.beta[0] == 0.0
    assert s.beta[1] == pytest.approx(2e-4) and s.beta[500] == pytest.approx(0.04)
    np.testing.assert_allclose(np.diff(s.beta[1:]), (0.04 - 2e-4) / 499)
    for t in (1, 2, 75, 500):
        assert s.alpha_bar[t] == pytest.approx(
            np.prod(1 - np.linspace(2e-4, 0.04, 500)[:t]), rel=1e-12
        )
    assert s.alpha_bar[500] < 1e-4  # x_T is (nearly) pure noise
    np.testing.assert_allclose(s.t_of_alpha_bar(s.alpha_bar[[0, 75, 500]]), [0, 75, 500])


def test_cosine_schedule_is_decreasing_from_one() -> None:
    s = Schedule.cosine(200)
    assert s.alpha_bar[0] == 1.0 and np.all(np.diff(s.alpha_bar) < 0)


def test_forward_marginal_moments(mix: GaussianMixture) -> None:
    n, a = 5000, 0.3
    x0 = mix.sample(n, seed=0)
    eps = np.random.default_rng(1).standard_normal(x0.shape)
    xt = q_sample(x0, a, eps)
    np.testing.assert_allclose(xt, np.sqrt(a) * x0 + np.sqrt(1 - a) * eps)
    cov_t = a * mix.covariance() + (1 - a) * np.eye(3)
    se = np.sqrt(np.diag(cov_t) / n)
    assert np.all(np.abs(xt.mean(0) - np.sqrt(a) * mix.mean()) < 4 * se)
    np.testing.assert_allclose(np.cov(xt.T), cov_t, atol=0.1)
    # per-sample alpha_bar broadcasts over the event axes
    per = q_sample(x0[:2], np.array([1.0, 1e-300]), eps[:2])
    np.testing.assert_allclose(per[0], x0[0])
    np.testing.assert_allclose(per[1], eps[1])


def test_ddpm_with_exact_gmm_denoiser_reproduces_the_mixture(mix: GaussianMixture) -> None:
    n = 3000
    x = ddpm_sample(mix, Schedule.linear(100), n, (3,), seed=0)
    se = np.sqrt(np.diag(mix.covariance()) / n)
    assert np.all(np.abs(x.mean(0) - mix.mean()) < 4 * se)
    np.testing.assert_allclose(np.cov(x.T), mix.covariance(), atol=0.15)
    # component frequencies: the components are separated enough to be read off the nearest mean
    comp = np.argmin(((x[:, None, :] - mix.means) ** 2).sum(-1), axis=1)
    assert stats.chisquare(np.bincount(comp, minlength=3), n * mix.weights).pvalue > 1e-3


def test_ddim_with_exact_gmm_denoiser_reproduces_the_mixture(mix: GaussianMixture) -> None:
    n = 3000
    x = ddim_sample(mix, Schedule.linear(200), n, (3,), seed=1, steps=100)
    se = np.sqrt(np.diag(mix.covariance()) / n)
    assert np.all(np.abs(x.mean(0) - mix.mean()) < 4 * se)
    np.testing.assert_allclose(np.cov(x.T), mix.covariance(), atol=0.15)


def test_ddpm_step_formula_and_stream_order(mix: GaussianMixture) -> None:
    """Two steps by hand: x_2 given, x_1 = μ̃_2 + σ̃_2 z, x_0 = x̂0(x_1); z is the stream's 2nd draw."""
    s = Schedule.linear(40)
    x2 = np.random.default_rng(3).normal(size=(4, 3))
    out = ddpm_sample(mix, s, 4, (3,), seed=9, start=5, t_start=2, x_start=x2)
    ab, b = s.alpha_bar, s.beta
    z = np.stack([sample_generator(9, 5 + i).standard_normal((2, 3))[1] for i in range(4)])
    mu = (
        np.sqrt(ab[1]) * b[2] / (1 - ab[2]) * mix.denoise(x2, ab[2])
        + np.sqrt(1 - b[2]) * (1 - ab[1]) / (1 - ab[2]) * x2
    )
    x1 = mu + np.sqrt(b[2] * (1 - ab[1]) / (1 - ab[2])) * z
    np.testing.assert_allclose(out, mix.denoise(x1, ab[1]), rtol=1e-12)
    np.testing.assert_allclose(
        ddpm_sample(mix, s, 4, (3,), seed=9, start=5, t_start=2, x_start=x2, return_x0=False), x1
    )


def test_ddim_with_eta_one_on_every_step_is_ddpm(mix: GaussianMixture) -> None:
    """Song et al.: η = 1 on the full grid has DDPM's mean and variance; the streams coincide too."""
    s = Schedule.linear(40)
    np.testing.assert_allclose(
        ddim_sample(mix, s, 6, (3,), seed=5, eta=1.0),
        ddpm_sample(mix, s, 6, (3,), seed=5),
        rtol=1e-9,
        atol=1e-9,
    )


def test_x_T_is_the_first_draw_of_each_stream() -> None:
    s = Schedule.linear(40)

    def identity_at_x_T(x: np.ndarray, a: float) -> np.ndarray:
        return x

    out = ddim_sample(identity_at_x_T, s, 3, (2,), seed=4, steps=1)
    x_T = np.stack([sample_generator(4, i).standard_normal(2) for i in range(3)])
    np.testing.assert_allclose(out, x_T)


def test_u_turn_from_one_step_is_the_posterior_mean(mix: GaussianMixture) -> None:
    s = Schedule.linear(50)
    x0 = mix.sample(6, seed=2)
    xt = q_sample(x0, s.alpha_bar[1], np.random.default_rng(0).normal(size=x0.shape))
    out = ddpm_sample(mix, s, 6, (3,), seed=0, t_start=1, x_start=xt)
    np.testing.assert_allclose(out, mix.denoise(xt, s.alpha_bar[1]))


@pytest.mark.parametrize("sampler", [ddpm_sample, ddim_sample])
def test_samples_depend_only_on_seed_and_index(mix: GaussianMixture, sampler, monkeypatch) -> None:
    s = Schedule.linear(30)
    kw = {"eta": 0.5} if sampler is ddim_sample else {}
    ref = sampler(mix, s, 7, (3,), seed=3, **kw)
    np.testing.assert_array_equal(sampler(mix, s, 4, (3,), seed=3, **kw), ref[:4])
    np.testing.assert_array_equal(sampler(mix, s, 7, (3,), seed=3, chunk_size=3, **kw), ref)
    np.testing.assert_array_equal(sampler(mix, s, 3, (3,), seed=3, start=4, **kw), ref[4:])
    # noise drawn in blocks of a few steps gives the same numbers
    monkeypatch.setattr(diffusion, "_NOISE_BLOCK_ELEMENTS", 20)
    np.testing.assert_array_equal(sampler(mix, s, 7, (3,), seed=3, chunk_size=2, **kw), ref)
    assert not np.array_equal(sampler(mix, s, 7, (3,), seed=4, **kw), ref)


def test_coupled_samples(mix: GaussianMixture) -> None:
    s = Schedule.linear(30)
    other = GaussianMixture(means=mix.means + 0.3, stds=mix.stds, weights=mix.weights)
    a, b, c = coupled_sample([mix, mix, other], s, 5, (3,), seed=8)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, ddpm_sample(mix, s, 5, (3,), seed=8))
    np.testing.assert_array_equal(c, ddpm_sample(other, s, 5, (3,), seed=8))
    _, e = coupled_sample([mix, other], s, 5, (3,), seed=8, sampler="ddim", eta=0.3, steps=10)
    np.testing.assert_array_equal(e, ddim_sample(other, s, 5, (3,), seed=8, eta=0.3, steps=10))
    # coupling makes the paired samples of close models close (shared x_T and z_t)
    assert np.median(np.linalg.norm(a - c, axis=1)) < np.median(
        np.linalg.norm(a - ddpm_sample(other, s, 5, (3,), seed=99), axis=1)
    )


def test_empirical_denoiser_returns_training_vectors() -> None:
    data = np.random.default_rng(0).normal(size=(20, 5))
    x = ddpm_sample(Empirical(data), Schedule.linear(100), 200, (5,), seed=1)
    d = np.linalg.norm(x[:, None, :] - data[None], axis=-1)
    assert d.min(axis=1).max() < 1e-6
    assert len(np.unique(d.argmin(axis=1))) >= 15  # it visits many training points, not one


def test_empirical_denoiser_returns_training_sequences() -> None:
    tok = np.random.default_rng(2).integers(0, 4, size=(10, 8))
    model = Empirical.from_tokens(tok, 4)
    x = ddpm_sample(model, Schedule.linear(100), 100, (8, 4), seed=3)
    np.testing.assert_allclose(x, np.eye(4)[model.decode(x)], atol=1e-6)
    assert {tuple(r) for r in model.decode(x)} <= {tuple(r) for r in tok}


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda m, s: ddpm_sample(m, s, 2, (3,), 0, t_start=5), "needs x_start"),
        (
            lambda m, s: ddpm_sample(m, s, 2, (3,), 0, t_start=41, x_start=np.zeros((2, 3))),
            "t_start",
        ),
        (lambda m, s: ddpm_sample(m, s, 2, (3,), 0, x_start=np.zeros((3, 3))), "x_start"),
        (lambda m, s: ddpm_sample(m, s, 0, (3,), 0), "n must"),
        (lambda m, s: ddpm_sample(m, s, 2, (3,), 0, chunk_size=0), "chunk_size"),
        (lambda m, s: ddpm_sample(lambda x, a: x[:, :2], s, 2, (3,), 0), "returned shape"),
        (lambda m, s: ddpm_sample(object(), s, 2, (3,), 0), "denoiser"),
        (lambda m, s: ddim_sample(m, s, 2, (3,), 0, steps=41), "steps"),
        (lambda m, s: ddim_sample(m, s, 2, (3,), 0, eta=-1.0), "eta"),
        (lambda m, s: coupled_sample([m], s, 2, (3,), 0, sampler="euler"), "sampler"),
        (lambda m, s: coupled_sample([m], s, 2, (3,), 0, temperature=2), "unknown"),
        (lambda m, s: q_sample(np.zeros((2, 3)), 0.5, np.zeros((2, 2))), "noise"),
    ],
)
def test_user_errors(mix: GaussianMixture, call, match: str) -> None:
    with pytest.raises(PhysgenError, match=match):
        call(mix, Schedule.linear(40))
