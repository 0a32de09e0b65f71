"""One file layout whatever the grid: a one-depth sweep (the reference) and a sweep over two
depths give every variable the same dims, integer level and checkpoint labels (never NaN), and
``sel(level=0)`` / ``sel(checkpoint=…)`` work on both."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from physgen.experiments.schema import VARIABLES
from physgen.io import open_results
from physgen.sweep import SweepSpec, run_sweep

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@pytest.fixture(scope="module")
def two_depths(tmp_path_factory: pytest.TempPathFactory, tiny_spec: Path) -> Path:
    mapping = tomllib.loads(tiny_spec.read_text())
    mapping["grid"] = {"model.depth": [2, 3]}
    out = tmp_path_factory.mktemp("layout") / "sweep"
    run_sweep(SweepSpec.from_dict(mapping), out)
    return out


def test_same_layout_for_one_and_two_depths(reference_sweep: Path, two_depths: Path) -> None:
    one = open_results(reference_sweep)
    two = open_results(two_depths)
    for ds, grid in ((one, "n_train"), (two, "depth")):
        for name, var in ds.data_vars.items():
            if name in VARIABLES:  # the cell's variables keep their declared dims
                assert var.dims == (grid, *VARIABLES[name].dims), name
        for coord in ("level", "checkpoint", "nn_bin", "network", "pair"):
            assert ds[coord].dims == (coord,) and ds[coord].dtype.kind == "i", coord
        assert ds.step.dtype.kind == "i" and "checkpoint" in ds.step.dims
        assert not {"level_index", "nn_bin_index", "step_index"} & set(ds.dims)
        # label selection works on both files
        d0 = ds.ladder_test.sel(level=0, checkpoint=ds.checkpoint.values[-1])
        assert np.isfinite(d0.values).all()
    assert two.level.values.tolist() == [0, 1, 2, 3]
    # depth 2 has no level 3: NaN data there, the depth-3 cell has values at every level
    assert np.isnan(two.oracle_ladder.sel(depth=2, level=3)).all()
    assert np.isfinite(two.oracle_ladder.sel(depth=3)).all()
    assert np.isfinite(two.oracle_ladder.sel(depth=2, level=[0, 1, 2])).all()
