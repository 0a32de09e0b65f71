"""Measure the digits sweep: τ_cos against τ_test for every disjoint pair, ε similarity on
training vs test images, memorisation, and the quadruplet figure.

    python benchmarks/observe_digits.py [--spec runs/digits.toml] [--out results/digits]

Runs the sweep (timed) unless OUT/results.nc exists, prints markdown tables and draws
docs/figures/digits_curves.png and docs/figures/digits_quadruplets.png.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from physgen.experiments.images import image_onsets, plot_quadruplets

FIG = Path("docs/figures")


def recompute_onsets(ds: xr.Dataset) -> xr.Dataset:
    """Onsets of every cell recomputed from its stored curves with the current rules
    (:func:`physgen.experiments.images.image_onsets`)."""
    cells = []
    for n in ds.n_train.values:
        c = ds.sel(n_train=n)
        pairs = list(zip(c.pair_a.values.tolist(), c.pair_b.values.tolist(), strict=True))
        taus = image_onsets(
            c.step.values,
            pairs,
            c.cos_distance.values,
            c.eps_test_loss.values,
            c.memorised_fraction.values,
            c.memorised_fraction_se.values,
            c.memorised_floor.values,
            c.nn_distance.values,
            c.nn_distance_test.values,
        )
        cells.append(xr.Dataset(dict(taus)).expand_dims({"n_train": [n]}))
    return xr.concat(cells, dim="n_train")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", default="runs/digits.toml")
    ap.add_argument("--out", default="results/digits")
    args = ap.parse_args()
    results = Path(args.out) / "results.nc"
    if not results.exists():
        tic = time.perf_counter()
        subprocess.run(
            ["physgen", "sweep", "run", args.spec, "--out", args.out, "--quiet"], check=True
        )
        print(f"sweep wall time: {time.perf_counter() - tic:.0f} s")
    ds = xr.open_dataset(results).load()
    ds = ds.drop_vars([k for k in ds.data_vars if str(k).startswith("tau_")]).merge(
        recompute_onsets(ds)
    )
    FIG.mkdir(parents=True, exist_ok=True)
    print("| n | pair | tau_cos | tau_test | tau_mem | tau_cos < tau_test |")
    print("|---|---|---|---|---|---|")
    for j, n in enumerate(ds.n_train.values):
        c = ds.isel(n_train=j)
        for p in c.pair.values:
            tc, tt, tm = (float(c[k].sel(pair=p)) for k in ("tau_cos", "tau_test", "tau_mem"))
            verdict = (
                "yes"
                if tc < tt
                else ("no" if np.isfinite(tc) and np.isfinite(tt) else "undecided (NaN)")
            )
            print(f"| {int(n)} | {int(p)} | {tc:.0f} | {tt:.0f} | {tm:.0f} | {verdict} |")
    c = ds.isel(n_train=-1)
    last = c.step.values[np.isfinite(c.cos_distance.isel(pair=0).values)][-1]
    print(
        "\nε-prediction cosine similarity at the last checkpoint, mean over pairs (train | test | empirical train | empirical test):"
    )
    print("| eps_t | train | test | emp. train | emp. test |\n|---|---|---|---|---|")
    for t in c.eps_t.values:
        vals = [
            float(c.eps_cos_train.sel(step=last, eps_t=t).mean()),
            float(c.eps_cos_test.sel(step=last, eps_t=t).mean()),
            float(c.eps_cos_train_emp.sel(eps_t=t).mean()),
            float(c.eps_cos_test_emp.sel(eps_t=t).mean()),
        ]
        print(f"| {int(t)} | " + " | ".join(f"{v:.3f}" for v in vals) + " |")

    fig, axes = plt.subplots(1, 4, figsize=(15, 3.4))
    steps = c.step.values
    for p in c.pair.values:
        a, b = int(c.pair_a.sel(pair=p)), int(c.pair_b.sel(pair=p))
        ok = np.isfinite(c.cos_distance.sel(pair=p).values)
        line = axes[0].plot(
            steps[ok], c.cos_distance.sel(pair=p).values[ok], marker="o", label=f"pair {int(p)}"
        )[0]
        test = (c.eps_test_loss.isel(network=a) + c.eps_test_loss.isel(network=b)) / 2
        axes[1].plot(steps, test, marker=".", color=line.get_color())
        for k, ls in (("tau_cos", "--"), ("tau_test", ":")):
            v = float(c[k].sel(pair=p))
            if np.isfinite(v):
                axes[0 if k == "tau_cos" else 1].axvline(v, color=line.get_color(), ls=ls)
        axes[3].plot(
            steps[ok],
            (
                (c.memorised_fraction.isel(network=a) + c.memorised_fraction.isel(network=b)) / 2
            ).values[ok],
            marker="o",
            color=line.get_color(),
        )
    for t in c.eps_t.values:
        line = axes[2].plot(
            steps, c.eps_cos_train.sel(eps_t=t).mean("pair"), label=f"train, t={int(t)}"
        )[0]
        axes[2].plot(
            steps,
            c.eps_cos_test.sel(eps_t=t).mean("pair"),
            ls="--",
            color=line.get_color(),
            label=f"test, t={int(t)}",
        )
    titles = (
        "median cosine distance of coupled samples (τ_cos dashed)",
        "test ε-MSE (τ_test dotted)",
        "ε cosine similarity A vs B",
        "memorised fraction",
    )
    for ax, title in zip(axes, titles, strict=True):
        ax.set(xscale="log", xlabel="training step")
        ax.set_title(title, fontsize=8)
        ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(FIG / "digits_curves.png", dpi=120)
    print(
        f"\nfigures: {FIG / 'digits_curves.png'}, {plot_quadruplets(c, FIG / 'digits_quadruplets.png')}"
    )


if __name__ == "__main__":
    sys.exit(main())
