"""Matplotlib helpers of the figures: a figure that never touches pyplot, log axes, saving.

Figures are built on :class:`matplotlib.figure.Figure` directly, never through ``pyplot``: no
backend is selected or switched, no window opens, and nothing is registered in the user's pyplot
state (a notebook keeps its own backend and figures).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

__all__ = ["colours", "log_axis", "new_figure", "save_figure"]


def new_figure(rows: int, cols: int, figsize: tuple[float, float], **kw: Any) -> tuple[Figure, Any]:
    """A figure and its ``(rows, cols)`` array of axes (always 2-D)."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(rows, cols, squeeze=False, **kw)


def colours(name: str, n: int) -> np.ndarray:
    """``n`` colours of the colormap ``name``, spread over its first 90 % (the last shades of
    viridis and plasma are too pale on white)."""
    return colormaps[name](np.linspace(0.0, 0.9, max(n, 1)))


def log_axis(ax: Any, which: str = "y") -> None:
    """Log scale on ``which`` axis of ``ax`` when it shows positive data (an empty or all-NaN
    panel, e.g. an onset never reached, keeps a linear axis instead of failing)."""
    values: list[np.ndarray] = []
    for art in [*ax.get_lines(), *ax.collections]:
        xy = np.asarray(
            art.get_xydata() if hasattr(art, "get_xydata") else art.get_offsets(), dtype=float
        )
        if xy.size:
            values.append(xy.reshape(-1, 2)[:, 0 if which == "x" else 1])
    data = np.concatenate(values) if values else np.empty(0)
    if np.any(np.isfinite(data) & (data > 0)):
        (ax.set_xscale if which == "x" else ax.set_yscale)("log")


def save_figure(fig: Figure, out: Path, dpi: int = 110, tight: bool = True) -> Path:
    """Lay out ``fig`` and write it to ``out`` (creating the folder); returns ``out``."""
    if tight:
        fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi, bbox_inches=None if tight else "tight")
    return out
