"""The sweep folder: one netCDF per cell, a manifest, resume and merge.

Layout of a sweep folder ``DIR``::

    DIR/spec.toml          the spec as resolved (what `physgen sweep status|merge DIR` read back)
    DIR/manifest.json      one entry per cell: coordinates, config hash, file, state, seconds
    DIR/cells/<name>.nc    one file per finished cell, written atomically (temp file + os.replace)
    DIR/results.nc         the merged result (:meth:`SweepStore.merge`)

A cell file holds the cell's Dataset with the grid dimensions added as length-1 index
coordinates (xyzpy's cells on disk), so the merge is :func:`xarray.combine_by_coords` over the
files, with ``compat="no_conflicts"``: two files that claim the same grid point with different
values raise. A cell counts as *done* only if its file opens and its ``config_sha256`` attribute
equals the hash of the cell's resolved config; a missing, partial (killed before ``os.replace``),
corrupt or stale (config changed) file is recomputed. The manifest is a record for people and
``sweep status``; the files and their hashes are the truth.

One process drives a folder at a time (``DIR/.lock`` holds its host and pid; a lock left by a
killed process is taken over).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from physgen import __version__
from physgen.errors import PhysgenError
from physgen.io import (
    add_provenance,
    atomic_write_bytes,
    cf_attrs,
    open_results,
    write_netcdf,
)
from physgen.sweep.cells import Cell, linked_coords, resolve_cells
from physgen.sweep.spec import SweepSpec, load_spec, to_toml

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["CellState", "CellStatus", "SweepStore"]

CellState = Literal["done", "missing", "stale", "corrupt"]


@dataclass(frozen=True)
class CellStatus:
    """State of one cell on disk (``done``/``missing``/``stale``/``corrupt``) and the seconds it
    took (NaN when unknown)."""

    cell: Cell
    state: CellState
    seconds: float


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


class SweepStore:
    """A sweep folder for ``spec`` (see the module docstring). ``cells`` are the spec's resolved
    cells (computed when not given)."""

    def __init__(
        self, root: str | os.PathLike[str], spec: SweepSpec, cells: list[Cell] | None = None
    ):
        self.root = Path(root)
        self.spec = spec
        self.cells = resolve_cells(spec) if cells is None else cells
        self._manifest: dict[str, Any] | None = None

    @classmethod
    def open(cls, root: str | os.PathLike[str]) -> SweepStore:
        """The store of an existing sweep folder (reads ``DIR/spec.toml``)."""
        root = Path(root)
        if not (root / "spec.toml").is_file():
            raise PhysgenError(f"{root} is not a sweep folder (no spec.toml)")
        return cls(root, load_spec(root / "spec.toml"))

    @property
    def cells_dir(self) -> Path:
        return self.root / "cells"

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"

    @property
    def results_path(self) -> Path:
        return self.root / "results.nc"

    def cell_path(self, cell: Cell) -> Path:
        return self.cells_dir / f"{cell.name}.nc"

    # -- state -------------------------------------------------------------------------------

    def cell_state(self, cell: Cell) -> CellState:
        """``done`` when the cell file opens and carries the cell's config hash."""
        path = self.cell_path(cell)
        if not path.is_file():
            return "missing"
        try:
            import netCDF4

            with netCDF4.Dataset(path) as nc:
                sha = nc.getncattr("config_sha256") if "config_sha256" in nc.ncattrs() else None
        except (OSError, RuntimeError, KeyError):
            return "corrupt"
        return "done" if sha == cell.sha256 else "stale"

    def status(self) -> list[CellStatus]:
        """The state of every cell, in grid order."""
        entries = self.manifest().get("cells", {})
        return [
            CellStatus(c, self.cell_state(c), float(entries.get(c.name, {}).get("seconds", "nan")))
            for c in self.cells
        ]

    def pending(self) -> list[Cell]:
        """Cells to (re)compute: every cell that is not ``done``."""
        return [c for c in self.cells if self.cell_state(c) != "done"]

    # -- writing -----------------------------------------------------------------------------

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold ``DIR/.lock`` while running; another live process holding it is an error."""
        path = self.root / ".lock"
        me = {"host": socket.gethostname(), "pid": os.getpid()}
        if path.is_file():
            try:
                other = json.loads(path.read_text())
            except (OSError, ValueError):
                other = {}
            if other.get("host") == me["host"] and other.get("pid") != me["pid"]:
                try:
                    os.kill(int(other["pid"]), 0)
                except (OSError, KeyError, ValueError, TypeError):
                    pass  # the holder is dead (killed run): take the lock over
                else:
                    raise PhysgenError(
                        f"another sweep (pid {other['pid']}) is running in {self.root}"
                    )
        atomic_write_bytes(path, json.dumps(me).encode())
        try:
            yield
        finally:
            path.unlink(missing_ok=True)

    def initialise(self) -> None:
        """Create the folder, store the spec, remove temp files of killed runs, and write the
        manifest."""
        self.cells_dir.mkdir(parents=True, exist_ok=True)
        for tmp in self.cells_dir.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)
        atomic_write_bytes(self.root / "spec.toml", to_toml(self.spec.to_dict()).encode())
        old = self.manifest().get("cells", {})
        self._manifest = {
            "format": 1,
            "physgen_version": __version__,
            "title": self.spec.title,
            "spec_sha256": self.spec.sha256(),
            "dims": list(self.spec.dims),
            "shape": list(self.spec.shape),
            "updated": _now(),
            "cells": {
                c.name: {
                    "index": list(c.index),
                    "coords": c.coords,
                    "config_sha256": c.sha256,
                    "file": str(self.cell_path(c).relative_to(self.root)),
                    "state": self.cell_state(c),
                    **{
                        k: v
                        for k, v in old.get(c.name, {}).items()
                        if k in ("seconds", "finished")
                        and old[c.name].get("config_sha256") == c.sha256
                    },
                }
                for c in self.cells
            },
        }
        self._write_manifest()

    def manifest(self) -> dict[str, Any]:
        """The manifest as a dict (empty before :meth:`initialise`)."""
        if self._manifest is None:
            if not self.manifest_path.is_file():
                return {}
            try:
                self._manifest = json.loads(self.manifest_path.read_text())
            except (OSError, ValueError):
                return {}
        return self._manifest

    def _write_manifest(self) -> None:
        text = json.dumps(self.manifest(), indent=1, sort_keys=False)
        atomic_write_bytes(self.manifest_path, text.encode())

    def write_cell(self, cell: Cell, ds: xr.Dataset, seconds: float) -> Path:
        """Store the result of ``cell`` (grid dims added) atomically and record it."""
        out = ds.expand_dims({dim: [value] for dim, value in cell.coords.items()})
        for dim in cell.coords:
            out[dim].attrs = self._axis_attrs(dim)
        out = add_provenance(out, cell.config.to_json(), title=f"{self.spec.title}: {cell.label()}")
        out.attrs["sweep_cell"] = cell.name
        path = write_netcdf(out, self.cell_path(cell))
        entry = self.manifest()["cells"][cell.name]
        entry.update(state="done", seconds=round(seconds, 3), finished=_now())
        self.manifest()["updated"] = _now()
        self._write_manifest()
        return path

    def _axis_attrs(self, dim: str) -> dict[str, str]:
        axis = next(a for a in self.spec.axes if a.dim == dim)
        return cf_attrs(
            axis.key, f"sweep axis: the value of the config key {axis.key} in each cell"
        )

    # -- merging -----------------------------------------------------------------------------

    def merge(self, *, write: bool = True) -> xr.Dataset:
        """Combine every cell into one Dataset over the grid dims (and write ``results.nc``).

        Raises :class:`PhysgenError` when a cell is not done.
        """
        import numpy as np
        import xarray as xr

        states = self.status()
        todo = [s.cell.label() for s in states if s.state != "done"]
        if todo:
            raise PhysgenError(
                f"{len(todo)} of {len(states)} cells are not done ({todo[0]}, …): "
                f"run `physgen sweep run` on the spec again to finish them"
            )
        parts = [open_results(self.cell_path(c)) for c in self.cells]
        for cell, ds in zip(self.cells, parts, strict=True):
            for dim, value in cell.coords.items():
                got = ds[dim].values.tolist() if dim in ds.coords else None
                if got != [value]:
                    raise PhysgenError(
                        f"cannot merge: {self.cell_path(cell)} holds {dim}={got}, not [{value}]"
                    )
        parts = _positional(parts, self.spec.dims)
        for ds in parts:
            ds.attrs.pop("history", None)
        try:
            # "minimal": only variables that carry a grid dim are concatenated along it, so a
            # cell-level variable is never broadcast over another cell's positional dims.
            merged = xr.combine_by_coords(
                parts,
                data_vars="minimal",
                coords="minimal",
                compat="no_conflicts",
                join="outer",
                combine_attrs="drop_conflicts",
            )
        except (ValueError, xr.MergeError) as exc:
            raise PhysgenError(f"cannot merge the cells of {self.root}: {exc}") from None
        merged = merged.transpose(*self.spec.dims, ...)
        for var in merged.variables.values():
            # the cells' on-disk encodings (e.g. int dtype of a coordinate the outer join padded
            # with NaN) do not apply to the merged arrays
            var.encoding = {}
        for name, (dim, values) in linked_coords(self.spec).items():
            label = name if name not in merged.variables else f"linked_{name}"
            merged = merged.assign_coords({label: (dim, list(values))})
            merged[label].attrs = cf_attrs(
                name, f"value of a config key linked to the sweep axis {dim}"
            )
        shape = self.spec.shape
        sha = np.empty(shape, dtype=object)
        cfg = np.empty(shape, dtype=object)
        for c in self.cells:
            sha[c.index] = c.sha256
            cfg[c.index] = c.config.to_json()
        merged["cell_config_sha256"] = (self.spec.dims, sha)
        merged["cell_config_sha256"].attrs = cf_attrs(
            "config hash of the cell",
            "SHA-256 of the cell's resolved config JSON (its identity on resume)",
        )
        merged["cell_config_json"] = (self.spec.dims, cfg)
        merged["cell_config_json"].attrs = cf_attrs(
            "resolved config of the cell", "the full ExperimentConfig of the cell as canonical JSON"
        )
        for dim in self.spec.dims:
            merged[dim].attrs = self._axis_attrs(dim)
        merged.attrs.pop("sweep_cell", None)
        merged = add_provenance(merged, self.spec.to_json(), title=self.spec.title)
        merged.attrs["sweep_dims"] = list(self.spec.dims)
        merged.attrs["description"] = self.spec.description
        if write:
            write_netcdf(merged, self.results_path)
        return merged


def _positional(parts: list[xr.Dataset], grid_dims: tuple[str, ...]) -> list[xr.Dataset]:
    """Give every non-index coordinate that differs between cells (the checkpoint ``step`` of
    cells trained for different numbers of steps, over the ``checkpoint`` dim) the grid dims, so
    it is merged like a data variable instead of conflicting. Index coordinates (``level``,
    ``nn_bin``, …) are left to the outer join: their integer labels are the union over cells and
    a cell's data are NaN beyond its own labels, so the layout is the same whatever the grid."""
    import numpy as np

    if not parts:
        return parts
    names = [
        str(n)
        for n in parts[0].coords
        if n not in parts[0].dims and not set(grid_dims) & set(parts[0][n].dims)
    ]
    for name in names:
        ref = parts[0][name]
        if all(
            name in p.coords
            and p[name].dims == ref.dims
            and np.array_equal(p[name].values, ref.values)
            for p in parts
        ):
            continue
        out = []
        for p in parts:
            attrs = p[name].attrs
            coord = p[name].expand_dims({g: p[g].values for g in grid_dims})
            p = p.drop_vars(name).assign_coords({name: coord})
            p[name].attrs = attrs
            out.append(p)
        parts = out
    return parts
