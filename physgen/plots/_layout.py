"""How the figures read a results file: the one place that knows its dimension names.

A results file (one sweep cell or a merged ``results.nc``) holds curves over a training-time
dimension and, for trees, a filtering-level dimension. The figures never name those dimensions
themselves: they go through these accessors, so a change of the file layout is adapted here.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import xarray as xr

__all__ = [
    "DIFFUSION_DIMS",
    "LEVEL_DIMS",
    "TRAINING_DIMS",
    "cell_path",
    "diffusion_axis",
    "grid_dims",
    "iter_cells",
    "levels",
    "mean_over",
    "onset_mean",
    "training_axis",
]

#: names of the training-time dimension, in order of preference; its step values are the
#: coordinate (or variable) ``step``
TRAINING_DIMS = ("checkpoint", "step")
#: names of the filtering-level dimension k = 0 … L
LEVEL_DIMS = ("level", "level_index")
#: names of the diffusion-time dimension of the KL-along-time curves; the fractions t/T are the
#: coordinate ``<dim>_frac`` beside it
DIFFUSION_DIMS = ("kl_t", "t")


def grid_dims(ds: xr.Dataset) -> list[str]:
    """The sweep's grid dimensions (the ``sweep_dims`` attribute of a merged ``results.nc``);
    ``[]`` for a single cell."""
    raw = ds.attrs.get("sweep_dims", "[]")
    dims = json.loads(raw) if isinstance(raw, str) else list(raw)
    return [d for d in dims if d in ds.dims]


def iter_cells(ds: xr.Dataset) -> Iterator[tuple[str, xr.Dataset]]:
    """``(name, cell)`` for every grid point, ``name`` like ``n_train=64__depth=2`` (a single
    ``("", ds)`` for a one-cell file), and for every ``weights`` (raw weights, each average)
    when the file has more than one, so no figure averages curves of different weights."""
    dims = grid_dims(ds)
    if "weights" in ds.dims:
        if ds.sizes["weights"] == 1:
            ds = ds.isel(weights=0)
        else:
            dims = [*dims, "weights"]
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
    """``curves.png`` → ``curves_n_train=64__depth=2.png`` for the cell ``name``."""
    return out if not name else out.with_name(f"{out.stem}_{name}{out.suffix}")


def training_axis(da: xr.DataArray) -> tuple[str, np.ndarray]:
    """The training-time dimension of ``da`` and its step values, shape ``(n_checkpoints,)``
    (``da`` must belong to one cell: one step value per checkpoint)."""
    dim = next((d for d in TRAINING_DIMS if d in da.dims), None)
    if dim is None:
        raise ValueError(f"{da.name!r} has no training-time dimension ({', '.join(TRAINING_DIMS)})")
    steps = np.asarray(da["step"].values if "step" in da.coords else da[dim].values, dtype=float)
    return dim, steps.reshape(-1)


def mean_over(da: xr.DataArray, keep: tuple[str, ...]) -> xr.DataArray:
    """``da`` averaged (NaN-skipping) over every dimension not in ``keep``."""
    return da.mean([d for d in da.dims if d not in keep], skipna=True)


def levels(da: xr.DataArray) -> list[xr.DataArray]:
    """``da`` at each filtering level k = 0, 1, … that holds data. In a merged sweep of several
    depths a shallow cell has no data at the deeper levels: those levels are left out."""
    dim = next((d for d in LEVEL_DIMS if d in da.dims), None)
    if dim is None:
        return [da]
    out = [da.isel({dim: k}) for k in range(da.sizes[dim])]
    return [lv for lv in out if bool(np.isfinite(lv.values).any())]


def diffusion_axis(da: xr.DataArray) -> tuple[str, np.ndarray]:
    """The diffusion-time dimension of a curve along t and its values t/T (the ``<dim>_frac``
    coordinate beside it when present, else the steps themselves)."""
    dim = next((d for d in DIFFUSION_DIMS if d in da.dims), None)
    if dim is None:
        raise ValueError(
            f"{da.name!r} has no diffusion-time dimension ({', '.join(DIFFUSION_DIMS)})"
        )
    frac = f"{dim}_frac"
    return dim, np.asarray(da[frac].values if frac in da.coords else da[dim].values, float)


def onset_mean(cell: xr.Dataset, name: str) -> float | None:
    """The NaN-skipping mean of the onset ``name`` of one cell; ``None`` when absent or never
    reached."""
    if name not in cell or not bool(np.isfinite(cell[name].values).any()):
        return None
    return float(cell[name].mean(skipna=True))
