"""physgen.plots on synthetic results files: panels, both file layouts, NaN onsets, images, the
backend left alone, and matplotlib confined to the plotting package."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr
from PIL import Image

import physgen
from physgen.errors import PhysgenError
from physgen.plots import (
    FIGURES,
    curves,
    draw_figures,
    figure_function,
    kl_time,
    phase_diagram,
    quadruplet_figure,
    quadruplets,
)
from physgen.plots._layout import diffusion_axis, levels, training_axis
from physgen.plots.phase import onsets_in, panel_dim

PACKAGE = Path(physgen.__file__).parent
ATTRS = {"units": "1", "long_name": "-", "description": "-"}


def merged(n_pairs: int = 3) -> xr.Dataset:
    rng = np.random.default_rng(0)
    n = np.array([50, 100, 200])
    depth = np.array([3, 4])
    shape = (3, 2, n_pairs)
    base = n[:, None, None] * depth[None, :, None]
    dims = ("n_train", "depth", "pair")
    return xr.Dataset(
        {
            "tau_bias": (dims, base * rng.uniform(1, 2, shape), ATTRS),
            "tau_test": (dims, base * rng.uniform(8, 9, shape), ATTRS),
            "tau_mem": (dims, np.full(shape, np.nan), ATTRS),
        },
        coords={"n_train": n, "depth": depth, "pair": np.arange(n_pairs)},
        attrs={"title": "synthetic", "sweep_dims": json.dumps(["n_train", "depth"])},
    )


def size(path: Path) -> tuple[int, int]:
    with Image.open(path) as im:
        return im.size


def test_phase_diagram_has_one_panel_per_depth(tmp_path: Path) -> None:
    (path,) = phase_diagram(merged(), tmp_path / "phase.png")
    width, height = size(path)
    assert path.stat().st_size > 20_000
    assert width > 1.8 * height  # two panels side by side
    (one,) = phase_diagram(merged().isel(depth=[0]), tmp_path / "one.png")
    assert size(one)[0] < 1.5 * size(one)[1]  # one depth: one panel


def mixture_like() -> xr.Dataset:
    """A Gaussian-mixture sweep: grid (n_train, dim), onsets tau_gen / tau_mem / tau_closer."""
    rng = np.random.default_rng(1)
    n, dim = np.array([8, 16, 32, 64]), np.array([4, 8])
    shape = (4, 2, 1)
    dims = ("n_train", "dim", "pair")
    return xr.Dataset(
        {
            "tau_gen": (dims, rng.uniform(10, 20, shape), ATTRS),
            "tau_mem": (dims, 30.0 * n[:, None, None] * np.ones(shape), ATTRS),
            "tau_closer": (dims, 60.0 * n[:, None, None] * np.ones(shape), ATTRS),
            "tau_gen_net": (("n_train", "dim", "network"), rng.uniform(10, 20, (4, 2, 2)), ATTRS),
        },
        coords={"n_train": n, "dim": dim, "pair": [0]},
        attrs={"title": "mixture", "sweep_dims": json.dumps(["n_train", "dim"])},
    )


def test_phase_diagram_draws_the_onsets_of_any_model(tmp_path: Path) -> None:
    ds = mixture_like()
    assert onsets_in(ds) == ["tau_gen", "tau_closer", "tau_mem"]  # not the per-net ones
    assert panel_dim(ds, "n_train") == "dim"
    assert panel_dim(ds.isel(dim=[0]), "n_train") is None
    (path,) = phase_diagram(ds, tmp_path / "phase.png")
    width, height = size(path)
    assert width > 1.8 * height  # one panel per dimension d
    images = merged().rename(tau_bias="tau_cos")
    assert onsets_in(images) == ["tau_cos", "tau_test", "tau_mem"]


def cell(layout: str) -> xr.Dataset:
    """One tree cell's curves, in the per-cell layout (``step`` dimension, ``level``) or in the
    merged-sweep layout (``checkpoint`` dimension with a ``step`` coordinate, ``level_index``
    padded with NaN beyond the cell's depth)."""
    rng = np.random.default_rng(2)
    steps = np.array([1, 10, 100, 1000])
    ladder = rng.uniform(0.1, 1, (2, 4, 3))
    s = rng.uniform(0.1, 1, (1, 4))
    kl_t = np.array([5, 50, 100])
    kl_oracle = rng.uniform(0.1, 1, (3, 3))
    if layout == "cell":
        return xr.Dataset(
            {
                "ladder_test": (("network", "step", "level"), ladder, ATTRS),
                "split_divergence": (("pair", "step"), s, ATTRS),
                "kl_oracle_time": (("level", "t"), kl_oracle, ATTRS),
                "tau_bias": (("pair",), [10.0], ATTRS),
            },
            coords={"step": steps, "level": [0, 1, 2], "t": kl_t, "t_frac": ("t", kl_t / 100)},
        )
    padded = np.concatenate([ladder, np.full((2, 4, 2), np.nan)], axis=2)
    padded_kl = np.concatenate([kl_oracle, np.full((2, 3), np.nan)])
    return xr.Dataset(
        {
            "ladder_test": (("network", "checkpoint", "level_index"), padded, ATTRS),
            "split_divergence": (("pair", "checkpoint"), s, ATTRS),
            "kl_oracle_time": (("level_index", "kl_t"), padded_kl, ATTRS),
            "tau_bias": (("pair",), [10.0], ATTRS),
        },
        coords={"step": ("checkpoint", steps), "kl_t_frac": ("kl_t", kl_t / 100)},
    )


def test_both_layouts_read_alike(tmp_path: Path) -> None:
    a, b = cell("cell"), cell("merged")
    for name in ("ladder_test", "split_divergence"):
        da, db = training_axis(a[name]), training_axis(b[name])
        np.testing.assert_array_equal(da[1], db[1])
        assert (da[0], db[0]) == ("step", "checkpoint")
    la, lb = levels(a.ladder_test), levels(b.ladder_test)
    assert len(la) == len(lb) == 3  # the NaN-padded levels 3, 4 are left out
    for x, y in zip(la, lb, strict=True):
        np.testing.assert_array_equal(x.values, y.values)
    ta, tb = diffusion_axis(a.kl_oracle_time), diffusion_axis(b.kl_oracle_time)
    assert (ta[0], tb[0]) == ("t", "kl_t")
    np.testing.assert_array_equal(ta[1], [0.05, 0.5, 1.0])
    np.testing.assert_array_equal(ta[1], tb[1])
    for figure in (curves, kl_time):
        (fa,) = figure(a, tmp_path / "a.png")
        (fb,) = figure(b, tmp_path / "b.png")
        assert size(fa) == size(fb) and fa.stat().st_size > 10_000
    with pytest.raises(ValueError, match="training-time dimension"):
        training_axis(a.tau_bias)
    with pytest.raises(ValueError, match="diffusion-time dimension"):
        diffusion_axis(a.ladder_test)


def test_draw_figures_skips_what_the_file_lacks(tmp_path: Path) -> None:
    paths = draw_figures(merged(), tmp_path, kinds=("phase_diagram", "kl_time", "quadruplets"))
    assert [p.name for p in paths] == ["phase_diagram.png"]  # no KL curves, no images here


def test_unknown_figure_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(PhysgenError, match="unknown figure 'pie'"):
        figure_function("pie")
    with pytest.raises(PhysgenError, match="unknown figure"):
        draw_figures(merged(), tmp_path / "out", ("phase_diagram", "pie"))
    assert not (tmp_path / "out").exists()
    assert set(FIGURES) == {
        "phase_diagram", "curves", "kl_time", "quadruplets", "width", "scaling", "guidance"
    }  # fmt: skip


def test_quadruplet_figure_writes_a_png(tmp_path: Path) -> None:
    x = np.tanh(np.random.default_rng(0).standard_normal((2, 1, 1, 8, 8)))
    out = quadruplet_figure(tmp_path / "fig" / "quad.png", [1, 10], x, x, -x, x)
    assert size(out)[0] > size(out)[1] > 40
    with pytest.raises(PhysgenError, match="share one shape"):
        quadruplet_figure(tmp_path / "q.png", [1, 10], x, x, x[:1], x)
    with pytest.raises(PhysgenError, match="3 steps for 2 rows"):
        quadruplet_figure(tmp_path / "q.png", [1, 10, 100], x, x, x, x)


def image_cells() -> xr.Dataset:
    """Two image cells (n_train = 8, 16) with samples kept at the last two of three steps."""
    rng = np.random.default_rng(3)
    shape = (2, 2, 3, 4, 1, 8, 8)  # n_train, network, step, show, channel, height, width
    show = rng.uniform(-1, 1, shape)
    show[:, :, 0] = np.nan
    dims = ("n_train", "network", "step", "show", "channel", "height", "width")
    return xr.Dataset(
        {
            "sample_show": (dims, show, ATTRS),
            "nn_show": (dims, -show, ATTRS),
            "mean_image": (("channel", "height", "width"), np.zeros((1, 8, 8)), ATTRS),
            "pair_a": (("pair",), [0], ATTRS),
            "pair_b": (("pair",), [1], ATTRS),
        },
        coords={"n_train": [8, 16], "step": [1, 10, 100]},
        attrs={"sweep_dims": json.dumps(["n_train"])},
    )


def test_quadruplets_one_figure_per_cell_rows_at_sample_steps(tmp_path: Path) -> None:
    paths = quadruplets(image_cells(), tmp_path / "quad.png", n_shown=3)
    assert [p.name for p in paths] == ["quad_n_train=8.png", "quad_n_train=16.png"]
    width, height = size(paths[0])
    (one,) = quadruplets(image_cells().isel(n_train=0), tmp_path / "one.png", n_shown=1)
    assert width > 1.7 * size(one)[0]  # 3 quadruplets per row against 1
    assert abs(size(one)[1] - height) < 0.1 * height  # two rows: the two sample steps


def test_drawing_leaves_the_backend_and_pyplot_alone(tmp_path: Path) -> None:
    code = (
        "import sys, matplotlib\n"
        "matplotlib.use('svg')\n"
        "from tests.plots.test_plots import merged\n"
        "from physgen.plots import draw_figures\n"
        f"draw_figures(merged(), {str(tmp_path)!r}, ('phase_diagram',))\n"
        "print(matplotlib.get_backend(), 'matplotlib.pyplot' in sys.modules)\n"
    )
    root = PACKAGE.parent
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True
    )
    assert out.stdout.split() == ["svg", "False"]
    assert (tmp_path / "phase_diagram.png").stat().st_size > 20_000


