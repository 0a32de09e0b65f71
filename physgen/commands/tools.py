"""``physgen train | sample | info | plot``: one cell, data draws, file summaries, figures."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from physgen.commands._common import progress, user_errors

__all__ = ["info_cmd", "info_dict", "parse_param", "plot_cmd", "sample_cmd", "train_cmd"]


def _check_out(out: Path, suffixes: tuple[str, ...]) -> None:
    """Reject an output file that cannot be written, before any work: wrong suffix, missing or
    unwritable folder (probed with a temporary file, removed at once), not UTF-8, too long."""
    import tempfile

    from physgen.errors import PhysgenError
    from physgen.sweep.runner import check_output_path

    check_output_path(out)
    if out.suffix not in suffixes:
        raise PhysgenError(f"--out {out}: the file name must end in {' or '.join(suffixes)}")
    if not out.parent.is_dir():
        raise PhysgenError(f"--out {out}: folder {out.parent} does not exist")
    try:
        with tempfile.NamedTemporaryFile(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"):
            pass
    except OSError as exc:
        raise PhysgenError(f"--out {out}: cannot write in {out.parent} ({exc.strerror})") from None


@user_errors
def train_cmd(
    config: Annotated[Path, typer.Argument(help="Experiment config (TOML), e.g. one cell.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output netCDF file (.nc).")],
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
) -> None:
    """Run one experiment (one sweep cell) from CONFIG and write its Dataset to --out."""
    from physgen.errors import PhysgenError
    from physgen.io import add_provenance, write_netcdf
    from physgen.sweep.cells import resolve_cells
    from physgen.sweep.executors import compute_cell, default_cell_fn
    from physgen.sweep.runner import check_devices
    from physgen.sweep.spec import SweepSpec, read_toml

    _check_out(out, (".nc",))
    spec = SweepSpec.from_dict(read_toml(config))
    if spec.axes:
        raise PhysgenError(
            f"{config} has a [grid]: run it with `physgen sweep run {config} --out DIR`"
        )
    cells = resolve_cells(spec)
    check_devices(cells)
    (cell,) = cells
    fn = default_cell_fn()
    with progress(quiet) as bar:
        bar.start(1, "experiment")
        ds, seconds = compute_cell(
            fn, cell.config.to_json(), lambda k, n, msg: bar.update("experiment", k, n, msg)
        )
        bar.advance("experiment", f"done in {seconds:.1f} s")
    write_netcdf(add_provenance(ds, cell.config.to_json(), title=spec.title), out)
    if not quiet:
        typer.echo(str(out))


def parse_param(text: str) -> tuple[str, Any]:
    """``"q=6"`` → ``("q", 6)``: the value is read as a TOML value (number, boolean, list,
    quoted string), else kept as a plain string."""
    import sys

    from physgen.errors import PhysgenError

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib

    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise PhysgenError(f"--param {text!r}: expected KEY=VALUE")
    try:
        return key, tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        return key, raw.strip()


@user_errors
def sample_cmd(
    model: Annotated[str, typer.Argument(help="Registered model name (see `physgen models`).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file, .nc or .npy.")],
    n: Annotated[int, typer.Option("--n", "-n", min=1, help="Number of samples.")] = 1000,
    seed: Annotated[
        int, typer.Option("--seed", "-s", min=0, help="Seed (sample i depends on it and i).")
    ] = 0,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="Model parameter KEY=VALUE.")
    ] = None,
) -> None:
    """Draw N samples of MODEL (native encoding) into a .npy array or a .nc file."""
    import io
    import json
    import math

    import numpy as np

    from physgen.config import ModelConfig, check_memory
    from physgen.io import add_provenance, atomic_write_bytes, write_netcdf

    _check_out(out, (".nc", ".npy"))
    params = dict(parse_param(p) for p in param or [])
    built = ModelConfig(name=model, params=params).build()
    event = math.prod(getattr(built, "event_shape", ()) or (1,))
    check_memory("--n", 8 * n * event // (getattr(built, "vocab_size", None) or 1))
    data = np.asarray(built.sample(n, seed))
    if out.suffix == ".npy":
        buf = io.BytesIO()
        np.save(buf, data)
        atomic_write_bytes(out, buf.getvalue())
    else:
        import xarray as xr

        dims = ("sample", *(f"axis_{i}" for i in range(1, data.ndim)))
        ds = xr.Dataset(
            {
                "x": (
                    dims,
                    data,
                    {
                        "long_name": f"samples of {model}",
                        "units": "1",
                        "description": "clean samples in the model's native encoding "
                        "(int tokens for sequences, floats otherwise); sample i depends only "
                        "on (seed, i)",
                    },
                )
            },
            coords={
                "sample": (
                    "sample",
                    np.arange(n),
                    {"long_name": "sample index", "units": "1", "description": "index i"},
                )
            },
        )
        config = json.dumps(
            {"model": {"name": model, **params}, "n": n, "seed": seed}, sort_keys=True
        )
        write_netcdf(add_provenance(ds, config, title=f"{n} samples of {model}"), out)
    typer.echo(f"{out}: {data.shape} {data.dtype}")


@user_errors
def info_cmd(
    file: Annotated[Path, typer.Argument(help="A physgen netCDF file or a sweep folder.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the summary as JSON (machine-readable).")
    ] = False,
) -> None:
    """Summarise a results file: provenance, dimensions, variables and onsets."""
    import json

    from physgen.io import describe, open_results

    ds = open_results(file)
    typer.echo(json.dumps(info_dict(ds), indent=1) if as_json else describe(ds))


def info_dict(ds: Any) -> dict[str, Any]:
    """JSON-ready summary of a physgen Dataset: global ``attrs`` (strings and numbers), the
    ``grid`` (sweep dims → values), ``dims`` (name → size) and ``variables`` (name → dims,
    long_name, units)."""
    from physgen.io import sweep_dims

    def plain(value: Any) -> Any:
        return value.item() if hasattr(value, "item") and getattr(value, "ndim", 1) == 0 else value

    attrs = {
        str(k): plain(v) for k, v in ds.attrs.items() if isinstance(plain(v), str | int | float)
    }
    return {
        "attrs": attrs,
        "grid": {d: ds[d].values.tolist() for d in sweep_dims(ds)},
        "dims": {str(d): int(n) for d, n in ds.sizes.items()},
        "variables": {
            str(name): {
                "dims": [str(d) for d in var.dims],
                "long_name": str(var.attrs.get("long_name", "")),
                "units": str(var.attrs.get("units", "")),
            }
            for name, var in ds.data_vars.items()
        },
    }


@user_errors
def plot_cmd(
    file: Annotated[Path, typer.Argument(help="A physgen netCDF file or a sweep folder.")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Output folder (default: the file's).")
    ] = None,
    kind: Annotated[
        list[str] | None,
        typer.Option(
            "--kind",
            "-k",
            help=(
                "phase_diagram, curves, kl_time, quadruplets, width, scaling, guidance "
                "(default: all)."
            ),
        ),
    ] = None,
) -> None:
    """Draw the standard figures (phase diagram, training curves, KL along time, image
    quadruplets, width of the biased phase, onsets' power laws, guidance) of FILE; those whose variables
    FILE lacks are skipped."""
    from physgen.io import open_results
    from physgen.plots import FIGURES, draw_figures, figure_function

    kinds = tuple(kind or FIGURES)
    for k in kinds:
        figure_function(k)  # an unknown kind fails before the file is read
    ds = open_results(file)
    folder = out if out is not None else (file if file.is_dir() else file.parent)
    for path in draw_figures(ds, folder, kinds):
        typer.echo(str(path))
