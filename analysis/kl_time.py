"""KL along diffusion time: KL(BP_0 ‖ BP_k)(t) for every level k, and KL(BP_0 ‖ model)(t).

Left: the oracle ladder along t/T (the KL between the exact posterior and the k-filtered one
peaks near t/T ≈ 0.15 for the paper grammar: the critical time of the score-level diagnostics).
Right: the trained models (mean over networks) at each checkpoint where the curve was measured,
coloured by training step, with the BP_L curve (root-only oracle) for reference. One figure per
sweep cell.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from ._common import (
    cell_path,
    iter_cells,
    levels,
    log_axis,
    main,
    mean_over,
    save_figure,
    step_values,
)

__all__ = ["plot"]


def _t_frac(da: xr.DataArray) -> np.ndarray:
    return np.asarray(da["kl_t_frac"].values, float)


def _draw_cell(cell: xr.Dataset, title: str, out: Path) -> Path:
    fig, (left, right) = plt.subplots(1, 2, figsize=(9.5, 3.8), sharey=True)
    if "kl_oracle_time" in cell:
        da = cell["kl_oracle_time"]
        x = _t_frac(da)
        ladder = levels(da)
        colours = plt.cm.viridis(np.linspace(0, 0.9, len(ladder)))
        for k in range(1, len(ladder)):
            y = mean_over(ladder[k], ("kl_t",)).values
            left.plot(x, y, color=colours[k], label=f"KL(BP_0 ‖ BP_{k})")
        root = mean_over(ladder[-1], ("kl_t",)).values
        right.plot(x, root, "k--", lw=1, label=f"KL(BP_0 ‖ BP_{len(ladder) - 1})")
    if "kl_model_time" in cell:
        da = cell["kl_model_time"]
        dim, steps = step_values(da)
        y = mean_over(da, (dim, "kl_t")).transpose(dim, "kl_t").values
        measured = np.where(~np.isnan(y).all(axis=1))[0]
        colours = plt.cm.plasma(np.linspace(0, 0.9, max(len(measured), 1)))
        for c, i in zip(colours, measured, strict=False):
            right.plot(_t_frac(da), y[i], color=c, label=f"model, step {int(steps[i])}")
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


def plot(ds: xr.Dataset, out: Path) -> list[Path]:
    """One KL-along-time figure per cell of ``ds``; returns the files written."""
    out = Path(out)
    return [
        _draw_cell(cell, f"{ds.attrs.get('title', '')} {name}".strip(), cell_path(out, name))
        for name, cell in iter_cells(ds)
        if "kl_oracle_time" in cell or "kl_model_time" in cell
    ]


if __name__ == "__main__":
    main(plot, __doc__)
