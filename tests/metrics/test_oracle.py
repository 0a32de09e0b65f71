"""The model–oracle ladder: exact identities of the oracles against themselves."""

from __future__ import annotations

import numpy as np
import pytest

from physgen.errors import PhysgenError
from physgen.metrics import (
    Bound,
    Precomputed,
    denoiser_divergence,
    frozen_noise,
    oracle_ladder,
    root_only_kl,
)
from physgen.metrics.oracle import learned_beyond_root, oracle_gaps, oracle_outputs


@pytest.fixture(scope="module")
def inputs(toy, schedule):
    x0 = toy.encode(toy.sample(200, 11))
    fz = frozen_noise(x0, schedule, seed=12, t=int(0.15 * schedule.T))
    return fz.x_t, fz.alpha_bar


def test_exact_oracle_as_model_gives_zero_d0(toy, inputs) -> None:
    ladder = oracle_ladder(toy, toy, *inputs)
    assert ladder.shape == (toy.depth + 1,)
    assert ladder[0] == 0.0
    assert ladder[1] > 0.01


def test_filtered_oracle_as_model_gives_zero_dk(toy, inputs) -> None:
    bp1 = Bound(toy, filtered_levels=1)
    ladder = oracle_ladder(bp1, toy, *inputs, batch_size=64)
    assert ladder[1] == 0.0
    assert ladder[0] == pytest.approx(root_only_kl(toy, *inputs), rel=1e-12)
    assert ladder[0] == pytest.approx(denoiser_divergence(toy, bp1, *inputs), rel=1e-12)


def test_levels_option_and_missing_depth(toy, inputs) -> None:
    np.testing.assert_array_equal(
        oracle_ladder(toy, toy, *inputs, levels=[1]), oracle_ladder(toy, toy, *inputs)[1:]
    )

    class NoDepth:
        def denoise(self, x_t, alpha_bar, filtered_levels=0):
            return toy.denoise(x_t, alpha_bar, filtered_levels)

    with pytest.raises(PhysgenError, match="no 'depth'"):
        oracle_ladder(toy, NoDepth(), *inputs)


def test_precomputed_oracle_and_gaps_match_direct_calls(toy, inputs) -> None:
    bp = oracle_outputs(toy, *inputs)
    assert bp.shape == (toy.depth + 1, *inputs[0].shape)
    bp1 = Bound(toy, filtered_levels=1)
    np.testing.assert_array_equal(
        oracle_ladder(bp1, toy, *inputs, oracle=bp), oracle_ladder(bp1, toy, *inputs)
    )
    gaps = oracle_gaps(toy, *inputs, oracle=bp)
    # KL(BP_0 || BP_k) by the pairwise divergence, level by level
    for k in range(toy.depth + 1):
        expected = denoiser_divergence(toy, Bound(toy, filtered_levels=k), *inputs)
        assert gaps[k] == pytest.approx(expected, rel=1e-12)
    assert gaps[0] == 0.0 and gaps[-1] == pytest.approx(root_only_kl(toy, *inputs), rel=1e-12)
    np.testing.assert_array_equal(
        learned_beyond_root(np.array([0.1, 0.5, 0.3]), 0.3), np.array([1, 0, 0], dtype=np.int8)
    )


def test_precomputed_denoiser_answers_only_on_its_inputs(toy, inputs) -> None:
    x_t, a = inputs
    out = toy.denoise(x_t, a)
    pre = Precomputed(x_t, out)
    assert denoiser_divergence(pre, toy, x_t.copy(), a) == 0.0
    with pytest.raises(PhysgenError, match="only answers"):
        pre.denoise(x_t[:3], a[:3])


def test_site_only_kl_by_enumeration() -> None:
    import itertools

    from physgen.metrics import kl_divergence, site_only_kl
    from physgen.models import TreeGrammar

    tree = TreeGrammar(q=3, q_eff=2, depth=2, seed=1)
    seqs = np.array(list(itertools.product(range(3), repeat=4)))  # every sequence
    p = np.exp(tree.log_prob(seqs))  # (81,), zero off the support
    rng = np.random.default_rng(0)
    ab = 0.4
    x_t = np.sqrt(ab) * tree.encode(tree.sample(20, 5)) + np.sqrt(1 - ab) * rng.standard_normal(
        (20, 4, 3)
    )
    h = np.sqrt(ab) * x_t / (1 - ab)  # (n, N, q) leaf evidence
    onehot = np.eye(3)[seqs]  # (81, N, q)
    # exact posterior by enumeration, and the product-of-marginals posterior
    log_w = np.log(np.maximum(p, 1e-300))[None] + np.einsum("nia,sia->ns", h, onehot)
    w = np.exp(log_w - log_w.max(axis=1, keepdims=True))
    w /= w.sum(axis=1, keepdims=True)
    exact = np.einsum("ns,sia->nia", w, onehot)
    marg = np.einsum("s,sia->ia", p, onehot)
    site = marg[None] * np.exp(h - h.max(axis=-1, keepdims=True))
    site /= site.sum(axis=-1, keepdims=True)
    expected = float(np.mean(kl_divergence(exact, site)))
    assert site_only_kl(tree, x_t, ab) == pytest.approx(expected, rel=1e-6)
    assert expected > 0.01
