"""What a sweep costs beyond its cells: store, resume check, merge, executor start-up.

The cell function here returns, instantly, a Dataset shaped like a ``runs/quick.toml`` cell (40
curves over 4 networks × 16 checkpoints, ladders over 4 levels, KL curves over 10 times, onsets
over 2 pairs), so every measured second is sweep machinery: validating the cells, writing each
cell atomically with its provenance, updating the manifest, checking hashes on resume, merging
with ``xarray.combine_by_coords`` and starting the executor. Prints a Markdown table.

    python benchmarks/bench_sweep_overhead.py --cells 24
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import xarray as xr

from physgen.config import ExperimentConfig
from physgen.sweep import SweepSpec, SweepStore, run_sweep

ATTRS = {"units": "1", "description": "synthetic"}


def quick_like_cell(cfg: ExperimentConfig) -> xr.Dataset:
    """A Dataset with the shapes of a quick.toml cell, values seeded by the config."""
    rng = np.random.default_rng(int(cfg.sha256()[:8], 16))
    net, step, level, t, pair = 4, 16, 4, 10, 2
    data = {f"curve_{i}": (("network", "step"), rng.random((net, step))) for i in range(30)}
    data |= {
        f"ladder_{i}": (("network", "step", "level"), rng.random((net, step, level)))
        for i in range(4)
    }
    data |= {f"kl_{i}": (("network", "step", "t"), rng.random((net, step, t))) for i in range(2)}
    data |= {f"tau_{i}": (("pair",), rng.random(pair)) for i in ("bias", "nn", "test", "mem")}
    ds = xr.Dataset(
        {k: (d, v, {"long_name": k, **ATTRS}) for k, (d, v) in data.items()},
        coords={
            "step": (
                "step",
                np.linspace(1, cfg.train.steps, step).astype(int),
                {"long_name": "step", **ATTRS},
            ),
            "network": ("network", np.arange(net), {"long_name": "network", **ATTRS}),
            "level": ("level", np.arange(level), {"long_name": "level", **ATTRS}),
            "t": ("t", np.arange(t), {"long_name": "t", **ATTRS}),
            "pair": ("pair", np.arange(pair), {"long_name": "pair", **ATTRS}),
        },
    )
    return ds.assign_attrs(config_json=cfg.to_json(), config_sha256=cfg.sha256())


def spec(cells: int) -> SweepSpec:
    return SweepSpec.from_dict(
        {
            "model": {"name": "gmm", "dim": 2},
            "train": {"steps": 1000, "n_checkpoints": 16},
            "sweep": {"plot": False},
            "grid": {"data.n_train": list(range(10, 10 + 10 * cells, 10))},
        }
    )


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cells", type=int, default=24)
    args = parser.parse_args()
    s = spec(args.cells)
    root = Path(tempfile.mkdtemp(prefix="physgen-bench-"))
    try:
        run_sweep(spec(2), root / "warm", cell_fn=quick_like_cell)  # imports, first netCDF write
        rows = []
        first = timed(lambda: run_sweep(s, root / "a", cell_fn=quick_like_cell, merge=False))
        rows.append(("run, store every cell (no merge)", first, first / args.cells))
        resume = timed(lambda: run_sweep(s, root / "a", cell_fn=quick_like_cell, merge=False))
        rows.append(("resume: every cell already done", resume, resume / args.cells))
        merge = timed(lambda: SweepStore.open(root / "a").merge())
        rows.append(("merge into results.nc", merge, merge / args.cells))
        small = spec(4)
        for label, kw in (
            ("4 cells in-process (workers=1)", {}),
            ("4 cells, process pool (workers=2)", {"workers": 2}),
            ("4 cells, dask LocalCluster (2 workers)", {"executor": "dask", "workers": 2}),
        ):
            sec = timed(
                lambda kw=kw, label=label: run_sweep(
                    small, root / label.split()[2], cell_fn=quick_like_cell, merge=False, **kw
                )
            )
            rows.append((label, sec, sec / 4))
        size = sum(p.stat().st_size for p in (root / "a" / "cells").glob("*.nc")) / args.cells
        print(f"{args.cells} cells, {size / 1e3:.0f} kB per cell file\n")
        print("| step | seconds | per cell |")
        print("|---|---|---|")
        for label, sec, per in rows:
            print(f"| {label} | {sec:.2f} | {per * 1e3:.0f} ms |")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
