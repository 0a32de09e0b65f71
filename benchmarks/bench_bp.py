"""Speed of the exact tree denoiser (BP) against plain NumPy and log-space torch references.

Run: ``python benchmarks/bench_bp.py``. Prints markdown tables:

1. sequences/s at the paper grammar (q = 6, L = 4) on one core: the Numba kernel (BP_0 … BP_L)
   against :func:`_reference_bp.bp_numpy` and :func:`_reference_bp.bp_torch_log`;
2. nanoseconds per leaf from L = 2 to L = 12 (q = 6, q_eff = 4), one core;
3. speed-up of the kernel on every core against one.

Times are the best of two repeats on noise drawn once, wall clock and process CPU time (the
load average is printed).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numba
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _reference_bp import bp_numpy, bp_torch_log

from physgen.models import TreeGrammar

ALPHA_BAR = 0.5


def best_time(fn: Callable[[], object], repeats: int = 2) -> tuple[float, float]:
    """Best (wall-clock, process CPU) seconds of ``fn()`` over ``repeats`` calls. On a shared
    machine one thread's CPU time is closer to a quiet core's wall time."""
    wall = cpu = np.inf
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall = min(wall, time.perf_counter() - t)
        cpu = min(cpu, time.process_time() - c)
    return wall, cpu


def noisy(g: TreeGrammar, n: int, seed: int = 0) -> np.ndarray:
    """``x_t`` at ``ALPHA_BAR`` from ``n`` model samples, shape (n, N, q)."""
    x0 = g.encode(g.sample(n, seed=seed))
    eps = np.random.default_rng(seed).standard_normal(x0.shape)
    return np.sqrt(ALPHA_BAR) * x0 + np.sqrt(1 - ALPHA_BAR) * eps


def main() -> None:
    numba.set_num_threads(1)
    torch.set_num_threads(1)
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")
    g = TreeGrammar.paper()
    x = noisy(g, 50_000)
    g.denoise(x[:8], ALPHA_BAR)  # compile (or load the cache) outside the timing
    coef = np.sqrt(ALPHA_BAR) / (1 - ALPHA_BAR)
    n_ref = 2_000
    h_ref = coef * x[:n_ref]
    h_torch = torch.from_numpy(h_ref)
    rows = []
    for k in range(g.depth + 1):
        fn = lambda k=k: g.denoise(x, ALPHA_BAR, filtered_levels=k)  # noqa: E731
        rows.append((f"Numba BP_{k} (physgen)", len(x), fn))
    rows += [
        ("plain NumPy BP_0 (reference)", n_ref, lambda: bp_numpy(g.transition, h_ref)),
        ("log-space torch BP_0 (reference)", n_ref, lambda: bp_torch_log(g.transition, h_torch)),
    ]
    rates = [(name, *(n / t for t in best_time(fn))) for name, n, fn in rows]
    base = rates[0][2]
    print("BP exact denoiser, q = 6, L = 4 (paper grammar), 1 thread\n")
    print("| implementation | sequences/s (wall) | sequences/CPU-s | time ÷ Numba BP_0 time |")
    print("|---|---:|---:|---:|")
    for name, wall, cpu in rates:
        print(f"| {name} | {wall:,.0f} | {cpu:,.0f} | {base / cpu:.1f} |")

    print("\nCost per leaf, q = 6, q_eff = 4, BP_0, 1 thread (CPU time)\n")
    print("| L | N = 2^L | sequences | ns / leaf |")
    print("|---:|---:|---:|---:|")
    for depth in (2, 4, 6, 8, 10, 12):
        gl = TreeGrammar(q=6, depth=depth, q_eff=4, sigma=1.0, seed=0)
        n = max(32, (1 << 19) // gl.seq_len)
        xl = noisy(gl, n)
        dt = best_time(lambda gl=gl, xl=xl: gl.denoise(xl, ALPHA_BAR))[1]
        print(f"| {depth} | {gl.seq_len} | {n} | {dt / (n * gl.seq_len) * 1e9:.1f} |")

    cores = numba.config.NUMBA_NUM_THREADS
    t1 = best_time(lambda: g.denoise(x, ALPHA_BAR))[0]
    numba.set_num_threads(cores)
    tn = best_time(lambda: g.denoise(x, ALPHA_BAR))[0]
    print(f"\nParallel speed-up (wall clock), q = 6, L = 4, BP_0, {len(x):,} sequences\n")
    print("| threads | sequences/s | speed-up |")
    print("|---:|---:|---:|")
    print(f"| 1 | {len(x) / t1:,.0f} | 1.0 |")
    print(f"| {cores} | {len(x) / tn:,.0f} | {t1 / tn:.2f} |")


if __name__ == "__main__":
    main()
