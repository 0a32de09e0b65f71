r"""The data protocol: one seeded pool, disjoint training splits, a held-out test set, and pairs.

Pool. Conceptually the paper's protocol (docs/theory.md §1): a pool of ``pool_size`` samples
:math:`x^{(0)}, x^{(1)}, \dots` drawn once from the data model with the pool seed; split :math:`j`
is the contiguous block of indices :math:`[j n, (j+1) n)` (:math:`n` = ``n_train``), for
:math:`j = 0 \dots 2P-1` (:math:`P` = ``n_pairs``), and the test set is the block of ``n_test``
indices right after all splits, :math:`[2Pn, 2Pn + n_{\rm test})`. Because sample :math:`i` of
``model.sample(m, seed)`` depends only on ``(seed, i)``, drawing the first
:math:`2Pn + n_{\rm test}` samples once *is* that prefix of the pool; the rest of the pool is never
materialised. Changing ``n_train`` moves the blocks (split 0 at size :math:`n` is a prefix of
split 0 at size :math:`2n`; the others shift), as in the paper's protocol.

Asking for more than the pool holds — ``pool_size`` of the config, or the model's own
``pool_size`` attribute when it has a finite dataset — raises a
:class:`~physgen.errors.ConfigError` naming ``data.n_train``: never a silent overlap.

Content-disjoint draws for discrete models (``model.vocab_size`` set and
``data.content_disjoint``, the default; docs/data.md). Index-disjoint is not content-disjoint when
the support is small: two i.i.d. draws coincide with probability :math:`\sum_x p(x)^2`, so at
depth 2 half of a split of 64 reappears in its partner. For a discrete model the blocks (splits
:math:`0 \dots 2P-1`, then the test set) are therefore filled in order from the stream of i.i.d.
draws, **dropping every draw whose sequence already appears in an earlier block**; repeats within
a block are kept, as in any i.i.d. sample. No sequence is then shared between two splits, nor
between a split and the test set. Block :math:`b` is an i.i.d. sample of the model restricted to
the sequences not in the earlier blocks :math:`U_b`,

.. math:: p_b(x) = \frac{p(x)\,\mathbb 1[x \notin U_b]}{1 - p(U_b)},

at total variation :math:`p(U_b)` from the model (:func:`excluded_mass`, exact from
``model.log_prob``); split 0 is an exact i.i.d. sample, the test set the most affected block.
:meth:`DataProtocol.pool_index` maps kept draws to stream indices. Beyond the model's
``support_size()`` (:math:`2Pn + n_{\rm test}` distinct sequences can be needed) the request is a
:class:`~physgen.errors.ConfigError` naming ``data.n_train``, as is a stream that cannot fill the
blocks. Split 0 at size :math:`n` is still a prefix of split 0 at size :math:`2n`; continuous
models keep the plain index blocks.

Pairs (:meth:`DataProtocol.pairs`):

* disjoint pair :math:`p = 0..P-1`: network A trained on split :math:`2p`, B on split
  :math:`2p+1`, both replicate 0;
* same-split seed pair :math:`s = 0..` ``n_seed_pairs`` − 1: two networks on split :math:`s`,
  replicates 0 and 1. Replicate 0 of split :math:`s` is the very network of disjoint pair
  :math:`\lfloor s/2 \rfloor`, so the seed-noise baseline costs one extra network per seed pair
  (``n_seed_pairs ≤ 2 n_pairs``).

Seeding tree (all from the experiment seed through the named streams of
:data:`physgen.rng.STREAMS` and :func:`physgen.rng.stream_key`)::

    seed ─ stream(seed, "pool")                      → pool seed: model.sample(m, pool seed)
         └ stream(seed, "networks") = s_net
              └ stream_key(s_net, split, replicate) → network seed σ of (split, replicate)
                   ├ build_net(..., seed=σ)           → initial weights (torch.manual_seed(σ))
                   └ train(..., seed=σ) → stream(σ, "batches")
                                                      → minibatch indices, steps, noise

A network is thus a function of (seed, split, replicate) only: the same network is obtained
whichever pair asks for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from physgen.config import DataConfig
from physgen.errors import ConfigError
from physgen.rng import stream, stream_key

__all__ = [
    "DataProtocol",
    "NetworkSpec",
    "Pair",
    "check_support",
    "content_overlaps",
    "excluded_mass",
]


@dataclass(frozen=True)
class NetworkSpec:
    """One network to train: on split ``split``, replicate ``replicate``, with seed ``seed``
    (initial weights and training stream)."""

    split: int
    replicate: int
    seed: int


@dataclass(frozen=True)
class Pair:
    """Two networks compared with each other: ``kind`` is ``"disjoint"`` (A and B on disjoint
    splits) or ``"seed"`` (one split, two seeds: the seed-noise baseline); ``index`` counts pairs
    within their kind."""

    kind: Literal["disjoint", "seed"]
    index: int
    a: NetworkSpec
    b: NetworkSpec


MAX_DRAWS_PER_KEPT = 64
"""Stream draws allowed per kept sample before the support is declared too small (the earlier
blocks then hold most of the probability mass)."""


def _content_disjoint(model: Any, data_cfg: DataConfig) -> bool:
    """Whether the data of ``model`` are drawn content-disjoint: a discrete model
    (``vocab_size`` set) and ``data.content_disjoint``."""
    return data_cfg.content_disjoint and getattr(model, "vocab_size", None) is not None


def check_support(model: Any, data_cfg: DataConfig) -> int | None:
    """The support size of a discrete model with ``support_size()`` (else ``None``), after
    checking that it holds the ``2 n_pairs n_train + n_test`` distinct sequences of
    content-disjoint data: a :class:`ConfigError` naming ``data.n_train`` otherwise."""
    if not _content_disjoint(model, data_cfg) or not hasattr(model, "support_size"):
        return None
    support = int(model.support_size())
    splits = 2 * data_cfg.n_pairs
    need = splits * data_cfg.n_train + data_cfg.n_test
    if need > support:
        raise ConfigError(
            "data.n_train",
            f"{splits} content-disjoint splits of {data_cfg.n_train} plus {data_cfg.n_test} test "
            f"sequences need {need} distinct sequences but the model's support holds {support}",
        )
    return support


def _rows(x: np.ndarray) -> list[bytes]:
    """One hashable key per sample (its native row's bytes)."""
    x = np.ascontiguousarray(x)
    return [r.tobytes() for r in x.reshape(len(x), -1)]


def _draw_blocks(
    model: Any, sizes: list[int], seed: int, support: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Content-disjoint blocks from the i.i.d. stream of ``seed`` (module docstring): block
    ``b`` takes the next ``sizes[b]`` draws whose sequence is in no earlier block (repeats
    within the block are kept). Returns ``(stream prefix (m, *native), stream indices of the
    kept draws in block order (sum(sizes),))``. Sample ``i`` of ``model.sample(m, seed)`` depends
    only on ``(seed, i)``, so a longer draw extends a shorter one; the length doubles until the
    blocks are full, at most ``MAX_DRAWS_PER_KEPT · sum(sizes)`` draws."""
    total = sum(sizes)
    used: set[bytes] = set()
    block: set[bytes] = set()
    kept: list[int] = []
    b, filled, pos, m = 0, 0, 0, total
    while True:
        stream = np.asarray(model.sample(m, seed))
        keys = _rows(stream[pos:])
        for i, key in enumerate(keys, start=pos):
            if key in used:
                continue
            kept.append(i)
            block.add(key)
            filled += 1
            if filled == sizes[b]:
                used |= block
                block, filled, b = set(), 0, b + 1
                if b == len(sizes):
                    return stream[: i + 1], np.asarray(kept, dtype=np.int64)
        pos = m
        if m >= MAX_DRAWS_PER_KEPT * total:
            size = (
                f"its support holds {support}"
                if support is not None
                else "its support is too small"
            )
            raise ConfigError(
                "data.n_train",
                f"{m} draws of the model filled only {len(kept)} of the {total} content-disjoint "
                f"samples asked for ({size}); use fewer or smaller splits, or a larger model",
            )
        m *= 2


def excluded_mass(model: Any, blocks: list[np.ndarray]) -> np.ndarray:
    """:math:`p(U_b)` for each block ``b``: the model probability of the distinct sequences of
    the blocks before it, i.e. the total variation between the law of block ``b`` and the model
    (module docstring). ``blocks``: the native data of the blocks in draw order (splits, then
    the test set); needs ``model.log_prob``. Returns ``(len(blocks),)``."""
    out = np.zeros(len(blocks))
    seen: dict[bytes, np.ndarray] = {}
    for b, block in enumerate(blocks):
        if seen:
            out[b] = np.exp(model.log_prob(np.stack(list(seen.values())))).sum()
        x = np.ascontiguousarray(block)
        seen.update(zip(_rows(x), x, strict=True))
    return out


def content_overlaps(protocol: DataProtocol) -> dict[str, np.ndarray]:
    """Sequences shared in content (equal rows of the native data), to be recorded: 0 by
    construction for discrete models.

    Returns ``{"pair": (n_pairs,), "test": (n_splits,)}`` int64: distinct sequences common to the
    two splits of disjoint pair ``p``, and to split ``j`` and the test set.
    """

    splits = [set(_rows(protocol.split(j))) for j in range(protocol.n_splits)]
    test = set(_rows(protocol.test_set()))
    pair = [len(splits[2 * p] & splits[2 * p + 1]) for p in range(protocol.cfg.n_pairs)]
    return {
        "pair": np.array(pair, dtype=np.int64),
        "test": np.array([len(s & test) for s in splits], dtype=np.int64),
    }


class DataProtocol:
    """Seeded pool, disjoint splits, test set and pairs of one experiment (module docstring).

    Args:
        model: a data model (``sample(n, seed)``, ``encode``; optional finite ``pool_size``;
            discrete when ``vocab_size`` is set, then optionally ``support_size()``).
        data_cfg: sizes (``n_train``, ``n_test``, ``n_pairs``, ``n_seed_pairs``, ``pool_size``).
        seed: the experiment seed.
    """

    def __init__(self, model: Any, data_cfg: DataConfig, seed: int) -> None:
        self.model = model
        self.cfg = data_cfg
        self.seed = int(seed)
        self.n_splits = 2 * data_cfg.n_pairs
        pool = data_cfg.pool_size
        model_pool = getattr(model, "pool_size", None)
        if model_pool is not None:
            pool = min(pool, int(model_pool))
        self.n_used = self.n_splits * data_cfg.n_train + data_cfg.n_test
        if self.n_used > pool:
            raise ConfigError(
                "data.n_train",
                f"{self.n_splits} disjoint splits of {data_cfg.n_train} plus {data_cfg.n_test} test "
                f"samples need {self.n_used} samples but the pool holds {pool}",
            )
        if data_cfg.n_seed_pairs > self.n_splits:
            raise ConfigError(
                "data.n_seed_pairs",
                f"at most one seed pair per split ({self.n_splits}), got {data_cfg.n_seed_pairs}",
            )
        self.content_disjoint = _content_disjoint(model, data_cfg)
        self.support_size = check_support(model, data_cfg)
        self.pool_seed = stream(self.seed, "pool")
        self._network_root = stream(self.seed, "networks")
        self._pool: np.ndarray | None = None
        self._kept: np.ndarray | None = None

    def _draw(self) -> None:
        if self.content_disjoint:
            sizes = [self.cfg.n_train] * self.n_splits + [self.cfg.n_test]
            self._pool, self._kept = _draw_blocks(
                self.model, sizes, self.pool_seed, self.support_size
            )
        else:
            self._pool = np.asarray(self.model.sample(self.n_used, self.pool_seed))

    @property
    def pool(self) -> np.ndarray:
        """The used prefix of the stream of draws, native encoding, shape
        ``(m, *native_shape)``: ``m = n_used`` for a continuous model, up to the last kept draw
        for a discrete one (repeats included; :meth:`pool_index` picks the kept draws)."""
        if self._pool is None:
            self._draw()
        return self._pool  # type: ignore[return-value]

    def pool_index(self, kept: np.ndarray) -> np.ndarray:
        """Stream indices of kept draws ``kept`` (int array): the identity for index blocks
        (nothing drawn), the accepted draws of the content-disjoint blocks otherwise."""
        if not self.content_disjoint:
            return np.asarray(kept, dtype=np.int64)
        if self._kept is None:
            self._draw()
        return self._kept[kept]  # type: ignore[index]

    def split_indices(self, j: int) -> np.ndarray:
        """Pool indices of split ``j`` (shape ``(n_train,)``): kept draws
        ``[j n, (j+1) n)``."""
        if not 0 <= j < self.n_splits:
            raise IndexError(f"split {j} out of range 0..{self.n_splits - 1}")
        n = self.cfg.n_train
        return self.pool_index(np.arange(j * n, (j + 1) * n))

    def test_indices(self) -> np.ndarray:
        """Pool indices of the test set (shape ``(n_test,)``): the ``n_test`` kept draws after
        all splits."""
        start = self.n_splits * self.cfg.n_train
        return self.pool_index(np.arange(start, start + self.cfg.n_test))

    def split(self, j: int) -> np.ndarray:
        """Split ``j`` in the native encoding, shape ``(n_train, *native_shape)``."""
        return self.pool[self.split_indices(j)]

    def test_set(self) -> np.ndarray:
        """The held-out test set in the native encoding, shape ``(n_test, *native_shape)``."""
        return self.pool[self.test_indices()]

    def train_data(self, j: int) -> np.ndarray:
        """Split ``j`` in the diffusion space (``model.encode``), shape ``(n_train, *event_shape)``:
        the ``x0`` of :func:`physgen.train.train`."""
        return self.model.encode(self.split(j))

    def network(self, split: int, replicate: int = 0) -> NetworkSpec:
        """The network trained on ``split`` as replicate ``replicate`` and its seed (no data
        drawn)."""
        if not 0 <= split < self.n_splits:
            raise IndexError(f"split {split} out of range 0..{self.n_splits - 1}")
        seed = stream_key(self._network_root, split, replicate) >> 1
        return NetworkSpec(split=split, replicate=replicate, seed=seed)

    def pairs(self) -> list[Pair]:
        """Disjoint pairs first (``n_pairs``), then same-split seed pairs (``n_seed_pairs``)."""
        out = [
            Pair("disjoint", p, self.network(2 * p), self.network(2 * p + 1))
            for p in range(self.cfg.n_pairs)
        ]
        out += [
            Pair("seed", s, self.network(s, 0), self.network(s, 1))
            for s in range(self.cfg.n_seed_pairs)
        ]
        return out

    def networks(self) -> list[NetworkSpec]:
        """Every distinct network the pairs need, each once, in first-use order."""
        seen: dict[tuple[int, int], NetworkSpec] = {}
        for pair in self.pairs():
            for spec in (pair.a, pair.b):
                seen.setdefault((spec.split, spec.replicate), spec)
        return list(seen.values())
