"""TreeGrammar against brute-force enumeration, closed forms and goodness-of-fit at fixed seeds."""

from __future__ import annotations

import functools
import itertools
import math

import numba
import numpy as np
import pytest
from scipy import stats

from physgen.errors import ConfigError, PhysgenError
from physgen.models import TreeGrammar, random_hierarchy_model
from physgen.registry import make_model

# (q, depth, q_eff, branching, recipe, sigma): small enough to enumerate every tree.
SMALL = [
    (2, 3, 2, 2, "paper", 1.0),
    (3, 2, 2, 2, "paper", 1.5),
    (3, 3, 2, 2, "rhm", 0.7),
    (2, 2, 3, 3, "paper", 1.0),
    (3, 2, 3, 3, "rhm", 1.0),
]


def _grammar(case: tuple, seed: int = 3) -> TreeGrammar:
    q, depth, q_eff, s, recipe, sigma = case
    return TreeGrammar(
        q=q, depth=depth, q_eff=q_eff, sigma=sigma, branching=s, seed=seed, recipe=recipe
    )


def _channels(g: TreeGrammar, k: int) -> np.ndarray:
    """T_j of level k from the dense transition only: products of child marginals, (s^k, q, q)."""
    s, q = g.branching, g.q
    axes = tuple(range(1, s + 1))
    marg = [g.transition.sum(axis=tuple(a for a in axes if a != c + 1)) for c in range(s)]
    out = []
    for path in itertools.product(range(s), repeat=k):
        t = np.eye(q)
        for c in path:
            t = t @ marg[c]
        out.append(t)
    return np.array(out)


def _subtree(g: TreeGrammar, a: int, height: int) -> dict[tuple, float]:
    """Distribution of the leaves below a node of symbol ``a`` with ``height`` levels under it."""
    if height == 0:
        return {(a,): 1.0}
    out: dict[tuple, float] = {}
    for kids in itertools.product(range(g.q), repeat=g.branching):
        p = g.transition[(a, *kids)]
        if p == 0.0:
            continue
        parts = [_subtree(g, b, height - 1) for b in kids]
        for combo in itertools.product(*(d.items() for d in parts)):
            seq = sum((c[0] for c in combo), ())
            out[seq] = out.get(seq, 0.0) + p * np.prod([c[1] for c in combo])
    return out


@functools.cache
def _brute_case(case: tuple, k: int) -> tuple[np.ndarray, np.ndarray]:
    return _brute(_grammar(case), k)


