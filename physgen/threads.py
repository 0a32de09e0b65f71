"""Thread pinning, in one place: torch, Numba and the BLAS/OpenMP pools of a process.

A sweep runs ``workers × train.threads`` threads, never more: every cell runs inside
:func:`pinned_threads` (the experiment, training, the evaluation), worker processes get
:func:`thread_env` before those libraries load, and :func:`pin_threads` caps a worker for good.
Numba's pool costs more than it saves on the small batches of an evaluation, so it is pinned too.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["pin_threads", "pinned_threads", "thread_env"]

_THREAD_ENV = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "NUMBA_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)


def thread_env(threads: int) -> dict[str, str]:
    """Environment variables that cap the native thread pools at ``threads``."""
    return {name: str(threads) for name in _THREAD_ENV}


def _set(threads: int) -> tuple[int | None, int | None]:
    """Set torch and Numba (where loaded) to ``threads``; return their previous counts."""
    old_torch = old_numba = None
    torch = sys.modules.get("torch")
    if torch is not None:
        old_torch = torch.get_num_threads()
        torch.set_num_threads(threads)
    numba = sys.modules.get("numba")
    if numba is not None:
        old_numba = numba.get_num_threads()
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    return old_torch, old_numba


def pin_threads(threads: int) -> None:
    """Cap torch, Numba and BLAS/OpenMP threads of this process at ``threads`` for good."""
    from threadpoolctl import threadpool_limits

    if "torch" not in sys.modules and "numba" not in sys.modules:
        os.environ.update(thread_env(threads))
    threadpool_limits(threads)
    _set(threads)


@contextmanager
def pinned_threads(threads: int) -> Iterator[None]:
    """Run the block with torch and Numba on ``threads`` threads; the previous counts are
    restored afterwards (BLAS pools are left to :func:`pin_threads` and :func:`thread_env`)."""
    import numba  # noqa: F401  (loaded so its pool is pinned too)
    import torch  # noqa: F401

    old_torch, old_numba = _set(threads)
    try:
        yield
    finally:
        if old_torch is not None:
            sys.modules["torch"].set_num_threads(old_torch)
        if old_numba is not None:
            sys.modules["numba"].set_num_threads(old_numba)
