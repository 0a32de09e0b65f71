r"""The main job per pair, from its merged results file (runs/quick.toml, issue 11 item 7).

For every cell (n_train × depth), every disjoint pair and every weights (raw, the averages):
τ_bias and τ_test with their checkpoint brackets, ``c`` marking a censored onset (a bound), and
per cell and weights the pairs ordered beyond resolution (``n_bias_before_test`` of
``n_bias_test_measured``). Then the precision of S: its standard error at τ_bias against
S(τ_test) − S(τ_bias) (the issue asks ≤ 10 %), over the pairs with both onsets uncensored; and
that rise of S against its typical checkpoint-to-checkpoint change between the two onsets (the
median |ΔS| of consecutive checkpoints: SGD noise in the weights, which the standard error over
inputs does not cover).

    PYTHONPATH=. python benchmarks/main_job_table.py results/quick/results.nc
"""

from __future__ import annotations

import argparse

import numpy as np
import xarray as xr


def _onset(cell: xr.Dataset, name: str, p: int) -> str:
    tau, lo, hi = (float(cell[f"{name}{s}"].values[p]) for s in ("", "_lo", "_hi"))
    if np.isnan(tau):
        return f"> {lo:.0f} c"
    mark = " c" if bool(cell[f"{name}_censored"].values[p]) else ""
    return f"{tau:.0f} ({lo:.0f}–{hi:.0f}){mark}"


def table(ds: xr.Dataset) -> str:
    """Markdown rows ``| n | depth | weights | pair | τ_bias | τ_test |`` and the cell counts."""
    rows = [
        "| n | depth | weights | pair | τ_bias (bracket) | τ_test (bracket) |",
        "|---" * 6 + "|",
    ]
    counts = ["| n | depth | " + " | ".join(map(str, ds.weights.values)) + " |"]
    counts.append("|---" * (2 + ds.sizes["weights"]) + "|")
    for n in ds.n_train.values:
        for depth in ds.depth.values:
            cell = ds.sel(n_train=n, depth=depth)
            per_w = []
            for w in ds.weights.values:
                c = cell.sel(weights=w)
                for p in range(ds.sizes["pair"]):
                    rows.append(
                        f"| {n} | {depth} | {w} | {p} | {_onset(c, 'tau_bias', p)} | "
                        f"{_onset(c, 'tau_test', p)} |"
                    )
                per_w.append(f"{int(c.n_bias_before_test)} of {int(c.n_bias_test_measured)}")
            counts.append(f"| {n} | {depth} | " + " | ".join(per_w) + " |")
    return "\n".join(rows) + "\n\n" + "\n".join(counts)


def precision(ds: xr.Dataset) -> str:
    """Per weights, over the measured pairs: SE of S at τ_bias over the rise
    S(τ_test) − S(τ_bias), and that rise over the median checkpoint-to-checkpoint |ΔS|."""
    lines = []
    for w in ds.weights.values:
        se_ratio, rise = [], []
        for n in ds.n_train.values:
            for depth in ds.depth.values:
                c = ds.sel(n_train=n, depth=depth, weights=w)
                step = c.step.values
                for p in range(ds.sizes["pair"]):
                    if c.tau_bias_censored.values[p] or c.tau_test_censored.values[p]:
                        continue
                    kb = int(np.flatnonzero(step == c.tau_bias.values[p])[0])
                    kt = int(np.flatnonzero(step == c.tau_test.values[p])[0])
                    S, se = c.split_divergence.values[p], c.split_divergence_se.values[p]
                    se_ratio.append(se[kb] / (S[kt] - S[kb]))
                    rise.append((S[kt] - S[kb]) / np.median(np.abs(np.diff(S[kb : kt + 1]))))
        r, q = np.array(se_ratio), np.array(rise)
        lines.append(
            f"{w}: {r.size} measured pairs; SE(S at tau_bias) / rise: median {np.median(r):.3f}, "
            f"max {r.max():.3f}; rise / checkpoint wiggle: median {np.median(q):.1f}, "
            f"min {q.min():.1f}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", help="merged results.nc of runs/quick.toml")
    ds = xr.open_dataset(parser.parse_args().results)
    print(table(ds))
    print()
    print(precision(ds))


if __name__ == "__main__":
    main()
