"""Measure the digits sweep: τ_cos against τ_test for every disjoint pair, ε similarity on
training vs test images, memorisation, and the quadruplet figure.

    python benchmarks/observe_digits.py [--spec runs/digits.toml] [--out results/digits]

Runs the sweep (timed) unless OUT/results.nc exists, prints markdown tables and draws
docs/figures/digits_curves.png and docs/figures/digits_quadruplets.png.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from _sweep_results import run_or_load, with_onsets

from physgen.experiments.images import image_checkpoints, image_onsets
from physgen.experiments.schema import VARIABLES
from physgen.plots import quadruplets

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
        cells.append(
            xr.Dataset({k: (VARIABLES[k].dims, v) for k, v in taus.items()}).expand_dims(
                {"n_train": [n]}
            )
        )
    return xr.concat(cells, dim="n_train")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", default="runs/digits.toml")
    ap.add_argument("--out", default="results/digits")
    args = ap.parse_args()
    ds = run_or_load(args.spec, args.out)
    ds = with_onsets(ds, recompute_onsets)
    FIG.mkdir(parents=True, exist_ok=True)
    print_onsets(ds)
    print_eps_similarity(ds)
    curves = plot_curves(ds, FIG / "digits_curves.png")
    (quads,) = quadruplets(ds.isel(n_train=-1), FIG / "digits_quadruplets.png")
    print(f"\nfigures: {curves}, {quads}")


def print_onsets(ds: xr.Dataset) -> None:
    """Per cell and pair: the onsets, the first digit-like checkpoint, the cosine distance at
    ``tau_cos`` and at the end, and the verdict ``tau_cos < tau_test``."""
    print(
        "| n | pair | tau_images (first digit-like step) | tau_cos | tau_test | tau_mem "
        "| cos dist. at tau_cos -> end | tau_cos < tau_test |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for j, n in enumerate(ds.n_train.values):
        c = ds.isel(n_train=j)
        for p in c.pair.values:
            tc, tt, tm = (float(c[k].sel(pair=p)) for k in ("tau_cos", "tau_test", "tau_mem"))
            cos = c.cos_distance.sel(pair=p)
            at = f"{float(cos.where(cos.step == tc, drop=True)):.3f}" if np.isfinite(tc) else "-"
            end = f"{float(cos.isel(checkpoint=-1)):.3f}"
            if not (np.isfinite(tc) and np.isfinite(tt)):
                verdict = "undecided (NaN)"
            else:
                verdict = "yes" if tc < tt else ("equal" if tc == tt else "no")
            print(
                f"| {int(n)} | {int(p)} | {float(c.tau_images.sel(pair=p)):.0f} | {tc:.0f} | {tt:.0f} "
                f"| {tm:.0f} | {at} -> {end} | {verdict} |"
            )


def print_eps_similarity(ds: xr.Dataset) -> None:
    """ε-prediction cosine similarity of A and B on noised training vs test images at the last
    checkpoint (mean over pairs), with the two-memorizer reference."""
    print("\nε-prediction cosine similarity A vs B at the last checkpoint, mean over pairs:")
    print("| n | eps_t | train | test | emp. train | emp. test |\n|---|---|---|---|---|---|")
    for j, n in enumerate(ds.n_train.values):
        c = ds.isel(n_train=j, checkpoint=-1)
        for t in c.eps_t.values:
            vals = [
                float(c[k].sel(eps_t=t).mean())
                for k in ("eps_cos_train", "eps_cos_test", "eps_cos_train_emp", "eps_cos_test_emp")
            ]
            print(f"| {int(n)} | {int(t)} | " + " | ".join(f"{v:.3f}" for v in vals) + " |")


def plot_curves(ds: xr.Dataset, out: Path) -> Path:
    """One row per n: coupled-sample cosine distance (τ_cos dashed), test ε-MSE (τ_test
    dotted), ε cosine similarity on training vs test images, memorised fraction."""
    rows = ds.sizes["n_train"]
    fig, axes = plt.subplots(rows, 4, figsize=(15, 3.0 * rows), squeeze=False)
    for row, n in zip(axes, ds.n_train.values, strict=True):
        c = ds.sel(n_train=n)
        steps = c.step.values
        for p in c.pair.values:
            a, b = int(c.pair_a.sel(pair=p)), int(c.pair_b.sel(pair=p))
            cos = c.cos_distance.sel(pair=p).values
            ok = np.isfinite(cos)
            line = row[0].plot(steps[ok], cos[ok], marker="o", mfc="none", label=f"pair {int(p)}")
            colour = line[0].get_color()
            digits = (
                ok & image_checkpoints([(a, b)], c.nn_distance.values, c.nn_distance_test.values)[0]
            )
            row[0].plot(steps[digits], cos[digits], "o", color=colour)
            test = (c.eps_test_loss.isel(network=a) + c.eps_test_loss.isel(network=b)) / 2
            row[1].plot(steps, test, marker=".", color=colour)
            for k, ax, ls in (("tau_cos", row[0], "--"), ("tau_test", row[1], ":")):
                v = float(c[k].sel(pair=p))
                if np.isfinite(v):
                    ax.axvline(v, color=colour, ls=ls)
            mem = (c.memorised_fraction.isel(network=a) + c.memorised_fraction.isel(network=b)) / 2
            row[3].plot(steps[ok], mem.values[ok], marker="o", color=colour)
        for t in c.eps_t.values:
            train = c.eps_cos_train.sel(eps_t=t).mean("pair")
            line = row[2].plot(steps, train, label=f"train, t={int(t)}")[0]
            row[2].plot(
                steps,
                c.eps_cos_test.sel(eps_t=t).mean("pair"),
                ls="--",
                color=line.get_color(),
                label=f"test, t={int(t)}",
            )
        titles = (
            f"n = {int(n)}: median cos. distance of coupled samples\n"
            "(filled: both nets make digits; τ_cos dashed)",
            "test ε-MSE, pair mean (τ_test dotted)",
            "ε cosine similarity A vs B (mean over pairs)",
            "memorised fraction (pair mean)",
        )
        for ax, title in zip(row, titles, strict=True):
            ax.set(xscale="log", xlabel="training step")
            ax.set_title(title, fontsize=8)
        row[0].legend(fontsize=6)
        row[2].legend(fontsize=5, ncol=2)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


if __name__ == "__main__":
    sys.exit(main())
