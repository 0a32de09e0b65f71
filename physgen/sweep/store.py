"""The sweep folder: one netCDF per cell, a manifest, resume and merge.

Layout of a sweep folder ``DIR``::

    DIR/spec.toml          the spec (written once; a user's own spec file there is never rewritten)
    DIR/manifest.json      the spec's hash and one entry per cell: coordinates, config hash, file,
                           state, seconds
    DIR/cells/<name>.nc    one file per finished cell, written atomically (temp file + os.replace)
    DIR/results.nc         the merged result (:meth:`SweepStore.merge`)

A cell file holds the cell's Dataset with the grid dimensions added as length-1 index
coordinates (xyzpy's cells on disk), so the merge is :func:`xarray.combine_by_coords` over the
files, with ``compat="no_conflicts"``: two files that claim the same grid point with different
values raise. A cell counts as *done* only if its file opens, its ``config_sha256`` attribute
equals the hash of the cell's resolved config (or its recorded ``config_json`` hashes to it under
the current code: identities that moved while the experiment did not), and its ``data_sha256``
attribute equals the checksum of its arrays (:func:`data_sha256`); a missing, partial (killed before ``os.replace``),
corrupt (unreadable, or one value changed) or stale (config changed) file is recomputed. The
manifest is a record for people and ``sweep status``; the files and their hashes are the truth,
so a manifest of the wrong shape is rebuilt from them.

**Ownership.** A folder belongs to one spec, the one whose hash its manifest records (or, without
a manifest, the one in ``DIR/spec.toml``). Running another spec into it is an error unless
``overwrite=True``; cells whose config is unchanged are kept even then.

**Lock.** One process drives a folder at a time: it holds an exclusive :func:`fcntl.flock` on
``DIR/.lock``, which records its host, pid and process start time. The kernel releases the lock
when the holder dies, so a lock is free for certain exactly when ``flock`` succeeds: a killed run
never blocks the next one, a live process that reuses an old pid is never mistaken for the holder,
and two processes entering at the same moment cannot both get it. A free lock whose record names
a process still running with the recorded start time (a holder that did not take the kernel lock)
is not taken either. A lock file that names another host is never taken over (``flock`` across hosts on a shared file system is not reliable): the
error names that host and pid and says how to clear it.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import socket
from collections.abc import Callable, Iterator
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

__all__ = ["CellState", "CellStatus", "SweepStore", "data_sha256", "process_start_time"]

CellState = Literal["done", "missing", "stale", "corrupt"]

#: Files of a sweep folder written through a temporary ``.NAME.PID.tmp`` beside them.
_OWN_FILES = ("spec.toml", "manifest.json", "results.nc", "phase_diagram.png")


@dataclass(frozen=True)
class CellStatus:
    """State of one cell on disk (``done``/``missing``/``stale``/``corrupt``) and the seconds it
    took (NaN when unknown)."""

    cell: Cell
    state: CellState
    seconds: float


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def data_sha256(ds: xr.Dataset) -> str:
    """SHA-256 over the name, dimensions, dtype kind, shape and values of every variable of
    ``ds`` (coordinates included, attributes excluded), in name order. Strings are hashed as
    UTF-8 text, so the value is the same for the Dataset in memory and as read back from netCDF.
    """
    import numpy as np

    h = hashlib.sha256()
    for name in sorted(map(str, ds.variables)):
        var = ds.variables[name]
        values = np.asarray(var.values)
        h.update(f"{name}|{','.join(map(str, var.dims))}|{values.shape}|".encode())
        if values.dtype.kind in "OSU":
            h.update(b"str|" + "\0".join(map(str, values.ravel().tolist())).encode())
        else:
            h.update(f"{values.dtype.kind}{values.dtype.itemsize}|".encode())
            h.update(np.ascontiguousarray(values).tobytes())
    return h.hexdigest()


def process_start_time(pid: int) -> int | None:
    """Start time of process ``pid`` in clock ticks since boot (``/proc/PID/stat`` field 22),
    ``None`` when unknown: with the pid it identifies a process even after pid reuse."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            stat = fh.read()
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _valid_manifest(obj: Any) -> bool:
    """The shape :meth:`SweepStore.initialise` writes: a table with a ``cells`` table of tables
    whose ``seconds`` (when present) is a number."""
    if not isinstance(obj, dict) or not isinstance(obj.get("cells"), dict):
        return False
    if not isinstance(obj.get("spec_sha256", ""), str):
        return False
    for entry in obj["cells"].values():
        if not isinstance(entry, dict):
            return False
        seconds = entry.get("seconds", 0.0)
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            return False
        if not isinstance(entry.get("config_sha256", ""), str):
            return False
    return True


