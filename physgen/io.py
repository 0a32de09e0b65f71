"""netCDF files of physgen: atomic writes, CF-style attributes, provenance, opening.

Every file physgen writes (a sweep cell, a merged ``results.nc``, ``physgen train``/``sample``
outputs) follows one schema:

* every data variable and coordinate carries ``long_name``, ``units`` and ``description``
  attributes (:func:`cf_attrs`); units are UDUNITS strings, ``"1"`` (:data:`DIMENSIONLESS`) for
  nats, counts and steps, whose meaning is in ``long_name`` and ``description`` (``"nat"`` reads
  as a pressure in UDUNITS, ``"step"`` is not a unit);
* global attributes (CF-1.10 and the highly recommended ACDD-1.3 ones): ``Conventions``,
  ``title``, ``summary``, ``keywords``, ``source`` (physgen version),
  ``history`` (time-stamped command lines, newest last), ``references`` (arXiv ids),
  ``date_created`` (ISO 8601, UTC), ``config_json`` (the full resolved configuration as one JSON
  string), ``config_sha256`` (SHA-256 of that string: the identity used to resume sweeps),
  ``*_version`` of the libraries that produced it, and ``git_commit`` of the source tree (or
  ``"unknown"``).

A sweep cell's own attributes (:func:`cell_attrs`) hold no wall-clock quantity, so the same
configuration gives an identical Dataset; :func:`add_provenance` adds the time, command line,
versions and commit when a file is written. This module is the one owner of attributes: the
experiments and the sweep store call it.

netCDF attributes cannot hold ``None``, booleans or mappings: :func:`netcdf_safe_attrs` stores
booleans as 0/1, mappings and lists of strings as JSON strings, and drops ``None``;
:func:`check_netcdf_safe` rejects a Dataset that still holds one.

xarray cannot append to an existing netCDF file, so a file is always written whole, to a temporary
name in the target folder and then moved over the target with :func:`os.replace` (atomic on
POSIX): a reader (or a resumed sweep) never sees a half-written file.
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from physgen import __version__
from physgen.errors import PhysgenError

if TYPE_CHECKING:
    import xarray as xr

__all__ = [
    "DIMENSIONLESS",
    "KEYWORDS",
    "REFERENCES",
    "add_provenance",
    "atomic_write_bytes",
    "cell_attrs",
    "cf_attrs",
    "check_netcdf_safe",
    "command_line",
    "describe",
    "git_commit",
    "missing_cf_attrs",
    "netcdf_safe_attrs",
    "open_results",
    "provenance_attrs",
    "sweep_dims",
    "write_netcdf",
]

REFERENCES = (
    "Garnier-Brun, Biggio, Beltrame, Mezard, Saglietti, Biased Generalization in Diffusion "
    "Models, arXiv:2603.03469; Garnier-Brun, Mezard, Moscato, Saglietti, arXiv:2408.15138; "
    "Bonnaire, Urfin, Biroli, Mezard, arXiv:2505.17638; Biroli, Bonnaire, de Bortoli, Mezard, "
    "arXiv:2402.18491"
)
_CONVENTIONS = "CF-1.10, ACDD-1.3"
KEYWORDS = (
    "diffusion models, biased generalisation, memorisation, statistical physics of learning, "
    "hierarchical tree grammar, belief propagation, Gaussian mixture"
)
"""ACDD ``keywords`` of every physgen file."""
_SUMMARY = (
    "Diagnostics of generalisation and memorisation along the training of small diffusion "
    "models on toy data with exact scores, produced by physgen (see the title and config_json "
    "for the data model, grid and settings)."
)
DIMENSIONLESS = "1"
"""The UDUNITS string of every quantity physgen records (nats, counts, steps, fractions)."""
_VERSIONED = ("numpy", "xarray", "netCDF4", "torch", "numba", "dask")


def command_line() -> str:
    """The current command line as one string (``physgen sweep run …``)."""
    prog = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
    return " ".join([prog, *sys.argv[1:]])


@functools.lru_cache(maxsize=1)
def git_commit() -> str:
    """The git commit of the physgen source tree, ``"<sha>-dirty"`` with local edits, or
    ``"unknown"`` (an installed wheel, or no git)."""
    root = Path(__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return "unknown"
    try:
        sha = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{sha}-dirty" if dirty else sha


@functools.lru_cache(maxsize=1)
def _library_versions() -> dict[str, str]:
    out = {"physgen_version": __version__, "python_version": sys.version.split()[0]}
    for name in _VERSIONED:
        try:
            out[f"{name.lower()}_version"] = version(name)
        except PackageNotFoundError:
            out[f"{name.lower()}_version"] = "not installed"
    return out


def provenance_attrs(
    config_json: str | None = None, *, title: str = "physgen output", history: str | None = None
) -> dict[str, Any]:
    """The global attributes of a physgen file.

    ``config_json`` is the canonical JSON of the resolved configuration (its SHA-256 becomes
    ``config_sha256``); ``history`` defaults to the current command line, time-stamped.
    """
    now = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)
    stamp = now.isoformat().replace("+00:00", "Z")
    attrs = _static_attrs(title, config_json)
    attrs["history"] = f"{stamp}: {history if history is not None else command_line()}"
    attrs["date_created"] = stamp
    attrs.update(_library_versions())
    attrs["git_commit"] = git_commit()
    return attrs


def _static_attrs(title: str, config_json: str | None, summary: str = _SUMMARY) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "Conventions": _CONVENTIONS,
        "title": title,
        "summary": summary,
        "keywords": KEYWORDS,
        "source": f"physgen {__version__}",
        "references": REFERENCES,
    }
    if config_json is not None:
        attrs["config_json"] = config_json
        attrs["config_sha256"] = hashlib.sha256(config_json.encode()).hexdigest()
    return attrs


def cell_attrs(
    config_json: str, title: str, summary: str, options: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The global attributes of one experiment cell, free of wall-clock quantities.

    ``options`` are recorded as ``physgen_<name>`` (choices physgen makes on top of the paper,
    e.g. the weight average and the bias rule), made netCDF-safe.
    """
    attrs = _static_attrs(title, config_json, summary)
    attrs.update(netcdf_safe_attrs({f"physgen_{k}": v for k, v in (options or {}).items()}))
    return attrs


