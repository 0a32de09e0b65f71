"""Nearest neighbours, NN histograms and divergence, copy fraction, gap ratio, bootstrap."""

from __future__ import annotations

import numpy as np
import pytest

from physgen.errors import PhysgenError
from physgen.metrics import (
    copy_fraction,
    euclidean_nn,
    gap_ratio,
    hamming_bins,
    hamming_nn,
    memorised_fraction,
    nn_divergence,
    nn_histogram,
)


def _brute_hamming(samples: np.ndarray, reference: np.ndarray, k: int) -> list[list[int]]:
    out = []
    for x in samples.tolist():
        d = sorted(sum(a != b for a, b in zip(x, y, strict=True)) for y in reference.tolist())
        out.append(d[:k])
    return out


@pytest.mark.parametrize("chunk_elements", [1, 50, 1 << 22])
@pytest.mark.parametrize("k", [1, 2, 3])
def test_hamming_matches_brute_force(chunk_elements: int, k: int) -> None:
    rng = np.random.default_rng(k)
    samples = rng.integers(0, 4, size=(23, 9))
    reference = rng.integers(0, 4, size=(17, 9))
    reference[3] = samples[5]  # an exact copy
    got = hamming_nn(samples, reference, k, chunk_elements=chunk_elements)
    assert got.dtype == np.int64 and got.shape == (23, k)
    np.testing.assert_array_equal(got, _brute_hamming(samples, reference, k))
    assert got[5, 0] == 0


def test_euclidean_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    samples, reference = rng.normal(size=(13, 2, 3)), rng.normal(size=(8, 2, 3))
    brute = np.sort(np.linalg.norm(samples[:, None] - reference[None], axis=(2, 3)), axis=1)[:, :2]
    np.testing.assert_allclose(euclidean_nn(samples, reference, chunk_elements=10), brute)


def test_nn_input_errors() -> None:
    with pytest.raises(PhysgenError, match="integer token"):
        hamming_nn(np.zeros((2, 3)), np.zeros((2, 3), dtype=int))
    with pytest.raises(PhysgenError, match="k must be"):
        hamming_nn(np.zeros((2, 3), dtype=int), np.zeros((1, 3), dtype=int), k=2)


def test_histogram_and_divergence() -> None:
    bins = hamming_bins(4)
    np.testing.assert_array_equal(bins, [-0.5, 0.5, 1.5, 2.5, 3.5, 4.5])
    h = nn_histogram(np.array([0, 0, 1, 4]), bins)
    np.testing.assert_allclose(h, [0.5, 0.25, 0, 0, 0.25])
    assert nn_divergence(np.array([0, 1, 1]), np.array([1, 0, 1]), bins) == pytest.approx(0.0)
    # P_gen = (1/2, 1/2) on {0, 1}, P_test = (1/4, 3/4): KL = ½ log 2 + ½ log(2/3)
    d = nn_divergence(np.array([0, 1]), np.array([0, 1, 1, 1]), bins)
    assert d == pytest.approx(0.5 * np.log(2.0) + 0.5 * np.log(2.0 / 3.0), abs=1e-6)
    with pytest.raises(PhysgenError, match="outside the bins"):
        nn_histogram(np.array([5]), bins)


def test_gap_ratio_cases() -> None:
    d = np.array([[0, 3], [1, 3], [1, 4], [2, 2], [0, 0]])
    np.testing.assert_allclose(gap_ratio(d), [0.0, 1 / 3, 0.25, 1.0, 0.0])
    with pytest.raises(PhysgenError, match="shape"):
        gap_ratio(np.array([1, 2]))


def test_copies_of_the_training_set() -> None:
    rng = np.random.default_rng(3)
    train = rng.integers(0, 6, size=(200, 16))
    assert copy_fraction(train[rng.integers(0, 200, size=100)], train) == 1.0
    fresh = rng.integers(0, 6, size=(100, 16))
    assert copy_fraction(fresh, train) == 0.0


def test_memorised_fraction_and_bootstrap_error() -> None:
    rng = np.random.default_rng(4)
    train = rng.integers(0, 6, size=(300, 16))
    n = 400
    copies = train[rng.integers(0, 300, size=n // 2)]
    fresh = rng.integers(0, 6, size=(n // 2, 16))  # d1/d2 ≈ 1 for random sequences
    samples = np.concatenate([copies, fresh])
    frac, se = memorised_fraction(samples, train, n_boot=400, seed=1)
    assert frac == 0.5
    assert se == pytest.approx(np.sqrt(0.25 / n), rel=0.15)  # binomial standard error
    assert memorised_fraction(samples, train, n_boot=400, seed=1) == (frac, se)
    # one mutation of a training point: d1 = 1, d2 ≥ 8 for random training sets ⇒ memorised
    near = train[:50].copy()
    near[:, 0] = (near[:, 0] + 1) % 6
    assert memorised_fraction(near, train)[0] == 1.0
    assert memorised_fraction(near, train, threshold=0.05)[0] == 0.0
    cont, _ = memorised_fraction(train[:20] + 1e-3, train, metric="euclidean")
    assert cont == 1.0
