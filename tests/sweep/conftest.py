"""Fixtures of the sweep tests: the tiny real spec and one reference run of it through the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

TINY = Path(__file__).with_name("tiny.toml")


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_spec() -> Path:
    """The 2-cell real sweep spec (depth-2 tree, one-layer transformer, 30 steps)."""
    return TINY


@pytest.fixture(scope="session")
def reference_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``physgen sweep run tiny.toml --out DIR`` run once, uninterrupted, through the CLI."""
    from typer.testing import CliRunner

    from physgen.cli import app

    out = tmp_path_factory.mktemp("reference") / "sweep"
    result = CliRunner().invoke(app, ["sweep", "run", str(TINY), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    return out
