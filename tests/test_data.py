"""Data protocol: seeded pool, disjoint splits, test set, pairs and their seeds."""

from __future__ import annotations

import numpy as np
import pytest

from physgen.config import DataConfig
from physgen.data import DataProtocol, content_overlaps, excluded_mass
from physgen.errors import ConfigError
from physgen.models.tree import TreeGrammar
from physgen.rng import sample_generator


class _Counter:
    """Tiny model declared continuous (no ``vocab_size``): sample i is drawn from the stream of
    (seed, i); its 8 possible values repeat, and a continuous model keeps plain index blocks."""

    event_shape = (3, 2)

    def __init__(self, pool_size: int | None = None) -> None:
        if pool_size is not None:
            self.pool_size = pool_size

    def sample(self, n: int, seed: int) -> np.ndarray:
        return np.stack([sample_generator(seed, i).integers(0, 2, 3) for i in range(n)])

    def encode(self, x: np.ndarray) -> np.ndarray:
        return np.eye(2)[x]


CFG = DataConfig(n_train=7, n_test=5, n_pairs=3, n_seed_pairs=2, pool_size=100)


def test_splits_and_test_set_are_disjoint_and_cover_the_prefix():
    d = DataProtocol(_Counter(), CFG, seed=0)
    blocks = [d.split_indices(j) for j in range(6)] + [d.test_indices()]
    allidx = np.concatenate(blocks)
    assert len(set(allidx.tolist())) == allidx.size == 6 * 7 + 5
    np.testing.assert_array_equal(np.sort(allidx), np.arange(47))
    for j in range(6):
        assert d.split(j).shape == (7, 3)
    assert d.test_set().shape == (5, 3)
    assert d.train_data(2).shape == (7, 3, 2)


def test_pool_is_the_models_seeded_sample():
    d = DataProtocol(_Counter(), CFG, seed=0)
    ref = _Counter().sample(47, d.pool_seed)
    np.testing.assert_array_equal(d.split(1), ref[7:14])
    np.testing.assert_array_equal(d.test_set(), ref[42:47])


def test_reproducible_and_seed_dependent():
    a, b, c = (DataProtocol(_Counter(), CFG, seed=s) for s in (4, 4, 5))
    np.testing.assert_array_equal(a.split(3), b.split(3))
    assert a.pairs() == b.pairs()
    assert not np.array_equal(
        np.concatenate([a.split(j) for j in range(6)]),
        np.concatenate([c.split(j) for j in range(6)]),
    )
    assert a.pairs() != c.pairs()


def test_pairs_and_network_seeds():
    d = DataProtocol(_Counter(), CFG, seed=0)
    pairs = d.pairs()
    disjoint = [p for p in pairs if p.kind == "disjoint"]
    same = [p for p in pairs if p.kind == "seed"]
    assert [(p.a.split, p.b.split) for p in disjoint] == [(0, 1), (2, 3), (4, 5)]
    assert [(p.a.split, p.b.split, p.a.replicate, p.b.replicate) for p in same] == [
        (0, 0, 0, 1),
        (1, 1, 0, 1),
    ]
    # a network is a function of (split, replicate): the seed pairs reuse disjoint networks
    assert same[0].a == disjoint[0].a and same[1].a == disjoint[0].b
    nets = d.networks()
    assert len(nets) == 6 + 2
    assert len({n.seed for n in nets}) == len(nets)
    assert d.pool_seed not in {n.seed for n in nets}


def test_too_much_data_is_a_config_error():
    with pytest.raises(ConfigError, match=r"data\.n_train") as err:
        DataProtocol(_Counter(), DataConfig(n_train=20, n_test=5, n_pairs=3, pool_size=100), 0)
    assert "125" in str(err.value)
    # a finite model's own dataset size wins over the config's pool
    with pytest.raises(ConfigError, match=r"data\.n_train"):
        DataProtocol(_Counter(pool_size=40), CFG, 0)
    DataProtocol(_Counter(pool_size=47), CFG, 0)
    with pytest.raises(ConfigError, match=r"data\.n_seed_pairs"):
        DataProtocol(_Counter(), DataConfig(n_train=2, n_test=2, n_pairs=1, n_seed_pairs=3), 0)


def test_split_index_out_of_range():
    d = DataProtocol(_Counter(), CFG, seed=0)
    with pytest.raises(IndexError):
        d.split(6)


class _Tokens(_Counter):
    """The same draws declared discrete (support 8, no ``support_size``)."""

    vocab_size = 2


def _rows(x: np.ndarray) -> set[bytes]:
    return {r.tobytes() for r in np.ascontiguousarray(x)}


