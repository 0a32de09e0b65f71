"""Empirical (memorizer) model: streaming log-sum-exp against the dense formula, stability, memory,
sampling and the token encoding."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from scipy.special import softmax

from physgen.errors import PhysgenError
from physgen.models import Empirical, GaussianMixture


def dense_denoise(data: np.ndarray, x: np.ndarray, a: np.ndarray) -> np.ndarray:
    """The textbook formula with the full (n, m, D) distance array."""
    y = data.reshape(len(data), -1)
    xf = x.reshape(len(x), -1)
    d2 = ((xf[:, None, :] - np.sqrt(a)[:, None, None] * y[None]) ** 2).sum(-1)
    w = softmax(-d2 / (2 * (1 - a))[:, None], axis=1)
    return (w @ y).reshape(x.shape)


@pytest.mark.parametrize("event_shape", [(5,), (8, 4), (1, 4, 4)])
@pytest.mark.parametrize("chunk_size", [None, 1, 3, 64])
def test_streaming_equals_dense(event_shape: tuple[int, ...], chunk_size: int | None) -> None:
    g = np.random.default_rng(0)
    data = g.normal(size=(13, *event_shape))
    model = Empirical(data, chunk_size=chunk_size)
    a = g.uniform(0.05, 0.98, size=9)
    x = np.sqrt(a).reshape(-1, *[1] * len(event_shape)) * data[g.integers(13, size=9)] + g.normal(
        size=(9, *event_shape)
    ) * np.sqrt(1 - a).reshape(-1, *[1] * len(event_shape))
    out = model.denoise(x, a)
    assert out.shape == x.shape and out.dtype == np.float64
    np.testing.assert_allclose(out, dense_denoise(data, x, a), rtol=1e-10, atol=1e-12)


def test_empirical_is_the_zero_width_limit_of_a_mixture() -> None:
    g = np.random.default_rng(1)
    data = g.normal(size=(6, 3))
    x = g.normal(size=(4, 3))
    narrow = GaussianMixture(means=data, stds=np.full(6, 1e-7))
    np.testing.assert_allclose(Empirical(data).denoise(x, 0.4), narrow.denoise(x, 0.4), rtol=1e-9)


def test_large_fields_stay_finite_and_pick_the_nearest_point() -> None:
    g = np.random.default_rng(2)
    data = g.normal(size=(50, 10)) * 30
    x = data[[4, 17]] + 0.01 * g.normal(size=(2, 10))
    for a in (1 - 1e-12, 1.0):
        out = Empirical(data, chunk_size=7).denoise(x, a)
        np.testing.assert_allclose(out, data[[4, 17]], atol=1e-9)
    mixed = Empirical(data, chunk_size=7).denoise(x, np.array([1.0, 0.5]))
    np.testing.assert_allclose(mixed[0], data[4])
    np.testing.assert_allclose(mixed[1], dense_denoise(data, x[1:], np.array([0.5]))[0], rtol=1e-10)


def test_memory_is_streamed() -> None:
    g = np.random.default_rng(3)
    data = g.normal(size=(20_000, 50))
    model = Empirical(data)
    x = g.normal(size=(200, 50))
    tracemalloc.start()
    out = model.denoise(x, 0.5)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert np.all(np.isfinite(out))
    # dense would be 200 × 20 000 × 50 × 8 B = 1.6 GB; the logits alone 32 MB
    assert peak < 40e6


def test_float32_data_stays_float32() -> None:
    data = np.random.default_rng(4).normal(size=(30, 6)).astype(np.float32)
    x = np.random.default_rng(5).normal(size=(4, 6))
    out = Empirical(data, chunk_size=8).denoise(x, 0.3)
    assert out.dtype == np.float32
    np.testing.assert_allclose(
        out, dense_denoise(data.astype(np.float64), x, np.full(4, 0.3)), rtol=1e-4
    )


def test_sample_draws_training_points_per_sample_stream() -> None:
    data = np.arange(40.0).reshape(10, 4)
    model = Empirical(data)
    s = model.sample(500, seed=1)
    rows = {tuple(r) for r in data}
    assert all(tuple(r) in rows for r in s)
    np.testing.assert_array_equal(model.sample(7, seed=1), s[:7])
    counts = np.bincount((s[:, 0] // 4).astype(int), minlength=10)
    assert counts.min() > 25  # 50 expected each; a broken index draw would empty some rows


def test_tokens_round_trip() -> None:
    tok = np.random.default_rng(6).integers(0, 5, size=(12, 8))
    model = Empirical.from_tokens(tok, 5)
    assert model.data.shape == (12, 8, 5) and model.vocab_size == 5
    np.testing.assert_array_equal(model.decode(model.encode(tok)), tok)
    drawn = model.sample(30, seed=0)
    assert drawn.shape == (30, 8) and drawn.dtype.kind == "i"
    assert {tuple(r) for r in drawn} <= {tuple(r) for r in tok}
    assert model.params() == {"n_points": 12, "event_shape": [8, 5], "vocab_size": 5}


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: Empirical(np.zeros(5)), "shape"),
        (lambda: Empirical(np.zeros((5, 0))), "d ≥ 1"),
        (lambda: Empirical(np.zeros((3, 2))).sample(10**15, seed=0), "memory available"),
        (lambda: Empirical(np.full((3, 2), np.nan)), "finite"),
        (lambda: Empirical(np.zeros((3, 4, 2)), vocab_size=3), "vocab_size"),
        (lambda: Empirical(np.zeros((3, 2)), chunk_size=0), "chunk_size"),
        (lambda: Empirical.from_tokens(np.array([[0, 7]]), 5), "0..4"),
        (lambda: Empirical(np.zeros((3, 2))).denoise(np.zeros((1, 3)), 0.5), "x_t must have"),
    ],
)
def test_bad_inputs(build, match: str) -> None:
    with pytest.raises(PhysgenError, match=match):
        build()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("chunk_size", [None, 5])
def test_same_point_probability_is_the_sum_of_squared_weights(dtype, chunk_size) -> None:
    g = np.random.default_rng(7)
    data = g.normal(size=(23, 6))
    a = np.array([0.05, 0.3, 0.6, 0.9, 0.999, 1.0])
    x = np.sqrt(a)[:, None] * data[g.integers(23, size=6)] + np.sqrt(1 - a)[:, None] * g.normal(
        size=(6, 6)
    )
    d2 = ((x[:, None, :] - np.sqrt(a)[:, None, None] * data[None]) ** 2).sum(-1)
    w = np.empty_like(d2)
    w[:-1] = softmax(-d2[:-1] / (2 * (1 - a[:-1]))[:, None], axis=1)
    w[-1] = np.eye(23)[np.argmin(d2[-1])]  # ᾱ = 1: the nearest point
    p = Empirical(data.astype(dtype), chunk_size=chunk_size).same_point_probability(x, a)
    assert p.dtype == np.float64
    np.testing.assert_allclose(p, (w**2).sum(axis=1), rtol=1e-4 if dtype == np.float32 else 1e-10)
