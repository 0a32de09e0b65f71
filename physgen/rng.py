"""Per-sample random streams.

Every random draw in physgen flows from a :class:`numpy.random.SeedSequence`. Draws that belong to
one sample (its initial noise, its reverse-diffusion noise, its leaves) come from a stream keyed by
``(seed, i)`` so that sample ``i`` does not depend on batch size, chunking, thread count or device
(the per-sample-generator idea of EDM).

``stream_key(seed, *path)`` turns a seed and a path of labels into one integer key, used where a
kernel (Numba) needs an integer seed rather than a Generator.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["per_sample_normal", "sample_generator", "spawn", "stream_key"]


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