class SweepStore:
    """A sweep folder for ``spec`` (see the module docstring). ``cells`` are the spec's resolved
    cells (computed when not given). ``on_message`` receives one-line notes (a manifest rebuilt,
    a stale lock taken over); by default they are collected in :attr:`messages`."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        spec: SweepSpec,
        cells: list[Cell] | None = None,
        *,
        on_message: Callable[[str], None] | None = None,
    ):
        self.root = Path(root)
        self.spec = spec
        self.cells = resolve_cells(spec) if cells is None else cells
        self.messages: list[str] = []
        self._on_message = on_message or self.messages.append
        self._manifest: dict[str, Any] | None = None

    @classmethod
    def open(
        cls, root: str | os.PathLike[str], *, on_message: Callable[[str], None] | None = None
    ) -> SweepStore:
        """The store of an existing sweep folder (reads ``DIR/spec.toml``)."""
        root = Path(root)
        if not (root / "spec.toml").is_file():
            raise PhysgenError(f"{root} is not a sweep folder (no spec.toml)")
        return cls(root, load_spec(root / "spec.toml"), on_message=on_message)

    @property
    def cells_dir(self) -> Path:
        return self.root / "cells"

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"

    @property
    def results_path(self) -> Path:
        return self.root / "results.nc"

    @property
    def spec_path(self) -> Path:
        return self.root / "spec.toml"

    def cell_path(self, cell: Cell) -> Path:
        return self.cells_dir / f"{cell.name}.nc"

    # -- state -------------------------------------------------------------------------------

    def cell_state(self, cell: Cell) -> CellState:
        """``done`` when the cell file opens, carries the cell's config hash and its arrays
        match their checksum; ``stale`` for another config; ``corrupt`` otherwise."""
        path = self.cell_path(cell)
        if not path.is_file():
            return "missing"
        try:
            ds = open_results(path)
        except PhysgenError:
            return "corrupt"
        if not _of_config(ds.attrs, cell):
            return "stale"
        return "done" if ds.attrs.get("data_sha256") == data_sha256(ds) else "corrupt"

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

    def owner(self) -> str | None:
        """Hash of the spec the folder belongs to: the manifest's record, else that of
        ``DIR/spec.toml``; ``"unknown"`` for a folder with sweep files but no readable spec;
        ``None`` for a folder without sweep files."""
        sha = self.manifest().get("spec_sha256")
        if sha:
            return str(sha)
        if self.spec_path.is_file():
            try:
                return load_spec(self.spec_path).sha256()
            except PhysgenError:
                return "unknown"
        own = (self.manifest_path, self.results_path, self.cells_dir)
        return "unknown" if any(p.exists() for p in own) else None

    def check_owner(self, *, overwrite: bool = False) -> None:
        """Refuse (unless ``overwrite``) a folder that belongs to another spec."""
        owner = self.owner()
        if overwrite or owner is None or owner == self.spec.sha256():
            return
        what = "another spec" if owner != "unknown" else "files of an unknown sweep"
        raise PhysgenError(
            f"{self.root} holds {what} ({self.spec_path.name} hash {owner[:12]}, this spec "
            f"{self.spec.sha256()[:12]}): choose a new --out, or pass --overwrite to replace "
            "its results (cells whose config is unchanged are kept)"
        )

    # -- writing -----------------------------------------------------------------------------

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold ``DIR/.lock`` (see the module docstring); a live holder, or a lock file that
        names another host, is a :class:`PhysgenError` naming its host and pid."""
        import fcntl

        path = self.root / ".lock"
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = _read_lock(path)
                os.close(fd)
                raise PhysgenError(
                    f"another sweep ({_holder_text(holder)}) is running in {self.root}"
                ) from None
            # the previous holder may have unlinked the file between our open and flock: then
            # we locked an orphan inode, and must start again on the file now at ``path``
            try:
                same = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        holder = _read_lock(path)
        me = socket.gethostname()
        if holder.get("host") not in (None, me):
            os.close(fd)
            raise PhysgenError(
                f"{path} names another host ({_holder_text(holder)}): a sweep may be running "
                f"there; if not, delete {path} and run again"
            )
        if holder.get("pid") not in (None, os.getpid()):
            if _alive_as_recorded(holder):
                os.close(fd)
                raise PhysgenError(
                    f"another sweep ({_holder_text(holder)}) is running in {self.root}"
                )
            self._on_message(f"took over the lock of a finished run ({_holder_text(holder)})")
        try:
            pid = os.getpid()
            record = {"host": me, "pid": pid, "start_time": process_start_time(pid)}
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(record).encode(), 0)
            yield
        finally:
            # unlink before unlocking, so a waiting process never locks a file we then remove
            with contextlib.suppress(OSError):
                if os.stat(path).st_ino == os.fstat(fd).st_ino:
                    path.unlink()
            os.close(fd)

    def remove_temporary_files(self) -> None:
        """Delete the temporary files of killed writers (cells, manifest, merge, figure); call
        it while holding :meth:`lock`, so no live writer owns them."""
        for tmp in self.cells_dir.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)
        for name in _OWN_FILES:
            for tmp in self.root.glob(f".{name}.*.tmp"):
                tmp.unlink(missing_ok=True)

    def initialise(self, *, overwrite: bool = False, source: Path | None = None) -> None:
        """Claim the folder for the spec (:meth:`check_owner`), remove temp files of killed
        runs, store the spec (never over ``source``, the user's own spec file, nor over an
        identical one) and write the manifest."""
        self.check_owner(overwrite=overwrite)
        self.cells_dir.mkdir(parents=True, exist_ok=True)
        self.remove_temporary_files()
        if not self._spec_stored(source):
            atomic_write_bytes(self.spec_path, to_toml(self.spec.to_dict()).encode())
        old = self.manifest().get("cells", {})
        if self.manifest().get("spec_sha256") not in (None, self.spec.sha256()):
            self.results_path.unlink(missing_ok=True)  # the merge of the replaced spec
        states = {c.name: self.cell_state(c) for c in self.cells}
        self._manifest = {
            "format": 2,
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
                    "state": states[c.name],
                    **{
                        k: v
                        for k, v in old.get(c.name, {}).items()
                        if k in ("seconds", "finished")
                        and self._record_of(c, old[c.name], states[c.name])
                    },
                }
                for c in self.cells
            },
        }
        self._write_manifest()

    def _record_of(self, cell: Cell, entry: dict[str, Any], state: CellState) -> bool:
        """Whether an old manifest ``entry`` (its seconds, its finish time) describes the cell's
        file: it names the cell's identity, or the cell is done and the entry names the identity
        its file recorded (one that moved while the experiment did not, :func:`_of_config`)."""
        recorded = entry.get("config_sha256")
        if recorded == cell.sha256:
            return True
        if state != "done":
            return False
        return recorded == open_results(self.cell_path(cell)).attrs.get("config_sha256")

    def _spec_stored(self, source: Path | None) -> bool:
        """Whether ``DIR/spec.toml`` already holds this spec, or is the user's ``source``."""
        if not self.spec_path.is_file():
            return False
        if source is not None and source.is_file() and os.path.samefile(source, self.spec_path):
            return True
        try:
            return load_spec(self.spec_path).sha256() == self.spec.sha256()
        except PhysgenError:
            return False

    def manifest(self) -> dict[str, Any]:
        """The manifest as a dict (empty before :meth:`initialise`, or when the file is not a
        manifest: then a message says it is rebuilt from the cell files)."""
        if self._manifest is None:
            if not self.manifest_path.is_file():
                return {}
            try:
                loaded = json.loads(self.manifest_path.read_text())
            except (OSError, ValueError):
                loaded = None
            if not _valid_manifest(loaded):
                self._on_message(
                    f"{self.manifest_path} is not a valid manifest; rebuilt from the cell files"
                )
                loaded = {}
            self._manifest = loaded
        return self._manifest

    def _write_manifest(self) -> None:
        text = json.dumps(self.manifest(), indent=1, sort_keys=False)
        atomic_write_bytes(self.manifest_path, text.encode())

    def write_cell(self, cell: Cell, ds: xr.Dataset, seconds: float) -> Path:
        """Store the result of ``cell`` (grid dims added — except those of inner axes, which
        the cell's result has as its own, :data:`physgen.sweep.spec.INNER_AXES` — checksum in
        ``data_sha256``) atomically and record it."""
        inner = {a.dim for a in self.spec.axes if a.inner}  # the cell's own dims already
        clash = [dim for dim in cell.coords if dim in ds.variables and dim not in inner]
        if clash:
            raise PhysgenError(
                f"the cell result already has a variable {clash[0]!r}, the name of a grid axis"
            )
        out = ds.expand_dims(
            {dim: [value] for dim, value in cell.coords.items() if dim not in inner}
        )
        for dim in cell.coords:
            out[dim].attrs = self._axis_attrs(dim)
        out = add_provenance(out, cell.config.to_json(), title=f"{self.spec.title}: {cell.label()}")
        out.attrs["sweep_cell"] = cell.name
        out.attrs["data_sha256"] = data_sha256(out)
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
        parts = _vary_over_grid(_union_labels(parts, self.spec.dims), self.spec.dims)
        for ds in parts:
            ds.attrs.pop("history", None)
        try:
            # "minimal": only variables that carry a grid dim are concatenated along it, so a
            # cell-level variable is never broadcast over another cell's dims.
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
        merged.attrs["data_sha256"] = data_sha256(merged)
        if write:
            write_netcdf(merged, self.results_path)
        return merged


