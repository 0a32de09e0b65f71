"""The log-log slope of onsets against n and its bootstrap interval."""

from __future__ import annotations

import numpy as np
import pytest

from physgen.errors import PhysgenError
from physgen.metrics.scaling import loglog_slope_ci

N = np.array([16.0, 32.0, 64.0, 128.0, 256.0])


def _synthetic(beta: float, k: int, noise: float, seed: int) -> np.ndarray:
    """Onsets 3 n^beta with log-normal scatter of ``noise``: ``(len(N), k)``."""
    g = np.random.default_rng(seed)
    return 3.0 * N[:, None] ** beta * np.exp(noise * g.standard_normal((N.size, k)))


def test_noise_free_power_law_gives_its_slope_exactly() -> None:
    ci = loglog_slope_ci(N, _synthetic(1.3, 3, 0.0, 0), n_boot=200)
    assert ci.slope == pytest.approx(1.3, abs=1e-12)
    assert ci.lo == pytest.approx(1.3, abs=1e-12) and ci.hi == pytest.approx(1.3, abs=1e-12)
    assert not ci.contains(1.0)
    assert (ci.n_sizes, ci.n_used, ci.n_censored) == (5, 15, 0)


def test_interval_covers_the_true_slope_about_95_percent_of_the_time() -> None:
    """200 synthetic experiments of 10 pairs per n (known slope 1): the 95 % interval covers 1
    in 85-99 % of them (the percentile bootstrap with 10 pairs is slightly narrow), and its width
    shrinks as 1/sqrt(pairs)."""
    hits = [
        loglog_slope_ci(N, _synthetic(1.0, 10, 0.3, s), n_boot=400, seed=s).contains(1.0)
        for s in range(200)
    ]
    assert 0.85 <= np.mean(hits) <= 0.99
    width = [
        np.mean(
            [
                (c.hi - c.lo)
                for c in (
                    loglog_slope_ci(N, _synthetic(1.0, k, 0.3, s), n_boot=400) for s in range(20)
                )
            ]
        )
        for k in (10, 40)
    ]
    assert width[1] / width[0] == pytest.approx(0.5, rel=0.2)


def test_censored_onsets_are_dropped_or_kept_as_bounds() -> None:
    tau = _synthetic(1.0, 3, 0.0, 0)
    censored = np.zeros_like(tau, dtype=bool)
    tau[-1, 0], censored[-1, 0] = 5.0, True  # a wild bound at the largest n
    tau[0, 1] = np.nan  # not reached: censored whatever the flags say
    dropped = loglog_slope_ci(N, tau, censored, n_boot=100)
    assert dropped.slope == pytest.approx(1.0, abs=1e-12) and dropped.n_censored == 2
    assert dropped.n_used == 13 and dropped.censoring == "drop"
    kept = loglog_slope_ci(N, tau, censored, n_boot=100, censoring="bound")
    assert kept.slope < 0.9 and kept.n_used == 14  # the bound enters, NaN cannot


def test_bad_inputs_raise_one_line() -> None:
    with pytest.raises(PhysgenError, match="two or more distinct sizes"):
        loglog_slope_ci(N, np.where(N[:, None] > 16, np.nan, 1.0) * np.ones((5, 3)))
    with pytest.raises(PhysgenError, match="shape"):
        loglog_slope_ci(N, np.ones((4, 3)))
    with pytest.raises(PhysgenError, match="positive"):
        loglog_slope_ci(N, -np.ones((5, 3)))
    with pytest.raises(PhysgenError, match="censoring"):
        loglog_slope_ci(N, np.ones((5, 3)), censoring="ignore")  # type: ignore[arg-type]
