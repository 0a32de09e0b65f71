"""``physgen sweep run | status | merge``: phase-diagram sweeps (see :mod:`physgen.sweep`)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer

from physgen.commands._common import note, progress, user_errors

__all__ = ["app", "status_table"]

app = typer.Typer(
    help="Run a grid of experiments from a TOML spec, resumably, into one results.nc.",
    no_args_is_help=True,
)


@app.command("run")
@user_errors
def run_cmd(
    spec: Annotated[Path, typer.Argument(help="Sweep spec (TOML), e.g. runs/quick.toml.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Sweep folder (created; resumed).")],
    workers: Annotated[
        int | None,
        typer.Option("--workers", "-w", min=1, help="Parallel cells (default: the spec's)."),
    ] = None,
    executor: Annotated[
        str | None, typer.Option("--executor", help="'local' processes or 'dask'.")
    ] = None,
    address: Annotated[
        str | None,
        typer.Option("--address", help="dask scheduler address (default: a LocalCluster)."),
    ] = None,
    overwrite: Annotated[
        bool,
        typer.Option(
            "--overwrite",
            help="Let this spec take over a folder that holds another spec's sweep "
            "(cells with an unchanged config are kept).",
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print every cell's resolved config; run nothing.")
    ] = False,
    no_plot: Annotated[bool, typer.Option("--no-plot", help="Draw no figures into DIR.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
) -> None:
    """Run SPEC into the folder --out: finished cells are skipped, the rest computed, then all
    merged into OUT/results.nc and drawn into OUT/phase_diagram.png. Every cell is validated
    (values, memory, steps, device, scheduler, folder owner) before anything is written."""
    from physgen.sweep.runner import dry_run as resolve_dry
    from physgen.sweep.runner import run_sweep
    from physgen.sweep.spec import load_spec

    parsed = load_spec(spec).with_executor(kind=executor, workers=workers, address=address)
    if dry_run:
        typer.echo(resolve_dry(parsed))
        return
    with progress(quiet) as bar:
        result = run_sweep(
            parsed,
            out,
            plot=False if no_plot else None,
            overwrite=overwrite,
            on_start=lambda n, total: bar.start(n, f"{n} of {total} cells"),
            on_cell=lambda cell, s: bar.advance(cell.label(), f"({s:.1f} s)"),
            on_progress=lambda cell, k, n, msg: bar.update(cell.label(), k, n, msg),
            on_message=note,
        )
    if not quiet:
        typer.echo(
            f"{len(result.computed)} cell(s) computed, {len(result.skipped)} already done → "
            f"{result.results}"
        )
        for fig in result.figures:
            typer.echo(f"figure: {fig}")


def status_table(folder: Path) -> dict[str, Any]:
    """The state of a sweep folder as JSON-ready data: ``cells`` (name, label, coords, state,
    seconds or ``None``), ``done``, ``total``, ``merged``."""
    from physgen.sweep.runner import sweep_status

    states = sweep_status(folder, on_message=note)
    cells = [
        {
            "cell": s.cell.name,
            "label": s.cell.label(),
            "coords": s.cell.coords,
            "state": s.state,
            "seconds": None if math.isnan(s.seconds) else s.seconds,
        }
        for s in states
    ]
    return {
        "folder": str(folder),
        "cells": cells,
        "done": sum(s.state == "done" for s in states),
        "total": len(states),
        "merged": (Path(folder) / "results.nc").is_file(),
    }


@app.command("status")
@user_errors
def status_cmd(
    folder: Annotated[Path, typer.Argument(help="Sweep folder (holds spec.toml).")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the state as JSON (machine-readable).")
    ] = False,
) -> None:
    """Show the state of every cell of a sweep folder (done, missing, stale, corrupt)."""
    import json

    table = status_table(folder)
    if as_json:
        typer.echo(json.dumps(table, indent=1))
        return
    width = max(len(c["label"]) for c in table["cells"])
    for c in table["cells"]:
        secs = f"{c['seconds']:8.1f} s" if c["state"] == "done" and c["seconds"] is not None else ""
        typer.echo(f"{c['label']:<{width}}  {c['state']:<8} {secs}")
    merged = "merged" if table["merged"] else "not merged"
    typer.echo(f"{table['done']}/{table['total']} cells done; {merged}")


@app.command("merge")
@user_errors
def merge_cmd(
    folder: Annotated[Path, typer.Argument(help="Sweep folder (holds spec.toml).")],
) -> None:
    """Merge the finished cells of a sweep folder into FOLDER/results.nc."""
    from physgen.sweep.runner import merge_sweep

    typer.echo(str(merge_sweep(folder, on_message=note)))
