"""KL between probabilities and between denoisers: brute force, positivity, identities."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from physgen.errors import PhysgenError
from physgen.metrics import (
    Bound,
    denoiser_divergence,
    frozen_noise,
    kl_along_time,
    kl_divergence,
)


def _brute_kl(p: np.ndarray, q: np.ndarray, eps: float) -> list[float]:
    """Plain-Python KL per item: clip, renormalise each position, sum p log(p/q)."""
    out = []
    for pi, qi in zip(p.tolist(), q.tolist(), strict=True):
        total = 0.0
        for prow, qrow in zip(pi, qi, strict=True):
            pc = [min(max(v, eps), 1.0) for v in prow]
            qc = [min(max(v, eps), 1.0) for v in qrow]
            sp, sq = sum(pc), sum(qc)
            total += sum(
                a / sp * math.log((a / sp) / (b / sq)) for a, b in zip(pc, qc, strict=True)
            )
        out.append(total)
    return out


def _random_probs(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    p = rng.dirichlet(np.full(shape[-1], 0.5), size=shape[:-1])
    p[p < 1e-3] = 0.0  # exact zeros exercise the clipping
    return p / p.sum(axis=-1, keepdims=True)


def test_kl_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    p, q = _random_probs(rng, (7, 5, 4)), _random_probs(rng, (7, 5, 4))
    np.testing.assert_allclose(kl_divergence(p, q), _brute_kl(p, q, 1e-8), rtol=1e-12)
    np.testing.assert_allclose(kl_divergence(p, q, eps=1e-3), _brute_kl(p, q, 1e-3), rtol=1e-12)


def test_kl_closed_form_bernoulli() -> None:
    p = np.array([[[0.3, 0.7]]])
    q = np.array([[[0.6, 0.4]]])
    expected = 0.3 * np.log(0.3 / 0.6) + 0.7 * np.log(0.7 / 0.4)
    assert kl_divergence(p, q)[0] == pytest.approx(expected, rel=1e-9)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 4), st.integers(2, 5))
def test_kl_nonnegative_and_zero_on_equal(seed: int, n_pos: int, q: int) -> None:
    rng = np.random.default_rng(seed)
    p, r = _random_probs(rng, (3, n_pos, q)), _random_probs(rng, (3, n_pos, q))
    assert np.all(kl_divergence(p, r) >= 0.0)
    np.testing.assert_array_equal(kl_divergence(p, p), 0.0)


def test_kl_shape_errors() -> None:
    with pytest.raises(PhysgenError, match="same shape"):
        kl_divergence(np.ones((2, 3, 2)), np.ones((2, 3, 3)))


def test_two_copies_of_a_denoiser_give_zero(toy, schedule) -> None:
    x0 = toy.encode(toy.sample(64, 0))
    fz = frozen_noise(x0, schedule, 3)
    assert denoiser_divergence(toy, toy, fz.x_t, fz.alpha_bar) == 0.0
    assert denoiser_divergence(toy, Bound(toy, filtered_levels=1), fz.x_t, fz.alpha_bar) > 0.01


def test_denoiser_divergence_is_mean_of_per_item_kl(toy, schedule) -> None:
    x0 = toy.encode(toy.sample(40, 1))
    fz = frozen_noise(x0, schedule, 4)
    bp1 = Bound(toy, filtered_levels=1)
    p = toy.denoise(fz.x_t, fz.alpha_bar)
    q = bp1.denoise(fz.x_t, fz.alpha_bar)
    expected = np.mean(_brute_kl(p, q, 1e-8))
    got = denoiser_divergence(toy, bp1, fz.x_t, fz.alpha_bar, batch_size=7)
    assert got == pytest.approx(expected, rel=1e-10)
    mse = denoiser_divergence(toy, bp1, fz.x_t, fz.alpha_bar, kind="mse")
    assert mse == pytest.approx(np.mean(np.sum((p - q) ** 2, axis=(1, 2))), rel=1e-12)


def test_kl_along_time_uses_one_frozen_noise(toy, schedule) -> None:
    x0 = toy.encode(toy.sample(50, 2))
    bp1 = Bound(toy, filtered_levels=1)
    grid = [1, 10, 25, 50]
    curve = kl_along_time(toy, bp1, x0, schedule, grid, seed=5)
    for j, t in enumerate(grid):
        fz = frozen_noise(x0, schedule, 5, t)
        assert curve[j] == pytest.approx(denoiser_divergence(toy, bp1, fz.x_t, fz.alpha_bar))
    # both oracles share the single-site marginals, so they agree at pure noise
    assert curve[-1] < 1e-3 < curve[1]
    with pytest.raises(PhysgenError, match=r"in 1\.\.50"):
        kl_along_time(toy, bp1, x0, schedule, [0], seed=5)


def test_not_a_denoiser() -> None:
    with pytest.raises(PhysgenError, match="not a denoiser"):
        denoiser_divergence(object(), object(), np.zeros((2, 3, 2)), 0.5)


def test_nested_se_matches_the_known_variance() -> None:
    from physgen.metrics import nested_mean_se

    # v_ij = a_i + e_ij: Var(mean) = σ_a²/n + σ_e²/(n r)
    n, r, sa, se_noise = 50, 4, 0.7, 2.0
    true_sd = np.sqrt(sa**2 / n + se_noise**2 / (n * r))
    rng = np.random.default_rng(0)
    means, ses = [], []
    for _ in range(2000):
        v = rng.normal(0, sa, (n, 1)) + rng.normal(0, se_noise, (n, r))
        est = nested_mean_se(v)
        means.append(est.mean)
        ses.append(est.se)
    assert np.std(means) == pytest.approx(true_sd, rel=0.05)
    assert np.sqrt(np.mean(np.square(ses))) == pytest.approx(true_sd, rel=0.02)
    with pytest.raises(PhysgenError, match="n_inputs"):
        nested_mean_se(np.ones((1, 3)))


class _Zero:
    def denoise(self, x_t, alpha_bar):
        return np.zeros_like(x_t)


class _Identity:
    def denoise(self, x_t, alpha_bar):
        return np.array(x_t, copy=True)


def test_divergence_estimate_se_on_a_chi_square() -> None:
    from physgen.metrics import divergence_estimate

    # x0 = 0: the squared distance of x_t to 0 is (1 - ᾱ) χ²_d, variance 2 d (1 - ᾱ)²
    n, r, d, ab = 400, 3, 5, 0.36
    noise = np.random.default_rng(1).standard_normal((r, n, d))
    est = divergence_estimate(_Identity(), _Zero(), np.zeros((n, d)), ab, noise, kind="mse")
    assert (est.n_inputs, est.n_draws) == (n, r)
    assert est.mean == pytest.approx(d * (1 - ab), rel=0.05)
    assert est.se == pytest.approx(np.sqrt(2 * d * (1 - ab) ** 2 / (n * r)), rel=0.1)
    assert est.mean == pytest.approx(np.mean(np.sum((np.sqrt(1 - ab) * noise) ** 2, axis=-1)))
    with pytest.raises(PhysgenError, match="noise"):
        divergence_estimate(_Identity(), _Zero(), np.zeros((n, d)), ab, noise[:, :3], kind="mse")
