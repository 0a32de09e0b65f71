"""Speed of conditional BP (a class per sample) against unconditional BP, one thread.

Run: ``python benchmarks/bench_conditional_bp.py [--ref main] [--n 20000] [--repeats 7]``.

For each grammar and filtering level ``k`` it times, on the same noisy inputs at ᾱ = 0.5:

* ``ref kernel``: the BP kernel of git revision ``--ref`` (before classes existed), loaded from
  that revision's ``physgen/models/_tree_kernels.py`` (the module is self-contained), called
  directly into preallocated outputs;
* ``cond kernel``: today's kernel, called the same way, with random classes in ``-1 … q-1``;
* ``uncond`` / ``cond``: the public calls ``TreeGrammar.denoise(x, ᾱ)`` and
  ``TreeGrammar.denoise(x, ᾱ, classes=c)`` (they also allocate the output array).

Times are the best of ``--repeats`` runs of each, interleaved (CPU time of the process, which is
closer to a quiet core's wall time on a shared machine); the load average is printed. The claim
checked: conditional BP within 10 % of unconditional BP, ``cond ÷ uncond ≤ 1.10`` and
``cond kernel ÷ ref kernel ≤ 1.10``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numba
import numpy as np

from physgen.models import TreeGrammar
from physgen.models._tree_kernels import bp_leaf_marginals

ALPHA_BAR = 0.5
ROOT = Path(__file__).resolve().parents[1]


def load_reference(rev: str, folder: Path) -> ModuleType:
    """The kernel module of revision ``rev`` imported from a temporary file."""
    src = subprocess.run(
        ["git", "show", f"{rev}:physgen/models/_tree_kernels.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = folder / "_ref_tree_kernels.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("_ref_tree_kernels", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def cpu_time(fn: Callable[[], object]) -> float:
    """Process CPU seconds of one call of ``fn``."""
    c = time.process_time()
    fn()
    return time.process_time() - c


def time_row(ref: ModuleType, g: TreeGrammar, n: int, k: int, repeats: int) -> dict[str, float]:
    """Best CPU seconds of the four calls (module docstring) on ``n`` noisy samples of ``g``."""
    rng = np.random.default_rng(0)
    x0 = g.encode(g.sample(n, seed=0))
    x = np.sqrt(ALPHA_BAR) * x0 + np.sqrt(1 - ALPHA_BAR) * rng.standard_normal(x0.shape)
    cls = rng.integers(-1, g.n_classes, size=n)
    coef = np.full(n, np.sqrt(ALPHA_BAR) / (1 - ALPHA_BAR))
    log_prior = np.full(g.q, -np.log(g.q))
    out, log_z = np.empty_like(x), np.empty(n)
    t_mat = g.channels(k)
    fns = {
        "ref": lambda: ref.bp_leaf_marginals(
            x, coef, g._child, g._prob, log_prior, t_mat, k, out, log_z
        ),
        "kernel": lambda: bp_leaf_marginals(
            x, coef, g._child, g._prob, g._prior, g._log_prior, cls + 1, t_mat, k, out, log_z
        ),
        "uncond": lambda: g.denoise(x, ALPHA_BAR, filtered_levels=k),
        "cond": lambda: g.denoise(x, ALPHA_BAR, filtered_levels=k, classes=cls),
    }
    for fn in fns.values():  # compile or load the caches outside the timing
        fn()
    best = dict.fromkeys(fns, np.inf)
    for _ in range(repeats):
        for name, fn in fns.items():
            best[name] = min(best[name], cpu_time(fn))
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ref", default="main")
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    numba.set_num_threads(1)
    load = os.getloadavg()[0]
    print(f"load average: {load:.1f} on {os.cpu_count()} cores; reference {args.ref}\n")
    print(
        "| grammar | k | sequences | ref kernel (seq/CPU-s) | cond kernel | uncond denoise "
        "| cond denoise | cond ÷ uncond | cond kernel ÷ ref kernel |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        ref = load_reference(args.ref, Path(tmp))
        for depth, ks in ((4, (0, 2)), (8, (0, 4))):
            g = TreeGrammar(q=6, depth=depth, q_eff=4, sigma=1.0, seed=0)
            n = args.n if depth == 4 else max(64, args.n // 16)
            for k in ks:
                best = time_row(ref, g, n, k, args.repeats)
                r = {name: n / t for name, t in best.items()}
                print(
                    f"| q=6, L={depth}, q_eff=4 | {k} | {n:,} | {r['ref']:,.0f} "
                    f"| {r['kernel']:,.0f} | {r['uncond']:,.0f} | {r['cond']:,.0f} "
                    f"| {best['cond'] / best['uncond']:.3f} | {best['kernel'] / best['ref']:.3f} |"
                )


if __name__ == "__main__":
    main()