def test_matplotlib_only_in_the_plotting_package() -> None:
    imports = re.compile(r"^\s*(import|from)\s+matplotlib\b|matplotlib\.use\(", re.M)
    offenders = [
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*.py")
        if imports.search(p.read_text()) and p.parent.name != "plots"
    ]
    assert offenders == []
    uses = [p.name for p in (PACKAGE / "plots").glob("*.py") if "matplotlib.use(" in p.read_text()]
    assert uses == []


def test_analysis_scripts_draw_through_physgen_plots(tmp_path: Path) -> None:
    from physgen.io import write_netcdf

    write_netcdf(merged(), tmp_path / "results.nc")
    png = tmp_path / "p.png"
    out = subprocess.run(
        [sys.executable, "-m", "analysis.phase_diagram", str(tmp_path / "results.nc"), str(png)],
        capture_output=True,
        text=True,
        cwd=PACKAGE.parent,
        check=True,
    )
    assert out.stdout.split() == [str(png)]
    assert png.stat().st_size > 20_000


def with_brackets() -> xr.Dataset:
    """merged() with a weights dimension (raw, ema) and brackets / censoring on every onset."""
    ds = xr.concat([merged(), merged() * 2], dim="weights").assign_coords(weights=["raw", "ema"])
    for name in ("tau_bias", "tau_test", "tau_mem"):
        tau = ds[name]
        ds[f"{name}_lo"] = tau / 1.3
        ds[f"{name}_hi"] = tau * 1.3
        ds[f"{name}_censored"] = xr.zeros_like(tau, dtype=bool)
    ds["tau_bias_lo"][..., 0] = 0.0  # the first checkpoint: no bar below
    ds["tau_test_hi"][..., 1] = np.inf  # beyond the last: no bar above
    ds["tau_test_censored"][..., 1] = True
    return ds


