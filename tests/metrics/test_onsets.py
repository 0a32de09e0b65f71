"""Onsets on synthetic curves: inside the run, at the edges, not reached, and the learned rule."""

from __future__ import annotations

import numpy as np
import pytest

from physgen.errors import PhysgenError
from physgen.metrics import (
    Onset,
    argmin_bracketed,
    argmin_onset,
    bias_onset,
    bias_onset_bracketed,
    count_before,
    exceed_bracketed,
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


# ---------------------------------------------------------------- brackets, censoring, τ_bias rule
GRID = np.array([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048])


def test_argmin_bracket_and_censoring() -> None:
    inside = argmin_bracketed(STEPS, [5.0, 3.0, 1.0, 2.0, 4.0])
    assert (inside.tau, inside.lo, inside.hi, inside.censored) == (100.0, 10.0, 1000.0, False)
    first = argmin_bracketed(STEPS, [1.0, 2.0, 3.0, 4.0, 5.0])
    assert (first.tau, first.lo, first.hi, first.censored) == (1.0, 0.0, 10.0, True)
    last = argmin_bracketed(STEPS, [5.0, 4.0, 3.0, 2.0, 1.0])
    assert (last.tau, last.lo, last.hi, last.censored) == (10000.0, 1000.0, np.inf, True)
    # the valid range's edges, and neighbours skip invalid / NaN checkpoints
    at_first_valid = argmin_bracketed(STEPS, [0.0, 3.0, 2.0, 4.0, 5.0], valid=[0, 0, 1, 1, 1])
    assert at_first_valid.tau == 100.0 and at_first_valid.lo == 0.0 and at_first_valid.censored
    holes = argmin_bracketed(STEPS, [5.0, np.nan, 1.0, np.nan, 4.0])
    assert (holes.lo, holes.hi, holes.censored) == (1.0, 10000.0, False)
    none = argmin_bracketed(STEPS, [1.0] * 5, valid=[False] * 5)
    assert np.isnan(none.tau) and np.isnan(none.lo) and none.censored
    batch = argmin_bracketed(STEPS, [[5.0, 3.0, 1.0, 2.0, 4.0], [1.0, 2.0, 3.0, 4.0, 5.0]])
    np.testing.assert_array_equal(batch.censored, [False, True])
    np.testing.assert_array_equal(batch.hi, [1000.0, 10.0])


def test_exceed_bracket_and_censoring() -> None:
    nan = np.nan
    # checked at 10, 1000, 10000 only: the onset lies in (10, 1000]
    mid = exceed_bracketed(STEPS, [nan, 0.0, nan, 0.3, 0.4], 0.1)
    assert (mid.tau, mid.lo, mid.hi, mid.censored) == (1000.0, 10.0, 1000.0, False)
    at_end = exceed_bracketed(STEPS, [nan, 0.0, nan, 0.0, 0.4], 0.1)
    assert at_end.tau == 10000.0 and at_end.lo == 1000.0 and at_end.censored
    at_start = exceed_bracketed(STEPS, [nan, 0.5, nan, 0.3, 0.4], 0.1)
    assert at_start.tau == 10.0 and at_start.lo == 0.0 and at_start.censored
    never = exceed_bracketed(STEPS, [nan, 0.0, nan, 0.0, 0.0], 0.1)
    assert np.isnan(never.tau) and never.lo == 10000.0 and never.hi == np.inf and never.censored


# S and D_0 of a pair at raw weights, small n (shapes as measured at depth 3, n = 64): the
# transient (networks that ignore their input agree, S small, while D_0 stays near its initial
# level), learning (S bumps, D_0 falls), the biased minimum of S at 256, then the networks
# diverge. They never get far below the independent-site predictor (d_triv = 1.7).
S_SMALL = np.array([5.0, 1.0, 0.3, 0.2, 0.5, 0.9, 0.8, 0.6, 0.45, 0.6, 0.9, 1.3])
D0_SMALL = np.array([10.7, 10.1, 9.8, 9.5, 8.5, 6.9, 4.3, 2.5, 2.2, 2.1, 2.1, 2.0])
D_TRIV = 1.7


def test_bias_rule_excludes_the_transient_minimum() -> None:
    assert argmin_onset(GRID, S_SMALL) == 8.0  # the plain argmin sits on the transient
    # half-way (D_0 ≤ 2.0 + (10.7 - 2.0)/2 = 6.35) from step 64 for both networks
    onset = bias_onset_bracketed(GRID, S_SMALL, D0_SMALL, D0_SMALL + 0.05, D_TRIV)
    assert onset.tau == 256.0 and (onset.lo, onset.hi) == (128.0, 512.0) and not onset.censored
    # the previous rule (beat the root-only oracle, KL(BP_0||BP_L) = 1.56) finds nothing here
    assert np.isnan(bias_onset(GRID, S_SMALL, D0_SMALL, D0_SMALL, 1.56))


def test_bias_rule_at_paper_scale_is_the_plain_argmin() -> None:
    # the first checkpoint comes long after the transient: both networks beat the trivial
    # predictor from the start, though D_0 still falls (progress alone would start later)
    grid = GRID * 1000
    S = np.array([1.5, 1.0, 0.6, 0.7, 0.9, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0, 2.2])
    d0 = np.array([1.6, 1.4, 1.2, 1.1, 1.0, 1.0, 1.05, 1.1, 1.2, 1.3, 1.4, 1.5])
    plain = argmin_onset(grid, S)
    assert plain == 4000.0
    onset = bias_onset_bracketed(grid, S, d0, d0, d_trivial=D_TRIV)
    assert onset.tau == plain and (onset.lo, onset.hi) == (2000.0, 8000.0) and not onset.censored
    assert bias_onset_bracketed(grid, S, d0, d0, d_trivial=0.5).censored  # progress alone


def test_bias_rule_no_minimum_after_the_transient_is_censored() -> None:
    # S only rises once the networks learn: no biased phase to measure, and the transient
    # minimum is not reported in its place
    S = np.array([5.0, 1.0, 0.3, 0.2, 0.5, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5])
    onset = bias_onset_bracketed(GRID, S, D0_SMALL, D0_SMALL, D_TRIV)
    assert onset.tau == 64.0 and onset.censored


def test_bias_rule_excludes_the_averaging_lag() -> None:
    # an average started at the initialisation (γ = 0.99, no warm-up): S and D_0 fall as the
    # initial weights leave the average, S has its minimum near the horizon 1/(1-γ) = 100
    w0 = 0.99**GRID  # the initial weights' share of the average
    S = np.array([5.6, 5.5, 5.4, 5.2, 4.6, 3.9, 2.9, 1.8, 0.8, 1.0, 1.3, 1.6])
    d0 = 1.0 + 4.0 * w0
    assert argmin_onset(GRID, S) == 256.0
    assert bias_onset_bracketed(GRID, S, d0, d0, D_TRIV).tau == 256.0  # D_0 alone: the lag
    # the share of the initial weights (7.6 % at 256) marks it
    onset = bias_onset_bracketed(GRID, S, d0, d0, D_TRIV, valid=w0 <= 0.01)
    assert onset.tau == 512.0 and onset.lo == 0.0 and onset.censored


def test_bias_rule_never_learned_and_bad_progress() -> None:
    flat = np.full(GRID.size, 5.0)  # never learns: no progress, never beats the trivial level
    onset = bias_onset_bracketed(GRID, S_SMALL, D0_SMALL, flat, D_TRIV)
    assert np.isnan(onset.tau) and onset.censored
    with pytest.raises(PhysgenError, match="progress"):
        bias_onset_bracketed(GRID, S_SMALL, D0_SMALL, D0_SMALL, D_TRIV, progress=1.5)
    # batched over pairs, one trivial level per pair
    both = bias_onset_bracketed(
        GRID,
        np.stack([S_SMALL, S_SMALL]),
        np.stack([D0_SMALL, D0_SMALL]),
        np.stack([D0_SMALL, flat]),
        d_trivial=np.array([D_TRIV, D_TRIV]),
    )
    assert both.tau[0] == 256.0 and np.isnan(both.tau[1])


def test_count_before_needs_ordered_brackets() -> None:
    bias = Onset(
        tau=np.array([100.0, 100.0, 100.0, 100.0]),
        lo=np.array([50.0, 50.0, 50.0, 50.0]),
        hi=np.array([200.0, 200.0, 200.0, 200.0]),
        censored=np.array([False, False, False, True]),
    )
    test = Onset(
        tau=np.array([400.0, 200.0, 400.0, 400.0]),
        lo=np.array([200.0, 100.0, 300.0, 300.0]),
        hi=np.array([800.0, 400.0, np.inf, 800.0]),
        censored=np.array([False, False, True, False]),
    )
    # pair 0: ordered (bias < 200 < test); pair 1: brackets overlap; 2 and 3: censored
    assert count_before(bias, test) == (1, 2)


def test_count_before_with_censored_onsets_as_bounds() -> None:
    """A τ_bias at the first valid checkpoint (an upper bound) before a τ_test beyond the run (a
    lower bound) is ordered; censored the other way round it is not; no valid checkpoint at all
    is not counted. The brackets come from :func:`argmin_bracketed` on synthetic curves."""
    steps = np.array([10.0, 20.0, 40.0, 80.0, 160.0, 320.0])
    rising, falling = np.log(steps), -np.log(steps)
    dip = (np.log(steps) - np.log(40.0)) ** 2  # interior minimum at 40
    valid = np.ones((4, steps.size), dtype=bool)
    valid[3] = False
    bias = argmin_bracketed(steps, np.stack([rising, falling, dip, rising]), valid)
    test = argmin_bracketed(steps, np.stack([falling, rising, falling, falling]))
    np.testing.assert_array_equal(bias.censored, [True, True, False, True])
    np.testing.assert_array_equal(test.censored, [True, True, True, True])
    # pair 0: bias ≤ 20, test > 160: ordered; pair 1: bias > 160, test ≤ 20: counted, not
    # ordered; pair 2: bias in (20, 80), test > 160: ordered; pair 3: no valid bias checkpoint
    assert count_before(bias, test, censored="bound") == (2, 3)
    assert count_before(bias, test) == (0, 0)
    with pytest.raises(PhysgenError, match="censored"):
        count_before(bias, test, censored="keep")  # type: ignore[arg-type]
