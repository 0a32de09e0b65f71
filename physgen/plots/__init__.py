"""Figures from physgen results files: they read netCDF / xarray only, never recompute.

Each figure is a function ``f(ds, out) -> list[Path]`` of a results Dataset (one cell or a merged
sweep, e.g. ``physgen.open_results("results/quick/results.nc")``) and a PNG path; figures drawn
per cell get the cell's name appended to ``out``:

* :func:`phase_diagram` — the onsets (τ_bias, τ_test, τ_mem, τ_cos, τ_gen, τ_closer) against
  the training-set size, one panel per depth (or dimension);
* :func:`curves` — losses, S, the D_k ladder and the NN divergence along training, per cell;
* :func:`kl_time` — KL(BP_0 ‖ BP_k)(t) and KL(BP_0 ‖ model)(t) along diffusion time, per cell;
* :func:`width_map` — the width of the biased phase, τ_test / τ_bias, as a heat map over
  (n_train, depth), one panel per weights; :func:`onset_scaling` — τ_bias and τ_test against n
  on log-log axes with their fitted power laws (:mod:`physgen.metrics.biased_phase`);
* :func:`guidance` — τ_bias, memorisation and S of guided networks against the guidance
  weight w, beside the exact guided process (the guidance experiment);
* :func:`quadruplets` — coupled image samples with their nearest training images, per cell
  (:func:`quadruplet_figure` draws them from plain arrays).

:func:`draw_figures` draws figures by name (``physgen plot``); :func:`draw_figures_or_warn` is
the sweep's figure step (the kinds of :func:`sweep_kinds`). Figures are built on :class:`matplotlib.figure.Figure` without pyplot:
importing or using this package never selects or switches the user's matplotlib backend.

Example::

    import physgen
    from physgen.plots import curves, phase_diagram

    ds = physgen.open_results("results/quick/results.nc")
    phase_diagram(ds, "phase.png")
    curves(ds.sel(depth=[2]), "curves.png")   # one figure per n_train
"""

from __future__ import annotations

from physgen.plots.curves import curves
from physgen.plots.figures import (
    FIGURES,
    FigureWarning,
    draw_figures,
    draw_figures_or_warn,
    figure_function,
    sweep_kinds,
)
from physgen.plots.guidance import guidance
from physgen.plots.images import quadruplet_figure, quadruplets
from physgen.plots.kl_time import kl_time
from physgen.plots.phase import phase_diagram
from physgen.plots.width import onset_scaling, width_map

__all__ = [
    "FIGURES",
    "FigureWarning",
    "curves",
    "draw_figures",
    "draw_figures_or_warn",
    "figure_function",
    "guidance",
    "kl_time",
    "onset_scaling",
    "phase_diagram",
    "quadruplet_figure",
    "quadruplets",
    "sweep_kinds",
    "width_map",
]
