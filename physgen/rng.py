"""Per-sample random streams.

Every random draw in physgen flows from a :class:`numpy.random.SeedSequence`. Draws that belong to
one sample (its initial noise, its reverse-diffusion noise, its leaves) come from a stream keyed by
``(seed, i)`` so that sample ``i`` does not depend on batch size, chunking, thread count or device
(the per-sample-generator idea of EDM).

``stream_key(seed, *path)`` turns a seed and a path of labels into one integer key, used where a
kernel (Numba) needs an integer seed rather than a Generator.

**Stream labels.** Every independent purpose has one named label in :data:`STREAMS`, and a child
seed is ``stream(parent, name, offset)`` = ``spawn(parent, STREAMS[name] + offset)``. The tree of
seeds (parent → name):

* experiment seed → ``pool`` (the data pool), ``networks`` (root of the network seeds),
  ``evaluation`` (frozen evaluation inputs), ``sampling`` (coupled samples), ``clones`` (the
  clone dynamics of the vector experiment's regimes);
* a network's seed → ``batches`` (minibatches, diffusion steps and noise of its training);
* evaluation seed → ``eval_split`` + s (the frozen inputs of the s-th evaluated item set);
* sampling seed → ``fresh_floor`` (bootstrap of the fresh-sample noise floor), ``uturn`` + t
  (the U-turns started at step t), ``bootstrap`` + k (bootstrap of the memorised fraction at
  checkpoint k);
* clones seed → ``entropy_probes`` (the noise of the excess-entropy probes), ``clone_trunk`` (the
  reverse chains started at T that branch into clones), ``clone_sources`` (the model samples
  noised to T that start them);
* a model's seed → ``mixture_layout`` (random component means of :func:`physgen.models.gmm.gmm`).

Labels under one parent differ; labels under different parents may coincide.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["STREAMS", "per_sample_normal", "sample_generator", "spawn", "stream", "stream_key"]

STREAMS: dict[str, int] = {
    # under the experiment seed
    "pool": 1,
    "networks": 2,
    "evaluation": 3,
    "sampling": 4,
    "clones": 5,
    # under a network's seed
    "batches": 2,
    # under the evaluation seed
    "eval_split": 1,
    # under the sampling seed
    "fresh_floor": 1,
    "uturn": 1,
    "bootstrap": 7919,
    # under the clones seed
    "entropy_probes": 1,
    "clone_trunk": 2,
    "clone_sources": 3,
    # under a model's seed
    "mixture_layout": 0x6A11,
}
"""The label of every named random stream (module docstring)."""


def stream_key(seed: int, *path: int) -> int:
    """A 64-bit integer key derived from ``seed`` and the integer ``path`` (deterministic)."""
    ss = np.random.SeedSequence(int(seed), spawn_key=tuple(int(p) for p in path))
    return int(ss.generate_state(1, dtype=np.uint64)[0])


def sample_generator(seed: int, index: int, *path: int) -> np.random.Generator:
    """The Generator of sample ``index`` under ``seed`` (and an optional sub-stream ``path``)."""
    return np.random.default_rng(
        np.random.SeedSequence(int(seed), spawn_key=(*[int(p) for p in path], int(index)))
    )


def spawn(seed: int, label: int) -> int:
    """A child seed for an independent purpose ``label`` (e.g. data pool, network init, split)."""
    return stream_key(seed, 0xC0FFEE, int(label)) >> 1  # keep it a non-negative int63


def stream(seed: int, name: str, offset: int = 0) -> int:
    """The child seed of ``seed`` for the named purpose ``name`` (:data:`STREAMS`), shifted by
    ``offset`` for indexed families (a split, a diffusion step, a checkpoint)."""
    try:
        label = STREAMS[name]
    except KeyError:
        raise ValueError(f"unknown random stream {name!r}; known: {sorted(STREAMS)}") from None
    return spawn(seed, label + int(offset))


def per_sample_normal(
    seed: int, indices: Sequence[int] | np.ndarray, shape: tuple[int, ...], *path: int
) -> np.ndarray:
    """Standard normal draws, one independent stream per sample.

    Returns an array of shape ``(len(indices), *shape)`` whose row ``j`` depends only on
    ``(seed, path, indices[j])``.
    """
    out = np.empty((len(indices), *shape))
    for j, i in enumerate(indices):
        out[j] = sample_generator(seed, int(i), *path).standard_normal(shape)
    return out
