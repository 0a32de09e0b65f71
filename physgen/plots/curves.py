"""Training curves of each sweep cell: losses, sample-split divergence, D_k ladder, NN divergence.

Four panels against the checkpoint step (log axis), one figure per cell:

1. train and test loss (per-token cross-entropy, mean over networks; thin lines per network) and
   the Bayes floor of the test loss (docs/theory.md §4.1);
2. the sample-split divergence S(τ) of each disjoint pair and its same-split seed baseline (§4.3);
3. the model–oracle ladder D_k(τ) on test inputs, one line per filtering level k (§4.2);
4. the NN divergence KL(P_gen ‖ P_test) (mean over networks, §4.5).

Vertical lines: mean τ_bias (red) and τ_test (blue) of the cell.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from physgen.plots._axes import colours, log_axis, new_figure, save_figure
from physgen.plots._layout import (
    cell_path,
    iter_cells,
    levels,
    mean_over,
    onset_mean,
    training_axis,
)

__all__ = ["curves"]


def _line(ax: Any, da: xr.DataArray, keep: tuple[str, ...] = (), **kw: object) -> None:
    """``da`` against the step, averaged over all but ``keep`` (one line per value of it)."""
    dim, steps = training_axis(da)
    y = mean_over(da, (dim, *keep))
    if keep:
        for i in range(y.sizes[keep[0]]):
            ax.plot(steps, y.isel({keep[0]: i}).transpose(dim).values, **kw)
    else:
        ax.plot(steps, y.transpose(dim).values, **kw)


def _draw_cell(cell: xr.Dataset, title: str, out: Path) -> Path:
    fig, axes = new_figure(2, 2, (9.5, 6.5), sharex=True)
    ax = axes[0, 0]
    for name, colour in (("train_loss", "tab:green"), ("test_loss", "tab:blue")):
        if name in cell:
            _line(ax, cell[name], ("network",), color=colour, lw=0.6, alpha=0.4)
            _line(ax, cell[name], color=colour, lw=2, label=name.replace("_", " "))
    if "bayes_test_loss" in cell:
        ax.axhline(float(cell["bayes_test_loss"].mean()), color="k", ls=":", label="Bayes floor")
    ax.set_ylabel("cross-entropy [nat/token]")
    ax.set_title("losses", fontsize=9)
    ax = axes[0, 1]
    if "split_divergence" in cell:
        _line(ax, cell["split_divergence"], ("pair",), color="tab:red", lw=1, alpha=0.8)
        _line(ax, cell["split_divergence"], color="tab:red", lw=2.2, label="S, disjoint pairs")
    if "seed_divergence" in cell and cell["seed_divergence"].size:
        _line(ax, cell["seed_divergence"], color="tab:gray", lw=2, ls="--", label="seed baseline")
    ax.set_ylabel("S [nat]")
    ax.set_title("sample-split divergence", fontsize=9)
    ax = axes[1, 0]
    if "ladder_test" in cell:
        ladder = levels(cell["ladder_test"])
        for k, (level, colour) in enumerate(
            zip(ladder, colours("viridis", len(ladder)), strict=True)
        ):
            _line(ax, level, color=colour, lw=1.6, label=f"D_{k}")
        log_axis(ax, "y")
    ax.set_ylabel("D_k [nat]")
    ax.set_title("model–oracle ladder (test inputs)", fontsize=9)
    ax = axes[1, 1]
    if "nn_divergence" in cell:
        da = cell["nn_divergence"]
        dim, steps = training_axis(da)
        y = mean_over(da, (dim,)).transpose(dim).values
        ok = ~np.isnan(y)
        ax.plot(steps[ok], y[ok], "o-", color="tab:purple", label="NN divergence")
    ax.set_ylabel("KL(P_gen ‖ P_test) [nat]")
    ax.set_title("nearest-neighbour divergence", fontsize=9)
    for name, colour in (("tau_bias", "tab:red"), ("tau_test", "tab:blue")):
        tau = onset_mean(cell, name)
        if tau is not None:
            for a in axes.flat:
                a.axvline(tau, color=colour, lw=0.8, ls="-.")
    for a in axes.flat:
        log_axis(a, "x")
        a.grid(alpha=0.3)
        if a.get_legend_handles_labels()[0]:
            a.legend(fontsize=7)
    for a in axes[1]:
        a.set_xlabel("training step")
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, out)


def curves(ds: xr.Dataset, out: str | Path) -> list[Path]:
    """One curves figure per cell of ``ds`` (``out``, with the cell's name appended for a
    merged sweep); returns the files written."""
    out = Path(out)
    return [
        _draw_cell(cell, f"{ds.attrs.get('title', '')} {name}".strip(), cell_path(out, name))
        for name, cell in iter_cells(ds)
    ]
