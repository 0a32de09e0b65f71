"""The biased phase across a sweep: exponents of τ_bias, τ_test and their ratio against n (known
power laws recovered, censoring left out and counted), and the width per cell by hand."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from physgen.errors import PhysgenError
from physgen.metrics.biased_phase import QUANTITIES, onset_exponents, phase_width
from physgen.metrics.scaling import loglog_slope_ci

N = np.array([16, 32, 64, 160, 320])
DEPTH = np.array([3, 4, 5])
WEIGHTS = ["raw", "ema"]
#: exponents of tau_bias and tau_test per depth
A = np.array([0.3, 0.5, 0.7])
B = np.array([1.0, 1.2, 1.6])


def sweep(noise: float, k: int = 6, seed: int = 0) -> xr.Dataset:
    """A merged-file layout (n_train, depth, pair, weights) with τ_bias = 4 n^A[depth] and
    τ_test = 9 n^B[depth], each with log-normal scatter ``noise``, nothing censored."""
    g = np.random.default_rng(seed)
    shape = (N.size, DEPTH.size, k, len(WEIGHTS))
    logn = np.log(N)[:, None, None, None]
    dims = ("n_train", "depth", "pair", "weights")
    data = {}
    for name, c, e in (("tau_bias", 4.0, A), ("tau_test", 9.0, B)):
        tau = c * np.exp(e[None, :, None, None] * logn + noise * g.standard_normal(shape))
        data[name] = (dims, tau)
        data[f"{name}_censored"] = (dims, np.zeros(shape, dtype=bool))
    coords = {"n_train": N, "depth": DEPTH, "pair": np.arange(k), "weights": WEIGHTS}
    return xr.Dataset(data, coords=coords)


def test_noise_free_power_laws_give_their_exponents() -> None:
    fits = onset_exponents(sweep(0.0), n_boot=100)
    assert fits.exponent.dims == ("depth", "weights", "quantity")
    assert list(fits.quantity.values) == list(QUANTITIES)
    for q, want in zip(QUANTITIES, (A, B, B - A), strict=True):
        got = fits.exponent.sel(quantity=q).transpose("depth", "weights").values
        np.testing.assert_allclose(got, np.repeat(want[:, None], 2, axis=1), atol=1e-12)
    np.testing.assert_allclose(
        fits.log_prefactor.sel(quantity="tau_test", weights="raw"), np.log(9.0), atol=1e-12
    )
    assert (fits.n_used == N.size * 6).all() and (fits.n_censored == 0).all()
    assert (fits.n_sizes == N.size).all() and (fits.min_pairs == 6).all()
    assert fits.attrs["censoring"] == "drop"


def test_noisy_power_laws_are_recovered_within_their_interval() -> None:
    """Scatter of 0.3 in log τ, 6 pairs at 5 sizes: each exponent lies within 0.15 of the truth
    and its 95 % interval covers it in most of 3 depths × 2 weights × 3 quantities × 4 data
    sets (the percentile bootstrap with 6 pairs is somewhat narrow)."""
    hits = []
    for seed in range(4):
        fits = onset_exponents(sweep(0.3, seed=seed), n_boot=1000, seed=seed)
        for q, want in zip(QUANTITIES, (A, B, B - A), strict=True):
            f = fits.sel(quantity=q).transpose("depth", "weights")
            truth = np.repeat(want[:, None], 2, axis=1)
            assert np.all(np.abs(f.exponent.values - truth) < 0.15 * (1 + (q == "ratio")))
            hits.append((f.exponent_lo.values <= truth) & (truth <= f.exponent_hi.values))
    assert np.mean(hits) >= 0.8


def test_censored_onsets_are_left_out_and_counted() -> None:
    ds = sweep(0.0, k=3)
    at = {"depth": 0, "weights": 0}
    # a wild censored tau_bias at the largest n of one pair, and a never-reached tau_test
    ds["tau_bias"][dict(n_train=-1, pair=0, **at)] = 5.0
    ds["tau_bias_censored"][dict(n_train=-1, pair=0, **at)] = True
    ds["tau_test"][dict(n_train=0, pair=1, **at)] = np.nan
    fits = onset_exponents(ds, n_boot=100).isel(**at)
    bias, test, ratio = (fits.sel(quantity=q) for q in QUANTITIES)
    assert float(bias.exponent) == pytest.approx(A[0], abs=1e-12)  # the bound is not used
    assert float(test.exponent) == pytest.approx(B[0], abs=1e-12)
    assert (int(bias.n_censored), int(bias.n_used)) == (1, 14)
    assert (int(test.n_censored), int(test.n_used)) == (1, 14)
    assert (int(ratio.n_censored), int(ratio.n_used)) == (2, 13)  # either onset censored
    assert int(bias.min_pairs) == 2
    # the same numbers as loglog_slope_ci on the arrays
    sub = ds.isel(**at).transpose("n_train", "pair")
    ci = loglog_slope_ci(N, sub.tau_bias.values, sub.tau_bias_censored.values, n_boot=100)
    assert (ci.lo, ci.hi) == (float(bias.exponent_lo), float(bias.exponent_hi))
    # kept as bounds, the wild value pulls the slope down
    bound = onset_exponents(ds, n_boot=100, censoring="bound").isel(**at)
    assert float(bound.exponent.sel(quantity="tau_bias")) < A[0] - 0.1
    assert int(bound.n_used.sel(quantity="tau_bias")) == 15  # the bound enters, NaN cannot


def test_a_fit_needs_two_sizes_with_a_measured_onset() -> None:
    ds = sweep(0.0, k=2)
    ds["tau_test_censored"][dict(depth=1)] = True
    ds["tau_test_censored"][dict(depth=1, n_train=2)] = False
    fits = onset_exponents(ds, n_boot=50).sel(depth=4)
    test = fits.sel(quantity="tau_test")
    assert np.isnan(test.exponent).all() and np.isnan(test.exponent_lo).all()
    assert (test.n_sizes == 1).all() and (test.n_used == 2).all() and (test.n_censored == 8).all()
    assert np.isfinite(fits.exponent.sel(quantity="tau_bias")).all()


def test_width_equals_the_hand_computation() -> None:
    """Two cells of three pairs; in the second one pair is censored (left out) and in the
    first one pair has τ_test < τ_bias (a negative width, kept)."""
    bias = np.array([[10.0, 20.0, 40.0], [10.0, 30.0, 5.0]])
    test = np.array([[50.0, 60.0, 30.0], [100.0, 90.0, 80.0]])
    cens = np.array([[False, False, False], [False, False, True]])
    dims = ("n_train", "pair")
    ds = xr.Dataset(
        {
            "tau_bias": (dims, bias),
            "tau_test": (dims, test),
            "tau_bias_censored": (dims, cens),
            "tau_test_censored": (dims, np.zeros_like(cens)),
        },
        coords={"n_train": [16, 32], "pair": [0, 1, 2]},
    )
    w = phase_width(ds)
    assert w.width_median.dims == ("n_train",)
    np.testing.assert_allclose(w.width_median, [40.0, 75.0])  # {40, 40, -10}; {90, 60}
    np.testing.assert_allclose(w.width_min, [-10.0, 60.0])
    np.testing.assert_allclose(w.width_max, [40.0, 90.0])
    np.testing.assert_allclose(w.ratio_median, [3.0, 6.5])  # {5, 3, 0.75}; {10, 3}
    np.testing.assert_allclose(w.ratio_min, [0.75, 3.0])
    np.testing.assert_allclose(w.ratio_max, [5.0, 10.0])
    assert w.n_measured.values.tolist() == [3, 2] and w.n_pairs.values.tolist() == [3, 3]
    # no measured pair: NaN statistics, no warning
    ds["tau_test_censored"][:] = True
    with np.errstate(all="raise"):
        none = phase_width(ds)
    assert np.isnan(none.ratio_median).all() and (none.n_measured == 0).all()


def test_bad_inputs_raise_one_line() -> None:
    with pytest.raises(PhysgenError, match="no per-pair tau_test"):
        phase_width(sweep(0.0).drop_vars("tau_test"))
    with pytest.raises(PhysgenError, match="no 'n_train' dimension"):
        onset_exponents(sweep(0.0).isel(n_train=0))
    with pytest.raises(PhysgenError, match="censoring"):
        onset_exponents(sweep(0.0), censoring="ignore")  # type: ignore[arg-type]