def _of_config(attrs: dict[str, Any], cell: Cell) -> bool:
    """Whether a cell file with global attributes ``attrs`` holds the experiment of ``cell``:
    its recorded ``config_sha256`` is the cell's, or its recorded ``config_json``, read by the
    current code, hashes to the cell's. The second covers identities that moved while the
    experiment did not: a file written while a key of :data:`physgen.config.LATE_KEYS` was
    still hashed at its default keeps its finished work."""
    from physgen.config import ExperimentConfig

    if attrs.get("config_sha256") == cell.sha256:
        return True
    try:
        recorded = ExperimentConfig.from_dict(json.loads(str(attrs["config_json"])))
    except (KeyError, ValueError, TypeError, PhysgenError):
        return False  # no readable config, or one the current code no longer accepts
    return recorded.sha256() == cell.sha256


def _union_labels(parts: list[xr.Dataset], grid_dims: tuple[str, ...]) -> list[xr.Dataset]:
    """Reindex every cell to the union of the labels of each non-grid dimension whose labels
    differ between cells (``level`` 0..L of cells of different depths, the ``kl_t`` steps of
    cells with different ``kl_t_points``): a cell's data are NaN at labels it does not have, the
    labels keep their type, and the layout is the same whatever the grid (instead of
    ``combine_by_coords`` taking the dimension for one to concatenate along)."""
    import numpy as np

    dims = {str(d) for p in parts for d in p.dims if d in p.indexes} - set(grid_dims)
    for dim in sorted(dims):
        labels = [p.indexes[dim] if dim in p.indexes else None for p in parts]
        if any(lab is None for lab in labels) or all(lab.equals(labels[0]) for lab in labels):
            continue
        union = np.unique(np.concatenate([lab.to_numpy() for lab in labels]))
        parts = [p.reindex({dim: union}) for p in parts]
    return parts


