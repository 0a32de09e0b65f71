"""Sweep specs: structure validation, cell resolution, and a property test of the validator."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from physgen.errors import ConfigError, PhysgenError
from physgen.sweep import SweepSpec, dry_run, load_spec, resolve_cells
from physgen.sweep.cells import set_dotted
from physgen.sweep.spec import read_toml

BASE: dict[str, Any] = {
    "model": {"name": "gmm", "dim": 2},
    "train": {"n_checkpoints": 2, "steps": 10},
}


def spec(**tables: Any) -> SweepSpec:
    return SweepSpec.from_dict({**BASE, **tables})


def test_cells_are_the_outer_product_in_c_order() -> None:
    s = spec(grid={"data.n_train": [5, 10, 20], "model.dim": [2, 3]})
    cells = resolve_cells(s)
    assert s.dims == ("n_train", "dim") and s.shape == (3, 2) and len(cells) == 6
    assert [c.coords for c in cells] == [
        {"n_train": n, "dim": d} for n, d in itertools.product([5, 10, 20], [2, 3])
    ]
    assert [c.config.data.n_train for c in cells] == [5, 5, 10, 10, 20, 20]
    assert [c.config.model.params["dim"] for c in cells] == [2, 3] * 3
    assert cells[3].name == "n_train=10__dim=3"
    assert len({c.sha256 for c in cells}) == 6


def test_nested_and_dotted_grid_keys_are_the_same_axis() -> None:
    dotted = spec(grid={"data.n_train": [5, 10]})
    nested = spec(grid={"data": {"n_train": [5, 10]}})
    assert [c.sha256 for c in resolve_cells(dotted)] == [c.sha256 for c in resolve_cells(nested)]


def test_linked_keys_follow_their_axis() -> None:
    s = spec(grid={"data.n_train": [5, 10]}, link={"data.n_train": {"train.steps": [40, 80]}})
    assert [c.config.train.steps for c in resolve_cells(s)] == [40, 80]
    assert spec(**SweepSpec.from_dict(s.to_dict()).to_dict()).sha256() == s.sha256()


def test_spec_without_grid_is_one_cell() -> None:
    (cell,) = resolve_cells(spec())
    assert cell.name == "cell" and cell.coords == {}


@pytest.mark.parametrize(
    ("tables", "key"),
    [
        ({"grid": {"data.n_train": []}}, "grid.data.n_train"),
        ({"grid": {"data.n_train": [5, 5]}}, "grid.data.n_train"),
        ({"grid": {"data.n_train": 5}}, "grid.data.n_train"),
        ({"grid": {"data.n_train": [5, "a"]}}, "grid.data.n_train"),
        ({"grid": {"data.n_train": [[5]]}}, "grid.data.n_train"),
        ({"grid": {"bogus.n_train": [5]}}, "grid.bogus.n_train"),
        ({"grid": {"seed": [1], "model.seed": [2]}}, "grid.model.seed"),
        ({"grid": {"model.checkpoint": [1]}}, "grid.model.checkpoint"),
        (
            {"grid": {"data.n_train": [5]}, "link": {"data.n_test": {"x": [1]}}},
            "link.data.n_test.x",
        ),
        (
            {"grid": {"data.n_train": [5, 6]}, "link": {"data.n_train": {"train.steps": [9]}}},
            "link.data.n_train.train.steps",
        ),
        ({"grid": {"data.n_train": [0, 5]}}, "data.n_train"),
        ({"grid": {"data.n_train": [10**6]}}, "data.n_train"),
        ({"grid": {"model.dim": [2]}, "model": {"name": "nope"}}, "model.name"),
        ({"grid": {"model.bogus": [1]}}, "model.bogus"),
        ({"executor": {"kind": "slurm"}}, "executor.kind"),
        ({"executor": {"workers": 0}}, "executor.workers"),
        ({"sweep": {"plot": "yes"}}, "sweep.plot"),
        ({"sweeps": {}}, "sweeps"),
    ],
)
def test_invalid_specs_name_the_key(tables: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        resolve_cells(SweepSpec.from_dict({**BASE, **tables}))
    assert info.value.key == key
    assert str(info.value).startswith(f"{key}: ")


def test_cell_errors_say_which_cell() -> None:
    with pytest.raises(ConfigError, match=r"in cell n_train=0\)"):
        resolve_cells(spec(grid={"data.n_train": [5, 0]}))


def test_read_toml_errors(tmp_path) -> None:
    with pytest.raises(PhysgenError, match="no such file"):
        read_toml(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[grid\n")
    with pytest.raises(PhysgenError, match="malformed TOML"):
        load_spec(bad)


def test_dry_run_prints_every_resolved_cell_as_toml(tiny_spec) -> None:
    from physgen.sweep.spec import tomllib

    text = dry_run(tiny_spec)
    blocks = text.split("# --- cell ")[1:]
    cells = resolve_cells(load_spec(tiny_spec))
    assert len(blocks) == len(cells) == 2
    for block, cell in zip(blocks, cells, strict=True):
        body = block.split("\n", 1)[1]
        assert tomllib.loads(body) == cell.config.to_dict()


# --- property test: random specs against the validator ---------------------------------------

#: key → (valid values, invalid values or None) for the cell configuration
CATALOGUE: dict[str, tuple[st.SearchStrategy[Any], st.SearchStrategy[Any] | None]] = {
    "seed": (st.integers(0, 2**31), st.sampled_from(["one", 1.5, True])),
    "data.n_train": (st.integers(1, 50), st.sampled_from([0, -3, "ten", 2.5, 10**6])),
    "data.n_test": (st.integers(2, 50), st.sampled_from([1, 0, "x"])),
    "train.steps": (st.integers(2, 100), st.sampled_from([0, -5, "many"])),
    "train.lr": (st.floats(1e-6, 1.0), st.sampled_from([0.0, -1e-3, "fast"])),
    "net.dropout": (st.floats(0.0, 0.9), st.sampled_from([1.0, 1.5, -0.1])),
    "diffusion.schedule": (st.sampled_from(["linear", "cosine"]), st.sampled_from(["quad", 3])),
    "metrics.t_frac": (st.floats(0.01, 1.0), st.sampled_from([0.0, 1.5, "late"])),
    "model.dim": (st.integers(1, 4), None),
}
#: keys that are wrong whatever the value
UNKNOWN = ["train.stepz", "data.ntrain", "net.widht", "model.bogus", "metrics.tfrac"]


def _get(mapping: dict[str, Any], key: str) -> Any:
    for part in key.split("."):
        mapping = mapping[part]
    return mapping


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_validator_property(data: st.DataObject) -> None:
    """Every spec with one invalid entry is rejected naming its key; every valid one resolves
    into the outer product of its axes, each cell carrying its values."""
    keys = data.draw(st.lists(st.sampled_from(sorted(CATALOGUE)), unique=True, max_size=5))
    kind = data.draw(st.sampled_from(["valid", "value", "unknown"]))
    can_break = [k for k in keys if CATALOGUE[k][1] is not None]
    bad_key = data.draw(st.sampled_from(can_break)) if kind == "value" and can_break else None
    mapping: dict[str, Any] = {"model": {"name": "gmm"}, "train": {"n_checkpoints": 2}}
    grid: dict[str, list[Any]] = {}
    expected: dict[str, list[Any]] = {}
    for key in keys:
        valid, invalid = CATALOGUE[key]
        n = data.draw(st.integers(1, 2 if key == "diffusion.schedule" else 3))
        values = data.draw(st.lists(valid, min_size=n, max_size=n, unique=True))
        if key == bad_key and invalid is not None:
            wrong = data.draw(invalid)
            values = [v for v in values if repr(v) != repr(wrong)][: n - 1]
            values.insert(data.draw(st.integers(0, len(values))), wrong)
        if n > 1:
            grid[key] = values
        else:
            set_dotted(mapping, key, values[0])
        expected[key] = values
    if kind == "unknown":
        bad_key = data.draw(st.sampled_from(UNKNOWN))
        if data.draw(st.booleans()):
            grid[bad_key] = [1]
        else:
            set_dotted(mapping, bad_key, 1)
    mapping["grid"] = grid
    if bad_key is not None:
        with pytest.raises(ConfigError) as info:
            resolve_cells(SweepSpec.from_dict(mapping))
        assert info.value.key in (bad_key, f"grid.{bad_key}"), str(info.value)
    else:
        cells = resolve_cells(SweepSpec.from_dict(mapping))
        assert len(cells) == math.prod(len(v) for v in grid.values())
        for key, values in expected.items():
            got = [_get(c.config.to_dict(), key) for c in cells]
            assert {repr(v) for v in got} == {repr(v) for v in values}


@pytest.mark.parametrize(
    "path", sorted((Path(__file__).parents[2] / "runs").glob("*.toml")), ids=lambda p: p.name
)
def test_shipped_specs_validate(path: Path) -> None:
    """Every spec in runs/ resolves: the main job and the GPU-scale specs are valid as shipped."""
    spec = load_spec(path)
    cells = resolve_cells(spec)
    assert len(cells) == spec.n_cells >= 1
