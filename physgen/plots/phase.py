"""Phase diagram of the onsets against the training-set size, for any model.

Every per-pair onset the file holds is drawn: τ_bias, τ_test, τ_mem (trees), τ_cos (images),
τ_gen and τ_closer (Gaussian mixtures). One panel per value of the second grid dimension
(``depth`` for trees, ``dim`` for mixtures; none when only one dimension is swept). In each
panel, for every value of the x axis (``n_train`` when swept, else the first grid dimension),
every pair's onset (any further grid dimension is treated as replicates) with its checkpoint
bracket as an error bar (the onset lies between the neighbouring checkpoints; ``*_lo``, ``*_hi``),
a censored onset (``*_censored``: not reached, or at an edge of its valid range — a bound, not a
measurement) as an open marker, and the mean over pairs as a line. One row of panels per
``weights`` (raw weights, each average) when the file has that dimension. The band between the bias
onset (τ_bias, or τ_cos for images) and τ_test — the *biased generalisation* phase, where the
test loss still falls while the two models of a pair already drift toward their own training
sets (docs/theory.md §4.3) — is shaded; for mixtures, the generalisation window [τ_gen, τ_mem].
Steps on a log axis; NaN (not reached) onsets are left out.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from physgen.plots._axes import log_axis, new_figure, save_figure
from physgen.plots._layout import grid_dims

__all__ = ["BANDS", "ONSETS", "draw_pairs", "log_x_axis", "onsets_in", "panel_dim", "phase_diagram"]

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


def _bracket(sub: xr.Dataset, name: str, x: str) -> tuple[np.ndarray, ...]:
    """Per pair (replicates), the onset, the lower and upper error-bar lengths from its bracket
    and the censored flag, each ``(len(x), replicates)``; without brackets in the file, zero
    lengths and no censoring."""
    tau = _replicates(sub[name], x)
    if f"{name}_censored" not in sub:
        zero = np.zeros_like(tau)
        return tau, zero, zero, np.zeros(tau.shape, dtype=bool)
    lo, hi = (_replicates(sub[f"{name}_{s}"], x) for s in ("lo", "hi"))
    # a bracket end at 0 or inf (no checkpoint before / after) is drawn as no bar on that side
    down = np.where(np.isfinite(lo) & (lo > 0), tau - lo, 0.0)
    up = np.where(np.isfinite(hi), hi - tau, 0.0)
    return tau, down, up, _replicates(sub[f"{name}_censored"], x) > 0


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
    rows = list(ds["weights"].values) if "weights" in ds.dims else [None]
    fig, axes = new_figure(
        len(rows), len(panels), (4.2 * len(panels) + 0.6, 3.8 * len(rows)), sharey=True
    )
    xs = np.asarray(ds[x].values)
    numeric = xs.dtype.kind in "iuf"
    xpos = xs.astype(float) if numeric else np.arange(xs.size, dtype=float)
    for row, weights in zip(axes, rows, strict=True):
        for ax, value in zip(row, panels, strict=True):
            sub = ds.sel({panel: value}) if panel else ds
            sub = sub.sel(weights=weights) if weights is not None else sub
            _draw_panel(ax, sub, drawn, x, xpos, numeric)
            ax.set_xticks(xpos, [str(v) for v in xs])
            ax.minorticks_off()
            ax.set_xlabel(ds[x].attrs.get("long_name", x) if x != "cell" else "cell")
            title = [f"{panel} = {value}"] if panel else []
            title += [f"weights: {weights}"] if weights is not None else []
            if title:
                ax.set_title(", ".join(title), fontsize=9)
            ax.grid(alpha=0.3, which="both")
    for row in axes:
        row[0].set_ylabel("training step")
    axes[0][-1].legend(fontsize=7, loc="best")
    fig.suptitle(ds.attrs.get("title", "phase diagram"), fontsize=9)
    return [save_figure(fig, out, dpi=130)]


def _draw_panel(
    ax: Any, sub: xr.Dataset, drawn: list[str], x: str, xpos: np.ndarray, numeric: bool
) -> None:
    """One panel: each onset's pairs with bracket error bars (open markers when censored), their
    mean as a line, and the bands between the means."""
    means = {}
    log_x = log_x_axis(xpos, numeric)
    for name, label, colour, marker in ONSETS:
        if name not in drawn:
            continue
        with warnings.catch_warnings():
            # all-NaN rows (onset not reached) are expected: they stay NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(draw_pairs(ax, sub, name, x, xpos, log_x), axis=1)
        means[name] = mean
        if np.all(np.isnan(mean)):
            label += " — not reached"
        ax.plot(xpos, mean, color=colour, lw=1.2, marker=marker, mfc="none", ms=0, label=label)
    if means:
        ax.plot([], [], "ko", mfc="none", ms=4, label="open: censored (a bound)")
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
    if log_x:
        ax.set_xscale("log")


def log_x_axis(xpos: np.ndarray, numeric: bool) -> bool:
    """Whether the x axis of a panel is logarithmic: numeric, positive and spanning ≥ 4×."""
    return bool(numeric and xpos.min() > 0 and xpos.max() / xpos.min() >= 4)


def draw_pairs(
    ax: Any, sub: xr.Dataset, name: str, x: str, xpos: np.ndarray, log_x: bool
) -> np.ndarray:
    """Every pair's onset ``name`` of ``sub`` with its bracket as an error bar, filled when
    measured and open when censored, the pairs side by side around each ``x`` (a small offset,
    multiplicative on a log axis); returns the onsets, ``(len(x), replicates)``."""
    colour, marker = next((c, m) for n, _, c, m in ONSETS if n == name)
    tau, down, up, censored = _bracket(sub, name, x)
    n_rep = tau.shape[1]
    shift = (np.arange(n_rep) - (n_rep - 1) / 2) * 0.04
    for j in range(n_rep):
        xj = xpos * np.exp(shift[j]) if log_x else xpos + shift[j] * 5
        for cens, face in ((False, colour), (True, "none")):
            m = censored[:, j] == cens
            if not m.any():
                continue
            ax.errorbar(
                xj[m], tau[m, j], yerr=[down[m, j], up[m, j]], fmt=marker, ms=4,
                color=colour, mfc=face, capsize=2, elinewidth=0.8, alpha=0.8,
            )  # fmt: skip
    return tau
