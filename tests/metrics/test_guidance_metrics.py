"""Diagnostics under guidance: exact entropy, accuracy, diversity, plug-in KL."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from physgen.errors import PhysgenError
from physgen.metrics.guidance import (
    class_accuracy,
    cross_entropy_excess,
    leaf_marginal_entropy,
    n_distinct,
    plugin_kl,
    tree_guidance_diagnostics,
)
from physgen.models import TreeGrammar


@pytest.fixture(scope="module")
def g() -> TreeGrammar:
    return TreeGrammar(q=3, depth=2, q_eff=2, sigma=1.0, seed=4, root_classes=[[0], [1, 2]])


def test_entropy_matches_enumeration(g: TreeGrammar) -> None:
    seqs = np.array(list(itertools.product(range(g.q), repeat=g.seq_len)))
    for c in (-1, 0, 1):
        lp = g.log_prob(seqs, classes=np.full(len(seqs), c))
        p = np.exp(lp)
        assert p.sum() == pytest.approx(1.0)
        ref = -np.sum(p[p > 0] * lp[p > 0])
        assert g.entropy(c) == pytest.approx(ref, rel=1e-12)


def test_simple_diagnostics() -> None:
    assert class_accuracy([0, 1, 1, 2], [0, 1, -1, 0]) == pytest.approx(2 / 3)
    assert np.isnan(class_accuracy([0, 1], [-1, -1]))
    assert leaf_marginal_entropy(np.zeros((5, 4), dtype=int), 3) == 0.0
    every = np.array(list(itertools.product(range(3), repeat=2)))
    assert leaf_marginal_entropy(every, 3) == pytest.approx(np.log(3))
    assert n_distinct(np.array([[0, 1], [0, 1], [1, 0]])) == 2
    with pytest.raises(PhysgenError):
        class_accuracy([0, 1], [0])


def test_plugin_kl_and_cross_entropy(g: TreeGrammar) -> None:
    n = 20_000
    cls = np.arange(n) % 2
    x = g.sample(n, seed=0, classes=cls)
    lp = g.log_prob(x, classes=cls)
    h = [g.entropy(0), g.entropy(1)]
    # exact conditional samples: the plug-in KL is only its small positive bias, the excess
    # cross-entropy is zero within its standard error
    kl = plugin_kl(x, cls, lp)
    assert 0.0 < kl < 0.01
    se = np.std(lp) / np.sqrt(n)
    assert abs(cross_entropy_excess(cls, lp, h)) < 4 * se
    # a point mass on one sequence: KL = -log p(x* | c) exactly
    star = np.repeat(x[:1], 50, axis=0)
    lps = g.log_prob(star, classes=np.zeros(50, dtype=int))
    assert plugin_kl(star, np.zeros(50, dtype=int), lps) == pytest.approx(-lps[0])
    assert plugin_kl(x[:2], np.array([1, 1]), g.log_prob(x[:2], classes=np.array([1, 1]))) == np.inf
    d = tree_guidance_diagnostics(g, x[:2000], cls[:2000])
    assert d.validity == 1.0 and d.accuracy == 1.0
    assert d.kl_plugin == pytest.approx(d.kl_plugin_valid)
    assert d.n_distinct <= 2000
