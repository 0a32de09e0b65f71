"""The real experiment swept end to end: the CLI run, its netCDF, a SIGKILL and resume, the dask
executor, determinism. Cells are tiny (depth-2 tree, 30 steps) but run the whole pipeline."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from typer.testing import CliRunner

from physgen.cli import app
from physgen.config import ExperimentConfig
from physgen.io import missing_cf_attrs, open_results
from physgen.sweep import load_spec, resolve_cells, run_sweep, sweep_status

VOLATILE = ("date_created", "history")


def assert_same_results(a: xr.Dataset, b: xr.Dataset) -> None:
    """Identical data, coordinates and attributes, except the creation time stamps."""
    a, b = a.copy(), b.copy()
    for ds in (a, b):
        ds.attrs = {k: v for k, v in ds.attrs.items() if k not in VOLATILE}
    xr.testing.assert_identical(a, b)


def test_results_file(reference_sweep: Path, tiny_spec: Path) -> None:
    ds = open_results(reference_sweep / "results.nc")
    assert json.loads(ds.attrs["sweep_dims"]) == ["n_train"]
    assert ds["n_train"].values.tolist() == [8, 16]
    for tau in ("tau_bias", "tau_nn", "tau_test", "tau_mem"):
        assert ds[tau].dims == ("n_train", "pair", "weights"), tau
        assert ds[f"{tau}_censored"].dims == ds[tau].dims
        assert ds[tau].attrs["units"] == "1"
    for curve in ("train_loss", "test_loss", "split_divergence", "ladder_test"):
        assert ds[curve].dims[0] == "n_train" and "checkpoint" in ds[curve].dims
    assert ds.sizes["level"] == 3  # BP_0 … BP_L at depth 2
    assert missing_cf_attrs(ds) == []
    for key in ("Conventions", "title", "source", "history", "references", "date_created"):
        assert ds.attrs[key]
    # ACDD-1.3 is claimed: its highly recommended attributes are there
    assert "ACDD-1.3" in ds.attrs["Conventions"]
    for key in ("title", "summary", "keywords"):
        assert ds.attrs[key].strip(), key
    spec = load_spec(tiny_spec)
    assert ds.attrs["config_sha256"] == spec.sha256()
    assert json.loads(ds.attrs["config_json"])["grid"] == {"data.n_train": [8, 16]}
    assert ds.attrs["git_commit"] and ds.attrs["torch_version"]
    for cell in resolve_cells(spec):
        sel = ds.sel(cell.coords)
        assert sel["cell_config_sha256"].item() == cell.sha256
        assert sel["cell_config_json"].item() == cell.config.to_json()
        assert ExperimentConfig.from_dict(json.loads(sel["cell_config_json"].item())) == cell.config
    # the training curves are finite numbers and the test loss stays above the Bayes floor
    assert np.isfinite(ds["test_loss"]).all()
    assert (ds["test_loss"] >= ds["bayes_test_loss"] - 0.05).all()


def test_status_and_merge_commands(reference_sweep: Path) -> None:
    runner = CliRunner()
    status = runner.invoke(app, ["sweep", "status", str(reference_sweep)])
    assert status.exit_code == 0
    assert "2/2 cells done; merged" in status.output
    assert status.output.count("done") == 3
    before = open_results(reference_sweep / "results.nc")
    merged = runner.invoke(app, ["sweep", "merge", str(reference_sweep)])
    assert merged.exit_code == 0 and merged.output.strip().endswith("results.nc")
    assert_same_results(before, open_results(reference_sweep / "results.nc"))


def test_sigkill_then_resume_equals_an_uninterrupted_run(
    tiny_spec: Path, reference_sweep: Path, tmp_path: Path
) -> None:
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "physgen.cli", "sweep", "run", str(tiny_spec), "--out", str(out)]
    proc = subprocess.Popen(
        [*cmd, "--quiet"],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 300
    try:
        while not list((out / "cells").glob("*.nc")):
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "the sweep wrote no cell in 300 s"
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    (first,) = (out / "cells").glob("*.nc")
    assert not (out / "results.nc").exists()
    stamp = first.stat().st_mtime_ns
    # the files are the truth (the kill may land between a cell's os.replace and the manifest)
    assert sorted(s.state for s in sweep_status(out)) == ["done", "missing"]

    result = run_sweep(tiny_spec, out)
    assert result.skipped == [first.stem]
    assert len(result.computed) == 1 and result.computed != result.skipped
    assert first.stat().st_mtime_ns == stamp
    manifest = json.loads((out / "manifest.json").read_text())
    assert [c["state"] for c in manifest["cells"].values()] == ["done", "done"]
    assert_same_results(open_results(out), open_results(reference_sweep))
    for cell in (out / "cells").glob("*.nc"):
        a, b = open_results(cell), open_results(reference_sweep / "cells" / cell.name)
        xr.testing.assert_equal(a, b)


def test_dask_local_cluster(tiny_spec: Path, reference_sweep: Path, tmp_path: Path) -> None:
    from distributed import LocalCluster

    spec = load_spec(tiny_spec)
    axis = dataclasses.replace(spec.axes[0], values=spec.axes[0].values[:1])
    one = dataclasses.replace(spec, axes=(axis,))
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        result = run_sweep(
            one, tmp_path / "dask", executor="dask", address=cluster.scheduler_address
        )
    assert result.computed == ["n_train=8"]
    got = open_results(tmp_path / "dask" / "cells" / "n_train=8.nc")
    want = open_results(reference_sweep / "cells" / "n_train=8.nc")
    xr.testing.assert_equal(got, want)
    assert_same_results(
        open_results(tmp_path / "dask").drop_vars(["cell_config_json", "cell_config_sha256"]),
        open_results(reference_sweep)
        .sel(n_train=[8])
        .drop_vars(["cell_config_json", "cell_config_sha256"])
        .assign_attrs(open_results(tmp_path / "dask").attrs),
    )


def test_every_unit_of_a_results_file_is_udunits_and_dimensionless(reference_sweep: Path) -> None:
    """Every ``units`` string parses with a UDUNITS parser, and none converts to a physical
    dimension: the file holds nats, counts, steps and fractions only."""
    cf_units = pytest.importorskip("cf_units")
    ds = open_results(reference_sweep / "results.nc")
    for name, var in ds.variables.items():
        unit = cf_units.Unit(var.attrs["units"])
        assert unit.is_dimensionless(), (name, var.attrs["units"])
