"""The biased phase against n and depth from a merged results file (issue 11, item 8): the fitted
exponents of τ_bias, τ_test and their ratio per depth and weights, the width of the phase per
cell and the per-pair onsets as markdown tables on stdout; the width heat map and the onsets'
power laws as figures (docs/onsets.md, "Exponents and the width of the biased phase").

    python -m analysis.depth results/depth/results.nc [--out DIR] [--censoring drop|bound]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import xarray as xr

import physgen
from physgen.metrics.biased_phase import onset_exponents, phase_width
from physgen.plots import draw_figures

from .tables import exponent_table, onset_table, width_table

__all__ = ["main", "report"]


def report(
    ds: xr.Dataset,
    censoring: Literal["drop", "bound"] = "drop",
    level: float = 0.95,
    n_boot: int = 4000,
) -> str:
    """The three markdown tables of ``ds`` (a merged results Dataset), with the τ_bias rule and
    the censoring rule they were made with."""
    fits = onset_exponents(ds, censoring=censoring, level=level, n_boot=n_boot)
    rule = ds.attrs.get("physgen_bias_rule", "?")
    progress = ds.attrs.get("physgen_bias_progress", "")
    dropped = (
        "censored onsets left out (counted as c)"
        if censoring == "drop"
        else "censored onsets kept at their bound"
    )
    return "\n\n".join(
        [
            f"τ_bias rule: {rule} (progress {progress}); exponents: log-log least squares over "
            f"the per-size mean of log τ, {100 * level:g} % bootstrap over pairs within sizes; "
            f"{dropped}; † a size with one usable onset (interval too narrow)",
            exponent_table(fits),
            "Width of the biased phase per cell (over the pairs with both onsets measured)",
            width_table(phase_width(ds), ds),
            "Per-pair onsets (bracket; c: censored, a bound)",
            onset_table(ds),
        ]
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="merged results.nc (or a sweep folder)")
    parser.add_argument("--out", type=Path, help="folder of the figures (default: the file's)")
    parser.add_argument("--censoring", choices=("drop", "bound"), default="drop")
    parser.add_argument("--level", type=float, default=0.95)
    parser.add_argument("--n-boot", type=int, default=4000)
    args = parser.parse_args(argv)
    ds = physgen.open_results(args.results)
    print(report(ds, args.censoring, args.level, args.n_boot))
    folder = args.out or (args.results if args.results.is_dir() else args.results.parent)
    for path in draw_figures(ds, folder, ("width", "scaling")):
        print(f"figure: {path}")


if __name__ == "__main__":
    main()
