"""KL along diffusion time: KL(BP_0 ‖ BP_k)(t) for every level k, and KL(BP_0 ‖ model)(t).

Left: the oracle ladder along t/T (the KL between the exact posterior and the k-filtered one
peaks near t/T ≈ 0.15 for the paper grammar: the critical time of the score-level diagnostics,
docs/theory.md §4.4). Right: the trained models (mean over networks) at each checkpoint where
the curve was measured, coloured by training step, with the BP_L curve (root-only oracle) for
reference. One figure per sweep cell; cells without these curves are skipped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from physgen.plots._axes import colours, log_axis, new_figure, save_figure
from physgen.plots._layout import (
    cell_path,
    diffusion_axis,
    iter_cells,
    levels,
    mean_over,
    training_axis,
)

__all__ = ["kl_time"]


def _draw_cell(cell: xr.Dataset, title: str, out: Path) -> Path:
    fig, axes = new_figure(1, 2, (9.5, 3.8), sharey=True)
    left, right = axes[0]
    if "kl_oracle_time" in cell:
        da = cell["kl_oracle_time"]
        t, x = diffusion_axis(da)
        ladder = levels(da)
        shades = colours("viridis", len(ladder))
        for k in range(1, len(ladder)):
            y = mean_over(ladder[k], (t,)).values
            left.plot(x, y, color=shades[k], label=f"KL(BP_0 ‖ BP_{k})")
        root = mean_over(ladder[-1], (t,)).values
        right.plot(x, root, "k--", lw=1, label=f"KL(BP_0 ‖ BP_{len(ladder) - 1})")
    if "kl_model_time" in cell:
        da = cell["kl_model_time"]
        dim, steps = training_axis(da)
        t, x = diffusion_axis(da)
        y = mean_over(da, (dim, t)).transpose(dim, t).values
        measured = np.flatnonzero(~np.isnan(y).all(axis=1))
        for c, i in zip(colours("plasma", len(measured)), measured, strict=False):
            right.plot(x, y[i], color=c, label=f"model, step {int(steps[i])}")
    for ax, name in ((left, "oracles"), (right, "trained models")):
        log_axis(ax, "y")
        ax.set_xlabel("t / T")
        ax.set_title(name, fontsize=9)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=6)
    left.set_ylabel("KL [nat / sequence]")
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, out)


def kl_time(ds: xr.Dataset, out: str | Path) -> list[Path]:
    """One KL-along-time figure per cell of ``ds`` that holds the curves; returns the files."""
    out = Path(out)
    return [
        _draw_cell(cell, f"{ds.attrs.get('title', '')} {name}".strip(), cell_path(out, name))
        for name, cell in iter_cells(ds)
        if "kl_oracle_time" in cell or "kl_model_time" in cell
    ]
