"""The ``physgen`` CLI: help of every command, light start-up, user errors, train/sample/info/plot.

The sweep commands run end to end in tests/sweep/test_end_to_end.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tomli_w
import torch
from typer.testing import CliRunner

from physgen import open_results
from physgen.cli import app
from physgen.registry import make_model
from physgen.sweep import load_spec, resolve_cells
from physgen.sweep.spec import read_toml

TINY = Path(__file__).parent / "sweep" / "tiny.toml"
runner = CliRunner()


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["sweep"],
        ["sweep", "run"],
        ["sweep", "status"],
        ["sweep", "merge"],
        ["train"],
        ["sample"],
        ["models"],
        ["info"],
        ["plot"],
    ],
)
def test_every_command_has_help(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("physgen ")


def test_help_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys\n"
        "from physgen.cli import app\n"
        "try:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('torch', 'numba', 'xarray', 'netCDF4', 'dask', 'matplotlib')"
        " if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_models_lists_registered_models() -> None:
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 0
    assert "tree(" in result.output and "gmm(" in result.output


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing", "no such file"),
        ("malformed", "malformed TOML"),
        ("unknown_model", "model.name: unknown model 'nope'"),
        ("infeasible", "data.n_train:"),
        ("unknown_key", "train.stepz: unknown key"),
        ("bad_grid", "grid.data.n_train: values must be distinct"),
        ("train_grid", "has a [grid]"),
        ("sample_model", "model.name: unknown model"),
        ("sample_suffix", "must end in .nc or .npy"),
        ("sample_param", "expected KEY=VALUE"),
        ("info_missing", "no such file"),
        ("status_folder", "not a sweep folder"),
        ("no_out", "Missing option '--out'"),
        ("plot_kind", "unknown figure"),
    ],
)
def test_user_errors_are_one_line(tmp_path: Path, case: str, message: str) -> None:
    base = '[model]\nname = "gmm"\n[train]\nsteps = 10\nn_checkpoints = 2\n'
    spec = {
        "malformed": _write(tmp_path / "m.toml", "[grid\n"),
        "unknown_model": _write(tmp_path / "u.toml", '[model]\nname = "nope"\n'),
        "infeasible": _write(tmp_path / "i.toml", base + "[grid]\n'data.n_train' = [10, 900000]\n"),
        "unknown_key": _write(tmp_path / "k.toml", base.replace("steps", "stepz")),
        "bad_grid": _write(tmp_path / "g.toml", base + "[grid]\n'data.n_train' = [10, 10]\n"),
    }
    out = tmp_path / "out"
    args = {
        "missing": ["sweep", "run", str(tmp_path / "none.toml"), "--out", str(out)],
        "train_grid": ["train", str(TINY), "--out", str(tmp_path / "x.nc")],
        "sample_model": ["sample", "nope", "--out", str(tmp_path / "x.npy")],
        "sample_suffix": ["sample", "gmm", "--out", str(tmp_path / "x.csv")],
        "sample_param": ["sample", "gmm", "-p", "dim", "--out", str(tmp_path / "x.npy")],
        "info_missing": ["info", str(tmp_path / "none.nc")],
        "status_folder": ["sweep", "status", str(tmp_path)],
        "no_out": ["sweep", "run", str(TINY)],
        "plot_kind": ["plot", str(TINY), "--kind", "pie"],
    }.get(case) or ["sweep", "run", str(spec[case]), "--out", str(out)]
    before = sorted(tmp_path.rglob("*"))
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines
    assert "Traceback" not in result.output
    assert sorted(tmp_path.rglob("*")) == before  # nothing written


def test_dry_run_prints_cells_and_writes_nothing(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["sweep", "run", str(TINY), "--out", str(tmp_path / "o"), "--dry-run"]
    )
    assert result.exit_code == 0
    assert result.output.count("# --- cell ") == 2
    assert "n_train = 16" in result.output
    assert not (tmp_path / "o").exists()


def test_sample_npy_and_nc(tmp_path: Path) -> None:
    args = ["sample", "gmm", "--n", "5", "--seed", "3", "-p", "dim=3", "-p", "std=0.5"]
    assert runner.invoke(app, [*args, "--out", str(tmp_path / "x.npy")]).exit_code == 0
    assert runner.invoke(app, [*args, "--out", str(tmp_path / "x.nc")]).exit_code == 0
    want = make_model("gmm", dim=3, std=0.5).sample(5, 3)
    np.testing.assert_array_equal(np.load(tmp_path / "x.npy"), want)
    ds = open_results(tmp_path / "x.nc")
    np.testing.assert_array_equal(ds["x"].values, want)
    assert ds["x"].dims == ("sample", "axis_1")
    assert '"std": 0.5' in ds.attrs["config_json"] and ds.attrs["config_sha256"]


def test_train_info_plot(tmp_path: Path) -> None:
    mapping = read_toml(TINY)
    del mapping["grid"]
    config = tmp_path / "cell.toml"
    config.write_text(tomli_w.dumps(mapping))
    out = tmp_path / "cell.nc"
    result = runner.invoke(app, ["train", str(config), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "done in" in result.stderr  # progress lines when not a TTY
    ds = open_results(out)
    (cell,) = resolve_cells(load_spec(config))
    assert ds.attrs["config_sha256"] == cell.sha256
    assert (
        ds["tau_bias"].dims == ("pair", "weights") and "checkpoint" in ds["split_divergence"].dims
    )
    info = runner.invoke(app, ["info", str(out)])
    assert info.exit_code == 0
    assert "tau_bias(pair, weights)" in info.output and "onsets" in info.output
    figures = runner.invoke(app, ["plot", str(out), "--out", str(tmp_path / "fig")])
    assert figures.exit_code == 0, figures.output
    names = sorted(p.name for p in (tmp_path / "fig").iterdir())
    assert names == ["curves.png", "kl_time.png", "phase_diagram.png"]
    assert all((tmp_path / "fig" / n).stat().st_size > 10_000 for n in names)


def test_a_model_lacking_its_protocol_is_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    """A token model without ``validity`` (the tree experiment needs it) is refused when the
    cell starts: one line naming the method, exit code 2, no output file."""
    from physgen.models import TreeGrammar
    from physgen.registry import register_model

    @register_model("tree_without_validity")
    class TreeWithoutValidity(TreeGrammar):
        validity = None  # type: ignore[assignment]

    config = _write(tmp_path / "c.toml", '[model]\nname = "tree_without_validity"\ndepth = 2\n')
    out = tmp_path / "cell.nc"
    result = runner.invoke(app, ["train", str(config), "--out", str(out), "--quiet"])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "lacks validity, needed by the tree experiment" in lines[0]
    assert not out.exists()


def test_a_sweep_of_a_model_lacking_its_protocol_writes_nothing(tmp_path: Path) -> None:
    from physgen.models import TreeGrammar
    from physgen.registry import register_model

    @register_model("tree_without_log_prob")
    class TreeWithoutLogProb(TreeGrammar):
        log_prob = None  # type: ignore[assignment]

    spec = _write(
        tmp_path / "s.toml",
        '[model]\nname = "tree_without_log_prob"\n[grid]\n"data.n_train" = [8, 16]\n',
    )
    before = sorted(tmp_path.rglob("*"))
    result = runner.invoke(app, ["sweep", "run", str(spec), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "lacks log_prob, needed by the tree experiment" in lines[0]
    assert sorted(tmp_path.rglob("*")) == before


def test_plot_kind_width_draws_the_heat_map(tmp_path: Path) -> None:
    main_job = Path(__file__).parents[1] / "docs" / "results" / "main-job" / "results.nc"
    result = runner.invoke(app, ["plot", str(main_job), "-k", "width", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.output.split() == [str(tmp_path / "width.png")]
    assert (tmp_path / "width.png").stat().st_size > 20_000
