"""The biased phase across a sweep: its width as a heat map over (n_train, depth), and the onsets
against n with their fitted power laws (:mod:`physgen.metrics.biased_phase`, docs/onsets.md).

* :func:`width_map` — one panel per ``weights``: a cell per (``n_train``, ``depth``) coloured by
  log10 of the median ratio τ_test / τ_bias over the measured pairs (diverging at 1: red, a
  biased phase; blue, τ_test before τ_bias), annotated with that median, its min–max over the
  pairs, the median difference τ_test − τ_bias in steps, and the number of measured pairs.
* :func:`onset_scaling` — one panel per depth, one row per ``weights``: every pair's τ_bias and
  τ_test against n on log-log axes with its checkpoint bracket (open markers: censored), and the
  fitted lines τ ∝ n^a with the exponent and its bootstrap interval in the legend (censored
  onsets left out of the fit).

Both need the per-pair ``tau_bias`` and ``tau_test`` and ``n_train`` among the grid dimensions
(the scaling figure: at least two sizes); otherwise they write nothing. Any grid dimension other
than ``n_train``, ``depth`` (or the one panel dimension) and ``weights`` is a
:class:`~physgen.errors.PhysgenError`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from physgen.errors import PhysgenError
from physgen.metrics.biased_phase import onset_exponents, phase_width
from physgen.plots._axes import new_figure, save_figure
from physgen.plots._layout import grid_dims
from physgen.plots.phase import ONSETS, draw_pairs, log_x_axis, panel_dim

__all__ = ["onset_scaling", "scaling_figure", "width_figure", "width_map"]

X = "n_train"
DRAWN = ("tau_bias", "tau_test")


def _layout(ds: xr.Dataset, min_sizes: int) -> tuple[str | None, list[Any]] | None:
    """The panel dimension (``depth``, or None) and the weights (``[None]`` without that
    dimension) of a file the figures can draw; None when they cannot (no onsets, no n_train)."""
    if any(name not in ds or "pair" not in ds[name].dims for name in DRAWN):
        return None
    if X not in grid_dims(ds) or ds.sizes[X] < min_sizes:
        return None
    panel = panel_dim(ds, X)
    extra = [d for d in ds["tau_bias"].dims if d not in (X, panel, "weights", "pair")]
    if extra:
        raise PhysgenError(
            f"the biased-phase figures draw n_train x {panel or 'nothing'} per weights; "
            f"select a value of {', '.join(extra)} first"
        )
    return panel, list(ds["weights"].values) if "weights" in ds.dims else [None]


def _pick(data: Any, **sel: Any) -> Any:
    """``data`` (a Dataset or DataArray) at the values ``sel`` of the dimensions it has (None:
    no selection)."""
    return data.sel({k: v for k, v in sel.items() if k in data.dims and v is not None})


def width_figure(ds: xr.Dataset) -> Figure | None:
    """The heat map of :func:`width_map` as a :class:`~matplotlib.figure.Figure` (one image
    panel per weights, plus a colour bar), or None when ``ds`` cannot give it."""
    layout = _layout(ds, 1)
    if layout is None:
        return None
    panel, weights = layout
    width = phase_width(ds)
    ys = list(ds[panel].values) if panel else [None]
    ns = list(ds[X].values)
    log_ratio = np.log10(width["ratio_median"].where(width["ratio_median"] > 0))
    finite = np.abs(log_ratio.values[np.isfinite(log_ratio.values)])
    lim = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    fig, axes = new_figure(
        1, len(weights), (1.5 * len(ns) * len(weights) + 1.6, 1.2 * len(ys) + 1.6)
    )
    image = None
    for ax, w in zip(axes[0], weights, strict=True):
        grid = np.full((len(ys), len(ns)), np.nan)
        for i, y in enumerate(ys):
            for j, n in enumerate(ns):
                where = {X: n, "weights": w, **({panel: y} if panel else {})}
                cell = _pick(width, **where)
                grid[i, j] = float(_pick(log_ratio, **where))
                ax.text(j, i, _label(cell), ha="center", va="center", fontsize=7,
                        color="white" if abs(np.nan_to_num(grid[i, j])) > 0.6 * lim else "black")  # fmt: skip
        image = ax.imshow(
            np.ma.masked_invalid(grid), cmap="RdBu_r", vmin=-lim, vmax=lim, origin="lower",
            aspect="auto",
        )  # fmt: skip
        ax.set_facecolor("0.85")  # no measured pair: grey
        ax.set_xticks(range(len(ns)), [str(n) for n in ns])
        ax.set_yticks(range(len(ys)), [str(y) for y in ys] if panel else [""])
        ax.set_xlabel("n_train (per split)")
        ax.set_ylabel(panel or "")
        if w is not None:
            ax.set_title(f"weights: {w}", fontsize=9)
    fig.colorbar(image, ax=axes[0][-1], label="log10 median τ_test / τ_bias")
    fig.suptitle(
        f"{ds.attrs.get('title', '')}: width of the biased phase (median over measured pairs "
        "[min–max], Δ = τ_test − τ_bias, measured / pairs)".lstrip(": "),
        fontsize=8,
    )
    return fig


def _label(cell: xr.Dataset) -> str:
    m, k = int(cell.n_measured), int(cell.n_pairs)
    if m == 0:
        return f"none\nmeasured\n0/{k}"
    r, lo, hi = (float(cell[f"ratio_{s}"]) for s in ("median", "min", "max"))
    return f"{r:.3g}×\n[{lo:.3g}–{hi:.3g}]\nΔ {float(cell.width_median):.0f}\n{m}/{k}"


def width_map(ds: xr.Dataset, out: str | Path) -> list[Path]:
    """Draw the width heat map of ``ds`` (a merged ``results.nc``) into the PNG ``out``;
    returns ``[out]``, or ``[]`` when the file has no per-pair τ_bias / τ_test over n_train."""
    fig = width_figure(ds)
    return [] if fig is None else [save_figure(fig, Path(out), dpi=130)]


def scaling_figure(ds: xr.Dataset) -> Figure | None:
    """The figure of :func:`onset_scaling` (one panel per depth and weights), or None when
    ``ds`` cannot give it."""
    layout = _layout(ds, 2)
    if layout is None:
        return None
    panel, weights = layout
    fits = onset_exponents(ds)
    cols = list(ds[panel].values) if panel else [None]
    fig, axes = new_figure(
        len(weights), len(cols), (4.2 * len(cols) + 0.6, 3.8 * len(weights)), sharey=True
    )
    xs = np.asarray(ds[X].values, dtype=float)
    line = np.geomspace(xs.min(), xs.max(), 32)
    for row, w in zip(axes, weights, strict=True):
        for ax, c in zip(row, cols, strict=True):
            where = {"weights": w, **({panel: c} if panel else {})}
            sub = _pick(ds, **where)
            for name in DRAWN:
                colour = next(col for n, _, col, _ in ONSETS if n == name)
                draw_pairs(ax, sub, name, X, xs, log_x_axis(xs, True))
                fit = _pick(fits, **where).sel(quantity=name)
                label = f"{name}: no fit ({int(fit.n_sizes)} size(s) measured)"
                if np.isfinite(fit.exponent):
                    label = (
                        f"{name} ∝ n^{float(fit.exponent):.2f} [{float(fit.exponent_lo):.2f}, "
                        f"{float(fit.exponent_hi):.2f}] ({int(fit.n_censored)} censored left out)"
                    )
                    tau = np.exp(float(fit.log_prefactor)) * line ** float(fit.exponent)
                    ax.plot(line, tau, color=colour, lw=1.2)
                ax.plot([], [], color=colour, lw=1.2, label=label)
            ax.plot([], [], "ko", mfc="none", ms=4, label="open: censored (a bound)")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xticks(xs, [str(int(v)) for v in xs])
            ax.minorticks_off()
            ax.set_xlabel("n_train (per split)")
            title = [f"{panel} = {c}"] if panel else []
            title += [f"weights: {w}"] if w is not None else []
            ax.set_title(", ".join(title), fontsize=9)
            ax.grid(alpha=0.3, which="both")
            ax.legend(fontsize=6, loc="upper left")
        row[0].set_ylabel("training step")
    pct = f"{100 * fits.attrs['level']:g} %"
    fig.suptitle(
        f"{ds.attrs.get('title', '')}: onsets against n, log-log fits with {pct} bootstrap "
        "intervals".lstrip(": "),
        fontsize=9,
    )
    return fig


def onset_scaling(ds: xr.Dataset, out: str | Path) -> list[Path]:
    """Draw τ_bias and τ_test against n with their fitted power laws into the PNG ``out``;
    returns ``[out]``, or ``[]`` when the file has no per-pair onsets at two or more n_train."""
    fig = scaling_figure(ds)
    return [] if fig is None else [save_figure(fig, Path(out), dpi=130)]
