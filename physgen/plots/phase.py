"""Phase diagram of the onsets against the training-set size, for any model.

Every per-pair onset the file holds is drawn: τ_bias, τ_test, τ_mem (trees), τ_cos (images),
τ_gen and τ_closer (Gaussian mixtures). One panel per value of the second grid dimension
(``depth`` for trees, ``dim`` for mixtures; none when only one dimension is swept). In each
panel, for every value of the x axis (``n_train`` when swept, else the first grid dimension),
the mean over pairs (and over any further grid dimension, treated as replicates) of each onset,
with its min–max spread as error bars and the single pairs as dots. The band between the bias
onset (τ_bias, or τ_cos for images) and τ_test — the *biased generalisation* phase, where the
test loss still falls while the two models of a pair already drift toward their own training
sets (docs/theory.md §4.3) — is shaded; for mixtures, the generalisation window [τ_gen, τ_mem].
Steps on a log axis; NaN (not reached) onsets are left out.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import xarray as xr

from physgen.plots._axes import log_axis, new_figure, save_figure
from physgen.plots._layout import grid_dims

__all__ = ["BANDS", "ONSETS", "onsets_in", "panel_dim", "phase_diagram"]

#: (variable, label, colour, marker), in drawing order
ONSETS = (
    ("tau_gen", "τ_gen (close to population score)", "tab:green", "D"),
    ("tau_bias", "τ_bias (argmin S)", "tab:red", "o"),
    ("tau_cos", "τ_cos (argmin coupled-sample distance)", "tab:red", "o"),
    ("tau_test", "τ_test (test-loss min)", "tab:blue", "s"),
    ("tau_closer", "τ_closer (closer to empirical score)", "tab:olive", "v"),
    ("tau_mem", "τ_mem (memorisation)", "tab:purple", "^"),
)

#: (lower onset, upper onset, label) of the shaded bands, drawn when both are in the file
BANDS = (
    ("tau_bias", "tau_test", "biased phase"),
    ("tau_cos", "tau_test", "biased phase"),
    ("tau_gen", "tau_mem", "generalisation window"),
)


def onsets_in(ds: xr.Dataset) -> list[str]:
    """The per-pair onsets of :data:`ONSETS` present in ``ds`` (those with a ``pair`` dimension)."""
    return [name for name, *_ in ONSETS if name in ds and "pair" in ds[name].dims]


def panel_dim(ds: xr.Dataset, x: str) -> str | None:
    """The grid dimension drawn as one panel per value: ``depth`` when swept, else the first
    grid dimension other than ``x`` with more than one value."""
    others = [d for d in grid_dims(ds) if d != x and ds.sizes[d] > 1]
    return "depth" if "depth" in others else (others[0] if others else None)


def _replicates(da: xr.DataArray, x: str) -> np.ndarray:
    """``da`` as an array of shape (len(x), replicates)."""
    other = [d for d in da.dims if d != x]
    if not other:
        return da.values[:, None].astype(float)
    return da.stack(rep=other).transpose(x, "rep").values.astype(float)


def phase_diagram(ds: xr.Dataset, out: str | Path) -> list[Path]:
    """Draw the phase diagram of ``ds`` (a merged ``results.nc`` or one cell) into the PNG
    ``out``; returns ``[out]``."""
    out = Path(out)
    dims = grid_dims(ds)
    x = "n_train" if "n_train" in dims else (dims[0] if dims else None)
    if x is None:
        ds = ds.expand_dims(cell=[0])
        x = "cell"
    panel = panel_dim(ds, x)
    drawn = onsets_in(ds)
    panels = list(ds[panel].values) if panel else [None]
    fig, axes = new_figure(1, len(panels), (4.2 * len(panels) + 0.6, 3.8), sharey=True)
    xs = np.asarray(ds[x].values)
    numeric = xs.dtype.kind in "iuf"
    xpos = xs.astype(float) if numeric else np.arange(xs.size, dtype=float)
    for ax, value in zip(axes[0], panels, strict=True):
        sub = ds.sel({panel: value}) if panel else ds
        means = {}
        for name, label, colour, marker in ONSETS:
            if name not in drawn:
                continue
            reps = _replicates(sub[name], x)
            with warnings.catch_warnings():
                # all-NaN rows (onset not reached) are expected: they stay NaN
                warnings.simplefilter("ignore", RuntimeWarning)
                mean = np.nanmean(reps, axis=1)
                lo, hi = np.nanmin(reps, axis=1), np.nanmax(reps, axis=1)
            means[name] = mean
            if np.all(np.isnan(mean)):
                label += " — not reached"
            for j in range(reps.shape[1]):
                ax.scatter(xpos, reps[:, j], s=9, color=colour, alpha=0.35, linewidths=0)
            ax.errorbar(
                xpos, mean, yerr=[mean - lo, hi - mean], color=colour, marker=marker,
                capsize=3, label=label,
            )  # fmt: skip
        for lower, upper, band in BANDS:
            if lower not in means or upper not in means:
                continue
            lo_m, hi_m = means[lower], means[upper]
            ok = ~np.isnan(lo_m) & ~np.isnan(hi_m)
            ax.fill_between(
                xpos, lo_m, hi_m, where=ok & (lo_m < hi_m), color="tab:orange", alpha=0.18,
                interpolate=True, label=band,
            )  # fmt: skip
        log_axis(ax, "y")
        if numeric and xpos.min() > 0 and xpos.max() / xpos.min() >= 4:
            ax.set_xscale("log")
        ax.set_xticks(xpos, [str(v) for v in xs])
        ax.minorticks_off()
        ax.set_xlabel(ds[x].attrs.get("long_name", x) if x != "cell" else "cell")
        if panel:
            ax.set_title(f"{panel} = {value}")
        ax.grid(alpha=0.3, which="both")
    axes[0][0].set_ylabel("training step")
    axes[0][-1].legend(fontsize=7, loc="best")
    fig.suptitle(ds.attrs.get("title", "phase diagram"), fontsize=9)
    return [save_figure(fig, out, dpi=130)]
