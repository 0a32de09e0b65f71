"""The sweep's figure step: drawn after merging, and a figure that cannot be drawn is a warning,
never a failed sweep (the results are on disk by then)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import tomli_w
from _cells import toy_cell
from typer.testing import CliRunner

import physgen.sweep.runner
from physgen.cli import app
from physgen.io import open_results
from physgen.plots import FigureWarning
from physgen.sweep import SweepSpec, run_sweep

SPEC: dict[str, Any] = {
    "model": {"name": "gmm", "dim": 2},
    "data": {"n_pairs": 2, "n_test": 4},
    "train": {"n_checkpoints": 4, "steps": 50},
    "sweep": {"title": "figure step", "plot": True},
    "grid": {"data.n_train": [5, 10], "model.dim": [2, 3]},
}


def test_the_sweep_draws_its_phase_diagram(tmp_path: Path) -> None:
    result = run_sweep(SweepSpec.from_dict(SPEC), tmp_path / "s", cell_fn=toy_cell)
    assert result.figures == [tmp_path / "s" / "phase_diagram.png"]
    assert result.figures[0].stat().st_size > 20_000


def test_a_figure_that_cannot_be_drawn_is_a_warning(tmp_path: Path) -> None:
    out = tmp_path / "s"
    (out / "phase_diagram.png").mkdir(parents=True)  # savefig cannot write there
    with pytest.warns(FigureWarning, match="'phase_diagram' not drawn.*physgen plot"):
        result = run_sweep(SweepSpec.from_dict(SPEC), out, cell_fn=toy_cell)
    assert result.figures == [] and len(result.computed) == 4
    assert open_results(result.results).tau_bias.sizes["n_train"] == 2


def test_the_cli_exits_0_when_only_the_figure_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(physgen.sweep.runner, "default_cell_fn", lambda: toy_cell)
    spec = tmp_path / "spec.toml"
    spec.write_text(tomli_w.dumps(SPEC))
    out = tmp_path / "s"
    (out / "phase_diagram.png").mkdir(parents=True)
    with pytest.warns(FigureWarning):
        result = CliRunner().invoke(app, ["sweep", "run", str(spec), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "4 cell(s) computed" in result.stdout and "figure:" not in result.stdout
    assert (out / "results.nc").is_file()


def test_a_sweep_over_n_train_and_depth_also_draws_the_width_figures(tmp_path: Path) -> None:
    spec = {
        **SPEC,
        "model": {"name": "tree", "depth": 3},
        "grid": {"data.n_train": [5, 10], "model.depth": [3, 4]},
    }
    result = run_sweep(SweepSpec.from_dict(spec), tmp_path / "s", cell_fn=toy_cell)
    names = ["phase_diagram.png", "width.png", "onset_scaling.png"]
    assert result.figures == [tmp_path / "s" / name for name in names]
