"""Measure the Gaussian-mixture sweep: τ_mem and τ_gen against n, predicted vs measured times.

    python benchmarks/observe_gmm.py [--spec runs/gmm.toml] [--out results/gmm]

Runs the sweep (``physgen sweep run SPEC --out OUT``, timed; finished cells are reused) unless
OUT/results.nc exists, then prints markdown tables — onsets per n with the fitted log-log slope
of τ_mem(n) (Bonnaire et al. report τ_mem ∝ n), and the speciation / collapse times predicted
from the data next to those measured on the exact empirical-score dynamics — and draws
docs/figures/gmm_onsets.png, gmm_curves.png and gmm_regimes.png.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from _sweep_results import run_or_load, with_onsets

from physgen.experiments.schema import VARIABLES
from physgen.experiments.vectors import INFORMATIVE, vector_onsets

FIG = Path("docs/figures")


def recompute_onsets(ds: xr.Dataset) -> xr.Dataset:
    """Onsets of every cell recomputed from its stored curves with the current rules
    (:func:`physgen.experiments.vectors.vector_onsets`), so cells computed by an older physgen
    are reported consistently."""
    cells = []
    for n in ds.n_train.values:
        row = []
        for d in ds.dim.values:
            c = ds.sel(n_train=n, dim=d)
            pairs = list(zip(c.pair_a.values.tolist(), c.pair_b.values.tolist(), strict=True))
            informative = (c.pop_variance >= INFORMATIVE * c.pop_variance.max()).values
            taus = vector_onsets(
                c.step.values,
                pairs,
                c.rel_pop_error.values,
                c.memorised_fraction.values,
                c.memorised_fraction_se.values,
                c.memorised_floor.values,
                c.dist_emp.values,
                c.dist_pop.values,
                c.eps_test_loss.values,
                informative,
            )
            row.append(
                xr.Dataset({k: (VARIABLES[k].dims, v) for k, v in taus.items()}).expand_dims(
                    {"n_train": [n], "dim": [d]}
                )
            )
        cells.append(xr.concat(row, dim="dim"))
    return xr.concat(cells, dim="n_train")


def _fit_slope(n: np.ndarray, tau: np.ndarray) -> float:
    ok = np.isfinite(tau) & (tau > 0)
    if ok.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(n[ok]), np.log(tau[ok]), 1)[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", default="runs/gmm.toml")
    ap.add_argument("--out", default="results/gmm")
    args = ap.parse_args()
    ds = run_or_load(args.spec, args.out)
    if "dim" not in ds.dims:
        ds = ds.expand_dims({"dim": [int(json.loads(ds.attrs["config_json"])["model"]["dim"])]})
    ds = with_onsets(ds, recompute_onsets)
    dims = ["dim"]
    FIG.mkdir(parents=True, exist_ok=True)
    n = ds.n_train.values.astype(float)

    print("| d | n | tau_gen | tau_mem | tau_closer | tau_test |")
    print("|---|---|---|---|---|---|")
    for d in ds.dim.values if dims else [None]:
        sub = ds.sel(dim=d) if dims else ds
        for j, nn in enumerate(n):
            row = [
                float(sub[k].isel(n_train=j).mean("pair"))
                for k in ("tau_gen", "tau_mem", "tau_closer", "tau_test")
            ]
            print(
                f"| {d} | {int(nn)} | "
                + " | ".join(f"{v:.0f}" if np.isfinite(v) else "NaN" for v in row)
                + " |"
            )
        print(
            f"\nd = {d}: log-log slope of tau_mem(n) = {_fit_slope(n, sub.tau_mem.mean('pair').values):.2f}, "
            f"of tau_gen(n) = {_fit_slope(n, sub.tau_gen.mean('pair').values):.2f}, "
            f"of tau_closer(n) = {_fit_slope(n, sub.tau_closer.mean('pair').values):.2f}\n"
        )

    print(
        "| d | n | s_S pred (data) | s_S (model cov) | s_S measured | s_C pred (data) | s_C (exact f) | s_C measured |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for d in ds.dim.values if dims else [None]:
        sub = ds.sel(dim=d) if dims else ds
        for j, nn in enumerate(n):
            c = sub.isel(n_train=j)
            vals = [
                float(c[k])
                for k in (
                    "t_speciation_pred",
                    "t_speciation_model",
                    "t_speciation_meas",
                    "t_collapse_pred",
                    "t_collapse_model",
                    "t_collapse_meas",
                )
            ]
            print(f"| {d} | {int(nn)} | " + " | ".join(f"{v:.3f}" for v in vals) + " |")

    sub = ds.isel(dim=0) if dims else ds
    fig, ax = plt.subplots(figsize=(4.5, 3.6))
    for name, marker in (
        ("tau_mem", "o"),
        ("tau_gen", "s"),
        ("tau_closer", "^"),
        ("tau_test", "x"),
    ):
        tau = sub[name].mean("pair").values
        if np.isfinite(tau).any():
            ax.plot(n, tau, marker=marker, label=f"{name} (slope {_fit_slope(n, tau):.2f})")
    mem = sub.tau_mem.mean("pair").values
    if np.isfinite(mem).any():
        j = int(np.nanargmax(mem))
        ax.plot(n, n * mem[j] / n[j], "k:", label="∝ n")
        ax.set(yscale="log")
    ax.set(
        xscale="log",
        xlabel="n_train",
        ylabel="training step",
        title="GMM onsets vs n",
    )
    ax.set_xticks(n, [str(int(v)) for v in n])
    ax.minorticks_off()
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(FIG / "gmm_onsets.png", dpi=120)

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    for j, nn in enumerate(n):
        c = sub.isel(n_train=j)
        steps = c.step.values
        axes[0].plot(steps, c.memorised_fraction.mean("network"), marker=".", label=f"n={int(nn)}")
        axes[1].plot(steps, c.rel_pop_error.mean("network"), marker=".", label=f"n={int(nn)}")
        axes[2].plot(steps, c.eps_test_loss.mean("network"), marker=".", label=f"n={int(nn)}")
    axes[1].axhline(float(ds.attrs.get("physgen_gen_threshold", 0.25)), color="k", ls=":")
    for ax, title in zip(
        axes,
        ("memorised fraction (d1/d2 < 1/3)", "relative population error r", "test ε-MSE"),
        strict=True,
    ):
        ax.set(xscale="log", xlabel="training step", title=title)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(FIG / "gmm_curves.png", dpi=120)

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for j, nn in enumerate(n):
        c = sub.isel(n_train=j)
        line = axes[0].plot(
            c.clone_t_ou, c.point_agreement, marker=".", label=f"points, n={int(nn)}"
        )[0]
        axes[0].axvline(float(c.t_collapse_pred), color=line.get_color(), ls=":")
        axes[1].plot(
            c.ou_time, c.excess_entropy_data, color=line.get_color(), label=f"f data, n={int(nn)}"
        )
        axes[1].axhline(
            np.log(nn) / int(c.dim) if "dim" in c.coords else np.nan, color=line.get_color(), ls=":"
        )
    c = sub.isel(n_train=-1)
    axes[0].plot(c.clone_t_ou, c.class_agreement, "k-", marker="s", label="classes (largest n)")
    axes[0].axvline(float(c.t_speciation_pred), color="k", ls="--", label="½ log Λ")
    axes[0].set(
        xscale="log",
        xlabel="OU time s",
        ylabel="clone agreement",
        title="empirical-score dynamics: clones",
    )
    axes[1].plot(c.ou_time, c.excess_entropy_exact, "k--", label="f exact")
    axes[1].set(
        xscale="log",
        yscale="symlog",
        xlabel="OU time s",
        title="excess entropy f(s); dotted: log n / d",
    )
    for ax in axes:
        ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(FIG / "gmm_regimes.png", dpi=120)
    print(
        f"\nfigures: {FIG / 'gmm_onsets.png'}, {FIG / 'gmm_curves.png'}, {FIG / 'gmm_regimes.png'}"
    )


if __name__ == "__main__":
    sys.exit(main())
