r"""Raw weights vs the warmed-up average vs the average started at the initialisation (issue 11).

One token cell (depth-3 paper grammar, n = 64, 3 disjoint pairs, 3 000 steps, 30 log-spaced
checkpoints, CPU transformer 2 × 64) run three times with the same data, network seeds and
training stream, so the raw trajectories are identical and only the evaluated weights differ:

* ``raw``: ``train.ema_decay = 0``;
* ``warmup``: γ = 0.999 with the warmed-up decay γ_s = min(γ, (1+s)/(10+s)) (the default);
* ``init``: γ = 0.999 started at the initialisation (``ema_warmup = false``, the old default).

For each it prints, per pair, τ_bias by the plain argmin of S and by the ``progress`` rule
(:func:`physgen.metrics.bias_onset_bracketed`, with the initial-weight share ≤ 1 % as extra
validity), τ_test, with brackets and censoring, and the count of pairs ordered beyond brackets.
The reference level d_triv (:func:`physgen.metrics.site_only_kl`) is computed on fresh test inputs
at the same diffusion time (a population quantity; the cell's own inputs are not stored).

    PYTHONPATH=. python benchmarks/observe_averaging.py run raw warmup   # one process each
    PYTHONPATH=. python benchmarks/observe_averaging.py table
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from physgen.config import ExperimentConfig
from physgen.metrics import Onset

OUT = Path("results/observe_averaging")
VARIANTS = {
    "raw": {"ema_decay": 0.0},
    "warmup": {"ema_decay": 0.999, "ema_warmup": True},
    "init": {"ema_decay": 0.999, "ema_warmup": False},
}
CELL = {
    "seed": 0,
    "model": {"name": "tree", "q": 6, "q_eff": 4, "sigma": 1.0, "seed": 0, "depth": 3},
    "data": {"n_train": 64, "n_test": 500, "n_pairs": 3, "n_seed_pairs": 0},
    "train": {"steps": 3000, "n_checkpoints": 30, "device": "cpu", "threads": 1},
    "metrics": {
        "n_eval": 512,
        "n_generate": 64,
        "sample_checkpoints": 2,
        "kl_t_points": 4,
        "uturn_reps": 1,
        "uturn_starts": 8,
        "sample_steps": 50,
        "bias_rule": "none",
    },
}


def config(variant: str) -> ExperimentConfig:
    """The cell's configuration with the weights of ``variant``."""

    cell = {**CELL, "train": {**CELL["train"], **VARIANTS[variant]}}
    return ExperimentConfig.from_dict(cell)


def run(variant: str) -> Path:
    """Run one variant of the cell; returns the netCDF path."""
    import torch

    from physgen.experiments import run_experiment

    torch.set_num_threads(1)
    cfg = config(variant)
    start = time.perf_counter()
    ds = run_experiment(cfg)
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{variant}.nc"
    tmp = path.with_suffix(".nc.tmp")
    ds.to_netcdf(tmp)
    tmp.replace(path)
    print(f"{variant}: wrote {path} in {time.perf_counter() - start:.0f} s", flush=True)
    return path


def _fmt(onset: Onset, i: int) -> str:
    tau = float(np.atleast_1d(onset.tau)[i])
    if np.isnan(tau):
        return "— (c)"
    lo, hi = float(np.atleast_1d(onset.lo)[i]), float(np.atleast_1d(onset.hi)[i])
    mark = " (c)" if bool(np.atleast_1d(onset.censored)[i]) else ""
    return f"{tau:.0f} [{lo:.0f}, {hi:.0f}]{mark}"


def table() -> str:
    """Markdown table of the onsets of every variant present."""
    import xarray as xr

    from physgen.metrics import (
        argmin_bracketed,
        bias_onset_bracketed,
        count_before,
        frozen_noise,
        site_only_kl,
    )
    from physgen.train import init_weight

    lines = [
        "| weights | pair | τ_bias plain argmin S | τ_bias progress rule | τ_test (pair-mean test loss) |",
        "|---|---|---|---|---|",
    ]
    counts = []
    for variant in VARIANTS:
        path = OUT / f"{variant}.nc"
        if not path.exists():
            continue
        with xr.open_dataset(path) as ds:
            ds = ds.load()
        cfg = config(variant)
        model, schedule = cfg.model.build(), cfg.diffusion.build()
        t_c = round(cfg.metrics.t_frac * schedule.T)
        x0 = model.encode(model.sample(cfg.metrics.n_eval, 12345))
        fz = frozen_noise(x0, schedule, seed=678, t=t_c)
        d_triv = site_only_kl(model, fz.x_t, fz.alpha_bar)
        step = ds.step.values
        S = ds.split_divergence.values  # (pair, step)
        d0 = ds.ladder_test.values[..., 0]  # (network, step)
        pairs = [(int(a), int(b)) for a, b in zip(ds.pair_a.values, ds.pair_b.values, strict=True)]
        test = ds.test_loss.values
        tl = np.stack([(test[a] + test[b]) / 2 for a, b in pairs])
        no_lag = init_weight(step, cfg.train.ema_decay, cfg.train.ema_warmup) <= 0.01
        plain = argmin_bracketed(step, S)
        rule = bias_onset_bracketed(
            step,
            S,
            np.stack([d0[a] for a, _ in pairs]),
            np.stack([d0[b] for _, b in pairs]),
            d_triv,
            valid=no_lag,
        )
        tau_test = argmin_bracketed(step, tl)
        for i in range(len(pairs)):
            lines.append(
                f"| {variant} | {i} | {_fmt(plain, i)} | {_fmt(rule, i)} | {_fmt(tau_test, i)} |"
            )
        counts.append(
            f"{variant}: progress rule ordered beyond brackets {count_before(rule, tau_test)}, "
            f"plain argmin {count_before(plain, tau_test)} (ordered, measured); d_triv = {d_triv:.3f}"
        )
    return "\n".join([*lines, "", *counts])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run")
    p_run.add_argument("variants", nargs="+", choices=list(VARIANTS))
    sub.add_parser("table")
    args = parser.parse_args()
    if args.command == "run":
        for v in args.variants:
            run(v)
    else:
        print(table())


if __name__ == "__main__":
    main()
