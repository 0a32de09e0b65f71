"""The figure scripts on a synthetic merged result: panels per depth, NaN onsets, file output."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from physgen.errors import PhysgenError
from physgen.sweep.figures import draw_figures, load_figure_module


def merged(n_pairs: int = 3) -> xr.Dataset:
    rng = np.random.default_rng(0)
    n = np.array([50, 100, 200])
    depth = np.array([3, 4])
    shape = (3, 2, n_pairs)
    base = n[:, None, None] * depth[None, :, None]
    attrs = {"units": "step", "description": "-"}
    ds = xr.Dataset(
        {
            "tau_bias": (
                ("n_train", "depth", "pair"),
                base * rng.uniform(1, 2, shape),
                {"long_name": "b", **attrs},
            ),
            "tau_test": (
                ("n_train", "depth", "pair"),
                base * rng.uniform(8, 9, shape),
                {"long_name": "t", **attrs},
            ),
            "tau_mem": (
                ("n_train", "depth", "pair"),
                np.full(shape, np.nan),
                {"long_name": "m", **attrs},
            ),
        },
        coords={"n_train": n, "depth": depth, "pair": np.arange(n_pairs)},
        attrs={"title": "synthetic", "sweep_dims": json.dumps(["n_train", "depth"])},
    )
    return ds


def test_phase_diagram_has_one_panel_per_depth(tmp_path: Path) -> None:
    module = load_figure_module("phase_diagram")
    (path,) = module.plot(merged(), tmp_path / "phase.png")
    assert path.stat().st_size > 20_000
    import matplotlib.image

    height, width = matplotlib.image.imread(path).shape[:2]
    assert width > 1.8 * height  # two panels side by side


def mixture_like() -> xr.Dataset:
    """A Gaussian-mixture sweep: grid (n_train, dim), onsets tau_gen / tau_mem / tau_closer."""
    rng = np.random.default_rng(1)
    n, dim = np.array([8, 16, 32, 64]), np.array([4, 8])
    shape = (4, 2, 1)
    attrs = {"units": "step", "long_name": "-", "description": "-"}
    dims = ("n_train", "dim", "pair")
    return xr.Dataset(
        {
            "tau_gen": (dims, rng.uniform(10, 20, shape), attrs),
            "tau_mem": (dims, 30.0 * n[:, None, None] * np.ones(shape), attrs),
            "tau_closer": (dims, 60.0 * n[:, None, None] * np.ones(shape), attrs),
            "tau_gen_net": (("n_train", "dim", "network"), rng.uniform(10, 20, (4, 2, 2)), attrs),
        },
        coords={"n_train": n, "dim": dim, "pair": [0]},
        attrs={"title": "mixture", "sweep_dims": json.dumps(["n_train", "dim"])},
    )


def test_phase_diagram_draws_the_onsets_of_any_model(tmp_path: Path) -> None:
    module = load_figure_module("phase_diagram")
    ds = mixture_like()
    assert module.onsets_in(ds) == ["tau_gen", "tau_closer", "tau_mem"]  # not the per-net ones
    assert module.panel_dim(ds, "n_train") == "dim"
    assert module.panel_dim(ds.isel(dim=[0]), "n_train") is None
    (path,) = module.plot(ds, tmp_path / "phase.png")
    import matplotlib.image

    height, width = matplotlib.image.imread(path).shape[:2]
    assert width > 1.8 * height  # one panel per dimension d
    images = merged().rename(tau_bias="tau_cos")
    assert module.onsets_in(images) == ["tau_cos", "tau_test", "tau_mem"]


def test_draw_figures_skips_what_the_file_lacks(tmp_path: Path) -> None:
    paths = draw_figures(merged(), tmp_path, kinds=("phase_diagram", "kl_time"))
    assert [p.name for p in paths] == ["phase_diagram.png"]  # no KL curves in this file


def test_unknown_figure() -> None:
    with pytest.raises(PhysgenError, match="unknown figure"):
        load_figure_module("pie")
