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

__all__ = ["DataProtocol", "NetworkSpec", "Pair"]


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


class DataProtocol:
    """Seeded pool, disjoint splits, test set and pairs of one experiment (module docstring).

    Args:
        model: a data model (``sample(n, seed)``, ``encode``; optional finite ``pool_size``).
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
        self.pool_seed = stream(self.seed, "pool")
        self._network_root = stream(self.seed, "networks")
        self._pool: np.ndarray | None = None

    @property
    def pool(self) -> np.ndarray:
        """The used prefix of the pool, native encoding, shape ``(n_used, *native_shape)``."""
        if self._pool is None:
            self._pool = np.asarray(self.model.sample(self.n_used, self.pool_seed))
        return self._pool

    def split_indices(self, j: int) -> np.ndarray:
        """Pool indices of split ``j`` (shape ``(n_train,)``)."""
        if not 0 <= j < self.n_splits:
            raise IndexError(f"split {j} out of range 0..{self.n_splits - 1}")
        n = self.cfg.n_train
        return np.arange(j * n, (j + 1) * n)

    def test_indices(self) -> np.ndarray:
        """Pool indices of the test set (shape ``(n_test,)``), after all splits."""
        start = self.n_splits * self.cfg.n_train
        return np.arange(start, start + self.cfg.n_test)

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
        """The network trained on ``split`` as replicate ``replicate`` and its seed."""
        self.split_indices(split)
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
