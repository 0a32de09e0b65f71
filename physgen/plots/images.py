"""Coupled image samples along training: quadruplets (NN_A, x_A, x_B, NN_B).

For the image experiment (docs/theory.md §5): at each sample checkpoint (one row per step) and
for each shown noise draw, the two networks A and B of a disjoint pair turn the same noise into
x_A and x_B; beside them, framed in orange, their nearest neighbours in their own training
splits, NN_A and NN_B. Early in training x_A ≈ x_B (the networks generalise alike); later each
drifts toward its own split and finally copies it (x_A ≈ NN_A).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from physgen.errors import PhysgenError
from physgen.plots._axes import new_figure, save_figure
from physgen.plots._layout import cell_path, iter_cells, training_axis

__all__ = ["quadruplet_figure", "quadruplets"]


def quadruplet_figure(
    path: str | Path,
    steps: Sequence[float],
    nn_a: np.ndarray,
    x_a: np.ndarray,
    x_b: np.ndarray,
    nn_b: np.ndarray,
    *,
    to_unit: Callable[[np.ndarray], np.ndarray] | None = None,
    title: str = "coupled samples along training: NN_A | x_A | x_B | NN_B",
) -> Path:
    """Write a PNG grid: one row per checkpoint, one quadruplet (NN_A, x_A, x_B, NN_B) per shown
    noise draw.

    ``nn_a``, ``x_a``, ``x_b``, ``nn_b``: ``(n_steps, n_shown, C, H, W)``; ``to_unit`` maps
    images to display values in ``[0, 1]`` (default: ``(x + 1) / 2`` clipped). Returns the path.
    """
    quads = [np.asarray(v, dtype=np.float64) for v in (nn_a, x_a, x_b, nn_b)]
    if len({q.shape for q in quads}) != 1 or quads[0].ndim != 5:
        raise PhysgenError("nn_a, x_a, x_b, nn_b must share one shape (n_steps, n_pairs, C, H, W)")
    n_steps, n_shown = quads[0].shape[:2]
    if len(steps) != n_steps:
        raise PhysgenError(f"{len(steps)} steps for {n_steps} rows of images")
    unit = to_unit or (lambda v: np.clip((v + 1.0) / 2.0, 0.0, 1.0))
    fig, axes = new_figure(
        n_steps,
        4 * n_shown,
        (0.6 * 4 * n_shown + 0.8, 0.65 * n_steps + 0.6),
        gridspec_kw={"wspace": 0.05, "hspace": 0.08},
    )
    for i in range(n_steps):
        for p in range(n_shown):
            for j, q in enumerate(quads):
                ax = axes[i, 4 * p + j]
                img = unit(q[i, p]).transpose(1, 2, 0)
                ax.imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray", vmin=0, vmax=1)
                ax.set_xticks([])
                ax.set_yticks([])
                if j in (0, 3):
                    for side in ax.spines.values():
                        side.set_edgecolor("tab:orange")
        axes[i, 0].set_ylabel(f"{int(steps[i])}", rotation=0, ha="right", va="center", fontsize=7)
    fig.suptitle(title, fontsize=8)
    return save_figure(fig, Path(path), tight=False)


def _cell_quadruplets(cell: xr.Dataset, out: Path, pair: int, n_shown: int) -> Path:
    a, b = int(cell.pair_a.values[pair]), int(cell.pair_b.values[pair])
    dim, steps = training_axis(cell["sample_show"])
    # samples are kept at the sample checkpoints only (NaN elsewhere)
    first_pixel = {d: 0 for d in cell["sample_show"].dims if d not in ("network", dim)}
    shown = cell["sample_show"].isel(network=a, **first_pixel).notnull().values
    sel = {dim: np.flatnonzero(shown), "show": slice(0, n_shown)}
    mean = cell["mean_image"].values

    def take(name: str, net: int) -> np.ndarray:
        return cell[name].isel(network=net, **sel).transpose(dim, "show", ...).values

    return quadruplet_figure(
        out,
        steps[sel[dim]],
        take("nn_show", a),
        take("sample_show", a),
        take("sample_show", b),
        take("nn_show", b),
        to_unit=lambda v: np.clip((v + mean + 1.0) / 2.0, 0.0, 1.0),
        title=f"pair {pair}: NN_A | x_A | x_B | NN_B along training (rows: step)",
    )


def quadruplets(ds: xr.Dataset, out: str | Path, pair: int = 0, n_shown: int = 4) -> list[Path]:
    """Quadruplets of the disjoint pair ``pair`` (its first ``n_shown`` noise draws) along the
    sample checkpoints, one figure per cell of an image-experiment file; cells without kept
    samples are skipped. Returns the files written."""
    out = Path(out)
    return [
        _cell_quadruplets(cell, cell_path(out, name), pair, n_shown)
        for name, cell in iter_cells(ds)
        if "sample_show" in cell
    ]
