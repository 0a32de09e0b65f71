"""Frozen noise, denoising losses and the decomposition ℓ = ℓ* + ℓ̃ (paper Eq. 4)."""

from __future__ import annotations

import numpy as np
import pytest

from physgen.errors import PhysgenError
from physgen.metrics import Bound, denoising_loss, frozen_noise, loss_decomposition
from physgen.models.empirical import Empirical


class _Oracle:
    """A cheat 'denoiser' that knows the clean data: x̂0 = x0 (zero MSE, zero ε-MSE)."""

    def __init__(self, x0: np.ndarray) -> None:
        self.x0 = x0

    def denoise(self, x_t: np.ndarray, alpha_bar) -> np.ndarray:
        return self.x0


def test_frozen_noise_per_item_streams(toy, schedule) -> None:
    x0 = toy.encode(toy.sample(30, 0))
    full = frozen_noise(x0, schedule, seed=7)
    head = frozen_noise(x0[:11], schedule, seed=7)
    np.testing.assert_array_equal(full.t[:11], head.t)
    np.testing.assert_array_equal(full.x_t[:11], head.x_t)
    assert full.t.min() >= 1 and full.t.max() <= schedule.T
    fixed = frozen_noise(x0, schedule, seed=7, t=20)
    np.testing.assert_array_equal(fixed.noise, full.noise)  # ε does not depend on t
    np.testing.assert_array_equal(fixed.t, 20)
    ab = schedule.alpha_bar[20]
    np.testing.assert_allclose(fixed.x_t, np.sqrt(ab) * x0 + np.sqrt(1 - ab) * fixed.noise)
    other = frozen_noise(x0, schedule, seed=8)
    assert not np.allclose(other.noise, full.noise)
    shifted = frozen_noise(x0[5:], schedule, seed=7, indices=np.arange(5, 30))
    np.testing.assert_array_equal(shifted.x_t, full.x_t[5:])
    with pytest.raises(PhysgenError, match=r"in 1\.\.50"):
        frozen_noise(x0, schedule, seed=7, t=0)


def test_frozen_t_is_uniform(schedule) -> None:
    x0 = np.zeros((2500, 1, 2))
    t = frozen_noise(x0, schedule, seed=0).t
    counts = np.bincount(t, minlength=schedule.T + 1)[1:]
    chi2 = np.sum((counts - 50.0) ** 2 / 50.0)  # 49 degrees of freedom
    assert chi2 < 85.0  # p ≈ 0.001


def test_cross_entropy_matches_brute_force(toy, schedule) -> None:
    tokens = toy.sample(20, 1)
    x0 = toy.encode(tokens)
    fz = frozen_noise(x0, schedule, seed=2)
    loss = denoising_loss(toy, x0, fz)
    p = toy.denoise(fz.x_t, fz.alpha_bar)
    p = np.clip(p, 1e-8, 1.0)
    p /= p.sum(-1, keepdims=True)
    brute = [-np.mean([np.log(p[m, i, tokens[m, i]]) for i in range(4)]) for m in range(20)]
    np.testing.assert_allclose(loss, brute, rtol=1e-12)


def test_mse_losses(toy, schedule) -> None:
    x0 = toy.encode(toy.sample(20, 1))
    fz = frozen_noise(x0, schedule, seed=2)
    np.testing.assert_allclose(denoising_loss(_Oracle(x0), x0, fz, "mse"), 0.0)
    np.testing.assert_allclose(denoising_loss(_Oracle(x0), x0, fz, "eps_mse"), 0.0, atol=1e-20)
    zero = _Oracle(np.zeros_like(x0))
    # x̂0 = 0: the mean of x0² over N·q one-hot entries is 1/q
    np.testing.assert_allclose(denoising_loss(zero, x0, fz, "mse"), 1.0 / 3.0)
    with pytest.raises(PhysgenError, match="unknown loss kind"):
        denoising_loss(toy, x0, fz, "l1")


def test_exact_denoiser_is_the_bayes_floor(toy, schedule) -> None:
    x0 = toy.encode(toy.sample(3000, 3))
    fz = frozen_noise(x0, schedule, seed=4)
    exact = denoising_loss(toy, x0, fz)
    for other in (Bound(toy, filtered_levels=1), Empirical(x0[:50], vocab_size=3)):
        diff = denoising_loss(other, x0, fz) - exact
        # E[ℓ_other - ℓ_exact] = E KL(exact ‖ other) / N > 0: well above its standard error
        assert diff.mean() > 5.0 * diff.std() / np.sqrt(diff.size)


def test_decomposition_sums_and_excess_vanishes_on_test_data(toy, schedule) -> None:
    tokens = toy.sample(4000, 5)
    x0 = toy.encode(tokens)
    fz = frozen_noise(x0, schedule, seed=6, t=int(0.3 * schedule.T))
    model = Bound(toy, filtered_levels=1)  # any imperfect denoiser
    parts = loss_decomposition(model, toy, x0, fz.x_t, fz.alpha_bar, batch_size=1000)
    np.testing.assert_allclose(parts.total, parts.exact + parts.excess, rtol=0, atol=1e-12)
    np.testing.assert_allclose(parts.total, denoising_loss(model, x0, fz), rtol=1e-12)
    se = parts.excess.std() / np.sqrt(parts.excess.size)
    assert abs(parts.excess.mean()) < 4.0 * se
    # the exact denoiser as model: ℓ* is the posterior entropy per token, again E[ℓ̃] = 0
    self_parts = loss_decomposition(toy, toy, x0, fz.x_t, fz.alpha_bar)
    assert abs(self_parts.excess.mean()) < 4.0 * self_parts.excess.std() / np.sqrt(4000)


def test_memorizer_has_negative_excess_on_its_training_set(toy, schedule) -> None:
    train = toy.encode(toy.sample(10, 7))
    starts = np.repeat(train, 200, axis=0)  # each training point under 200 frozen noises
    fz = frozen_noise(starts, schedule, seed=8, t=int(0.3 * schedule.T))
    parts = loss_decomposition(Empirical(train, vocab_size=3), toy, starts, fz.x_t, fz.alpha_bar)
    se = parts.excess.std() / np.sqrt(parts.excess.size)
    assert parts.excess.mean() < -5.0 * se
