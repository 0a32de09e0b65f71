"""Report a Gaussian-mixture sweep: τ_gen and τ_mem per pair against n with brackets and
censoring, the log-log slope of τ_mem(n) with its bootstrap 95 % interval, and the speciation /
collapse times of every cell.

    python benchmarks/observe_gmm.py [--spec runs/gmm.toml] [--out results/gmm] [--tag gmm]

Runs the sweep (``physgen sweep run SPEC --out OUT``, timed) unless OUT/results.nc exists, prints
markdown tables and draws docs/figures/<tag>_onsets.png (onsets per pair with their brackets,
censored ones hollow, the fitted power law and n¹) and <tag>_curves.png (memorised fraction and
relative population error along training, mean over networks).
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
from _sweep_results import run_or_load

from physgen.errors import PhysgenError
from physgen.metrics.scaling import loglog_slope_ci

FIG = Path("docs/figures")
ONSETS = ("tau_gen", "tau_mem")


def _cells(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` with a ``dim`` dimension (added from the config when d is not swept) and the
    first weights only."""
    if "dim" not in ds.dims:
        ds = ds.expand_dims({"dim": [int(json.loads(ds.attrs["config_json"])["model"]["dim"])]})
    return ds.isel(weights=0) if "weights" in ds.dims else ds


def _fmt(tau: float, lo: float, hi: float, censored: bool) -> str:
    if not np.isfinite(tau):
        return f"> {lo:.0f} (c)"
    mark = " (c)" if censored else ""
    return f"{tau:.0f} ({lo:.0f}, {hi:.0f}]{mark}"


def slope(sub: xr.Dataset, name: str, censoring: str) -> str:
    """``slope [lo, hi]`` of ``name`` against n (pairs resampled within n), or why not."""
    try:
        ci = loglog_slope_ci(
            sub.n_train.values,
            sub[name].values,
            sub[f"{name}_censored"].values.astype(bool),
            censoring=censoring,  # type: ignore[arg-type]
        )
    except PhysgenError as exc:
        return f"n/a ({exc})"
    verdict = "compatible with 1" if ci.contains(1.0) else "not compatible with 1"
    return (
        f"{ci.slope:.2f} [{ci.lo:.2f}, {ci.hi:.2f}] ({verdict}; {ci.n_used} onsets at "
        f"{ci.n_sizes} sizes, {ci.n_censored} censored, rule {ci.censoring})"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", default="runs/gmm.toml")
    ap.add_argument("--out", default="results/gmm")
    ap.add_argument("--tag", default="gmm_learned")
    args = ap.parse_args()
    ds = _cells(run_or_load(args.spec, args.out))
    FIG.mkdir(parents=True, exist_ok=True)
    n = ds.n_train.values.astype(float)

    for d in ds.dim.values:
        sub = ds.sel(dim=d)
        print(f"\n### d = {int(d)}\n")
        print("| n | steps | pair | tau_gen (lo, hi] | tau_mem (lo, hi] |")
        print("|---:|---:|---:|---|---|")
        for j, nn in enumerate(n):
            c = sub.isel(n_train=j)
            for p in range(c.sizes["pair"]):
                cols = [
                    _fmt(
                        *(float(c[f"{k}{s}"].isel(pair=p)) for s in ("", "_lo", "_hi")),
                        bool(c[f"{k}_censored"].isel(pair=p)),
                    )
                    for k in ONSETS
                ]
                print(f"| {int(nn)} | {int(c.step.max())} | {p} | " + " | ".join(cols) + " |")
        for name in ONSETS:
            for rule in ("drop", "bound"):
                print(f"\nslope of {name}(n), censored {rule}: {slope(sub, name, rule)}")

    print("\n| d | n | t_S | t½ exact | t½ measured | t_C exact f | t_C data f | t_C measured |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    keys = (
        "t_speciation_model",
        "t_speciation_exact",
        "t_speciation_meas",
        "t_collapse_model",
        "t_collapse_pred",
        "t_collapse_meas",
    )
    for d in ds.dim.values:
        for j, nn in enumerate(n):
            c = ds.sel(dim=d).isel(n_train=j)
            print(
                f"| {int(d)} | {int(nn)} | " + " | ".join(f"{float(c[k]):.3f}" for k in keys) + " |"
            )

    fig, axes = plt.subplots(
        1, ds.sizes["dim"], figsize=(4.6 * ds.sizes["dim"], 3.8), squeeze=False
    )
    for ax, d in zip(axes[0], ds.dim.values, strict=True):
        sub = ds.sel(dim=d)
        for name, colour, shift in (("tau_mem", "tab:red", 1.03), ("tau_gen", "tab:green", 0.97)):
            tau = sub[name].values
            lo, hi = sub[f"{name}_lo"].values, sub[f"{name}_hi"].values
            cens = sub[f"{name}_censored"].values.astype(bool)
            x = np.broadcast_to(n[:, None] * shift, tau.shape)
            shown = np.where(np.isfinite(tau), tau, lo)  # never reached: the last checked step
            ok = ~cens & np.isfinite(tau)
            ax.errorbar(
                x[ok],
                tau[ok],
                yerr=[tau[ok] - lo[ok], hi[ok] - tau[ok]],
                fmt="o",
                color=colour,
                ms=4,
                capsize=2,
                label=name,
            )
            ax.plot(
                x[~ok], shown[~ok], "o", mfc="none", color=colour, ms=5, label=f"{name} censored"
            )
        mem = np.where(sub.tau_mem_censored.values.astype(bool), np.nan, sub.tau_mem.values)
        if np.isfinite(mem).any():  # geometric mean per n of the uncensored onsets
            gm = np.array(
                [
                    np.exp(np.log(r[np.isfinite(r)]).mean()) if np.isfinite(r).any() else np.nan
                    for r in mem
                ]
            )
            j = int(np.nanargmax(gm))
            ax.plot(n, gm[j] * n / n[j], "k:", label="∝ n")
        ax.set(
            xscale="log",
            yscale="log",
            xlabel="n_train",
            ylabel="training step",
            title=f"d = {int(d)}",
        )
        ax.set_xticks(n, [str(int(v)) for v in n])
        ax.minorticks_off()
        ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(FIG / f"{args.tag}_onsets.png", dpi=110)

    fig, axes = plt.subplots(ds.sizes["dim"], 2, figsize=(9, 3.2 * ds.sizes["dim"]), squeeze=False)
    for row, d in zip(axes, ds.dim.values, strict=True):
        sub = ds.sel(dim=d)
        for j, nn in enumerate(n):
            c = sub.isel(n_train=j)
            frac = c.memorised_fraction.mean("network")
            ok = np.isfinite(frac.values)
            row[0].plot(c.step.values[ok], frac.values[ok], marker=".", label=f"n={int(nn)}")
            row[1].plot(c.step.values, c.rel_pop_error.mean("network"), label=f"n={int(nn)}")
        row[1].axhline(float(ds.attrs.get("physgen_gen_threshold", 0.25)), color="k", ls=":")
        row[0].set(xscale="log", xlabel="training step", title=f"memorised fraction, d = {int(d)}")
        row[1].set(
            xscale="log",
            yscale="log",
            xlabel="training step",
            title=f"relative population error, d = {int(d)}",
        )
        row[0].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(FIG / f"{args.tag}_curves.png", dpi=110)
    print(f"\nfigures: {FIG / (args.tag + '_onsets.png')}, {FIG / (args.tag + '_curves.png')}")


if __name__ == "__main__":
    sys.exit(main())
