"""U-turn overlap and the sample-based readings of exact and memorising denoisers."""

from __future__ import annotations

import numpy as np
import pytest

from physgen.diffusion import ddpm_sample
from physgen.errors import PhysgenError
from physgen.metrics import copy_fraction, hamming_nn, memorised_fraction, uturn_overlap
from physgen.models.empirical import Empirical


def test_uturn_exact_denoiser_near_one_and_decreasing(toy, schedule) -> None:
    x0 = toy.encode(toy.sample(40, 30))
    curve = [
        np.mean(uturn_overlap(toy, x0, schedule, t, reps=3, seed=31, decode=toy.decode))
        for t in (1, 10, 25, 50)
    ]
    assert curve[0] > 0.99
    assert curve[0] > curve[1] > curve[2] > curve[3]
    # from pure noise the round trip keeps only what the marginals predict
    chance = np.mean(np.sum(toy.marginals**2, axis=1))
    assert curve[3] == pytest.approx(chance, abs=0.1)


def test_uturn_streams_are_per_item(toy, schedule) -> None:
    x0 = toy.encode(toy.sample(12, 32))
    full = uturn_overlap(toy, x0, schedule, 15, reps=2, seed=33, decode=toy.decode)
    chunked = uturn_overlap(toy, x0, schedule, 15, 2, 33, toy.decode, chunk_size=5)
    np.testing.assert_array_equal(full, chunked)
    assert full.shape == (12,)
    with pytest.raises(PhysgenError, match="reps"):
        uturn_overlap(toy, x0, schedule, 15, reps=0, seed=33, decode=toy.decode)


def test_memorizer_samples_are_training_copies(toy, schedule) -> None:
    train_tokens = np.random.default_rng(34).integers(0, 3, size=(12, 4))
    memorizer = Empirical.from_tokens(train_tokens, 3)
    x = ddpm_sample(memorizer, schedule, 64, (4, 3), seed=35)
    samples = toy.decode(x)
    assert copy_fraction(samples, train_tokens) == 1.0
    np.testing.assert_array_equal(hamming_nn(samples, train_tokens, k=1), 0)
    # the exact model's samples are memorised only as often as chance repeats allow
    exact = toy.decode(ddpm_sample(toy, schedule, 64, (4, 3), seed=35))
    assert memorised_fraction(exact, train_tokens)[0] < memorised_fraction(samples, train_tokens)[0]
