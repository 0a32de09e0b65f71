"""Speed of the nearest-neighbour and membership metrics against reference implementations.

* ``hamming_nn`` (one-hot inner products, one float32 matrix product per chunk, then a partial
  sort) against SciPy's ``cdist(metric="hamming")`` followed by the same partial sort, and against
  a plain NumPy broadcast ``(x[:, None] != y[None]).sum(-1)`` (chunked to the same memory);
  results are checked equal.
* ``membership_auc`` (mid-ranks, O(n log n)) against scikit-learn's ``roc_auc_score``; checked
  equal.
* ``frozen_noise`` and ``memorised_fraction`` (with its 200 bootstrap replicates) at the sizes an
  experiment uses, for scale.

Usage::

    python benchmarks/bench_metrics.py          # one BLAS thread, CPU seconds, markdown table
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
from scipy.spatial.distance import cdist
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

from physgen.diffusion import Schedule
from physgen.metrics import frozen_noise, hamming_nn, membership_auc, memorised_fraction


def best_time(fn: Callable[[], object], repeats: int) -> float:
    """Best CPU time of ``repeats`` calls after one warm-up call. Everything runs on one thread,
    so CPU time equals wall time on an idle core and is not inflated by other load."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return min(times)


def _k2(d: np.ndarray) -> np.ndarray:
    return np.sort(np.partition(d, 1, axis=1)[:, :2], axis=1)


def scipy_nn(samples: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Two nearest Hamming distances with SciPy's cdist (fraction of positions → counts)."""
    d = np.rint(cdist(samples, train, metric="hamming") * samples.shape[1]).astype(np.int64)
    return _k2(d)


def broadcast_nn(samples: np.ndarray, train: np.ndarray, rows: int = 16) -> np.ndarray:
    """Two nearest Hamming distances by broadcasting, ``rows`` samples at a time."""
    return np.concatenate(
        [
            _k2((samples[i : i + rows, None, :] != train[None]).sum(-1))
            for i in range(0, len(samples), rows)
        ]
    )


def run(repeats: int) -> str:
    rng = np.random.default_rng(0)
    lines = [
        "| operation | size | physgen (s) | reference (s) | speed-up |",
        "|---|---|---|---|---|",
    ]
    for n, m in [(256, 12_000), (256, 70_000), (2048, 70_000)]:
        samples = rng.integers(0, 6, size=(n, 16))
        train = rng.integers(0, 6, size=(m, 16))
        ours = hamming_nn(samples, train, k=2)
        assert np.array_equal(ours, scipy_nn(samples, train))
        assert np.array_equal(ours, broadcast_nn(samples, train))
        t_ours = best_time(lambda s=samples, r=train: hamming_nn(s, r, k=2), repeats)
        t_scipy = best_time(lambda s=samples, r=train: scipy_nn(s, r), repeats)
        t_bc = best_time(lambda s=samples, r=train: broadcast_nn(s, r), 1)
        size = f"{n} samples × {m} train, N=16, q=6"
        lines.append(
            f"| hamming_nn vs scipy cdist | {size} | {t_ours:.3f} | {t_scipy:.3f} | "
            f"{t_scipy / t_ours:.1f}× |"
        )
        lines.append(
            f"| hamming_nn vs NumPy broadcast | {size} | {t_ours:.3f} | {t_bc:.3f} | "
            f"{t_bc / t_ours:.1f}× |"
        )
    for n in (1_000, 100_000):
        a, b = rng.normal(0, 1, n), rng.normal(0.2, 1, n)
        labels = np.r_[np.ones(n), np.zeros(n)]
        assert abs(membership_auc(a, b) - roc_auc_score(labels, -np.r_[a, b])) < 1e-12
        t_ours = best_time(lambda a=a, b=b: membership_auc(a, b), repeats)
        t_ref = best_time(lambda a=a, b=b, y=labels: roc_auc_score(y, -np.r_[a, b]), repeats)
        lines.append(
            f"| membership_auc vs sklearn roc_auc_score | {n} + {n} losses | {t_ours:.4f} | "
            f"{t_ref:.4f} | {t_ref / t_ours:.1f}× |"
        )
    x0 = np.eye(6)[rng.integers(0, 6, size=(512, 16))]
    t_fz = best_time(lambda: frozen_noise(x0, Schedule.linear(500), seed=0), repeats)
    lines.append(f"| frozen_noise (once per evaluation set) | 512 × 16 × 6 | {t_fz:.3f} | – | – |")
    samples = rng.integers(0, 6, size=(256, 16))
    train = rng.integers(0, 6, size=(12_000, 16))
    t_mf = best_time(lambda: memorised_fraction(samples, train), repeats)
    lines.append(
        f"| memorised_fraction (200 bootstraps) | 256 samples × 12000 train | {t_mf:.3f} | – | – |"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with threadpool_limits(args.threads):
        print(f"CPU seconds, {args.threads} BLAS thread(s), best of {args.repeats}\n")
        print(run(args.repeats))


if __name__ == "__main__":
    main()
