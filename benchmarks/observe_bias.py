"""Observe the biased phase at CPU scale: τ_bias < τ_test on disjoint pairs (issue 3).

Runs :func:`physgen.experiments.run_experiment` on the CPU default configuration
(``ExperimentConfig()``: paper grammar q=6, q_eff=4, σ=1, seed 0 at depth 3; T=500 paper schedule;
transformer 2 × 64, 4 heads, ff 128; Adam 1e-3 constant, batch 64, EMA 0.999; 3 disjoint pairs and
one seed pair) for each requested ``n_train``, writes one netCDF per n to a git-ignored folder,
prints the onsets as a Markdown table and draws the README figure: test/train loss, S with its
seed baseline, the D_k ladder and the NN divergence against the training step (log axis) with
τ_bias and τ_test marked.

Run (one thread per training; minutes to an hour on 2 shared cores)::

    python benchmarks/observe_bias.py run --n-train 125 --steps 5000
    python benchmarks/observe_bias.py run --n-train 250 --steps 12000 --pairs 1 --seed-pairs 0
    python benchmarks/observe_bias.py plot   # figure + table from the netCDF files present
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

OUT = Path("results/observe_bias")
FIGURE = Path("docs/figures/bias_cpu.png")


def run(n_train: int, steps: int, n_pairs: int, n_seed_pairs: int, seed: int) -> Path:
    """Run the default cell at ``n_train``, ``steps`` and pair counts; returns the netCDF path."""
    import torch

    from physgen.config import ExperimentConfig
    from physgen.experiments import run_experiment

    torch.set_num_threads(1)
    base = ExperimentConfig()
    cfg = dataclasses.replace(
        base,
        seed=seed,
        data=dataclasses.replace(
            base.data, n_train=n_train, n_pairs=n_pairs, n_seed_pairs=n_seed_pairs
        ),
        train=dataclasses.replace(base.train, steps=steps, device="cpu"),
    )
    cfg.validate()
    start = time.perf_counter()

    def progress(done: int, total: int, message: str) -> None:
        print(f"[{time.perf_counter() - start:7.0f} s] {done}/{total} {message}", flush=True)

    ds = run_experiment(cfg, progress=progress)
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"n{n_train}_seed{seed}_pairs{n_pairs}.nc"
    tmp = path.with_suffix(".nc.tmp")
    ds.to_netcdf(tmp)
    tmp.replace(path)
    print(f"wrote {path} in {time.perf_counter() - start:.0f} s", flush=True)
    return path


def table(paths: list[Path]) -> str:
    """Markdown table of τ_bias and τ_test per pair, their mean ± std, for each file."""
    import xarray as xr

    from physgen.metrics import argmin_onset

    lines = [
        "| n | seed | steps | τ_bias (learned rule) | τ_bias (plain argmin S) | τ_test | τ_nn | "
        "test-loss argmin per network | pairs with argmin S < τ_test |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for path in paths:
        with xr.open_dataset(path) as ds:
            cfg = ds.attrs["config_json"]
            import json

            c = json.loads(cfg)
            tb, tt, tn = ds.tau_bias.values, ds.tau_test.values, ds.tau_nn.values
            plain = np.atleast_1d(argmin_onset(ds.step.values, ds.split_divergence.values))
            net_min = ds.step.values[np.argmin(ds.test_loss.values, axis=1)]
            ok = int(np.sum(plain < tt))

            def fmt(v: np.ndarray) -> str:
                return ", ".join("NaN" if np.isnan(x) else f"{x:.0f}" for x in v)

            lines.append(
                f"| {c['data']['n_train']} | {c['seed']} | {c['train']['steps']} | {fmt(tb)} | "
                f"{fmt(plain)} | {fmt(tt)} | {fmt(tn)} | {fmt(net_min)} | {ok}/{tb.size} |"
            )
    return "\n".join(lines)


def plot(paths: list[Path]) -> None:
    """The README figure from the first file (rows) for each file (one row per n)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import xarray as xr

    from physgen.metrics import argmin_onset

    fig, axes = plt.subplots(len(paths), 4, figsize=(17, 3.6 * len(paths)), squeeze=False)
    for row, path in zip(axes, paths, strict=True):
        with xr.open_dataset(path) as ds:
            ds = ds.load()
        step = ds.step.values
        n = ds.attrs["config_json"].split('"n_train":')[1].split(",")[0]
        colors = plt.cm.tab10(np.arange(ds.sizes["pair"]))

        def marks(ax: plt.Axes, ds: xr.Dataset = ds, colors: np.ndarray = colors) -> None:
            plain = np.atleast_1d(argmin_onset(ds.step.values, ds.split_divergence.values))
            for p, col in zip(ds.pair.values, colors, strict=True):
                for v, ls in ((plain[p], ":"), (float(ds.tau_test.sel(pair=p)), "--")):
                    if np.isfinite(v):
                        ax.axvline(v, color=col, ls=ls, lw=1)

        ax = row[0]
        for net in ds.network.values:
            ax.plot(step, ds.test_loss.sel(network=net), color="C0", lw=1)
            ax.plot(step, ds.train_loss.sel(network=net), color="C1", lw=1)
        ax.axhline(float(ds.bayes_test_loss), color="k", lw=0.8, ls="-.", label="Bayes (BP)")
        ax.plot([], [], color="C0", label="test loss")
        ax.plot([], [], color="C1", label="train loss")
        ax.set_ylim(float(ds.bayes_test_loss) - 0.1, float(ds.test_loss.max()) + 0.02)
        ax.set_title(f"n = {n}: losses (frozen t, noise)")
        ax.set_ylabel("per-token CE [nat]")
        ax.legend(fontsize=7)
        marks(ax)

        ax = row[1]
        for p, col in zip(ds.pair.values, colors, strict=True):
            ax.plot(step, ds.split_divergence.sel(pair=p), color=col, label=f"S pair {p}")
        for sp in ds.seed_pair.values:
            ax.plot(
                step, ds.seed_divergence.sel(seed_pair=sp), color="k", ls="--", label="seed pair"
            )
        ax.set_yscale("log")
        ax.set_title("sample-split divergence S (t = 0.15 T)")
        ax.set_ylabel("KL [nat]")
        ax.legend(fontsize=7)
        marks(ax)

        ax = row[2]
        ladder = ds.ladder_test.mean("network")
        for k in ds.level.values:
            ax.plot(
                step, ladder.sel(level=k), color=plt.cm.viridis(k / ds.level.size), label=f"D_{k}"
            )
        ax.axhline(float(ds.oracle_ladder[-1]), color="gray", ls="-.", lw=0.8, label="KL(BP0‖BP_L)")
        ax.set_yscale("log")
        ax.set_title("ladder D_k = KL(BP_k ‖ θ), test inputs (mean)")
        ax.legend(fontsize=7)
        marks(ax)

        ax = row[3]
        for p, col in zip(ds.pair.values, colors, strict=True):
            a, b = int(ds.pair_a.sel(pair=p)), int(ds.pair_b.sel(pair=p))
            nn = (ds.nn_divergence.sel(network=a) + ds.nn_divergence.sel(network=b)) / 2
            ok = np.isfinite(nn.values)
            ax.plot(step[ok], nn.values[ok], "o-", color=col, label=f"pair {p}")
        ax.set_title("NN divergence KL(P_gen ‖ P_test) (pair mean)")
        ax.legend(fontsize=7)
        marks(ax)
        for ax in row:
            ax.set_xscale("log")
            ax.set_xlabel("training step (dotted: argmin S, dashed: τ_test)")
    fig.tight_layout()
    FIGURE.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(FIGURE, dpi=110)
    print(f"wrote {FIGURE}")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--n-train", type=int, default=125)
    r.add_argument("--steps", type=int, default=5000)
    r.add_argument("--pairs", type=int, default=3)
    r.add_argument("--seed-pairs", type=int, default=1)
    r.add_argument("--seed", type=int, default=0)
    sub.add_parser("plot")
    args = parser.parse_args(argv)
    if args.cmd == "run":
        run(args.n_train, args.steps, args.pairs, args.seed_pairs, args.seed)
    paths = sorted(OUT.glob("n*.nc"))
    if paths:
        print(table(paths))
        plot(paths)


if __name__ == "__main__":
    main(sys.argv[1:])
