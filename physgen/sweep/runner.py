"""One call per sweep action: run (with resume), status, merge, dry run.

:func:`run_sweep` validates the spec and every cell before touching the disk, skips cells already
done (same config hash), computes the others on the chosen executor, writes each cell as it
finishes, then merges into ``DIR/results.nc`` and draws ``DIR/phase_diagram.png``. The CLI
(``physgen sweep run|status|merge``) is a thin wrapper over these functions.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from physgen.errors import ConfigError, PhysgenError
from physgen.io import git_commit
from physgen.sweep.cells import Cell, resolve_cells
from physgen.sweep.executors import CellFn, check_executor, default_cell_fn, iter_results
from physgen.sweep.spec import SweepSpec, load_spec, to_toml
from physgen.sweep.store import CellStatus, SweepStore

__all__ = [
    "SweepResult",
    "check_devices",
    "check_output_path",
    "dry_run",
    "merge_sweep",
    "run_sweep",
    "sweep_status",
]


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


def check_output_path(path: str | os.PathLike[str], option: str = "--out") -> Path:
    """Reject, before anything is written, an output path that cannot be created: not valid
    UTF-8 (netCDF needs UTF-8 names) or with a component longer than 255 bytes."""
    path = Path(path)
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        raise PhysgenError(f"{option} {path!s:.60}: the path is not valid UTF-8") from None
    for part in path.parts:
        if len(os.fsencode(part)) > 255:
            raise PhysgenError(f"{option}: the name {part[:40]}… is longer than 255 bytes")
    return path


def check_devices(cells: list[Cell]) -> None:
    """A ``train.device`` of ``cuda[:N]`` on a machine without that GPU is a
    :class:`ConfigError` naming the cell (``auto`` falls back to the CPU)."""
    wanted = [c for c in cells if c.config.train.device.startswith("cuda")]
    if not wanted:
        return
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    for cell in wanted:
        device = cell.config.train.device
        index = int(device.partition(":")[2] or 0)  # validated: cuda or cuda:N
        if not 0 <= index < count:
            where = f" (in cell {cell.label()})" if cell.coords else ""
            have = f"{count} CUDA device(s)" if count else "CUDA is not available"
            raise ConfigError(
                "train.device", f"{device!r} cannot be used: {have} on this machine{where}"
            )


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
    overwrite: bool = False,
    on_start: Callable[[int, int], None] | None = None,
    on_cell: Callable[[Cell, float], None] | None = None,
    on_progress: Callable[[Cell, int, int, str], None] | None = None,
    on_message: Callable[[str], None] | None = None,
) -> SweepResult:
    """Run (or resume) the sweep ``spec`` into the folder ``out``.

    ``workers``, ``executor`` (``"local"``/``"dask"``) and ``address`` override the spec's
    ``[executor]`` table. ``cell_fn`` defaults to :func:`physgen.experiments.run_experiment`.
    ``on_start(n_pending, n_cells)``, ``on_cell(cell, seconds)`` and ``on_progress(cell, done,
    total, message)`` (checkpoints inside a running cell) report progress; ``on_message`` gets
    one-line notes. ``plot`` (default: the spec's ``sweep.plot``) draws the figures of
    :func:`physgen.plots.sweep_kinds` (``out/phase_diagram.png``, …, ``out/guidance.png`` for
    the guidance experiment) after merging. A folder that belongs to another spec is an error
    unless ``overwrite``.

    Everything that can be checked is checked before the folder is touched: every cell's
    config (types, ranges, memory, steps), the output path, the devices, the dask scheduler,
    the folder's owner. An interrupt (Ctrl-C, SIGTERM raised as an exception) keeps the
    finished cells and stops the running ones.
    """
    spec = _as_spec(spec).with_executor(kind=executor, workers=workers, address=address)
    exe = spec.executor
    # The commit recorded in every file is read now, from the code that is about to run: read
    # when the first file is written, it would name whatever the tree holds by then.
    git_commit()
    cells = resolve_cells(spec)
    store = SweepStore(check_output_path(out), spec, cells, on_message=on_message)
    if store.root.exists() and not store.root.is_dir():
        raise PhysgenError(f"--out {store.root} is a file, not a folder")
    if not (exe.kind == "dask" and exe.address):  # a remote cluster has its own devices
        check_devices(cells)
    check_executor(exe)
    store.check_owner(overwrite=overwrite)
    fn = default_cell_fn() if cell_fn is None else cell_fn
    store.root.mkdir(parents=True, exist_ok=True)
    result = SweepResult(root=store.root)
    with store.lock():
        store.initialise(overwrite=overwrite, source=spec.source)
        pending = store.pending()
        result.skipped = [c.name for c in cells if c not in pending]
        if on_start is not None:
            on_start(len(pending), len(cells))
        with closing(iter_results(pending, fn, exe, on_progress)) as finished:
            for cell, ds, seconds in finished:
                store.write_cell(cell, ds, seconds)
                result.computed.append(cell.name)
                if on_cell is not None:
                    on_cell(cell, seconds)
        if merge:
            merged = store.merge()
            result.results = store.results_path
            if spec.plot if plot is None else plot:
                from physgen.plots import draw_figures_or_warn, sweep_kinds

                # the results are on disk: a figure that cannot be drawn is only a warning
                result.figures = draw_figures_or_warn(merged, store.root, sweep_kinds(merged))
    return result


def sweep_status(
    root: str | os.PathLike[str], *, on_message: Callable[[str], None] | None = None
) -> list[CellStatus]:
    """The state of every cell of the sweep folder ``root``."""
    return SweepStore.open(root, on_message=on_message).status()


def merge_sweep(
    root: str | os.PathLike[str], *, on_message: Callable[[str], None] | None = None
) -> Path:
    """Merge the cells of the sweep folder ``root`` into ``root/results.nc`` (holding the
    folder's lock; temp files of an interrupted merge are removed first)."""
    store = SweepStore.open(root, on_message=on_message)
    with store.lock():
        store.remove_temporary_files()
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
