"""The sweep folder with a fast stand-in cell: resume, stale and corrupt cells, ragged steps,
merge conflicts, the process pool. The real experiment runs in test_end_to_end.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr
from _cells import toy_cell

from physgen.errors import PhysgenError
from physgen.io import missing_cf_attrs, open_results
from physgen.sweep import SweepSpec, SweepStore, resolve_cells, run_sweep, sweep_status

SPEC: dict[str, Any] = {
    "model": {"name": "gmm", "dim": 2},
    "data": {"n_pairs": 2, "n_test": 4},
    "train": {"n_checkpoints": 4, "steps": 50},
    "sweep": {"title": "store test", "plot": False},
    "grid": {"data.n_train": [5, 10, 20], "seed": [0, 1]},
}


def make(**override: Any) -> SweepSpec:
    return SweepSpec.from_dict({**SPEC, **override})


def test_run_merge_and_resume(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    first = run_sweep(make(), out, cell_fn=toy_cell)
    assert len(first.computed) == 6 and first.skipped == []
    ds = open_results(out / "results.nc")
    assert ds["tau_bias"].dims == ("n_train", "seed", "pair")
    assert ds["split_divergence"].dims == ("n_train", "seed", "pair", "checkpoint")
    assert ds["step"].dims == ("checkpoint",)  # the same steps in every cell: one coordinate
    assert ds["n_train"].values.tolist() == [5, 10, 20]
    assert missing_cf_attrs(ds) == []
    # each grid point holds exactly its own cell's values
    for cell in resolve_cells(make()):
        expected = toy_cell(cell.config)
        got = ds.sel(cell.coords)
        np.testing.assert_array_equal(got["tau_bias"].values, expected["tau_bias"].values)
        assert got["cell_config_sha256"].item() == cell.sha256
    manifest = json.loads((out / "manifest.json").read_text())
    assert all(c["state"] == "done" for c in manifest["cells"].values())
    mtimes = {p.name: p.stat().st_mtime_ns for p in (out / "cells").iterdir()}
    again = run_sweep(make(), out, cell_fn=toy_cell)
    assert again.computed == [] and len(again.skipped) == 6
    assert {p.name: p.stat().st_mtime_ns for p in (out / "cells").iterdir()} == mtimes


def test_stale_corrupt_and_missing_cells_are_recomputed(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    run_sweep(make(), out, cell_fn=toy_cell, merge=False)
    cells = resolve_cells(make())
    (out / "cells" / f"{cells[0].name}.nc").write_bytes(b"CDF\x01 truncated")
    (out / "cells" / f"{cells[1].name}.nc").unlink()
    (out / "cells" / f".{cells[2].name}.nc.999.tmp").write_bytes(b"partial")
    states = [s.state for s in sweep_status(out)]
    assert states == ["corrupt", "missing", "done", "done", "done", "done"]
    with pytest.raises(PhysgenError, match="2 of 6 cells are not done"):
        SweepStore.open(out).merge()
    res = run_sweep(make(), out, cell_fn=toy_cell)
    assert sorted(res.computed) == sorted([cells[0].name, cells[1].name])
    assert not list((out / "cells").glob(".*.tmp"))
    # a changed base config makes every cell stale
    changed = make(train={"n_checkpoints": 4, "steps": 60})
    assert {s.state for s in SweepStore(out, changed).status()} == {"stale"}
    assert len(run_sweep(changed, out, cell_fn=toy_cell, overwrite=True).computed) == 6


def test_linked_steps_give_a_checkpoint_dimension(tmp_path: Path) -> None:
    spec = make(
        grid={"data.n_train": [5, 10]},
        link={"data.n_train": {"train.steps": [50, 400]}},
    )
    run_sweep(spec, tmp_path / "s", cell_fn=toy_cell)
    ds = open_results(tmp_path / "s")
    assert ds["split_divergence"].dims == ("n_train", "pair", "checkpoint")
    assert ds["step"].dims == ("n_train", "checkpoint")
    assert ds["step"].values[:, -1].tolist() == [50, 400]
    assert ds["steps"].dims == ("n_train",) and ds["steps"].values.tolist() == [50, 400]
    assert not np.isnan(ds["split_divergence"].values).any()


def test_conflicting_cells_raise(tmp_path: Path) -> None:
    """A cell file that claims another cell's grid point with different values is a conflict."""
    from physgen.io import write_netcdf
    from physgen.sweep.store import data_sha256

    out = tmp_path / "sweep"
    run_sweep(make(), out, cell_fn=toy_cell, merge=False)
    first, second = resolve_cells(make())[:2]
    clash = open_results(out / "cells" / f"{first.name}.nc")
    clash["tau_bias"] = clash["tau_bias"] + 1.0
    clash.attrs["config_sha256"] = second.sha256
    clash.attrs["data_sha256"] = data_sha256(clash)
    write_netcdf(clash, out / "cells" / f"{second.name}.nc")
    with pytest.raises(PhysgenError, match="cannot merge"):
        SweepStore.open(out).merge()


