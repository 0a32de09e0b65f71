"""The ordering τ_bias < τ_test does not depend on the weights evaluated: one cell of the main
job (runs/quick.toml: depth 3, n = 32, 3 content-disjoint pairs), raw weights and the averages
of horizon 100 and 1000 steps from the same training runs. Slow (the cell took 169 s in the
main job's timed run, docs/results/2026-12-03-main-job-15min.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from physgen.experiments import run_experiment
from physgen.sweep.cells import resolve_cells
from physgen.sweep.spec import load_spec

QUICK = Path(__file__).resolve().parents[1] / "runs" / "quick.toml"


@pytest.mark.slow
def test_ordering_is_the_same_under_raw_and_both_averages() -> None:
    (cell,) = [
        c
        for c in resolve_cells(load_spec(QUICK))
        if c.coords["depth"] == 3 and c.coords["n_train"] == 32
    ]
    ds = run_experiment(cell.config)
    assert list(ds.weights.values) == ["raw", "ema", "ema_0.99"]
    assert not ds.overlap_pair.values.any() and not ds.overlap_test.values.any()

    def onset(name: str) -> tuple[np.ndarray, ...]:
        return tuple(ds[f"{name}{s}"].values for s in ("_lo", "_hi", "_censored"))

    (b_lo, b_hi, b_cens), (t_lo, t_hi, t_cens) = onset("tau_bias"), onset("tau_test")
    measured = ~b_cens & ~t_cens  # (pair, weights)
    ordered = measured & (b_hi <= t_lo)
    reversed_ = measured & (t_hi <= b_lo)
    # never the other way round beyond resolution, under any weights
    assert not reversed_.any()
    # every pair measured under a weights is ordered, and under the raw weights and the short
    # average at least two of the three pairs are measured
    np.testing.assert_array_equal(ordered, measured)
    assert measured[:, 0].sum() >= 2 and measured[:, 2].sum() >= 2
    np.testing.assert_array_equal(ds.n_bias_before_test.values, ordered.sum(axis=0))
