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
    """Set Numba, then torch (where loaded) to ``threads``; return their previous counts.

    Both counts are read first and Numba is set first: starting Numba's OpenMP threading layer
    resets the OpenMP pool torch shares, so torch is set after it.
    """
    numba, torch = sys.modules.get("numba"), sys.modules.get("torch")
    old_torch = torch.get_num_threads() if torch is not None else None
    old_numba = numba.get_num_threads() if numba is not None else None
    if numba is not None:
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    if torch is not None:
        torch.set_num_threads(threads)
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
    restored afterwards (BLAS pools are left to :func:`pin_threads` and :func:`thread_env`).
    Torch reads the OpenMP pool that Numba's threading layer may reset when it starts, so its
    restored count is best effort; every cell pins again on entry."""
    import numba  # noqa: F401  (loaded so its pool is pinned too)
    import torch  # noqa: F401

    old_torch, old_numba = _set(threads)
    try:
        yield
    finally:  # Numba first, as in _set
        if old_numba is not None:
            sys.modules["numba"].set_num_threads(old_numba)
        if old_torch is not None:
            sys.modules["torch"].set_num_threads(old_torch)