def _brute(g: TreeGrammar, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Every sequence of the k-filtered model with its probability: (S, N) int, (S,) float."""
    q, s, depth = g.q, g.branching, g.depth
    t = _channels(g, k)
    ys = np.array(list(itertools.product(range(q), repeat=s**k)), dtype=np.int64)
    py = np.prod(t[np.arange(s**k)[None, :], :, ys], axis=1).mean(axis=1)  # (q^(s^k),)
    if k == depth:
        return ys[py > 0], py[py > 0]
    below = [_subtree(g, b, depth - k) for b in range(q)]
    dist: dict[tuple, float] = {}
    for y, pyy in zip(ys, py, strict=True):
        if pyy == 0.0:
            continue
        for combo in itertools.product(*(below[b].items() for b in y)):
            seq = sum((c[0] for c in combo), ())
            dist[seq] = dist.get(seq, 0.0) + pyy * math.prod(c[1] for c in combo)
    seqs = np.array(list(dist.keys()), dtype=np.int64)
    return seqs, np.array(list(dist.values()))


def _brute_posterior(seqs: np.ndarray, p: np.ndarray, h: np.ndarray, q: int):
    """Leaf marginals (n, N, q) and log Z (n,) under log-evidence h (n, N, q) by enumeration."""
    score = h[:, np.arange(seqs.shape[1])[None, :], seqs].sum(-1)  # (n, S)
    with np.errstate(divide="ignore"):
        logw = score + np.log(p)[None]
    top = logw.max(axis=1, keepdims=True)
    w = np.exp(logw - top)
    onehot = np.eye(q)[seqs]  # (S, N, q)
    marg = np.einsum("ns,siq->niq", w, onehot) / w.sum(1)[:, None, None]
    return marg, top[:, 0] + np.log(w.sum(1))


@pytest.fixture(autouse=True)
def _one_thread():
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)


# ---------------------------------------------------------------------------- grammar


def test_paper_grammar_reproduces_legacy_numpy_recipe():
    # The authors' recipe on NumPy's global legacy stream (state restored afterwards): the
    # legacy calls are the point of this test.
    saved = np.random.get_state()  # noqa: NPY002
    try:
        np.random.seed(0)  # noqa: NPY002
        pairs = np.array([(b, c) for b in range(6) for c in range(6)])
        np.random.shuffle(pairs)  # noqa: NPY002
        m = np.zeros((6, 6, 6))
        for a in range(6):
            block = pairs[6 * a : 6 * a + 6]
            logits = [np.random.randn() for _ in range(4)]  # noqa: NPY002
            z = np.exp(np.array(logits) - max(logits))
            for (b, c), w in zip(block[:4], z / z.sum(), strict=True):
                m[a, b, c] = w
    finally:
        np.random.set_state(saved)  # noqa: NPY002
    g = TreeGrammar.paper()
    np.testing.assert_allclose(g.transition, m, rtol=1e-13, atol=0)
    assert (g.q, g.depth, g.q_eff, g.branching, g.seq_len) == (6, 4, 4, 2, 16)
    assert g.event_shape == (16, 6) and g.vocab_size == 6
    assert TreeGrammar(q=6, depth=4, q_eff=4, sigma=1.0, seed=0).params() == g.params()


@pytest.mark.parametrize("case", SMALL)
def test_transition_is_an_unambiguous_grammar(case):
    g = _grammar(case)
    s = g.branching
    t = g.transition
    assert t.shape == (g.q,) * (s + 1)
    np.testing.assert_allclose(t.reshape(g.q, -1).sum(1), 1.0, rtol=1e-12)
    allowed = t.reshape(g.q, -1) > 0
    assert (allowed.sum(1) == g.q_eff).all()
    assert allowed.sum(0).max() == 1  # every children tuple has at most one parent


def test_rhm_recipe_and_registry():
    g = TreeGrammar.rhm(v=4, m=3, branching=3, depth=2, seed=5)
    assert g.recipe == "rhm" and g.sigma == 0.0
    np.testing.assert_allclose(g.rule_probs, 1 / 3)
    h = make_model("rhm", v=4, m=3, branching=3, depth=2, seed=5)
    np.testing.assert_array_equal(h.transition, g.transition)
    again = make_model("tree", **g.params())
    np.testing.assert_array_equal(again.transition, g.transition)
    other = random_hierarchy_model(v=4, m=3, branching=3, depth=2, seed=6)
    assert not np.array_equal(other.transition, g.transition)


# ---------------------------------------------------------------------------- BP vs brute force


@pytest.mark.parametrize("case", SMALL)
def test_bp_matches_enumeration_for_gaussian_fields(case):
    g = _grammar(case)
    rng = np.random.default_rng(1)
    h = 2.0 * rng.standard_normal((5, g.seq_len, g.q))
    for k in range(g.depth + 1):
        seqs, p = _brute_case(case, k)
        assert p.sum() == pytest.approx(1.0, abs=1e-12)
        marg, log_z = g.posterior(h, filtered_levels=k)
        ref, ref_z = _brute_posterior(seqs, p, h, g.q)
        np.testing.assert_allclose(marg, ref, atol=1e-12)
        np.testing.assert_allclose(log_z, ref_z, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", SMALL)
def test_bp_matches_enumeration_for_masked_evidence(case):
    g = _grammar(case)
    rng = np.random.default_rng(2)
    for k in (0, g.depth):
        seqs, p = _brute_case(case, k)
        tokens = g.sample(6, seed=4, filtered_levels=k)
        mask = rng.random(tokens.shape) < 0.5
        marg = g.denoise_masked(np.where(mask, -1, tokens), mask, filtered_levels=k)
        h = np.where(np.eye(g.q, dtype=bool)[tokens], 0.0, -np.inf)
        h[mask] = 0.0
        ref, _ = _brute_posterior(seqs, p, h, g.q)
        np.testing.assert_allclose(marg, ref, atol=1e-12)
        observed = ~mask
        np.testing.assert_array_equal(marg[observed].argmax(-1), tokens[observed])


def test_denoise_matches_enumeration_with_per_sample_alpha_bar():
    g = _grammar(SMALL[0])
    seqs, p = _brute(g, 0)
    rng = np.random.default_rng(3)
    x0 = g.encode(g.sample(4, seed=9))
    ab = np.array([0.05, 0.4, 0.9, 0.999])
    x_t = np.sqrt(ab)[:, None, None] * x0 + np.sqrt(1 - ab)[:, None, None] * rng.standard_normal(
        x0.shape
    )
    ref, _ = _brute_posterior(
        seqs, p, np.sqrt(ab)[:, None, None] * x_t / (1 - ab)[:, None, None], g.q
    )
    np.testing.assert_allclose(g.denoise(x_t, ab), ref, atol=1e-12)
    score = g.score(x_t, ab, filtered_levels=1)
    x1 = g.denoise(x_t, ab, filtered_levels=1)
    np.testing.assert_allclose(
        score, (np.sqrt(ab)[:, None, None] * x1 - x_t) / (1 - ab)[:, None, None]
    )


def test_denoise_is_stable_at_alpha_bar_near_one():
    g = TreeGrammar.paper()
    x0 = g.encode(g.sample(64, seed=2))
    rng = np.random.default_rng(0)
    for ab in (1 - 1e-3, 1 - 1e-6, 1.0):
        x_t = np.sqrt(ab) * x0 + np.sqrt(1 - ab) * rng.standard_normal(x0.shape)
        for k in (0, 2, 4):
            mu = g.denoise(x_t, ab, filtered_levels=k)
            assert np.isfinite(mu).all()
            np.testing.assert_allclose(mu, x0, atol=1e-9)


def test_single_site_marginals_do_not_depend_on_filtering():
    g = TreeGrammar.paper()
    h = np.zeros((1, g.seq_len, g.q))
    ref = g.posterior(h, filtered_levels=0)[0][0]
    np.testing.assert_allclose(ref, g.site_marginals(), atol=1e-12)
    for k in range(1, g.depth + 1):
        np.testing.assert_allclose(g.posterior(h, filtered_levels=k)[0][0], ref, atol=1e-12)


# ---------------------------------------------------------------------------- log_prob, validity


@pytest.mark.parametrize("case", [c for c in SMALL if c[0] ** (c[3] ** c[1]) <= 6561])
def test_log_prob_normalised_and_matches_enumeration(case):
    g = _grammar(case)
    every = np.array(list(itertools.product(range(g.q), repeat=g.seq_len)), dtype=np.int64)
    for k in range(g.depth + 1):
        logp = g.log_prob(every, filtered_levels=k)
        assert np.exp(logp).sum() == pytest.approx(1.0, abs=1e-12)
        seqs, p = _brute_case(case, k)
        index = {tuple(x): i for i, x in enumerate(every)}
        ref = np.full(len(every), -np.inf)
        ref[[index[tuple(x)] for x in seqs]] = np.log(p)
        np.testing.assert_allclose(logp, ref, rtol=1e-12)
        inside = np.isfinite(logp)
        log_z = g.posterior(np.where(np.eye(g.q, dtype=bool)[every[inside]], 0.0, -np.inf), k)[1]
        np.testing.assert_allclose(log_z, logp[inside], rtol=1e-12)
    valid = g.is_valid(every)
    np.testing.assert_array_equal(valid, np.isfinite(g.log_prob(every, filtered_levels=0)))


def _reference_validity(g: TreeGrammar, tokens: np.ndarray) -> np.ndarray:
    """Plain-Python bottom-up parse on the dense transition (column d = parent level d)."""
    s = g.branching
    allowed = g.transition.reshape(g.q, -1) > 0
    out = np.zeros((len(tokens), g.depth))
    for i, seq in enumerate(tokens):
        cur = list(seq)
        for d in range(g.depth - 1, -1, -1):
            nxt = []
            for grp in range(s**d):
                kids = cur[s * grp : s * grp + s]
                parent = -1
                if min(kids) >= 0:
                    col = int(np.ravel_multi_index(tuple(kids), (g.q,) * s))
                    hits = np.flatnonzero(allowed[:, col])
                    parent = int(hits[0]) if hits.size else -1
                nxt.append(parent)
            out[i, d] = np.mean([p >= 0 for p in nxt])
            cur = nxt
    return out


def test_validity_on_samples_and_corruptions():
    g = TreeGrammar.paper()
    x = g.sample(300, seed=7)
    np.testing.assert_array_equal(g.validity(x), 1.0)
    assert g.is_valid(x).all()
    rng = np.random.default_rng(8)
    bad = x.copy()
    pos = rng.integers(0, g.seq_len, len(bad))
    bad[np.arange(len(bad)), pos] = (
        bad[np.arange(len(bad)), pos] + rng.integers(1, g.q, len(bad))
    ) % g.q
    v = g.validity(bad)
    np.testing.assert_array_equal(v, _reference_validity(g, bad))
    assert (~g.is_valid(bad)).mean() > 0.2
    assert (v[:, -1] < 1).mean() > 0.2
    np.testing.assert_array_equal(g.is_valid(bad), np.isfinite(g.log_prob(bad)))


# ---------------------------------------------------------------------------- sampler


def _chi2_pvalue(counts: np.ndarray, expected: np.ndarray) -> float:
    """Pooled chi-square p-value over rows of (rows, categories) counts; zero-expected cells must be
    empty."""
    zero = expected == 0
    assert counts[zero].sum() == 0
    stat = ((counts - expected)[~zero] ** 2 / expected[~zero]).sum()
    dof = int((~zero).sum(axis=1).clip(min=1).sum() - len(counts))
    return float(stats.chi2.sf(stat, dof))


@pytest.mark.parametrize("k", [0, 1, 3])
def test_sampler_goodness_of_fit(k):
    g = _grammar(SMALL[2])  # q = 3, depth = 3, s = 2
    n = 40_000
    leaves, levels = g.sample(n, seed=11, filtered_levels=k, return_levels=True)
    np.testing.assert_array_equal(levels[-1], leaves)
    # Leaf marginals per position (identical for every k).
    seqs, p = _brute_case(SMALL[2], k)
    exp_leaf = n * np.einsum("s,siq->iq", p, np.eye(g.q)[seqs])
    counts = np.stack([np.bincount(leaves[:, i], minlength=g.q) for i in range(g.seq_len)])
    assert _chi2_pvalue(counts, exp_leaf) > 1e-3
    # Rule frequencies per level d ≥ k (node marginals from the channels, times the rules).
    t = _channels(g, g.depth).mean(axis=1)  # leaf marginals, a check of the channels themselves
    np.testing.assert_allclose(exp_leaf / n, t, atol=1e-12)
    for d in range(k, g.depth):
        node_marg = _channels(g, d).mean(axis=1)  # (s^d, q)
        exp_rules = n * np.einsum("ja,a...->a...", node_marg, g.transition).reshape(g.q, -1)
        parents = levels[d].reshape(-1)
        kids = levels[d + 1].reshape(-1, g.branching)
        col = np.ravel_multi_index(tuple(kids.T), (g.q,) * g.branching)
        counts = np.zeros_like(exp_rules)
        np.add.at(counts, (parents, col), 1)
        assert _chi2_pvalue(counts, exp_rules) > 1e-3
    if k > 0:
        # Joint of the first and last level-k nodes: root-mediated channels only.
        tk = _channels(g, k)
        exp_pair = n * np.einsum("ab,ac->bc", tk[0], tk[-1]) / g.q
        first, last = levels[k][:, 0], levels[k][:, -1]
        counts = np.zeros((g.q, g.q))
        np.add.at(counts, (first, last), 1)
        assert _chi2_pvalue(counts.reshape(1, -1), exp_pair.reshape(1, -1)) > 1e-3
        if k > 1:  # a filtered model has no levels strictly between the root and level k
            assert (levels[1] == -1).all()


def test_sampler_reproducible_across_n_chunks_threads():
    g = TreeGrammar.paper()
    full = g.sample(300, seed=5)
    np.testing.assert_array_equal(g.sample(7, seed=5), full[:7])
    np.testing.assert_array_equal(g.sample(100, seed=5, start=200), full[200:])
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    np.testing.assert_array_equal(g.sample(300, seed=5), full)
    assert not np.array_equal(g.sample(300, seed=6), full)
    assert g.sample(0, seed=5).shape == (0, 16)
    np.testing.assert_array_equal(g.sample(300, seed=5, return_levels=True)[0], full)


def test_denoise_independent_of_batch_and_threads():
    g = TreeGrammar.paper()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 16, 6))
    one = g.denoise(x, 0.3, filtered_levels=2)
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    np.testing.assert_array_equal(g.denoise(x, 0.3, filtered_levels=2), one)
    np.testing.assert_array_equal(g.denoise(x[130:], 0.3, filtered_levels=2), one[130:])


# ---------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("params", "key"),
    [
        ({"q": 1}, "model.q"),
        ({"q": 2.5}, "model.q"),
        ({"depth": 0}, "model.depth"),
        ({"branching": 1}, "model.branching"),
        ({"q_eff": 0}, "model.q_eff"),
        ({"q": 6, "q_eff": 7}, "model.q_eff"),
        ({"sigma": -1.0}, "model.sigma"),
        ({"sigma": float("nan")}, "model.sigma"),
        ({"seed": -3}, "model.seed"),
        ({"recipe": "cfg"}, "model.recipe"),
        ({"filtered_levels": 5}, "model.filtered_levels"),
        ({"filtered_levels": -1}, "model.filtered_levels"),
        ({"depth": 40}, "model.depth"),
    ],
)
def test_bad_parameters_raise_one_clear_error(params, key):
    with pytest.raises(ConfigError) as err:
        TreeGrammar(**params)
    assert err.value.key == key


@pytest.mark.parametrize(("params", "key"), [({"v": 1}, "model.v"), ({"v": 3, "m": 4}, "model.m")])
def test_bad_rhm_parameters(params, key):
    with pytest.raises(ConfigError) as err:
        random_hierarchy_model(**params)
    assert err.value.key == key


def test_bad_inputs_raise_physgen_errors():
    g = TreeGrammar.paper()
    x = g.sample(2, seed=0)
    with pytest.raises(PhysgenError, match="tokens must lie"):
        g.log_prob(x + 6)
    with pytest.raises(PhysgenError, match="shape"):
        g.validity(x[:, :5])
    with pytest.raises(PhysgenError, match="integers"):
        g.encode(x.astype(float))
    with pytest.raises(PhysgenError, match="x_t must have shape"):
        g.denoise(np.zeros((2, 16, 5)), 0.5)
    with pytest.raises(PhysgenError, match="finite"):
        g.denoise(np.full((2, 16, 6), np.nan), 0.5)
    with pytest.raises(PhysgenError, match="filtered_levels"):
        g.denoise(g.encode(x), 0.5, filtered_levels=5)
    with pytest.raises(PhysgenError, match="finite entry"):
        g.posterior(np.full((1, 16, 6), -np.inf))
    with pytest.raises(PhysgenError, match="boolean"):
        g.denoise_masked(x, np.zeros(16))
    with pytest.raises(PhysgenError, match="non-negative"):
        g.sample(-1, seed=0)


def test_impossible_evidence_gives_nan_and_minus_inf():
    g = TreeGrammar.paper()
    x = g.sample(3, seed=1)
    allowed = g.transition.reshape(6, -1).sum(0) > 0
    bad_pair = np.unravel_index(np.flatnonzero(~allowed)[0], (6, 6))
    x[1, :2] = bad_pair
    h = np.where(np.eye(6, dtype=bool)[x], 0.0, -np.inf)
    marg, log_z = g.posterior(h)
    assert np.isnan(marg[1]).all() and log_z[1] == -np.inf
    np.testing.assert_allclose(log_z[[0, 2]], g.log_prob(x[[0, 2]]), rtol=1e-12)


@pytest.mark.parametrize(
    "params",
    [
        {"q": 3, "q_eff": 2, "depth": 2},
        {"q": 3, "q_eff": 2, "depth": 2, "filtered_levels": 1},
        {"q": 3, "q_eff": 2, "depth": 2, "filtered_levels": 2},
        {"q": 2, "q_eff": 1, "depth": 3, "recipe": "rhm", "seed": 3},
        {"q": 2, "q_eff": 2, "depth": 1, "branching": 3, "filtered_levels": 1},
    ],
)
def test_support_size_counts_the_valid_sequences(params):
    g = TreeGrammar(**params)
    every = np.array(list(itertools.product(range(g.q), repeat=g.seq_len)))
    assert g.support_size() == int(np.isfinite(g.log_prob(every)).sum())


def test_support_size_closed_form():
    # unambiguous rules, exact model: q · q_eff^(number of internal nodes)
    for depth in (1, 2, 3, 4, 6):
        assert TreeGrammar(depth=depth).support_size() == 6 * 4 ** (2**depth - 1)