def test_phase_diagram_draws_brackets_and_censored_onsets(tmp_path: Path) -> None:
    from physgen.plots.phase import _bracket

    ds = with_brackets()
    sub = ds.sel(depth=3, weights="raw")
    tau, down, up, censored = _bracket(sub, "tau_test", "n_train")
    np.testing.assert_allclose(down[:, 0], tau[:, 0] - tau[:, 0] / 1.3)
    np.testing.assert_allclose(up[:, 0], 0.3 * tau[:, 0])
    assert np.all(up[:, 1] == 0.0) and np.all(censored[:, 1]) and not censored[:, 0].any()
    assert np.all(_bracket(sub, "tau_bias", "n_train")[1][:, 0] == 0.0)
    # no brackets in the file: no bars, nothing censored
    _, d0, u0, c0 = _bracket(merged().sel(depth=3), "tau_bias", "n_train")
    assert not d0.any() and not u0.any() and not c0.any()
    # one row of panels per weights
    (two,) = phase_diagram(ds, tmp_path / "weights.png")
    (one,) = phase_diagram(ds.sel(weights=["raw"]), tmp_path / "raw.png")
    assert size(two)[1] > 1.8 * size(one)[1] and size(two)[0] == size(one)[0]


def test_cells_are_drawn_per_weights() -> None:
    """Per-cell figures never average curves of different weights: one cell per weights when
    there are several, the weights dropped when there is one."""
    from physgen.plots._layout import iter_cells

    ds = with_brackets()
    names = [name for name, _ in iter_cells(ds)]
    assert len(names) == 3 * 2 * 2 and names[0] == "n_train=50__depth=3__weights=raw"
    assert all("weights" not in cell.dims for _, cell in iter_cells(ds))
    (name, one), *_ = iter_cells(ds.isel(weights=[0]))
    assert "weights" not in name and "weights" not in one.dims


