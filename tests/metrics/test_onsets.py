"""Onsets on synthetic curves: inside the run, at the edges, not reached, and the learned rule."""

from __future__ import annotations

import numpy as np
import pytest

from physgen.errors import PhysgenError
from physgen.metrics import (
    argmin_onset,
    bias_onset,
    first_exceed_onset,
    memorisation_floor,
    memorisation_onset,
)

STEPS = np.array([1, 10, 100, 1000, 10000])


def test_argmin_inside_edges_and_nan() -> None:
    assert argmin_onset(STEPS, [5.0, 3.0, 1.0, 2.0, 4.0]) == 100.0
    assert (
        argmin_onset(STEPS, [1.0, 2.0, 3.0, 4.0, 5.0]) == 1.0
    )  # a minimum at the start is reached
    assert np.isnan(argmin_onset(STEPS, [5.0, 4.0, 3.0, 2.0, 1.0]))  # still decreasing
    assert argmin_onset(STEPS, [5.0, 4.0, 3.0, 2.0, 1.0], edge="keep") == 10000.0
    assert np.isnan(argmin_onset(STEPS, [1.0] * 5, valid=[False] * 5))
    assert argmin_onset(STEPS, [2.0, 1.0, 1.0, 3.0, 4.0]) == 10.0  # ties: the earliest
    assert argmin_onset(STEPS, [np.nan, 3.0, 1.0, np.nan, 4.0]) == 100.0
    # a minimum at the last *valid* checkpoint is not inside the run either
    assert np.isnan(argmin_onset(STEPS, [5.0, 3.0, 1.0, 0.0, 0.0], valid=[1, 1, 1, 0, 0]))


def test_argmin_batched_over_pairs() -> None:
    curves = np.array([[5.0, 3.0, 1.0, 2.0, 4.0], [3.0, 1.0, 2.0, 2.5, 2.6], [5, 4, 3, 2, 1]])
    np.testing.assert_array_equal(argmin_onset(STEPS, curves), [100.0, 10.0, np.nan])


def test_learned_rule_excludes_early_checkpoints() -> None:
    S = np.array([0.01, 0.5, 0.3, 0.6, 0.8])  # trivially small at the first checkpoint
    D0_a = np.array([9.0, 4.0, 1.0, 0.5, 0.4])
    D0_b = np.array([9.0, 6.0, 1.5, 0.5, 0.4])  # model B learns later than A
    root = 5.0
    assert bias_onset(STEPS, S, D0_a, D0_b, root, rule="none") == 1.0
    assert bias_onset(STEPS, S, D0_a, D0_b, root) == 100.0
    # step 10 is excluded because B is still above the root-only KL, even though S is low there
    S2 = np.array([0.01, 0.1, 0.3, 0.6, 0.8])
    assert bias_onset(STEPS, S2, D0_a, D0_b, root) == 100.0
    assert np.isnan(bias_onset(STEPS, S, D0_a + 10, D0_b, root))  # never learned
    with pytest.raises(PhysgenError, match="unknown bias rule"):
        bias_onset(STEPS, S, D0_a, D0_b, root, rule="other")


def test_first_exceed_and_floor() -> None:
    assert first_exceed_onset(STEPS, [0.0, 0.0, 0.01, 0.2, 0.3], 0.0) == 100.0
    assert np.isnan(first_exceed_onset(STEPS, [0.0, 0.0, 0.0, 0.0, 0.0], 0.0))
    assert np.isnan(first_exceed_onset(STEPS, [np.nan] * 5, 0.0))
    floor = memorisation_floor(0.01, 0.005, z=2.0)
    assert floor == pytest.approx(0.02)
    assert first_exceed_onset(STEPS, [0.0, 0.015, 0.02, 0.05, 0.1], floor) == 1000.0
    per_pair = first_exceed_onset(
        STEPS, [[0, 0, 0.1, 0.2, 0.3], [0, 0, 0, 0, 0.4]], [[0.05], [0.5]]
    )
    np.testing.assert_array_equal(per_pair, [100.0, np.nan])


def test_curve_shape_errors() -> None:
    with pytest.raises(PhysgenError, match="n_steps"):
        argmin_onset(STEPS, [1.0, 2.0])
    with pytest.raises(PhysgenError, match="increasing"):
        argmin_onset(STEPS[::-1], [1.0] * 5)


def test_memorisation_onset_needs_two_standard_errors_above_the_floor() -> None:
    frac = np.array([0.0, 0.05, 0.1, 0.2, np.nan])
    se = np.array([0.01, 0.03, 0.02, 0.02, np.nan])
    # 0.05 - 0.06 < 0.02; 0.1 - 0.04 = 0.06 > 0.02: step 100, not 10 (the raw fraction's)
    assert memorisation_onset(STEPS, frac, se, 0.02) == 100.0
    assert first_exceed_onset(STEPS, frac, 0.02) == 10.0
    assert memorisation_onset(STEPS, frac, se, 0.02, z=0.0) == 10.0
    assert np.isnan(memorisation_onset(STEPS, frac, se, 0.5))
    both = memorisation_onset(STEPS, np.stack([frac, frac]), np.stack([se, se]), [[0.02], [0.17]])
    np.testing.assert_array_equal(both, [100.0, np.nan])