def _vary_over_grid(parts: list[xr.Dataset], grid_dims: tuple[str, ...]) -> list[xr.Dataset]:
    """Give the grid dims to every variable without them whose values differ between cells
    (``net_seed`` over a ``seed`` axis, the ``kl_t_frac`` coordinate over a ``metrics.kl_t_points``
    axis), so that ``combine_by_coords`` concatenates it instead of reporting a conflict. A
    variable equal in every cell stays as it is (one copy in the results)."""
    if len(parts) < 2:
        return parts
    first = parts[0]
    varying = [
        name
        for name, var in first.variables.items()
        if name not in first.dims
        and not set(var.dims) & set(grid_dims)
        and not all(name in p.variables and var.equals(p.variables[name]) for p in parts[1:])
    ]
    out = []
    for p in parts:
        p = p.copy()
        for name in varying:
            if name in p.variables:
                attrs = p[name].attrs
                grown = p[name].expand_dims({g: p[g].values for g in grid_dims})
                if name in p.coords:
                    p = p.assign_coords({name: grown})
                else:
                    p[name] = grown
                p[name].attrs = attrs
        out.append(p)
    return out


def _read_lock(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _alive_as_recorded(holder: dict[str, Any]) -> bool:
    """Whether the process a lock record names is still the one that wrote it: its pid runs
    with the recorded start time. A record without a start time, or a pid now used by another
    process, is not."""
    try:
        pid, start = int(holder["pid"]), holder.get("start_time")
    except (KeyError, TypeError, ValueError):
        return False
    return start is not None and process_start_time(pid) == start


def _holder_text(holder: dict[str, Any]) -> str:
    if not holder:
        return "holder unknown"
    return f"host {holder.get('host', '?')}, pid {holder.get('pid', '?')}"
