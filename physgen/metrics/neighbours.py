r"""Nearest-neighbour statistics of generated samples against a training set (docs/theory.md §4.5, §4.8).

**Hamming distances by inner products.** For token sequences :math:`x, y \in \{0..q-1\}^N` with
one-hot encodings :math:`e(x), e(y) \in \{0,1\}^{N q}`, the number of agreeing positions is
:math:`\langle e(x), e(y)\rangle`, so

.. math:: d_H(x, y) = N - \langle e(x), e(y) \rangle,

and all distances between a chunk of samples and the reference set are one matrix product
(float32, exact for integer counts below :math:`2^{24}`). :func:`hamming_nn` keeps the ``k``
smallest per sample, chunking the samples so the distance block stays below ``chunk_elements``.
:func:`euclidean_nn` does the same for continuous data with
:math:`\|x-y\|^2 = \|x\|^2 + \|y\|^2 - 2\langle x, y\rangle`.

**NN divergence.** The nearest-neighbour distances of generated samples and of held-out true
samples (both to the model's own training set) are histogrammed on fixed bins
(:func:`hamming_bins`: one bin per integer distance) and compared with
:math:`\mathrm{KL}(P_{\rm gen}\,\|\,P_{\rm test})`, probabilities clipped at 1e-8.

**Memorisation.** A sample is an *exact copy* when :math:`d_1 = 0`; it is *memorised* in the
sense of Bonnaire et al. (2025) when the gap ratio :math:`d_1/d_2 < 1/3`, with :math:`d_1, d_2`
its distances to the nearest and second-nearest training points (:math:`0/0 := 0`: a sample equal
to a training point that appears twice is a copy). The memorised fraction's standard error is the
standard deviation of its bootstrap replicates (samples resampled with replacement).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from physgen.errors import PhysgenError
from physgen.metrics._common import DEFAULT_EPS, clipped_probs

__all__ = [
    "copy_fraction",
    "euclidean_nn",
    "gap_ratio",
    "hamming_bins",
    "hamming_nn",
    "memorised_fraction",
    "nn_divergence",
    "nn_histogram",
]

_CHUNK_ELEMENTS = 1 << 23  # entries of one distance block (32 MiB in float32)


def _as_tokens(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 2 or not np.issubdtype(x.dtype, np.integer):
        raise PhysgenError(
            f"{name} must be integer token sequences of shape (n, N), got {x.dtype}{x.shape}"
        )
    if x.size and x.min() < 0:
        raise PhysgenError(f"{name} must hold non-negative tokens, got {x.min()}")
    return x


def _one_hot(x: np.ndarray, q: int) -> np.ndarray:
    """``(m, N)`` tokens → ``(m, N q)`` float32 one-hot rows (one scatter, no temporaries)."""
    m, n_pos = x.shape
    out = np.zeros((m, n_pos * q), dtype=np.float32)
    out[np.arange(m)[:, None], np.arange(n_pos) * q + x] = 1.0
    return out


def _k_smallest(d: np.ndarray, k: int) -> np.ndarray:
    part = np.partition(d, k - 1, axis=1)[:, :k] if k < d.shape[1] else d
    return np.sort(part, axis=1)


def hamming_nn(
    samples: np.ndarray,
    reference: np.ndarray,
    k: int = 2,
    *,
    chunk_elements: int = _CHUNK_ELEMENTS,
) -> np.ndarray:
    """The ``k`` smallest Hamming distances of each sample to the reference set, ascending.

    ``samples``: ``(n, N)`` int tokens; ``reference``: ``(m, N)`` int tokens with ``m ≥ k``.
    Returns ``(n, k)`` int64: column 0 the nearest-neighbour distance, column 1 the second.
    """
    s = _as_tokens(samples, "samples")
    r = _as_tokens(reference, "reference")
    _check_pair(s, r, k)
    n_pos = s.shape[1]
    q = int(max(s.max(initial=0), r.max(initial=0))) + 1
    r1 = _one_hot(r, q).T  # (N q, m)
    rows = max(1, chunk_elements // r.shape[0])
    out = np.empty((s.shape[0], k), dtype=np.int64)
    for i in range(0, s.shape[0], rows):
        agree = _one_hot(s[i : i + rows], q) @ r1
        # the k largest agreements, selected in float32: converting the whole block to int
        # would cost more than the matrix product
        top = -_k_smallest(-agree, k)
        out[i : i + rows] = n_pos - np.rint(top).astype(np.int64)
    return out


def euclidean_nn(
    samples: np.ndarray,
    reference: np.ndarray,
    k: int = 2,
    *,
    chunk_elements: int = _CHUNK_ELEMENTS,
    return_index: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """The ``k`` smallest Euclidean distances of each sample to the reference set, ascending.

    ``samples``: ``(n, *event)``; ``reference``: ``(m, *event)`` with ``m ≥ k``. Returns
    ``(n, k)`` float64; with ``return_index``, ``(index, distances)`` where ``index`` ``(n,)`` is
    the row of ``reference`` nearest to each sample (ties: the lowest row).
    """
    s = np.asarray(samples, dtype=np.float64).reshape(len(samples), -1)
    r = np.asarray(reference, dtype=np.float64).reshape(len(reference), -1)
    _check_pair(s, r, k)
    r2 = np.sum(r**2, axis=1)
    rows = max(1, chunk_elements // r.shape[0])
    out = np.empty((s.shape[0], k))
    idx = np.empty(s.shape[0], dtype=np.int64)
    for i in range(0, s.shape[0], rows):
        c = s[i : i + rows]
        d2 = np.maximum(np.sum(c**2, axis=1)[:, None] + r2[None, :] - 2.0 * (c @ r.T), 0.0)
        out[i : i + rows] = np.sqrt(_k_smallest(d2, k))
        if return_index:
            idx[i : i + rows] = np.argmin(d2, axis=1)
    return (idx, out) if return_index else out


def _check_pair(s: np.ndarray, r: np.ndarray, k: int) -> None:
    if s.shape[1:] != r.shape[1:]:
        raise PhysgenError(f"samples {s.shape} and reference {r.shape} differ in item shape")
    if not 1 <= k <= r.shape[0]:
        raise PhysgenError(f"k must be in [1, {r.shape[0]}] (the reference size), got {k}")


def hamming_bins(n_positions: int) -> np.ndarray:
    """Bin edges with one bin per integer distance ``0..n_positions``: ``(n_positions + 2,)``."""
    return np.arange(int(n_positions) + 2, dtype=np.float64) - 0.5


def nn_histogram(d: np.ndarray, bins: np.ndarray) -> np.ndarray:
    """Fraction of the distances ``d`` (``(n,)``) in each bin; shape ``(len(bins) - 1,)``.

    Every distance must fall inside ``[bins[0], bins[-1]]``: fixed bins make histograms of
    different checkpoints comparable, so none may be silently dropped.
    """
    d = np.asarray(d, dtype=np.float64).ravel()
    bins = np.asarray(bins, dtype=np.float64)
    if d.size == 0:
        raise PhysgenError("nn_histogram needs at least one distance")
    if np.any((d < bins[0]) | (d > bins[-1])):
        raise PhysgenError(
            f"distances in [{d.min()}, {d.max()}] fall outside the bins [{bins[0]}, {bins[-1]}]"
        )
    counts, _ = np.histogram(d, bins=bins)
    return counts / d.size


def nn_divergence(
    d_gen: np.ndarray, d_test: np.ndarray, bins: np.ndarray, *, eps: float = DEFAULT_EPS
) -> float:
    """:math:`\\mathrm{KL}(P_{\\rm gen}\\|P_{\\rm test})` of the NN-distance histograms on ``bins``.

    ``d_gen``: ``(n_gen,)`` distances of generated samples, ``d_test``: ``(n_test,)`` of held-out
    true samples, both to the same training set. Bin probabilities clipped at ``eps``.
    """
    p = clipped_probs(nn_histogram(d_gen, bins), eps)
    q = clipped_probs(nn_histogram(d_test, bins), eps)
    return float(np.sum(p * (np.log(p) - np.log(q))))


def copy_fraction(samples: np.ndarray, train: np.ndarray) -> float:
    """Fraction of ``samples`` (``(n, N)`` tokens) equal to some row of ``train`` (``(m, N)``)."""
    return float(np.mean(hamming_nn(samples, train, k=1)[:, 0] == 0))


def gap_ratio(d: np.ndarray) -> np.ndarray:
    """:math:`d_1/d_2` per sample from ``d`` of shape ``(n, ≥2)`` (ascending columns); ``(n,)``.

    ``0/0`` is 0: the sample coincides with a training point that appears twice.
    """
    d = np.asarray(d, dtype=np.float64)
    if d.ndim != 2 or d.shape[1] < 2:
        raise PhysgenError(f"d must have shape (n, 2) (nearest, second nearest), got {d.shape}")
    d1, d2 = d[:, 0], d[:, 1]
    return np.divide(d1, d2, out=np.zeros_like(d1), where=d2 > 0)


def memorised_fraction(
    samples: np.ndarray,
    train: np.ndarray,
    threshold: float = 1.0 / 3.0,
    n_boot: int = 200,
    seed: int = 0,
    *,
    metric: Literal["hamming", "euclidean"] = "hamming",
) -> tuple[float, float]:
    """Fraction of samples with gap ratio :math:`d_1/d_2 <` ``threshold``, and its bootstrap
    standard error over ``n_boot`` resamplings (seeded by ``seed``).

    ``samples``: ``(n, N)`` tokens (``metric="hamming"``) or ``(n, *event)`` floats
    (``"euclidean"``); ``train``: the same item shape, at least two items.
    """
    if metric == "hamming":
        d = hamming_nn(samples, train, k=2)
    elif metric == "euclidean":
        d = euclidean_nn(samples, train, k=2)
    else:
        raise PhysgenError(f"unknown metric {metric!r}; choose 'hamming' or 'euclidean'")
    flags = (gap_ratio(d) < threshold).astype(np.float64)
    if n_boot < 2:
        raise PhysgenError(f"n_boot must be ≥ 2, got {n_boot}")
    rng = np.random.default_rng(np.random.SeedSequence(int(seed)))
    boots = flags[rng.integers(0, flags.size, size=(n_boot, flags.size))].mean(axis=1)
    return float(flags.mean()), float(boots.std(ddof=1))
