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

Interrupts: pool workers ignore SIGINT (the driver alone handles Ctrl-C) and are terminated when
the driver stops iterating, so an interrupted sweep keeps its finished cells, stops its running
ones at once and leaves no process behind.

* ``local`` with one worker runs the cells in the calling process, in grid order (no start-up
  cost);
* ``local`` with ``N > 1`` workers uses a :class:`~concurrent.futures.ProcessPoolExecutor`
  started with ``spawn`` (forking a process that has loaded torch is unsafe);
* ``dask`` submits to the scheduler at ``address``, or to a :class:`distributed.LocalCluster`
  of ``workers`` single-threaded worker processes when no address is given.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from physgen.config import ExperimentConfig
from physgen.errors import PhysgenError
from physgen.sweep.cells import Cell
from physgen.sweep.spec import ExecutorSpec
from physgen.threads import pin_threads, thread_env

if TYPE_CHECKING:
    import xarray as xr

__all__ = [
    "CellFn",
    "CellProgress",
    "cell_cost",
    "check_executor",
    "compute_cell",
    "default_cell_fn",
    "iter_results",
    "pin_threads",
    "thread_env",
]

CellFn = Callable[[ExperimentConfig], "xr.Dataset"]
#: ``progress(done, total, message)``: checkpoints evaluated in a running cell.
CellProgress = Callable[[int, int, str], None]


def default_cell_fn() -> CellFn:
    """The experiment of one cell, :func:`physgen.experiments.run_experiment`."""
    from physgen.experiments import run_experiment

    return run_experiment


def compute_cell(
    cell_fn: CellFn, config_json: str, progress: CellProgress | None = None
) -> tuple[xr.Dataset, float]:
    """Run ``cell_fn`` on the config given as JSON with pinned threads; returns the Dataset
    (loaded in memory) and the wall time in seconds. ``progress(done, total, message)`` is
    passed on to a cell function that takes a ``progress`` keyword (as
    :func:`physgen.experiments.run_experiment` does); in a pool worker it defaults to sending
    the updates to the driver."""
    config = ExperimentConfig.from_dict(json.loads(config_json))
    pin_threads(config.train.threads)
    if progress is None and _worker_queue is not None:
        queue, key = _worker_queue, config.sha256()

        def progress(done: int, total: int, message: str) -> None:
            queue.put((key, done, total, message))

    start = time.perf_counter()
    if progress is not None and "progress" in inspect.signature(cell_fn).parameters:
        ds = cell_fn(config, progress=progress)  # type: ignore[call-arg]
    else:
        ds = cell_fn(config)
    return ds.load(), time.perf_counter() - start


def cell_cost(cell: Cell) -> int:
    """Relative cost of a cell: optimiser steps × networks trained (its scheduling priority)."""
    data = cell.config.data
    return cell.config.train.steps * (2 * data.n_pairs + data.n_seed_pairs)


#: In a pool worker: the queue its cells report progress on (set by :func:`_init_worker`).
_worker_queue: Any = None


def _init_worker(threads: int, queue: Any) -> None:
    global _worker_queue
    _worker_queue = queue
    os.environ.update(thread_env(threads))
    # Ctrl-C reaches every process of the terminal's group: only the driver handles it (and
    # stops the workers), so no worker prints a KeyboardInterrupt traceback
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        # die with the driver (even a SIGKILLed one) instead of finishing an orphaned cell
        import ctypes

        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(
                1, int(signal.SIGKILL)
            )  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass


def _connect(address: str, timeout: str) -> Any:
    """A dask client of the scheduler at ``address``; unreachable is a :class:`PhysgenError`."""
    from distributed import Client

    try:
        return Client(address, timeout=timeout)
    except (OSError, ValueError, TypeError) as exc:
        raise PhysgenError(f"cannot reach the dask scheduler {address!r}: {exc}") from None


def check_executor(executor: ExecutorSpec) -> None:
    """Fail early, before a sweep folder is written: a dask scheduler ``address`` that cannot
    be reached is a :class:`PhysgenError`."""
    if executor.kind == "dask" and executor.address:
        _connect(executor.address, "5s").close()


def iter_results(
    cells: Sequence[Cell],
    cell_fn: CellFn,
    executor: ExecutorSpec,
    on_progress: Callable[[Cell, int, int, str], None] | None = None,
) -> Iterator[tuple[Cell, xr.Dataset, float]]:
    """Compute ``cells`` on ``executor``, yielding ``(cell, dataset, seconds)`` as each finishes
    (completion order; the results do not depend on it). ``on_progress(cell, done, total,
    message)`` reports progress inside running cells (in-process and local pool).

    Closing the iterator (an interrupt in the caller) stops the running cells at once: pool
    workers are terminated, dask futures cancelled; finished results were yielded already."""
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
            report = None
            if on_progress is not None:

                def report(done: int, total: int, message: str, cell: Cell = cell) -> None:
                    on_progress(cell, done, total, message)

            yield (cell, *compute_cell(cell_fn, cell.config.to_json(), report))
    else:
        yield from _iter_pool(cells, cell_fn, executor.workers, threads, on_progress)


def _iter_pool(
    cells: Sequence[Cell],
    cell_fn: CellFn,
    workers: int,
    threads: int,
    on_progress: Callable[[Cell, int, int, str], None] | None,
) -> Iterator[tuple[Cell, xr.Dataset, float]]:
    import multiprocessing
    import queue as _queue
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    ctx = multiprocessing.get_context("spawn")
    updates = ctx.Queue()
    by_sha = {c.sha256: c for c in cells}
    pool = ProcessPoolExecutor(
        max_workers=min(workers, len(cells)),
        mp_context=ctx,
        initializer=_init_worker,
        initargs=(threads, updates),
    )
    finished = False
    try:
        futures = {pool.submit(compute_cell, cell_fn, c.config.to_json()): c for c in cells}
        running = set(futures)
        while running:
            done, running = wait(running, timeout=0.5, return_when=FIRST_COMPLETED)
            while True:
                try:
                    sha, k, total, message = updates.get_nowait()
                except _queue.Empty:
                    break
                if on_progress is not None and sha in by_sha:
                    on_progress(by_sha[sha], k, total, message)
            for fut in done:
                yield (futures[fut], *fut.result())
        finished = True
    finally:
        if not finished:
            # an interrupt or a failed cell: stop the running cells now rather than waiting
            # for them (ProcessPoolExecutor has no public way to terminate its workers)
            for proc in list(getattr(pool, "_processes", {}).values()):
                proc.terminate()
        pool.shutdown(wait=True, cancel_futures=True)
        updates.close()
        updates.join_thread()


def _iter_dask(
    cells: Sequence[Cell], cell_fn: CellFn, executor: ExecutorSpec, threads: int
) -> Iterator[tuple[Cell, xr.Dataset, float]]:
    from distributed import Client, LocalCluster, as_completed

    cluster = None
    if executor.address:
        client = _connect(executor.address, "30s")
    else:
        cluster = LocalCluster(
            n_workers=executor.workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            env=thread_env(threads),
            # an interrupt cancels running cells: their workers' warnings are expected noise
            silence_logs=logging.ERROR,
        )
        client = Client(cluster)
    futures: dict[Any, Cell] = {}
    finished = False
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
        finished = True
    finally:
        if not finished and futures:
            client.cancel(list(futures))
        client.close()
        if cluster is not None:
            cluster.close()