def cf_attrs(long_name: str, description: str, units: str = DIMENSIONLESS) -> dict[str, str]:
    """The CF attributes of one variable (``units`` a UDUNITS string)."""
    return {"long_name": long_name, "units": units, "description": description}


def add_provenance(
    ds: xr.Dataset,
    config_json: str | None = None,
    *,
    title: str = "physgen output",
    history: str | None = None,
) -> xr.Dataset:
    """A copy of ``ds`` with :func:`provenance_attrs` set; an earlier ``history`` is kept
    (new line appended), as CF asks."""
    out = ds.copy()
    attrs = provenance_attrs(config_json, title=title, history=history)
    if ds.attrs.get("summary"):  # an experiment's own summary says more than the generic one
        attrs["summary"] = ds.attrs["summary"]
    old = ds.attrs.get("history")
    if old:
        attrs["history"] = f"{old}\n{attrs['history']}"
    out.attrs = {**ds.attrs, **attrs}
    return out


def _safe_value(value: Any) -> Any:
    if isinstance(value, bool | np.bool_):
        return int(value)
    if isinstance(value, Mapping):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, list | tuple):
        arr = np.asarray(value)
        if arr.dtype.kind in "iuf" and arr.ndim == 1 and arr.size:
            return arr
        return json.dumps(list(value))
    return value


def netcdf_safe_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """``attrs`` with values netCDF can store: bool → 0/1, mapping or non-numeric list → JSON
    string, numeric list → 1-d array, ``None`` dropped."""
    return {str(k): _safe_value(v) for k, v in attrs.items() if v is not None}


def check_netcdf_safe(ds: xr.Dataset) -> None:
    """Raise :class:`PhysgenError` if an attribute cannot be written to netCDF (dict, None,
    bool) or a variable lacks ``long_name``/``units``/``description``."""
    items = [("<global>", ds.attrs)] + [(str(k), v.attrs) for k, v in ds.variables.items()]
    for owner, attrs in items:
        for key, value in attrs.items():
            if value is None or isinstance(value, dict | bool | np.bool_):
                raise PhysgenError(
                    f"attribute {key!r} of {owner} is a {type(value).__name__}: not netCDF-safe"
                )
    missing = missing_cf_attrs(ds)
    if missing:
        raise PhysgenError(f"variable {missing[0]!r} lacks long_name, units or description")


