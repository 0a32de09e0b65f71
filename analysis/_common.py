"""Helpers shared by the figure scripts: grid dimensions, per-cell iteration, the step axis."""

from __future__ import annotations

import argparse
import itertools
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

__all__ = [
    "cell_path",
    "grid_dims",
    "iter_cells",
    "levels",
    "log_axis",
    "main",
    "mean_over",
    "save_figure",
    "step_values",
]


def grid_dims(ds: xr.Dataset) -> list[str]:
    """The sweep's grid dimensions (``sweep_dims`` attribute of a merged ``results.nc``)."""
    raw = ds.attrs.get("sweep_dims", "[]")
    dims = json.loads(raw) if isinstance(raw, str) else list(raw)
    return [d for d in dims if d in ds.dims]


def iter_cells(ds: xr.Dataset) -> Iterator[tuple[str, xr.Dataset]]:
    """``(name, cell)`` for every grid point (a single ``("", ds)`` for a one-cell file)."""
    dims = grid_dims(ds)
    if not dims:
        yield "", ds
        return
    for values in itertools.product(*(ds[d].values for d in dims)):
        sel = dict(zip(dims, values, strict=True))
        name = "__".join(f"{d}={_fmt(v)}" for d, v in sel.items())
        yield name, ds.sel(sel)


def _fmt(v: object) -> str:
    return str(v.item() if hasattr(v, "item") else v)


def cell_path(out: Path, name: str) -> Path:
    """``curves.png`` → ``curves_n_train=125__depth=3.png`` for the cell ``name``."""
    return out if not name else out.with_name(f"{out.stem}_{name}{out.suffix}")


def step_values(da: xr.DataArray) -> tuple[str, np.ndarray]:
    """The training-time dimension of ``da`` (``step`` or ``checkpoint``) and its step values."""
    dim = "step" if "step" in da.dims else "checkpoint"
    return dim, np.asarray(da["step"].values, dtype=float)


def mean_over(da: xr.DataArray, keep: tuple[str, ...]) -> xr.DataArray:
    """``da`` averaged (NaN-skipping) over every dimension not in ``keep``."""
    return da.mean([d for d in da.dims if d not in keep], skipna=True)


def log_axis(ax: Any, which: str = "y") -> None:
    """Log scale on ``which`` axis of ``ax`` when it shows positive data (an empty or all-NaN
    panel, e.g. an onset never reached, keeps a linear axis instead of failing)."""
    lines = [*ax.get_lines(), *ax.collections]
    values: list[np.ndarray] = []
    for art in lines:
        if hasattr(art, "get_xydata"):
            xy = np.asarray(art.get_xydata(), dtype=float)
        else:
            xy = np.asarray(art.get_offsets(), dtype=float)
        if xy.size:
            values.append(xy[:, 0 if which == "x" else 1])
    data = np.concatenate(values) if values else np.empty(0)
    if np.any(np.isfinite(data) & (data > 0)):
        (ax.set_xscale if which == "x" else ax.set_yscale)("log")


def main(plot: Callable[[xr.Dataset, Path], list[Path]], doc: str | None) -> None:
    """Command-line entry of a figure script: ``FILE.nc OUT.png``."""
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("file", type=Path, help="physgen netCDF file (results.nc or a cell)")
    parser.add_argument("out", type=Path, help="output PNG path")
    args = parser.parse_args()
    with xr.open_dataset(args.file) as ds:
        for path in plot(ds.load(), args.out):
            print(path)


def save_figure(fig: Any, out: Path, dpi: int = 110) -> Path:
    """Lay out ``fig``, write it to ``out`` (creating the folder) and close it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    return out


def levels(da: xr.DataArray) -> list[xr.DataArray]:
    """``da`` at each filtering level k = 0, 1, … that holds data. In a merged sweep of several
    depths the level dimension is positional (``level_index``) and padded with NaN beyond a
    cell's own depth; those padded levels are left out."""
    dim = next((d for d in ("level", "level_index") if d in da.dims), None)
    if dim is None:
        return [da]
    out = [da.isel({dim: k}) for k in range(da.sizes[dim])]
    return [lv for lv in out if bool(np.isfinite(lv.values).any())]
