"""netCDF I/O: round trips, atomic replacement, provenance attributes, summaries."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from physgen import open_results
from physgen.errors import PhysgenError
from physgen.io import (
    add_provenance,
    describe,
    missing_cf_attrs,
    netcdf_safe_attrs,
    provenance_attrs,
    write_netcdf,
)

CF = {"units": "1", "description": "test variable"}


def sample_dataset() -> xr.Dataset:
    rng = np.random.default_rng(0)
    return xr.Dataset(
        {
            "tau_bias": (("n_train", "pair"), rng.random((3, 2)), {"long_name": "tau", **CF}),
            "curve": (
                ("n_train", "step"),
                rng.random((3, 4)).astype(np.float32),
                {"long_name": "c", **CF},
            ),
            "label": (
                ("n_train",),
                np.array(["a", "bb", "ccc"], dtype=object),
                {"long_name": "l", **CF},
            ),
            "count": (("step",), np.arange(4, dtype=np.int64), {"long_name": "n", **CF}),
        },
        coords={
            "n_train": ("n_train", [125, 250, 500], {"long_name": "n", **CF}),
            "pair": ("pair", [0, 1], {"long_name": "pair", **CF}),
            "step": ("step", [1, 10, 100, 1000], {"long_name": "step", **CF}),
        },
        attrs={
            "title": "t",
            "flag": True,
            "table": {"a": 1},
            "names": ["x", "y"],
            "none": None,
            "grid": [1.0, 2.5],
        },
    )


def test_round_trip_is_identical(tmp_path: Path) -> None:
    ds = sample_dataset()
    path = write_netcdf(ds, tmp_path / "r.nc")
    back = open_results(path)
    want = ds.copy()
    want.attrs = netcdf_safe_attrs(ds.attrs)
    xr.testing.assert_identical(back, want)
    assert back.attrs["flag"] == 1 and json.loads(back.attrs["table"]) == {"a": 1}
    assert json.loads(back.attrs["names"]) == ["x", "y"] and "none" not in back.attrs
    assert back["curve"].dtype == np.float32


def test_write_replaces_atomically_and_keeps_the_old_file_on_failure(tmp_path: Path) -> None:
    path = tmp_path / "r.nc"
    write_netcdf(sample_dataset(), path)
    bad = sample_dataset()
    bad["oops"] = ("step", np.array([{}, {}, {}, {}], dtype=object))  # not storable
    with pytest.raises((TypeError, ValueError)):
        write_netcdf(bad, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.nc"]
    xr.testing.assert_equal(open_results(path), sample_dataset())


def test_provenance_attrs() -> None:
    cfg = json.dumps({"seed": 1})
    attrs = provenance_attrs(cfg, title="x", history="physgen train a.toml")
    for key in (
        "Conventions",
        "title",
        "source",
        "history",
        "references",
        "date_created",
        "git_commit",
        "physgen_version",
        "numpy_version",
        "xarray_version",
    ):
        assert attrs[key], key
    assert attrs["config_sha256"] == hashlib.sha256(cfg.encode()).hexdigest()
    assert attrs["history"].endswith("physgen train a.toml")
    assert "arXiv:2603.03469" in attrs["references"]
    twice = add_provenance(add_provenance(sample_dataset(), cfg, history="one"), cfg, history="two")
    lines = twice.attrs["history"].splitlines()
    assert len(lines) == 2 and lines[0].endswith("one") and lines[1].endswith("two")


def test_open_results_errors(tmp_path: Path) -> None:
    with pytest.raises(PhysgenError, match="no such file"):
        open_results(tmp_path / "missing.nc")
    junk = tmp_path / "junk.nc"
    junk.write_text("not a netCDF file")
    with pytest.raises(PhysgenError, match="not a readable netCDF"):
        open_results(junk)


def test_write_needs_an_existing_folder(tmp_path: Path) -> None:
    with pytest.raises(PhysgenError, match="does not exist"):
        write_netcdf(sample_dataset(), tmp_path / "no" / "r.nc")


def test_missing_cf_attrs_and_describe() -> None:
    ds = sample_dataset()
    assert missing_cf_attrs(ds) == []
    ds["bare"] = ("step", np.zeros(4))
    assert missing_cf_attrs(ds) == ["bare"]
    ds.attrs["sweep_dims"] = json.dumps(["n_train"])
    text = describe(ds)
    assert "n_train = [125, 250, 500]" in text
    mean = ds["tau_bias"].sel(n_train=250).values.mean()
    assert f"n_train=250: tau_bias={mean:.0f}±" in text


def test_cell_attrs_are_acdd_complete_and_free_of_wall_clock() -> None:
    import xarray as xr

    from physgen.io import add_provenance, cell_attrs, cf_attrs

    a = cell_attrs('{"x": 1}', "a title", "a summary", {"rule": "learned", "flag": False})
    assert a == cell_attrs('{"x": 1}', "a title", "a summary", {"rule": "learned", "flag": False})
    assert "ACDD-1.3" in a["Conventions"] and a["summary"] == "a summary" and a["keywords"]
    assert a["physgen_rule"] == "learned" and a["physgen_flag"] == 0
    assert "date_created" not in a and "history" not in a
    ds = xr.Dataset({"v": ("x", [1.0], cf_attrs("v", "a value"))}, attrs=a)
    out = add_provenance(ds, '{"x": 1}', title="merged")
    assert out.attrs["summary"] == "a summary" and out.attrs["date_created"]
    assert out.v.attrs == {"long_name": "v", "units": "1", "description": "a value"}
