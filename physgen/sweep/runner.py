"""One call per sweep action: run (with resume), status, merge, dry run.

:func:`run_sweep` validates the spec and every cell before touching the disk, skips cells already
done (same config hash), computes the others on the chosen executor, writes each cell as it
finishes, then merges into ``DIR/results.nc`` and draws ``DIR/phase_diagram.png``. The CLI
(``physgen sweep run|status|merge``) is a thin wrapper over these functions.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from physgen.sweep.cells import Cell, resolve_cells
from physgen.sweep.executors import CellFn, default_cell_fn, iter_results
from physgen.sweep.spec import SweepSpec, load_spec, to_toml
from physgen.sweep.store import CellStatus, SweepStore

__all__ = ["SweepResult", "dry_run", "merge_sweep", "run_sweep", "sweep_status"]


@dataclass
class SweepResult:
    """What :func:`run_sweep` did: cells ``computed`` and ``skipped`` (names), the merged
    ``results`` path (``None`` without merge) and the ``figures`` drawn."""

    root: Path
    computed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    results: Path | None = None
    figures: list[Path] = field(default_factory=list)


def _as_spec(spec: SweepSpec | str | os.PathLike[str]) -> SweepSpec:
    return spec if isinstance(spec, SweepSpec) else load_spec(spec)


def run_sweep(
    spec: SweepSpec | str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    workers: int | None = None,
    executor: str | None = None,
    address: str | None = None,
    cell_fn: CellFn | None = None,
    merge: bool = True,
    plot: bool | None = None,
    on_start: Callable[[int, int], None] | None = None,
    on_cell: Callable[[Cell, float], None] | None = None,
) -> SweepResult:
    """Run (or resume) the sweep ``spec`` into the folder ``out``.

    ``workers``, ``executor`` (``"local"``/``"dask"``) and ``address`` override the spec's
    ``[executor]`` table. ``cell_fn`` defaults to :func:`physgen.experiments.run_experiment`.
    ``on_start(n_pending, n_cells)`` and ``on_cell(cell, seconds)`` report progress. ``plot``
    (default: the spec's ``sweep.plot``) draws ``out/phase_diagram.png`` after merging.
    """
    spec = _as_spec(spec).with_executor(kind=executor, workers=workers, address=address)
    exe = spec.executor
    cells = resolve_cells(spec)
    fn = default_cell_fn() if cell_fn is None else cell_fn
    store = SweepStore(out, spec, cells)
    store.root.mkdir(parents=True, exist_ok=True)
    result = SweepResult(root=store.root)
    with store.lock():
        store.initialise()
        pending = store.pending()
        result.skipped = [c.name for c in cells if c not in pending]
        if on_start is not None:
            on_start(len(pending), len(cells))
        for cell, ds, seconds in iter_results(pending, fn, exe):
            store.write_cell(cell, ds, seconds)
            result.computed.append(cell.name)
            if on_cell is not None:
                on_cell(cell, seconds)
        if merge:
            merged = store.merge()
            result.results = store.results_path
            if spec.plot if plot is None else plot:
                from physgen.plots import draw_figures_or_warn

                # the results are on disk: a figure that cannot be drawn is only a warning
                result.figures = draw_figures_or_warn(merged, store.root, ("phase_diagram",))
    return result


def sweep_status(root: str | os.PathLike[str]) -> list[CellStatus]:
    """The state of every cell of the sweep folder ``root``."""
    return SweepStore.open(root).status()


def merge_sweep(root: str | os.PathLike[str]) -> Path:
    """Merge the cells of the sweep folder ``root`` into ``root/results.nc``."""
    store = SweepStore.open(root)
    store.merge()
    return store.results_path


def dry_run(spec: SweepSpec | str | os.PathLike[str]) -> str:
    """The fully resolved config of every cell as TOML (each one a valid ``physgen train``
    input), validated, without running anything."""
    spec = _as_spec(spec)
    cells = resolve_cells(spec)
    blocks = [
        f"# {spec.title}: {len(cells)} cell(s) over {', '.join(spec.dims) or 'no axis'}; "
        f"executor {spec.executor.kind}, {spec.executor.workers} worker(s)"
    ]
    for i, cell in enumerate(cells, 1):
        head = f"# --- cell {i}/{len(cells)}: {cell.label()}  (config_sha256 {cell.sha256[:16]}…)"
        blocks.append(f"{head}\n{to_toml(cell.config.to_dict())}")
    return "\n".join(blocks)