def missing_cf_attrs(ds: xr.Dataset) -> list[str]:
    """Names of the variables (data and coordinates) lacking ``long_name``, ``units`` or
    ``description``: an empty list for a well-formed physgen file."""
    need = ("long_name", "units", "description")
    return [
        str(name) for name, var in ds.variables.items() if any(k not in var.attrs for k in need)
    ]


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and
    :func:`os.replace` (readers see the old file or the new one, never a partial one)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_netcdf(ds: xr.Dataset, path: str | os.PathLike[str]) -> Path:
    """Write ``ds`` to ``path`` (netCDF4) atomically; attributes are made netCDF-safe.

    The parent folder must exist. Returns the path written.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise PhysgenError(f"cannot write {path}: folder {path.parent} does not exist")
    out = ds.copy()
    out.attrs = netcdf_safe_attrs(ds.attrs)
    for name in out.variables:
        out[name].attrs = netcdf_safe_attrs(ds[name].attrs)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        out.to_netcdf(tmp, engine="netcdf4", format="NETCDF4")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def open_results(path: str | os.PathLike[str]) -> xr.Dataset:
    """Open a physgen netCDF file (a sweep's ``results.nc``, a cell, a ``physgen train`` output)
    fully loaded into memory, the file closed again (so a running sweep can replace it).

    Raises :class:`~physgen.errors.PhysgenError` for a missing or unreadable file.
    """
    import xarray as xr

    path = Path(path)
    if path.is_dir() and (path / "results.nc").is_file():
        path = path / "results.nc"
    if not path.is_file():
        raise PhysgenError(f"no such file: {path}")
    try:
        with xr.open_dataset(path, engine="netcdf4") as ds:
            return ds.load()
    except (OSError, ValueError, RuntimeError) as exc:
        raise PhysgenError(f"{path} is not a readable netCDF file ({exc})") from None


def sweep_dims(ds: xr.Dataset) -> list[str]:
    """The grid dimensions of a merged sweep (its ``sweep_dims`` attribute, a JSON list), those
    present in ``ds``; ``[]`` when the attribute is missing or not a JSON list of names."""
    raw = ds.attrs.get("sweep_dims", "[]")
    try:
        names = json.loads(raw) if isinstance(raw, str) else list(raw)
    except (ValueError, TypeError):
        return []
    if not isinstance(names, list):
        return []
    return [d for d in names if isinstance(d, str) and d in ds.dims]


def describe(ds: xr.Dataset) -> str:
    """A plain-text summary of a physgen file: provenance, grid, dimensions, variables and the
    onsets (mean ± standard deviation over pairs at each grid point)."""

    lines = [str(ds.attrs.get("title", "(untitled)"))]
    for key in ("source", "date_created", "git_commit", "config_sha256"):
        if key in ds.attrs:
            lines.append(f"  {key}: {ds.attrs[key]}")
    grid = sweep_dims(ds)
    if grid:
        lines.append("grid:")
        lines += [f"  {d} = {ds[d].values.tolist()}" for d in grid]
    lines.append("dimensions: " + ", ".join(f"{d}={n}" for d, n in ds.sizes.items()))
    lines.append(f"variables ({len(ds.data_vars)}):")
    for name, var in ds.data_vars.items():
        unit = var.attrs.get("units", "?")
        lines.append(
            f"  {name}({', '.join(map(str, var.dims))}): {var.attrs.get('long_name', '')} [{unit}]"
        )
    taus = [v for v in ("tau_bias", "tau_nn", "tau_test", "tau_mem") if v in ds.data_vars]
    if taus:
        lines.append("onsets (training step, mean ± sd over pairs; NaN = not reached):")
        stacked = ds[taus].stack(cell=grid) if grid else ds[taus].expand_dims(cell=[0])
        for i in range(stacked.sizes["cell"]):
            cell = stacked.isel(cell=i)
            where = ", ".join(f"{d}={cell[d].item()}" for d in grid) or "cell"
            parts = []
            for v in taus:
                vals = np.asarray(cell[v].values, dtype=float).ravel()
                ok = vals[~np.isnan(vals)]
                parts.append(f"{v}={ok.mean():.0f}±{ok.std():.0f}" if ok.size else f"{v}=NaN")
            lines.append(f"  {where}: " + "  ".join(parts))
    return "\n".join(lines)
