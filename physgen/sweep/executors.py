"""Running cells: in-process, a local process pool, or dask.distributed.

A cell function maps a resolved :class:`~physgen.config.ExperimentConfig` to an
:class:`xarray.Dataset` (by default :func:`physgen.experiments.run_experiment`). Executors send
each pending cell's config (as JSON) to a worker, get the Dataset back and hand it to the driver,
which alone writes the sweep folder (so workers need no shared file system).

Oversubscription: a cell runs ``train.threads`` threads. Every worker pins torch, numba and the
BLAS/OpenMP pools to that number, through the environment before those libraries load
(``OMP_NUM_THREADS`` …, spawn-started pool workers and dask nannies) and through
``threadpoolctl`` / ``torch.set_num_threads`` / ``numba.set_num_threads`` at each cell, so
``workers × threads`` never exceeds what the user asked for.

Parallel executors start the costliest cells first (optimiser steps × networks, longest
processing time first), so that a sweep whose steps grow with ``n`` does not end on one long cell.

* ``local`` with one worker runs the cells in the calling process, in grid order (no start-up
  cost);
* ``local`` with ``N > 1`` workers uses a :class:`~concurrent.futures.ProcessPoolExecutor`
  started with ``spawn`` (forking a process that has loaded torch is unsafe);
* ``dask`` submits to the scheduler at ``address``, or to a :class:`distributed.LocalCluster`
  of ``workers`` single-threaded worker processes when no address is given.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from physgen.config import ExperimentConfig
from physgen.errors import PhysgenError
from physgen.sweep.cells import Cell
from physgen.sweep.spec import ExecutorSpec
from physgen.threads import pin_threads, thread_env

if TYPE_CHECKING:
    import xarray as xr

__all__ = [
    "CellFn",
    "cell_cost",
    "compute_cell",
    "default_cell_fn",
    "iter_results",
    "pin_threads",
    "thread_env",
]

CellFn = Callable[[ExperimentConfig], "xr.Dataset"]


def default_cell_fn() -> CellFn:
    """The experiment of one cell, :func:`physgen.experiments.run_experiment`."""
    from physgen.experiments import run_experiment

    return run_experiment


def compute_cell(cell_fn: CellFn, config_json: str) -> tuple[xr.Dataset, float]:
    """Run ``cell_fn`` on the config given as JSON with pinned threads; returns the Dataset
    (loaded in memory) and the wall time in seconds."""
    config = ExperimentConfig.from_dict(json.loads(config_json))
    pin_threads(config.train.threads)
    start = time.perf_counter()
    ds = cell_fn(config)
    return ds.load(), time.perf_counter() - start


def cell_cost(cell: Cell) -> int:
    """Relative cost of a cell: optimiser steps × networks trained (its scheduling priority)."""
    data = cell.config.data
    return cell.config.train.steps * (2 * data.n_pairs + data.n_seed_pairs)


def _init_worker(threads: int) -> None:
    os.environ.update(thread_env(threads))
    if sys.platform.startswith("linux"):
        # die with the driver (even a SIGKILLed one) instead of finishing an orphaned cell
        import ctypes
        import signal

        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(
                1, int(signal.SIGKILL)
            )  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass


def iter_results(
    cells: Sequence[Cell], cell_fn: CellFn, executor: ExecutorSpec
) -> Iterator[tuple[Cell, xr.Dataset, float]]:
    """Compute ``cells`` on ``executor``, yielding ``(cell, dataset, seconds)`` as each finishes
    (completion order; the results do not depend on it)."""
    if not cells:
        return
    threads = max(c.config.train.threads for c in cells)
    if executor.kind == "dask" or executor.workers > 1:
        # longest first (LPT scheduling): the last cells to finish are the short ones
        cells = sorted(cells, key=cell_cost, reverse=True)
    if executor.kind == "dask":
        yield from _iter_dask(cells, cell_fn, executor, threads)
    elif executor.workers == 1:
        for cell in cells:
            yield (cell, *compute_cell(cell_fn, cell.config.to_json()))
    else:
        yield from _iter_pool(cells, cell_fn, executor.workers, threads)


def _iter_pool(
    cells: Sequence[Cell], cell_fn: CellFn, workers: int, threads: int
) -> Iterator[tuple[Cell, xr.Dataset, float]]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    with ProcessPoolExecutor(
        max_workers=min(workers, len(cells)),
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(threads,),
    ) as pool:
        futures = {pool.submit(compute_cell, cell_fn, c.config.to_json()): c for c in cells}
        try:
            for fut in as_completed(futures):
                yield (futures[fut], *fut.result())
        finally:
            for fut in futures:
                fut.cancel()


def _iter_dask(
    cells: Sequence[Cell], cell_fn: CellFn, executor: ExecutorSpec, threads: int
) -> Iterator[tuple[Cell, xr.Dataset, float]]:
    from distributed import Client, LocalCluster, as_completed

    cluster = None
    try:
        if executor.address:
            client = Client(executor.address, timeout="30s")
        else:
            cluster = LocalCluster(
                n_workers=executor.workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                env=thread_env(threads),
            )
            client = Client(cluster)
    except OSError as exc:
        raise PhysgenError(f"cannot reach the dask scheduler {executor.address!r}: {exc}") from None
    try:
        futures = {
            client.submit(
                compute_cell,
                cell_fn,
                c.config.to_json(),
                key=f"physgen-{c.name}-{c.sha256[:12]}",
                pure=False,
            ): c
            for c in cells
        }
        for fut, (ds, seconds) in as_completed(futures, with_results=True):
            yield futures[fut], ds, seconds
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