# depth 2: 384 sequences; i.i.d. splits of 32 share several of them
DEPTH2 = DataConfig(n_train=32, n_test=100, n_pairs=2, n_seed_pairs=0)


def _blocks_by_hand(stream: np.ndarray, sizes: list[int]) -> list[np.ndarray]:
    """The rule, written out: fill each block in turn with the next draws whose sequence is in
    no earlier block."""
    used: set[bytes] = set()
    blocks, it = [], iter(stream)
    for size in sizes:
        block = []
        while len(block) < size:
            x = next(it)
            if x.tobytes() not in used:
                block.append(x)
        used |= _rows(np.array(block))
        blocks.append(np.array(block))
    return blocks


def test_discrete_splits_are_content_disjoint():
    model = TreeGrammar(depth=2)
    d = DataProtocol(model, DEPTH2, seed=0)
    blocks = [d.split(j) for j in range(4)] + [d.test_set()]
    sets = [_rows(b) for b in blocks]
    for i in range(5):
        for j in range(i):
            assert not sets[i] & sets[j]
    assert np.all(model.is_valid(np.concatenate(blocks)))
    assert len(sets[4]) < 100  # repeats within a block are kept: an i.i.d. sample of p_b
    counts = content_overlaps(d)
    np.testing.assert_array_equal(counts["pair"], [0, 0])
    np.testing.assert_array_equal(counts["test"], [0, 0, 0, 0])
    # the pool is the model's i.i.d. stream, and the blocks follow the rule
    stream = model.sample(d.pool.shape[0], d.pool_seed)
    np.testing.assert_array_equal(d.pool, stream)
    for got, want in zip(blocks, _blocks_by_hand(stream, [32] * 4 + [100]), strict=True):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(d.split(0), stream[:32])  # the first split is exactly i.i.d.
    # the same sizes drawn by index overlap: the checks above are not vacuous
    iid = DataProtocol(model, DataConfig(**{**vars(DEPTH2), "content_disjoint": False}), seed=0)
    shared = content_overlaps(iid)
    assert shared["pair"].sum() > 0 and shared["test"].sum() > 0


def test_discrete_splits_reproducible_and_prefix():
    model = TreeGrammar(depth=2)
    a, b, c = (DataProtocol(model, DEPTH2, seed=s) for s in (3, 3, 4))
    for j in range(4):
        np.testing.assert_array_equal(a.split(j), b.split(j))
    np.testing.assert_array_equal(a.test_set(), b.test_set())
    assert not np.array_equal(a.split(0), c.split(0))
    bigger = DataProtocol(model, DataConfig(n_train=64, n_test=100, n_pairs=2), seed=3)
    np.testing.assert_array_equal(bigger.split(0)[:32], a.split(0))


def test_support_too_small_is_a_config_error():
    with pytest.raises(ConfigError, match=r"data\.n_train.*384") as err:
        DataProtocol(TreeGrammar(depth=2), DataConfig(n_train=100, n_test=200, n_pairs=1), 0)
    assert "400" in str(err.value)
    # no support_size: 11 blocks cannot each get a sequence of their own among 8
    tiny = DataConfig(n_train=1, n_test=2, n_pairs=5, n_seed_pairs=0)
    with pytest.raises(ConfigError, match=r"data\.n_train"):
        DataProtocol(_Tokens(), tiny, 0).split(0)
    d = DataProtocol(_Tokens(), DataConfig(n_train=3, n_test=3, n_pairs=1, n_seed_pairs=0), 0)
    a, b, t = (_rows(x) for x in (d.split(0), d.split(1), d.test_set()))
    assert not (a & b or a & t or b & t)


def test_continuous_model_keeps_index_blocks():
    d = DataProtocol(_Counter(), CFG, seed=0)
    assert not d.content_disjoint
    pool = d.pool
    assert len(_rows(pool)) < pool.shape[0]  # repeats kept: 47 draws of 8 values
    counts = content_overlaps(d)
    assert counts["pair"].shape == (3,) and counts["test"].shape == (6,)
    assert counts["pair"].sum() > 0


def test_excluded_mass_is_the_probability_of_earlier_blocks():
    model = TreeGrammar(depth=2)
    d = DataProtocol(model, DEPTH2, seed=0)
    blocks = [d.split(j) for j in range(4)] + [d.test_set()]
    mass = excluded_mass(model, blocks)
    assert mass[0] == 0.0
    earlier = np.unique(np.concatenate(blocks[:3]), axis=0)
    assert mass[3] == pytest.approx(np.exp(model.log_prob(earlier)).sum(), rel=1e-12)
    assert np.all(np.diff(mass) > 0) and mass[-1] < 1.0
