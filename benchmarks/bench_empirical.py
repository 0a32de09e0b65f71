"""Throughput of the streaming empirical (memorizer) denoiser against the machine's matmul rate.

One call of :meth:`physgen.models.Empirical.denoise` on a batch of ``n`` noisy points against
``m`` training points of ``D`` coordinates does two matrix products per block, the logits
``X Yᵀ`` and the weighted sum ``W Y``: ``4 n m D`` floating-point operations (the ``O(n m)``
exponentials and rescalings are not counted). The reference is the float64 NumPy product
``X @ Y.T`` of the same ``(n, D) × (D, m)`` shape and dtype, ``2 n m D`` operations, computed over
blocks of 4096 columns into a reused buffer (the denoiser's own block at n = 512). The ratio says
how close the streaming log-sum-exp runs to the BLAS peak. Every case runs in float64 and in
float32 (``Empirical(data.astype(np.float32))``); the float32 row reports the largest error of its
posterior mean against float64, relative to the data's scale. ``same_point_probability``
(the sum of squared weights, the collapse measurement) needs only the logits product: ``2 n m D``.

Usage::

    python benchmarks/bench_empirical.py            # one BLAS thread, markdown table on stdout
    python benchmarks/bench_empirical.py --threads 2
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import numpy as np
from threadpoolctl import threadpool_limits

from physgen.models import Empirical

CASES = [
    # (label, m training points, event shape, batch n)
    ("tree one-hot 16×6", 10_000, (16, 6), 512),
    ("tree one-hot 16×6", 100_000, (16, 6), 512),
    ("image 32×32", 10_000, (32, 32), 256),
    ("vector d=64", 100_000, (64,), 512),
    ("vector d=1024", 100_000, (1024,), 256),
]


def best_times(fns: list[Callable[[], object]], repeats: int) -> list[float]:
    """Best wall time of each function over ``repeats`` rounds, after one warm-up round; the
    functions alternate within a round so that a shared machine's load hits them alike."""
    for fn in fns:
        fn()
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for j, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            best[j] = min(best[j], time.perf_counter() - t0)
    return best


def gemm(x: np.ndarray, y: np.ndarray, block: int = 4096) -> None:
    """The reference: ``x @ y.T`` computed over column blocks into one reused buffer, so its rate
    is BLAS's for the shapes the denoiser multiplies, not that of allocating an ``n × m`` array."""
    buf = np.empty((x.shape[0], block), dtype=x.dtype)
    for lo in range(0, y.shape[0], block):
        yb = y[lo : lo + block]
        np.matmul(x, yb.T, out=buf[:, : yb.shape[0]])


def run(threads: int, repeats: int) -> str:
    """The markdown table for ``threads`` BLAS threads."""
    rows = [
        f"{threads} BLAS thread(s), load average {os.getloadavg()[0]:.1f} at start; GFLOP/s = "
        "4·n·m·D / time for the denoiser, 2·n·m·D / time for `X @ Y.T` (blocked) and for "
        "`same_point_probability` (Σw²); error: max |x̂0(float32) - x̂0(float64)| / max |y|.",
        "",
        "| data | dtype | m | D | batch n | denoise (s) | denoiser GFLOP/s | matmul GFLOP/s "
        "| ratio | Σw² GFLOP/s | error |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    g = np.random.default_rng(0)
    with threadpool_limits(limits=threads):
        for label, m, shape, n in CASES:
            data = g.standard_normal((m, *shape))
            x = np.sqrt(0.5) * data[g.integers(m, size=n)] + np.sqrt(0.5) * g.standard_normal(
                (n, *shape)
            )
            d = int(np.prod(shape))
            ref = Empirical(data).denoise(x, 0.5)
            for dtype in (np.float64, np.float32):
                model = Empirical(data.astype(dtype))
                xf, yf = x.reshape(n, d).astype(dtype), data.reshape(m, d).astype(dtype)
                t_den, t_mm, t_sp = best_times(
                    [
                        lambda model=model, x=x: model.denoise(x, 0.5),
                        lambda xf=xf, yf=yf: gemm(xf, yf),
                        lambda model=model, x=x: model.same_point_probability(x, 0.5),
                    ],
                    repeats,
                )
                err = np.max(np.abs(model.denoise(x, 0.5) - ref)) / np.max(np.abs(data))
                gf_den = 4.0 * n * m * d / t_den / 1e9
                gf_mm = 2.0 * n * m * d / t_mm / 1e9
                gf_sp = 2.0 * n * m * d / t_sp / 1e9
                rows.append(
                    f"| {label} | {np.dtype(dtype).name} | {m:,} | {d} | {n} | {t_den:.3f} "
                    f"| {gf_den:.1f} | {gf_mm:.1f} | {gf_den / gf_mm:.2f} | {gf_sp:.1f} "
                    f"| {err:.1e} |"
                )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds per case (best kept)")
    args = parser.parse_args()
    print(run(args.threads, args.repeats))


if __name__ == "__main__":
    main()
