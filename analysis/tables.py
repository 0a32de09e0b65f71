"""Markdown tables of the biased phase from a merged results file (issue 11): the per-pair onsets
with their brackets, the fitted exponents and the width per cell.

The tables are printed by ``analysis/depth.py`` and ``benchmarks/main_job_table.py``; the numbers
come from :mod:`physgen.metrics.biased_phase` (docs/onsets.md, "Exponents and the width of the
biased phase").
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np
import xarray as xr

__all__ = ["exponent_table", "onset_table", "width_table"]


def _onset(cell: xr.Dataset, name: str, p: int) -> str:
    tau, lo, hi = (float(cell[f"{name}{s}"].values[p]) for s in ("", "_lo", "_hi"))
    if np.isnan(tau):
        return f"> {lo:.0f} c"
    mark = " c" if bool(cell[f"{name}_censored"].values[p]) else ""
    return f"{tau:.0f} ({lo:.0f}–{hi:.0f}){mark}"


def _bounds(cell: xr.Dataset) -> str:
    """``ordered of counted`` by :func:`~physgen.metrics.count_before` with censored onsets as
    the bounds their brackets give, from the recorded onsets of one cell and weights."""
    from physgen.metrics import Onset, count_before

    def onset(name: str) -> Onset:
        return Onset(*(cell[f"{name}{s}"].values for s in ("", "_lo", "_hi", "_censored")))

    ordered, counted = count_before(onset("tau_bias"), onset("tau_test"), censored="bound")
    return f"{ordered} of {counted}"


def onset_table(ds: xr.Dataset) -> str:
    """Markdown rows ``| n | depth | weights | pair | τ_bias | τ_test |`` (``c``: censored, a
    bound) and, per cell and weights, the pairs ordered beyond their brackets
    (``n_bias_before_test`` of ``n_bias_test_measured``), then, in brackets, the same count
    with censored onsets taken as bounds (``count_before(..., censored="bound")``)."""
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
                measured = f"{int(c.n_bias_before_test)} of {int(c.n_bias_test_measured)}"
                per_w.append(f"{measured} ({_bounds(c)})")
            counts.append(f"| {n} | {depth} | " + " | ".join(per_w) + " |")
    return "\n".join(rows) + "\n\n" + "\n".join(counts)


def _cells(ds: xr.Dataset, dims: list[str]) -> Iterator[tuple[list[str], xr.Dataset]]:
    """``(values as text, sub-Dataset)`` for every combination of ``dims``."""
    for values in itertools.product(*(ds[d].values for d in dims)):
        yield [str(v) for v in values], ds.sel(dict(zip(dims, values, strict=True)))


def exponent_table(fits: xr.Dataset) -> str:
    """Markdown table of :func:`~physgen.metrics.biased_phase.onset_exponents`: one row per
    value of its dimensions but ``quantity``, one column per quantity, each
    ``exponent [lo, hi] (used, c censored)``; ``†`` marks a fit with a size of one usable onset
    (its interval is too narrow)."""
    dims = [d for d in fits.exponent.dims if d != "quantity"]
    quantities = [str(q) for q in fits.quantity.values]
    pct = f"{100 * fits.attrs['level']:g} %"
    head = [*dims, *(f"{q}: exponent [{pct}]" for q in quantities)]
    rows = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for labels, sub in _cells(fits, dims):
        cols = []
        for q in quantities:
            f = sub.sel(quantity=q)
            used, cens = int(f.n_used), int(f.n_censored)
            if not np.isfinite(f.exponent):
                cols.append(f"— ({used} used, {cens} c)")
                continue
            dagger = " †" if int(f.min_pairs) < 2 else ""
            cols.append(
                f"{float(f.exponent):.2f} [{float(f.exponent_lo):.2f}, "
                f"{float(f.exponent_hi):.2f}] ({used} used, {cens} c){dagger}"
            )
        rows.append("| " + " | ".join([*labels, *cols]) + " |")
    return "\n".join(rows)


def width_table(width: xr.Dataset, ds: xr.Dataset | None = None) -> str:
    """Markdown table of :func:`~physgen.metrics.biased_phase.phase_width`: per cell the median
    ratio τ_test / τ_bias and difference τ_test − τ_bias with their min–max over the measured
    pairs, the measured pairs, and (from ``ds``, when it records them) the pairs ordered beyond
    their brackets."""
    dims = list(width.n_measured.dims)
    ordered = ds is not None and "n_bias_before_test" in ds
    head = [*dims, "τ_test / τ_bias: median [min–max]", "τ_test − τ_bias: median [min–max]"]
    head += ["measured / pairs"] + (["ordered beyond brackets"] if ordered else [])
    rows = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for labels, c in _cells(width, dims):
        m = int(c.n_measured)
        if m:
            r = [float(c[f"ratio_{s}"]) for s in ("median", "min", "max")]
            d = [float(c[f"width_{s}"]) for s in ("median", "min", "max")]
            cols = [f"{r[0]:.3g} [{r[1]:.3g}–{r[2]:.3g}]", f"{d[0]:.0f} [{d[1]:.0f}–{d[2]:.0f}]"]
        else:
            cols = ["—", "—"]
        cols.append(f"{m} / {int(c.n_pairs)}")
        if ordered:
            sel = {d: c[d].values for d in dims}
            cols.append(str(int(ds["n_bias_before_test"].sel(sel))))
        rows.append("| " + " | ".join([*labels, *cols]) + " |")
    return "\n".join(rows)
