"""``physgen sweep run | status | merge``: phase-diagram sweeps (see :mod:`physgen.sweep`)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from physgen.commands._common import progress, user_errors

__all__ = ["app"]

app = typer.Typer(
    help="Run a grid of experiments from a TOML spec, resumably, into one results.nc.",
    no_args_is_help=True,
)


@app.command("run")
@user_errors
def run_cmd(
    spec: Annotated[Path, typer.Argument(help="Sweep spec (TOML), e.g. runs/quick.toml.")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Sweep folder (created; resumed).")
    ] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", "-w", help="Parallel cells (default: the spec's).")
    ] = None,
    executor: Annotated[
        str | None, typer.Option("--executor", help="'local' processes or 'dask'.")
    ] = None,
    address: Annotated[
        str | None,
        typer.Option("--address", help="dask scheduler address (default: a LocalCluster)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print every cell's resolved config; run nothing.")
    ] = False,
    no_plot: Annotated[
        bool, typer.Option("--no-plot", help="Do not draw DIR/phase_diagram.png.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
) -> None:
    """Run SPEC into the folder --out: finished cells are skipped, the rest computed, then all
    merged into OUT/results.nc and drawn into OUT/phase_diagram.png."""
    from physgen.errors import PhysgenError
    from physgen.sweep.runner import dry_run as resolve_dry
    from physgen.sweep.runner import run_sweep
    from physgen.sweep.spec import load_spec

    parsed = load_spec(spec).with_executor(kind=executor, workers=workers, address=address)
    if dry_run:
        typer.echo(resolve_dry(parsed))
        return
    if out is None:
        raise PhysgenError("--out DIR is required (the sweep folder)")
    with progress(quiet) as bar:
        result = run_sweep(
            parsed,
            out,
            plot=False if no_plot else None,
            on_start=lambda n, total: bar.start(n, f"{n} of {total} cells"),
            on_cell=lambda cell, s: bar.advance(f"{cell.label()} ({s:.1f} s)"),
        )
    if not quiet:
        typer.echo(
            f"{len(result.computed)} cell(s) computed, {len(result.skipped)} already done → "
            f"{result.results}"
        )
        for fig in result.figures:
            typer.echo(f"figure: {fig}")


@app.command("status")
@user_errors
def status_cmd(
    folder: Annotated[Path, typer.Argument(help="Sweep folder (holds spec.toml).")],
) -> None:
    """Show the state of every cell of a sweep folder (done, missing, stale, corrupt)."""
    from physgen.sweep.runner import sweep_status

    states = sweep_status(folder)
    width = max(len(s.cell.label()) for s in states)
    for s in states:
        secs = "" if math.isnan(s.seconds) or s.state != "done" else f"{s.seconds:8.1f} s"
        typer.echo(f"{s.cell.label():<{width}}  {s.state:<8} {secs}")
    done = sum(s.state == "done" for s in states)
    results = Path(folder) / "results.nc"
    merged = "merged" if results.is_file() else "not merged"
    typer.echo(f"{done}/{len(states)} cells done; {merged}")


@app.command("merge")
@user_errors
def merge_cmd(
    folder: Annotated[Path, typer.Argument(help="Sweep folder (holds spec.toml).")],
) -> None:
    """Merge the finished cells of a sweep folder into FOLDER/results.nc."""
    from physgen.sweep.runner import merge_sweep

    typer.echo(str(merge_sweep(folder)))
