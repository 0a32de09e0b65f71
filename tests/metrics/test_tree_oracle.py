"""Oracle identities on the tree grammar (BP_k denoisers of physgen.models.TreeGrammar)."""

from __future__ import annotations

import numpy as np
import pytest

from physgen.diffusion import Schedule
from physgen.metrics import (
    Bound,
    denoiser_divergence,
    denoising_loss,
    frozen_noise,
    kl_along_time,
    loss_decomposition,
    oracle_ladder,
    root_only_kl,
)
from physgen.models.tree import TreeGrammar

T = 500


@pytest.fixture(scope="module")
def tree() -> TreeGrammar:
    return TreeGrammar(q=6, depth=3, q_eff=4, sigma=1.0, seed=0)


@pytest.fixture(scope="module")
def sched() -> Schedule:
    return Schedule.linear(T)


@pytest.fixture(scope="module")
def crit(tree, sched):
    """Test inputs at the paper's critical time t = 0.15 T."""
    x0 = tree.encode(tree.sample(300, 40))
    return frozen_noise(x0, sched, seed=41, t=int(0.15 * T))


def test_ladder_of_the_oracles(tree, crit) -> None:
    exact = oracle_ladder(tree, tree, crit.x_t, crit.alpha_bar)
    assert exact[0] == 0.0
    assert np.all(np.diff(exact) > 0)  # the more levels filtered, the further from BP_0
    for k in range(tree.depth + 1):
        assert oracle_ladder(Bound(tree, filtered_levels=k), tree, crit.x_t, crit.alpha_bar)[k] == 0
    root = oracle_ladder(Bound(tree, filtered_levels=tree.depth), tree, crit.x_t, crit.alpha_bar)
    assert root[0] == pytest.approx(root_only_kl(tree, crit.x_t, crit.alpha_bar), rel=1e-12)
    assert denoiser_divergence(tree, tree, crit.x_t, crit.alpha_bar) == 0.0


def test_exact_bp_is_the_bayes_floor(tree, sched) -> None:
    x0 = tree.encode(tree.sample(600, 42))
    # at a random t the top-level filter (k = 1) matters for few items: test at the critical time
    fz = frozen_noise(x0, sched, seed=43, t=int(0.15 * T))
    exact = denoising_loss(tree, x0, fz)
    for k in range(1, tree.depth + 1):
        diff = denoising_loss(Bound(tree, filtered_levels=k), x0, fz) - exact
        assert diff.mean() > 4.0 * diff.std() / np.sqrt(diff.size)


def test_excess_loss_vanishes_on_test_data(tree, sched) -> None:
    x0 = tree.encode(tree.sample(600, 44))
    fz = frozen_noise(x0, sched, seed=45, t=int(0.3 * T))
    parts = loss_decomposition(Bound(tree, filtered_levels=2), tree, x0, fz.x_t, fz.alpha_bar)
    np.testing.assert_allclose(parts.total, parts.exact + parts.excess, rtol=0, atol=1e-12)
    assert abs(parts.excess.mean()) < 4.0 * parts.excess.std() / np.sqrt(600)


def test_kl_between_oracles_peaks_near_the_critical_time(tree, sched) -> None:
    x0 = tree.encode(tree.sample(100, 46))
    grid = np.arange(10, T + 1, 20)
    curve = kl_along_time(tree, Bound(tree, filtered_levels=3), x0, sched, grid, seed=47)
    peak = grid[np.argmax(curve)] / T
    assert 0.08 <= peak <= 0.25  # docs/theory.md §3: t/T ≈ 0.15 for the paper grammar
    assert curve[0] < 0.1 * curve.max() and curve[-1] < 1e-3
