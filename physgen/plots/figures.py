"""The standard figures by name, and drawing them into a folder.

A figure kind maps to a function ``f(ds, out) -> list[Path]`` and a file name; figures of a
merged sweep with one figure per cell get the cell's name appended. :func:`draw_figures` is what
``physgen plot`` calls; :func:`draw_figures_or_warn` is what a sweep calls after merging: there a
figure that cannot be drawn is a :class:`FigureWarning`, never a failed sweep (the results are
written by then, and ``physgen plot`` can draw the figure again); :func:`sweep_kinds` says which
kinds a sweep draws.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import xarray as xr

from physgen.errors import PhysgenError
from physgen.plots._layout import grid_dims
from physgen.plots.curves import curves
from physgen.plots.guidance import guidance
from physgen.plots.images import quadruplets
from physgen.plots.kl_time import kl_time
from physgen.plots.phase import phase_diagram
from physgen.plots.width import onset_scaling, width_map

__all__ = [
    "FIGURES",
    "FigureWarning",
    "draw_figures",
    "draw_figures_or_warn",
    "figure_function",
    "sweep_kinds",
]

FigureFn = Callable[[xr.Dataset, Path], list[Path]]

#: figure kind → (function, output file name)
FIGURES: dict[str, tuple[FigureFn, str]] = {
    "phase_diagram": (phase_diagram, "phase_diagram.png"),
    "curves": (curves, "curves.png"),
    "kl_time": (kl_time, "kl_time.png"),
    "quadruplets": (quadruplets, "quadruplets.png"),
    "width": (width_map, "width.png"),
    "scaling": (onset_scaling, "onset_scaling.png"),
    "guidance": (guidance, "guidance.png"),
}


def sweep_kinds(ds: xr.Dataset) -> tuple[str, ...]:
    """The figures a sweep draws after merging: the phase diagram, and, when the grid has both
    ``n_train`` and ``depth`` with two or more values each, the width heat map and the onsets'
    power laws (:mod:`physgen.plots.width`); and the guidance figure for a guidance sweep."""
    dims = grid_dims(ds)
    both = all(d in dims and ds.sizes[d] >= 2 for d in ("n_train", "depth"))
    kinds = ("phase_diagram", "width", "scaling") if both else ("phase_diagram",)
    return (*kinds, "guidance") if "guided_divergence" in ds else kinds


class FigureWarning(UserWarning):
    """A figure could not be drawn (the results it would show are on disk regardless)."""


def figure_function(kind: str) -> FigureFn:
    """The drawing function of the figure ``kind``; an unknown kind is a :class:`PhysgenError`."""
    if kind not in FIGURES:
        raise PhysgenError(f"unknown figure {kind!r}; known: {', '.join(FIGURES)}")
    return FIGURES[kind][0]


def draw_figures(
    ds: xr.Dataset, out_dir: str | os.PathLike[str], kinds: Sequence[str] = tuple(FIGURES)
) -> list[Path]:
    """Draw the figures ``kinds`` of ``ds`` into ``out_dir`` (created); returns the files
    written. A kind whose variables the file lacks writes nothing."""
    fns = [(figure_function(kind), FIGURES[kind][1]) for kind in kinds]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return [path for fn, name in fns for path in fn(ds, out_dir / name)]


def draw_figures_or_warn(
    ds: xr.Dataset, out_dir: str | os.PathLike[str], kinds: Sequence[str] = tuple(FIGURES)
) -> list[Path]:
    """:func:`draw_figures`, one kind at a time, where any failure (matplotlib missing, a file
    layout the figure does not know, a folder not writable) is a :class:`FigureWarning` naming
    the figure and the cause; returns the files written."""
    paths: list[Path] = []
    for kind in kinds:
        try:
            paths += draw_figures(ds, out_dir, (kind,))
        except Exception as exc:  # a figure must never fail the run that produced the data
            message = " ".join(str(exc).split()) or type(exc).__name__
            warnings.warn(
                f"figure {kind!r} not drawn ({type(exc).__name__}: {message}); "
                f"the results are written: draw it with `physgen plot`",
                FigureWarning,
                stacklevel=2,
            )
    return paths
