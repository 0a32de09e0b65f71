"""Image diagnostics: standardised cosine, ε-prediction similarity, nearest neighbours, figure."""

from __future__ import annotations

import numpy as np
import pytest

from physgen.errors import PhysgenError
from physgen.metrics import euclidean_nn
from physgen.metrics.images import (
    cosine_similarity,
    eps_cosine_similarity,
    median_cosine_distance,
    standardise,
)
from physgen.models import Empirical


def _images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, 1, 5, 5))


def test_cosine_is_the_pixel_correlation() -> None:
    a, b = _images(20, 0), _images(20, 1)
    expected = [np.corrcoef(x.ravel(), y.ravel())[0, 1] for x, y in zip(a, b, strict=True)]
    np.testing.assert_allclose(cosine_similarity(a, b), expected)
    np.testing.assert_allclose(cosine_similarity(a, 3 * a + 2), 1.0)
    np.testing.assert_allclose(cosine_similarity(a, -a), -1.0)
    assert median_cosine_distance(a, 0.5 * a - 1) == pytest.approx(0.0, abs=1e-12)
    assert median_cosine_distance(a, b) == pytest.approx(np.median(1 - np.array(expected)))
    z = standardise(a)
    np.testing.assert_allclose(z.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(z.std(axis=1), 1)
    with pytest.raises(PhysgenError, match="differ in shape"):
        cosine_similarity(a, b[:3])


def test_eps_cosine_similarity() -> None:
    train_a, train_b = _images(10, 2), _images(10, 3)
    x = _images(7, 4)
    a = 0.5
    emp_a, emp_b = Empirical(train_a), Empirical(train_b)
    np.testing.assert_allclose(eps_cosine_similarity(emp_a, emp_a, x, a), 1.0)
    ea = (x - np.sqrt(a) * emp_a.denoise(x, a)).reshape(7, -1)
    eb = (x - np.sqrt(a) * emp_b.denoise(x, a)).reshape(7, -1)
    expected = np.sum(ea * eb, 1) / np.linalg.norm(ea, axis=1) / np.linalg.norm(eb, axis=1)
    np.testing.assert_allclose(eps_cosine_similarity(emp_a, emp_b, x, a), expected)


def test_nearest_neighbour_index_brute_force() -> None:
    s, r = _images(13, 5), _images(9, 6)
    idx, d = euclidean_nn(s, r, chunk_elements=20, return_index=True)
    full = np.sqrt(((s[:, None] - r[None]) ** 2).sum(axis=(2, 3, 4)))
    np.testing.assert_array_equal(idx, full.argmin(axis=1))
    np.testing.assert_allclose(d, np.sort(full, axis=1)[:, :2])
    idx, d = euclidean_nn(r[[4, 2]], r, return_index=True)
    np.testing.assert_array_equal(idx, [4, 2])
    np.testing.assert_allclose(d[:, 0], 0, atol=1e-6)
