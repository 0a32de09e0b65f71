"""Membership-inference AUC: brute force, limits, and the memorizer / exact-denoiser readings."""

from __future__ import annotations

import numpy as np
import pytest

from physgen.errors import PhysgenError
from physgen.metrics import denoising_loss, frozen_noise, membership_auc
from physgen.models.empirical import Empirical


def _brute_auc(a: np.ndarray, b: np.ndarray) -> float:
    wins = sum(1.0 if x < y else 0.5 if x == y else 0.0 for x in a for y in b)
    return wins / (len(a) * len(b))


def test_auc_matches_pairwise_count_with_ties() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 6, size=37).astype(float)  # many ties
    b = rng.integers(1, 8, size=23).astype(float)
    assert membership_auc(a, b) == pytest.approx(_brute_auc(a, b), abs=1e-12)


def test_auc_matches_scikit_learn() -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(1)
    a, b = rng.normal(0.0, 1.0, 200), rng.normal(0.3, 1.0, 150)
    # members are the positive class; a lower loss is a higher score
    labels = np.r_[np.ones(a.size), np.zeros(b.size)]
    expected = roc_auc_score(labels, -np.r_[a, b])
    assert membership_auc(a, b) == pytest.approx(expected, abs=1e-12)


def test_auc_limits() -> None:
    assert membership_auc([0.1, 0.2], [0.3, 0.4, 0.5]) == 1.0
    assert membership_auc([0.3, 0.4, 0.5], [0.1, 0.2]) == 0.0
    assert membership_auc([1.0, 1.0], [1.0]) == 0.5
    with pytest.raises(PhysgenError, match="at least one"):
        membership_auc([], [1.0])


def test_memorizer_separates_members_and_exact_denoiser_does_not(toy, schedule) -> None:
    t = int(0.15 * schedule.T)
    tokens = toy.sample(600, 20)
    train, test = toy.encode(tokens[:300]), toy.encode(tokens[300:])
    fz_train = frozen_noise(train, schedule, seed=22, t=t)
    fz_test = frozen_noise(test, schedule, seed=23, t=t)
    auc_exact = membership_auc(
        denoising_loss(toy, train, fz_train), denoising_loss(toy, test, fz_test)
    )
    assert abs(auc_exact - 0.5) < 0.07  # std of the AUC at 300 + 300 items ≈ 0.024

    # The toy's 81 sequences repeat often; the memorizer can only tell members from sequences
    # it has never seen, so the non-members are test items absent from the 10 members.
    members = tokens[:10]
    unseen = tokens[300:][~(tokens[300:, None, :] == members[None]).all(-1).any(-1)]
    memorizer = Empirical.from_tokens(members, 3)
    fz_members = frozen_noise(toy.encode(members), schedule, seed=22, t=t)
    fz_unseen = frozen_noise(toy.encode(unseen), schedule, seed=23, t=t)
    auc_mem = membership_auc(
        denoising_loss(memorizer, toy.encode(members), fz_members),
        denoising_loss(memorizer, toy.encode(unseen), fz_unseen),
    )
    assert auc_mem > 0.9
