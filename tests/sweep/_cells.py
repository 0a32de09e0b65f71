"""A fast, deterministic stand-in cell function for the store mechanics tests (corrupt, stale,
conflicting and ragged cells). The end-to-end tests run the real
:func:`physgen.experiments.run_experiment`."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from physgen.config import ExperimentConfig
from physgen.rng import spawn


def _attrs(name: str) -> dict[str, str]:
    return {"long_name": name, "units": "1", "description": f"stand-in {name}"}


def toy_cell(cfg: ExperimentConfig) -> xr.Dataset:
    """Curves over ``checkpoint`` (with ``step`` log-spaced in [1, train.steps] as its
    coordinate, the layout of a real cell) and onsets over ``pair`` that depend only on the
    config (seeded from its hash)."""
    rng = np.random.default_rng(spawn(cfg.seed, int(cfg.sha256()[:8], 16)))
    steps = np.unique(np.geomspace(1, cfg.train.steps, cfg.train.n_checkpoints).astype(np.int64))
    n = cfg.data.n_pairs
    return xr.Dataset(
        {
            "split_divergence": (("pair", "checkpoint"), rng.random((n, steps.size)), _attrs("S")),
            "tau_bias": ("pair", rng.uniform(1, 10, n), _attrs("tau_bias")),
            "tau_test": ("pair", rng.uniform(20, 100, n), _attrs("tau_test")),
            "tau_mem": ("pair", np.full(n, np.nan), _attrs("tau_mem")),
        },
        coords={
            "checkpoint": ("checkpoint", np.arange(steps.size), _attrs("checkpoint index")),
            "step": ("checkpoint", steps, _attrs("training step")),
            "pair": ("pair", np.arange(n), _attrs("pair")),
        },
        attrs={"config_json": cfg.to_json(), "config_sha256": cfg.sha256()},
    )


def reporting_cell(cfg: ExperimentConfig, progress: Any = None) -> xr.Dataset:
    """:func:`toy_cell` that reports ``n_checkpoints`` progress updates, like the experiments."""
    for k in range(1, cfg.train.n_checkpoints + 1):
        if progress is not None:
            progress(k, cfg.train.n_checkpoints, f"step {k}")
    return toy_cell(cfg)


def slow_cell(cfg: ExperimentConfig) -> xr.Dataset:
    """:func:`toy_cell` after a pause: 0.2 s for the smallest ``data.n_train``, 120 s otherwise
    (cells that are still running when a test interrupts the sweep)."""
    import time

    time.sleep(0.2 if cfg.data.n_train <= 5 else 120.0)
    return toy_cell(cfg)
