"""Conditional exact models against brute force (trees), closed forms (GMM) and the pool (digits)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from scipy import stats

from physgen.errors import ConfigError, PhysgenError
from physgen.models import GaussianMixture, TreeGrammar
from physgen.models.images import Digits, ImageDataset


def subtrees(g: TreeGrammar, a: int, depth: int) -> dict[tuple[int, ...], float]:
    """Brute force: every leaf tuple below a node of symbol ``a`` with ``depth`` rule levels."""
    if depth == 0:
        return {(a,): 1.0}
    out: dict[tuple[int, ...], float] = {}
    for e in range(g.q_eff):
        b, c = g.rules[a, e]
        for (lb, pb), (lc, pc) in itertools.product(
            subtrees(g, int(b), depth - 1).items(), subtrees(g, int(c), depth - 1).items()
        ):
            out[lb + lc] = out.get(lb + lc, 0.0) + g.rule_probs[a, e] * pb * pc
    return out


def brute_conditional(g: TreeGrammar, k: int, roots: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """All q^N sequences and p_k(x | root uniform on ``roots``), by enumeration: given the root
    the level-k nodes are independent through the channels T_j, exact subtrees below them."""
    n_k, width = 2**k, 2 ** (g.depth - k)
    below = [subtrees(g, b, g.depth - k) for b in range(g.q)]
    t = g.channels(k)
    seqs = np.array(list(itertools.product(range(g.q), repeat=g.seq_len)))
    p = np.zeros(len(seqs))
    for i, x in enumerate(seqs):
        for a in roots:
            term = 1.0 / len(roots)
            for j in range(n_k):
                block = tuple(int(v) for v in x[j * width : (j + 1) * width])
                term *= sum(t[j, a, b] * below[b].get(block, 0.0) for b in range(g.q))
            p[i] += term
    return seqs, p


@pytest.fixture(scope="module")
def small() -> TreeGrammar:
    return TreeGrammar(q=3, depth=3, q_eff=2, sigma=1.0, seed=3, root_classes=[[0, 2], [1]])


@pytest.mark.parametrize("k", [0, 1, 3])
def test_tree_log_prob_and_denoise_match_enumeration(small: TreeGrammar, k: int) -> None:
    g = small
    rng = np.random.default_rng(k)
    for c, roots in enumerate(g.root_classes):
        seqs, p = brute_conditional(g, k, roots)
        assert p.sum() == pytest.approx(1.0)
        lp = g.log_prob(seqs, filtered_levels=k, classes=np.full(len(seqs), c))
        with np.errstate(divide="ignore"):
            np.testing.assert_allclose(lp, np.log(p), rtol=1e-10, atol=1e-12)
        # posterior mean under Gaussian noise, by summing over the support
        ab = 0.4
        x0 = g.encode(seqs[p > 0][rng.integers((p > 0).sum(), size=6)])
        x_t = np.sqrt(ab) * x0 + np.sqrt(1 - ab) * rng.standard_normal(x0.shape)
        onehot = g.encode(seqs[p > 0])
        h = np.einsum("mia,nia->nm", onehot, x_t) * np.sqrt(ab) / (1 - ab)
        logw = np.log(p[p > 0])[None] + h
        w = np.exp(logw - logw.max(axis=1, keepdims=True))
        w /= w.sum(axis=1, keepdims=True)
        ref = np.einsum("nm,mia->nia", w, onehot)
        got = g.denoise(x_t, ab, filtered_levels=k, classes=np.full(6, c))
        np.testing.assert_allclose(got, ref, atol=1e-10)


def test_tree_masked_denoising_by_class(small: TreeGrammar) -> None:
    # every leaf hidden: the posterior is the class's single-site marginal, T_j rows averaged
    # over the class's roots
    g = small
    hidden = np.ones((2, g.seq_len), dtype=bool)
    got = g.denoise_masked(np.zeros((2, g.seq_len), dtype=int), hidden, classes=np.array([0, 1]))
    t = g.channels(g.depth)
    for c, roots in enumerate(g.root_classes):
        np.testing.assert_allclose(got[c], t[:, roots].mean(axis=1), atol=1e-12)


def test_tree_unconditional_rows_and_mixing(small: TreeGrammar) -> None:
    g = small
    rng = np.random.default_rng(0)
    x_t = rng.standard_normal((40, g.seq_len, g.q))
    cls = rng.integers(-1, g.n_classes, size=40)
    mixed = g.denoise(x_t, 0.3, classes=cls)
    np.testing.assert_array_equal(mixed[cls == -1], g.denoise(x_t, 0.3)[cls == -1])
    for c in range(g.n_classes):
        np.testing.assert_array_equal(
            mixed[cls == c], g.denoise(x_t[cls == c], 0.3, classes=np.full((cls == c).sum(), c))
        )
    # p(x) = Σ_c P(c) p(x | c) and E[x0 | x_t] = Σ_c P(c | x_t) E[x0 | x_t, c]
    seqs = g.sample(50, seed=1)
    lps = np.stack([g.log_prob(seqs, classes=np.full(50, c)) for c in range(g.n_classes)])
    pc = np.array([len(r) / g.q for r in g.root_classes])[:, None]
    np.testing.assert_allclose(np.log((pc * np.exp(lps)).sum(0)), g.log_prob(seqs), rtol=1e-12)


def test_tree_sampling_per_class_fits_and_reproduces() -> None:
    g = TreeGrammar(q=3, depth=2, q_eff=2, sigma=1.0, seed=1)
    n = 6000
    cls = np.arange(n) % g.q
    x, drawn = g.sample(n, seed=5, classes=cls, return_classes=True)
    np.testing.assert_array_equal(drawn, cls)
    np.testing.assert_array_equal(g.parse_class(x), cls)
    for c in range(g.q):
        seqs, p = brute_conditional(g, 0, [c])
        keep = p > 0
        index = {tuple(s): j for j, s in enumerate(seqs[keep])}
        counts = np.bincount([index[tuple(s)] for s in x[cls == c]], minlength=keep.sum())
        assert stats.chisquare(counts, p[keep] * counts.sum()).pvalue > 1e-3
    # row i depends only on (seed, i, class i); with one root per class, conditioning on the root
    # that the unconditional draw had reproduces the unconditional sample
    np.testing.assert_array_equal(g.sample(5, seed=5, classes=cls[7:12], start=7), x[7:12])
    free, roots = g.sample(200, seed=9, return_classes=True)
    np.testing.assert_array_equal(g.sample(200, seed=9, classes=roots), free)


def test_tree_parse_class_of_coarse_and_invalid(small: TreeGrammar) -> None:
    g = small
    x, lv = g.sample(100, seed=2, return_levels=True)
    np.testing.assert_array_equal(g.parse_class(x), g.class_of_root[lv[0][:, 0]])
    assert g.class_of_root.tolist() == [0, 1, 0]
    b, c = np.argwhere(g.transition.sum(axis=0) == 0)[0]  # a pair no parent produces
    bad = x.copy()
    bad[:, :2] = [b, c]
    assert (g.parse_class(bad) == -1).all()


def test_tree_class_errors(small: TreeGrammar) -> None:
    x = np.zeros((2, small.seq_len, small.q))
    with pytest.raises(ConfigError, match=r"^classes: class 2 out of range"):
        small.denoise(x, 0.5, classes=np.array([0, 2]))
    with pytest.raises(ConfigError, match=r"^classes:"):
        small.sample(3, seed=0, classes=np.array([0, 1]))
    with pytest.raises(ConfigError, match=r"^model.root_classes"):
        TreeGrammar(q=3, depth=2, q_eff=2, root_classes=[[0, 1], [1, 2]])
    assert "root_classes" not in TreeGrammar(q=3, depth=2, q_eff=2).params()
    assert TreeGrammar(**small.params()).root_classes == [[0, 2], [1]]


def test_gmm_conditional_closed_forms() -> None:
    rng = np.random.default_rng(0)
    g = GaussianMixture(rng.standard_normal((3, 4)), [0.5, 1.0, 1.5], [0.2, 0.3, 0.5])
    x = rng.standard_normal((7, 4))
    ab = 0.6
    cls = np.array([0, 1, 2, -1, 0, 2, 1])
    got = g.denoise(x, ab, classes=cls)
    # Tweedie on the autograd score of the conditional log-density
    xt = torch.tensor(x, requires_grad=True)
    logp = []
    for i, c in enumerate(cls):
        if c < 0:
            v = ab * torch.tensor(g.stds) ** 2 + 1 - ab
            mu = np.sqrt(ab) * torch.tensor(g.means)
            comp = torch.distributions.Normal(mu, v.sqrt()[:, None]).log_prob(xt[i]).sum(-1)
            logp.append(torch.logsumexp(comp + torch.log(torch.tensor(g.weights)), 0))
        else:
            sd = np.sqrt(ab * g.stds[c] ** 2 + 1 - ab)
            normal = torch.distributions.Normal(torch.tensor(np.sqrt(ab) * g.means[c]), sd)
            logp.append(normal.log_prob(xt[i]).sum())
    (score,) = torch.autograd.grad(torch.stack(logp).sum(), xt)
    ref = (x + (1 - ab) * score.numpy()) / np.sqrt(ab)
    np.testing.assert_allclose(got, ref, atol=1e-10)
    np.testing.assert_allclose(
        g.log_prob(x, ab, classes=cls), torch.stack(logp).detach().numpy(), rtol=1e-12
    )
    s, comp = g.sample(4000, seed=3, classes=np.full(4000, 2), return_classes=True)
    assert (comp == 2).all()
    assert stats.kstest(((s - g.means[2]) / g.stds[2]).ravel(), "norm").pvalue > 1e-3
    free, drawn = g.sample(50, seed=3, return_classes=True)
    np.testing.assert_array_equal(g.sample(50, seed=3, classes=drawn), free)
    with pytest.raises(ConfigError, match=r"^classes"):
        g.denoise(x, ab, classes=np.full(7, 3))


def test_digits_conditional() -> None:
    d = Digits()
    assert d.n_classes == 10
    x, lab = d.sample(30, seed=0, classes=np.arange(30) % 10, return_classes=True)
    np.testing.assert_array_equal(lab, np.arange(30) % 10)
    assert len({im.tobytes() for im in x}) == 30  # without replacement
    np.testing.assert_array_equal(d.sample(12, seed=4), d.sample(12, seed=4, classes=-1))
    lp = d.log_prob(x[:3], classes=lab[:3])
    np.testing.assert_allclose(lp, -np.log(np.bincount(d.labels)[lab[:3]]), atol=1e-12)
    assert d.log_prob(x[:1], classes=np.array([(lab[0] + 1) % 10]))[0] == -np.inf
    # at ᾱ → 1 the class-conditional denoiser returns an image of that class
    noisy = np.sqrt(0.999) * x[:5] + np.sqrt(0.001) * np.random.default_rng(1).standard_normal(
        x[:5].shape
    )
    out = d.denoise(noisy, 0.999, classes=lab[:5])
    np.testing.assert_allclose(out, x[:5], atol=1e-6)
    plain = ImageDataset(np.zeros((3, 1, 2, 2)))
    with pytest.raises(PhysgenError, match="no classes"):
        plain.denoise(np.zeros((1, 1, 2, 2)), 0.5, classes=np.array([0]))
