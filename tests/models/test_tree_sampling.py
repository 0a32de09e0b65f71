"""Reverse diffusion driven by the exact belief-propagation denoiser of the paper's grammar
generates the grammar: valid sequences at every level, leaf marginals and the distribution of
exact log-probabilities matching the model."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from physgen.diffusion import Schedule, coupled_sample, ddpm_sample
from physgen.models import TreeGrammar


@pytest.fixture(scope="module")
def grammar() -> TreeGrammar:
    return TreeGrammar.paper()


def check_generated(grammar: TreeGrammar, x: np.ndarray, seed: int) -> None:
    """Validity ≥ 99 % at every level; chi-square of the leaf counts (summed over sites) against
    the exact site marginals; two-sample KS of log p(x) against the model's own sampler."""
    n = x.shape[0]
    tokens = grammar.decode(x)
    # the last reverse step returns x̂0 at ᾱ_1 ≈ 1: one-hot up to rounding
    np.testing.assert_allclose(x, np.eye(grammar.q)[tokens], atol=1e-6)
    assert np.all(grammar.validity(tokens).mean(axis=0) >= 0.99)
    assert grammar.is_valid(tokens).mean() >= 0.99
    counts = np.stack(
        [np.bincount(tokens[:, i], minlength=grammar.q) for i in range(tokens.shape[1])]
    )
    expected = n * grammar.site_marginals()
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    dof = tokens.shape[1] * (grammar.q - 1)
    assert stats.chi2.sf(chi2, dof) > 1e-3
    logp_gen = grammar.log_prob(tokens)
    logp_true = grammar.log_prob(grammar.sample(2000, seed=seed + 1))
    assert stats.ks_2samp(logp_gen[np.isfinite(logp_gen)], logp_true).pvalue > 1e-3


def test_bp_reverse_diffusion_generates_the_grammar_fast(grammar: TreeGrammar) -> None:
    """Short schedule (T = 100), 200 samples: the default-suite variant."""
    x = ddpm_sample(grammar, Schedule.linear(100), 200, grammar.event_shape, seed=0)
    check_generated(grammar, x, seed=0)


@pytest.mark.slow
def test_bp_reverse_diffusion_generates_the_grammar_paper_schedule(grammar: TreeGrammar) -> None:
    """The paper's schedule (T = 500) and 500 samples."""
    x = ddpm_sample(grammar, Schedule.linear(500), 500, grammar.event_shape, seed=1)
    check_generated(grammar, x, seed=1)


def test_coupled_bp_and_filtered_bp_share_coarse_structure(grammar: TreeGrammar) -> None:
    """BP_0 and BP_L sampled from the same noise: BP_L keeps only root-mediated correlations, so
    its samples are invalid far more often, while coupling keeps the pairs closer than uncoupled
    pairs (shared x_T and z_t)."""
    s = Schedule.linear(50)

    def bp_root_only(x_t: np.ndarray, a: float) -> np.ndarray:
        return grammar.denoise(x_t, a, filtered_levels=grammar.depth)

    exact, root_only = coupled_sample([grammar, bp_root_only], s, 100, grammar.event_shape, seed=3)
    tok_exact, tok_root = grammar.decode(exact), grammar.decode(root_only)
    assert grammar.is_valid(tok_exact).mean() > 0.95
    assert grammar.is_valid(tok_root).mean() < 0.5
    paired = (tok_exact == tok_root).mean()
    shuffled = (tok_exact == np.roll(tok_root, 1, axis=0)).mean()
    assert paired > shuffled + 0.1