MAIN_JOB = PACKAGE.parent / "docs" / "results" / "main-job-long" / "results.nc"  # quick_long.toml


def image_panels(fig: Any) -> list[Any]:
    """The heat-map panels of a figure (the colour bar holds no image)."""
    return [ax for ax in fig.axes if ax.images]


def test_width_map_of_the_main_job_one_panel_per_weights(tmp_path: Path) -> None:
    from physgen.plots.width import scaling_figure, width_figure

    ds = physgen.open_results(MAIN_JOB)
    fig = width_figure(ds)
    panels = image_panels(fig)
    assert len(panels) == ds.sizes["weights"] == 3
    grid = panels[0].images[0].get_array()
    assert grid.shape == (ds.sizes["depth"], ds.sizes["n_train"])
    assert grid.mask[1, 2]  # raw weights, depth 4, n = 64: no pair measured (grey)
    texts = [t.get_text() for t in panels[0].texts]
    assert len(texts) == 6 and texts[-1] == "none\nmeasured\n0/3"
    assert texts[0].endswith("\n2/3") and "Δ 78" in texts[0]  # n = 16, depth 3
    scaling = scaling_figure(ds)
    assert len(scaling.axes) == ds.sizes["depth"] * ds.sizes["weights"]
    legend = [t.get_text() for t in scaling.axes[0].get_legend().get_texts()]
    assert legend[0].startswith("tau_bias ∝ n^0.01 [") and "(1 censored left out)" in legend[0]
    paths = draw_figures(ds, tmp_path, ("width", "scaling"))
    assert [p.name for p in paths] == ["width.png", "onset_scaling.png"]
    assert all(p.stat().st_size > 20_000 for p in paths)


def test_width_figures_need_onsets_over_n_train(tmp_path: Path) -> None:
    from physgen.plots import sweep_kinds

    one = with_brackets().isel(n_train=0, depth=0, drop=True)
    one.attrs["sweep_dims"] = "[]"
    assert draw_figures(one, tmp_path, ("width", "scaling")) == []
    assert draw_figures(mixture_like(), tmp_path, ("width", "scaling")) == []
    (single,) = draw_figures(with_brackets().isel(n_train=[0]), tmp_path, ("width", "scaling"))
    assert single.name == "width.png"  # one size: a heat map, but no slope
    assert sweep_kinds(with_brackets()) == ("phase_diagram", "width", "scaling")
    assert sweep_kinds(with_brackets().isel(depth=[0])) == ("phase_diagram",)
    three = with_brackets().expand_dims(seed=[0, 1])
    three.attrs["sweep_dims"] = json.dumps(["n_train", "depth", "seed"])
    with pytest.raises(PhysgenError, match="select a value of seed first"):
        draw_figures(three, tmp_path, ("width",))


def test_depth_analysis_runs_on_the_main_job(tmp_path: Path, capsys: Any) -> None:
    from analysis.depth import main

    main([str(MAIN_JOB), "--out", str(tmp_path), "--n-boot", "200"])
    out = capsys.readouterr().out
    assert "τ_bias rule: progress" in out
    assert "| 3 | raw | 0.01 [" in out  # the exponents table
    assert "| 64 | 4 | raw | — | — | 0 / 3 | 0 |" in out  # the width table
    assert "| 16 | 3 | raw | 1 | 24 (0–29) c | 94 (77–114) |" in out  # per pair
    assert sorted(p.name for p in tmp_path.iterdir()) == ["onset_scaling.png", "width.png"]