@pytest.mark.slow
def test_process_pool_gives_the_same_result(tmp_path: Path) -> None:
    spec = make(grid={"data.n_train": [5, 10]})
    run_sweep(spec, tmp_path / "serial", cell_fn=toy_cell)
    run_sweep(spec, tmp_path / "pool", cell_fn=toy_cell, workers=2)
    a, b = open_results(tmp_path / "serial"), open_results(tmp_path / "pool")
    xr.testing.assert_equal(a, b)


def _cell_with_levels(cfg: Any) -> xr.Dataset:
    """The stand-in cell plus a ladder over ``level`` whose length depends on the cell (as the
    depth does in a real sweep)."""
    ds = toy_cell(cfg)
    n_levels = 2 + cfg.data.n_train // 10
    ladder = np.arange(n_levels, dtype=float) + cfg.data.n_train
    ds["ladder"] = ("level", ladder, {"long_name": "D_k", "units": "1", "description": "x"})
    return ds.assign_coords(
        level=("level", np.arange(n_levels), {"long_name": "k", "units": "1", "description": "k"})
    )


def test_merge_of_cells_with_different_levels_keeps_each_variable_on_its_own_dims(
    tmp_path: Path,
) -> None:
    out = tmp_path / "sweep"
    run_sweep(make(), out, cell_fn=_cell_with_levels)
    ds = open_results(out / "results.nc")
    # a cell-level onset is never broadcast over another variable's dimension
    assert ds["tau_bias"].dims == ("n_train", "seed", "pair")
    assert ds["ladder"].dims == ("n_train", "seed", "level")
    # the level labels are the union of the cells' labels, integers, never NaN
    assert ds["level"].dtype.kind == "i" and ds["level"].values.tolist() == [0, 1, 2, 3]
    for cell in resolve_cells(make()):
        got = ds.sel(cell.coords)
        want = _cell_with_levels(cell.config)
        k = want.sizes["level"]
        np.testing.assert_array_equal(got["ladder"].values[:k], want["ladder"].values)
        assert np.isnan(got["ladder"].values[k:]).all()
        assert got["ladder"].sel(level=0).item() == want["ladder"].sel(level=0).item()


def _rewrite_identity(path: Path, config_json: str, config_sha: str) -> None:
    """Give a cell file another recorded config and identity (as older code wrote them)."""
    with xr.open_dataset(path) as ds:
        ds = ds.load()
    ds.attrs.update(config_json=config_json, config_sha256=config_sha)
    path.unlink()
    ds.to_netcdf(path)


def test_a_cell_whose_identity_moved_while_its_config_did_not_stays_done(tmp_path: Path) -> None:
    """A file written while a late key (train.p_uncond) was hashed at its default records another
    config_sha256 for the same experiment: it stays done (its recorded config, read now, is the
    cell's); a file whose recorded config differs in a value is stale."""
    out = tmp_path / "sweep"
    run_sweep(make(), out, cell_fn=toy_cell, merge=False)
    cells = resolve_cells(make())
    old = json.loads(cells[0].config.to_json())
    assert "p_uncond" not in old["train"]  # at its default: left out of the identity
    old["train"]["p_uncond"] = cells[0].config.train.p_uncond
    text = json.dumps(old, sort_keys=True)
    _rewrite_identity(out / "cells" / f"{cells[0].name}.nc", text, "0" * 64)
    other = json.loads(cells[1].config.to_json())
    other["train"]["lr"] = 2 * cells[1].config.train.lr
    _rewrite_identity(out / "cells" / f"{cells[1].name}.nc", json.dumps(other), "1" * 64)
    _rewrite_identity(out / "cells" / f"{cells[2].name}.nc", "not json", "2" * 64)
    # the manifest of that older code named the same old identity
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    entry = manifest["cells"][cells[0].name]
    entry["config_sha256"] = "0" * 64
    manifest_path.write_text(json.dumps(manifest))
    states = [s.state for s in sweep_status(out)]
    assert states == ["done", "stale", "stale", "done", "done", "done"]
    res = run_sweep(make(), out, cell_fn=toy_cell)
    assert sorted(res.computed) == sorted([cells[1].name, cells[2].name])
    # its record (seconds, finish time) is kept, under the cell's current identity
    kept = json.loads(manifest_path.read_text())["cells"][cells[0].name]
    assert kept["seconds"] == entry["seconds"] and kept["finished"] == entry["finished"]
    assert kept["config_sha256"] == cells[0].sha256
