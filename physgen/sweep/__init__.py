"""Phase-diagram sweeps: a TOML spec → a grid of cells → one netCDF per cell → ``results.nc``.

* :mod:`physgen.sweep.spec` — the spec format and its validation (:func:`load_spec`);
* :mod:`physgen.sweep.cells` — grid → one resolved ExperimentConfig per cell;
* :mod:`physgen.sweep.store` — the sweep folder: cells, manifest, resume, merge;
* :mod:`physgen.sweep.executors` — in-process, local processes, dask.distributed;
* :mod:`physgen.sweep.runner` — :func:`run_sweep`, :func:`sweep_status`, :func:`merge_sweep`,
  :func:`dry_run` (what the CLI calls).
"""

from __future__ import annotations

from physgen.sweep.cells import Cell, resolve_cells
from physgen.sweep.runner import SweepResult, dry_run, merge_sweep, run_sweep, sweep_status
from physgen.sweep.spec import Axis, ExecutorSpec, SweepSpec, load_spec
from physgen.sweep.store import CellStatus, SweepStore

__all__ = [
    "Axis",
    "Cell",
    "CellStatus",
    "ExecutorSpec",
    "SweepResult",
    "SweepSpec",
    "SweepStore",
    "dry_run",
    "load_spec",
    "merge_sweep",
    "resolve_cells",
    "run_sweep",
    "sweep_status",
]
