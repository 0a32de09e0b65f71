"""Speed of the tree-grammar sampler (Numba, counter-based per-sample RNG).

Run: ``python benchmarks/bench_tree_sampler.py``. Prints a markdown table of sequences/s at the
paper grammar (q = 6, L = 4) for the exact model (k = 0) and filtered ones, on one thread and on
every core, and a plain NumPy ancestral sampler (level by level, vectorised over the batch) for
comparison. Best of two repeats, wall clock and process CPU time (sequences per CPU-second:
with more than one thread it sums the threads' time); the load average is printed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import numba
import numpy as np

from physgen.models import TreeGrammar

N_SEQ = 1_000_000


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


def sample_numpy(g: TreeGrammar, n: int, seed: int) -> np.ndarray:
    """Reference ancestral sampler of the exact model in plain NumPy, (n, N) int64."""
    rng = np.random.default_rng(seed)
    level = rng.integers(0, g.q, size=(n, 1))
    cum = np.cumsum(g.rule_probs, axis=1)
    for _ in range(g.depth):
        u = rng.random(level.shape)
        e = np.minimum((u[..., None] >= cum[level]).sum(-1), g.q_eff - 1)
        level = g.rules[level, e].reshape(n, -1)
    return level


def main() -> None:
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")
    g = TreeGrammar.paper()
    g.sample(8, seed=0)  # compile (or load the cache) outside the timing
    cores = numba.config.NUMBA_NUM_THREADS
    print(f"Tree sampler, q = 6, L = 4 (paper grammar), {N_SEQ:,} sequences\n")
    print("| sampler | threads | sequences/s (wall) | sequences/CPU-s |")
    print("|---|---:|---:|---:|")
    for threads in (1, cores):
        numba.set_num_threads(threads)
        for k in (0, 2, 4):
            fn = lambda k=k: g.sample(N_SEQ, seed=1, filtered_levels=k)  # noqa: E731
            wall, cpu = (N_SEQ / t for t in best_time(fn))
            print(f"| Numba, k = {k} (physgen) | {threads} | {wall:,.0f} | {cpu:,.0f} |")
    n_np = N_SEQ // 10
    wall, cpu = (n_np / t for t in best_time(lambda: sample_numpy(g, n_np, seed=1)))
    print(f"| plain NumPy, k = 0 (reference) | 1 | {wall:,.0f} | {cpu:,.0f} |")


if __name__ == "__main__":
    main()
