"""Shared by the observation scripts: a sweep's merged results, run first when missing, and
their onsets recomputed with the current rules."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import xarray as xr


def run_or_load(spec: str, out: str) -> xr.Dataset:
    """``OUT/results.nc`` loaded into memory; ``physgen sweep run SPEC --out OUT`` (timed) first
    when it does not exist."""
    results = Path(out) / "results.nc"
    if not results.exists():
        tic = time.perf_counter()
        subprocess.run(["physgen", "sweep", "run", spec, "--out", out, "--quiet"], check=True)
        print(f"sweep wall time: {time.perf_counter() - tic:.0f} s")
    return xr.open_dataset(results).load()


def with_onsets(ds: xr.Dataset, recompute: Callable[[xr.Dataset], xr.Dataset]) -> xr.Dataset:
    """``ds`` with every stored ``tau_*`` replaced by ``recompute(ds)`` (cells computed by an
    older physgen get the current onset rules)."""
    stale = [k for k in ds.data_vars if str(k).startswith("tau_")]
    return ds.drop_vars(stale).merge(recompute(ds))
