r"""The main job per pair, from its merged results file (runs/quick.toml, issue 11 item 7).

For every cell (n_train × depth), every disjoint pair and every weights (raw, the averages):
τ_bias and τ_test with their checkpoint brackets (:func:`analysis.tables.onset_table`), ``c`` marking a censored onset (a bound), and
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

from analysis.tables import onset_table


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
    print(onset_table(ds))
    print()
    print(precision(ds))


if __name__ == "__main__":
    main()
