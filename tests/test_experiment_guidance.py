"""The guidance experiment end to end on a tiny cell: the variables it declares, recorded curves
equal to the public functions applied to the same inputs (guided S, guided and exact sample
diagnostics, onsets), w = 0 equal to the conditional denoiser, bad guidance configs refused with
one line and nothing written, and a sweep over the guidance weight and p_uncond merged."""

from __future__ import annotations

from dataclasses import astuple
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tomli_w
import torch
import xarray as xr
from _recording import run_and_keep
from typer.testing import CliRunner

from physgen.cli import app
from physgen.config import ExperimentConfig
from physgen.errors import ConfigError
from physgen.experiments import experiment_of
from physgen.experiments.guidance import GuidanceRecorder, guided_x0
from physgen.experiments.schema import experiment_variables
from physgen.experiments.tree import bias_onsets
from physgen.guidance import GuidedDenoiser
from physgen.io import open_results
from physgen.metrics import Bound, item_divergence, nested_mean_se
from physgen.metrics.guidance import tree_guidance_diagnostics
from physgen.train import init_weight

W = [0.0, 1.5, -0.5]
TINY: dict[str, Any] = {
    "seed": 3,
    "model": {"name": "tree", "q": 3, "depth": 2, "q_eff": 2},
    # 24 sequences in this grammar: too few for content-disjoint data
    "data": {
        "n_train": 12,
        "n_test": 40,
        "n_pairs": 2,
        "n_seed_pairs": 0,
        "content_disjoint": False,
    },
    "diffusion": {"T": 40},
    "net": {"width": 16, "layers": 1, "heads": 2, "ff": 16, "time_dim": 8},
    "train": {
        "steps": 40,
        "n_checkpoints": 5,
        "batch_size": 8,
        "device": "cpu",
        "eval_weights": ["raw", "ema"],
        "p_uncond": 0.2,
    },
    "metrics": {
        "n_eval": 24,
        "n_generate": 12,
        "sample_checkpoints": 2,
        "sample_steps": 8,
        "guidance_w": W,
    },
}


def _with(**sections: dict[str, Any]) -> dict[str, Any]:
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in TINY.items()}
    for name, values in sections.items():
        out[name] = {**out.get(name, {}), **values}
    return out


@pytest.fixture(scope="module")
def cfg() -> ExperimentConfig:
    return ExperimentConfig.from_dict(TINY)


@pytest.fixture(scope="module")
def kept(cfg: ExperimentConfig) -> tuple[xr.Dataset, Any, dict[Any, Any]]:
    torch.set_num_threads(1)
    return run_and_keep(cfg, GuidanceRecorder)


def test_the_config_selects_the_guidance_experiment(cfg: ExperimentConfig) -> None:
    assert experiment_of(cfg, cfg.model.build()) == "guidance"
    plain = ExperimentConfig.from_dict(_with(metrics={"guidance_w": []}))
    assert experiment_of(plain, plain.model.build()) == "tree"
    assert cfg.train.p_uncond == 0.2 and cfg.metrics.guidance_w == tuple(W)


def test_records_exactly_its_declared_variables(kept: tuple) -> None:
    ds, _, _ = kept
    declared = {v.name for v in experiment_variables("guidance")}
    assert sorted(set(ds.variables) ^ declared) == []
    assert ds.guidance_w.values.tolist() == W
    assert ds.guided_divergence.dims == ("pair", "weights", "guidance_w", "checkpoint")
    assert ds.tau_bias_guided.dims == ("pair", "weights", "guidance_w")
    assert ds.exact_ce_excess.dims == ("guidance_w",)
    assert ds.attrs["physgen_p_uncond"] == pytest.approx(0.2)
    sampled = np.isfinite(ds.guided_memorised_fraction.values[0, 0, 0])
    assert sampled.sum() == 2 and sampled[-1]
    assert np.all(np.isfinite(ds.guided_divergence.values))
    assert np.all(np.isfinite(ds.test_loss.values)) and np.all(np.isfinite(ds.ladder_test.values))


def test_guided_divergence_is_the_public_function(kept: tuple) -> None:
    """S_w at the last checkpoint = nested_mean_se(item_divergence) of the two networks'
    GuidedDenoiser on the frozen test inputs, each test sequence with its root class; at w = 0
    it is the divergence of the conditional denoisers."""
    ds, rec, captured = kept
    crit, classes = rec.test.crit, rec.test_classes
    for p, (a, b) in enumerate(rec.pairs):
        for wi in range(len(rec.weights)):
            for g, w in enumerate(W):
                den_a, den_b = (
                    Bound(GuidedDenoiser(captured[n, wi], w), classes=classes) for n in (a, b)
                )
                want = nested_mean_se(item_divergence(den_a, den_b, crit.x_t, crit.alpha_bar))
                got = ds.guided_divergence.values[p, wi, g, -1]
                assert got == pytest.approx(want.mean, rel=1e-9, abs=1e-12)
                assert ds.guided_divergence_se.values[p, wi, g, -1] == pytest.approx(
                    want.se, rel=1e-9, abs=1e-12
                )
        cond = [Bound(captured[n, 0], classes=classes) for n in (a, b)]
        plain = item_divergence(*cond, crit.x_t, crit.alpha_bar).mean()
        assert ds.guided_divergence.sel(guidance_w=0.0).values[p, 0, -1] == pytest.approx(
            plain, rel=1e-9
        )


def test_w0_guided_equals_conditional(kept: tuple) -> None:
    _, rec, captured = kept
    den, crit, classes = captured[0], rec.test.crit, rec.test_classes
    cond = den.denoise(crit.x_t, crit.alpha_bar, classes=classes)
    uncond = den.denoise(crit.x_t, crit.alpha_bar)
    np.testing.assert_array_equal(
        GuidedDenoiser(den, 0.0).denoise(crit.x_t, crit.alpha_bar, classes), cond
    )
    np.testing.assert_array_equal(guided_x0(cond, uncond, 0.0), cond)
    np.testing.assert_allclose(
        guided_x0(cond, uncond, 1.5),
        GuidedDenoiser(den, 1.5).denoise(crit.x_t, crit.alpha_bar, classes),
        rtol=1e-12,
        atol=1e-12,
    )


def test_sample_diagnostics_are_the_public_functions(kept: tuple) -> None:
    """The guided sample diagnostics of a network at its last checkpoint, and the exact
    reference, are tree_guidance_diagnostics of the cell's coupled samples."""
    ds, rec, captured = kept
    model = rec.model
    for g, w in enumerate(W):
        tokens = model.decode(rec.generate(GuidedDenoiser(captured[1, 1], w), rec.gen_classes))
        diag = tree_guidance_diagnostics(model, tokens, rec.gen_classes)
        at = (1, 1, g, -1)
        assert ds.guided_valid_fraction.values[at] == diag.validity
        assert ds.guided_distinct.values[at] == diag.n_distinct
        assert ds.guided_leaf_entropy.values[at] == pytest.approx(diag.leaf_entropy)
        np.testing.assert_allclose(ds.guided_class_accuracy.values[at], diag.accuracy)
        np.testing.assert_allclose(ds.guided_ce_excess.values[at], diag.ce_excess)
        exact = model.decode(rec.generate(GuidedDenoiser(model, w), rec.gen_classes))
        ref = tree_guidance_diagnostics(model, exact, rec.gen_classes)
        assert ds.exact_distinct.values[g] == ref.n_distinct
        np.testing.assert_allclose(ds.exact_ce_excess.values[g], ref.ce_excess)
        np.testing.assert_allclose(ds.exact_kl_plugin.values[g], ref.kl_plugin_valid)
        assert ds.exact_valid_fraction.values[g] == ref.validity
        np.testing.assert_allclose(ds.exact_class_accuracy.values[g], ref.accuracy)
    # the requested classes cycle over every class
    assert rec.gen_classes.tolist() == [0, 1, 2] * 4


def test_onsets_are_the_public_functions(kept: tuple, cfg: ExperimentConfig) -> None:
    ds, rec, _ = kept
    steps = ds.step.values
    d0 = ds.ladder_test.values[..., 0]
    a, b = ds.pair_a.values, ds.pair_b.values
    valid = np.array(
        [init_weight(steps, g, True) <= 0.01 for g in ds.weights_decay.values]
    ).reshape(len(rec.weights), steps.size)
    for g in range(len(W)):
        want = bias_onsets(
            cfg.metrics.bias_rule,
            steps,
            ds.guided_divergence.values[:, :, g],
            d0[a],
            d0[b],
            float(ds.site_only_kl),
            float(ds.oracle_ladder.values[-1]),
            valid,
        )
        got = [ds[f"tau_bias_guided{s}"].values[:, :, g] for s in ("", "_lo", "_hi", "_censored")]
        for x, y in zip(got, astuple(want), strict=True):
            np.testing.assert_array_equal(x, y)


# -- bad input: one line, nothing written ------------------------------------------------------


@pytest.mark.parametrize(
    ("sections", "key", "needle"),
    [
        ({"metrics": {"guidance_w": [0.0, float("nan")]}}, "metrics.guidance_w", "finite"),
        ({"metrics": {"guidance_w": [float("inf")]}}, "metrics.guidance_w", "finite"),
        ({"metrics": {"guidance_w": [1.0, 1.0]}}, "metrics.guidance_w", "distinct"),
        ({"metrics": {"guidance_w": ["big"]}}, "metrics.guidance_w", "number"),
        ({"train": {"p_uncond": 1.0}}, "train.p_uncond", "[0, 1)"),
        ({"train": {"p_uncond": -0.1}}, "train.p_uncond", "[0, 1)"),
        ({"train": {"p_uncond": float("nan")}}, "train.p_uncond", "finite"),
        ({"metrics": {"guidance_classes": [3]}}, "metrics.guidance_classes", "out of range"),
        ({"metrics": {"guidance_classes": [-1]}}, "metrics.guidance_classes", "out of range"),
        (
            {"metrics": {"guidance_w": [], "guidance_classes": [0]}},
            "metrics.guidance_classes",
            "guidance_w",
        ),
    ],
)
def test_bad_guidance_values_name_their_key(sections: dict, key: str, needle: str) -> None:
    with pytest.raises(ConfigError) as err:
        ExperimentConfig.from_dict(_with(**sections))
    assert err.value.key == key and needle in str(err.value)
    assert "\n" not in str(err.value)


def test_negative_guidance_is_accepted() -> None:
    cfg = ExperimentConfig.from_dict(_with(metrics={"guidance_w": [-1.0, -0.25]}))
    assert cfg.metrics.guidance_w == (-1.0, -0.25)


def test_guidance_needs_a_tree_model_with_classes(tmp_path: Path) -> None:
    images = tmp_path / "images.npy"
    np.save(images, np.random.default_rng(0).random((20, 4, 4)))
    classless = {"model": {"name": "image_array", "path": str(images)}, "net": {"kind": "unet"}}
    with pytest.raises(ConfigError, match="has no classes") as err:
        ExperimentConfig.from_dict({**_with(**classless), "model": classless["model"]})
    assert err.value.key == "metrics.guidance_w"
    mixture = {"model": {"name": "gmm", "dim": 2}, "net": {"kind": "mlp"}}
    with pytest.raises(ConfigError, match="tree models") as err:
        ExperimentConfig.from_dict({**_with(net=mixture["net"]), "model": mixture["model"]})


def _spec(tmp_path: Path, grid: dict[str, list[Any]], **sections: dict[str, Any]) -> Path:
    mapping = _with(
        train={"steps": 12, "n_checkpoints": 3},
        metrics={"sample_checkpoints": 1, "n_generate": 6, "n_eval": 8},
        data={"n_pairs": 1},
    )
    for name, values in sections.items():
        mapping[name] = {**mapping.get(name, {}), **values}
    mapping["sweep"] = {"title": "guidance test", "plot": True}
    mapping["grid"] = grid
    path = tmp_path / "spec.toml"
    path.write_text(tomli_w.dumps(mapping))
    return path


@pytest.mark.parametrize(
    ("grid", "sections", "needle"),
    [
        ({"metrics.guidance_w": [0.0, float("nan")]}, {}, "metrics.guidance_w"),
        ({"train.p_uncond": [0.1, 1.5]}, {}, "train.p_uncond"),
        (
            {"data.n_train": [12]},
            {"metrics": {"guidance_classes": [5]}},
            "metrics.guidance_classes",
        ),
    ],
)
def test_bad_sweeps_write_nothing(tmp_path: Path, grid: dict, sections: dict, needle: str) -> None:
    spec = _spec(tmp_path, grid, **sections)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["sweep", "run", str(spec), "--out", str(out), "--quiet"])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], lines
    assert not out.exists()


def test_a_sweep_over_w_and_p_uncond_merges(tmp_path: Path) -> None:
    """w is a cell dimension: a grid axis over metrics.guidance_w gives each cell one weight and
    the cells merge along guidance_w; p_uncond is a plain float axis. Training does not depend
    on w, so the losses of the cells of one p_uncond agree and are stored once."""
    grid = {"train.p_uncond": [0.1, 0.3], "metrics.guidance_w": [0.0, 2.0]}
    spec = _spec(tmp_path, grid)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["sweep", "run", str(spec), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    ds = open_results(out)
    assert ds.guidance_w.values.tolist() == [0.0, 2.0]
    assert ds.p_uncond.values.tolist() == [0.1, 0.3]
    assert ds.guided_divergence.dims == ("p_uncond", "guidance_w", "pair", "weights", "checkpoint")
    assert ds.test_loss.dims == ("p_uncond", "network", "weights", "checkpoint")
    for name in ("p_uncond=0.1__guidance_w=2.0", "p_uncond=0.3__guidance_w=0.0"):
        cell = open_results(out / "cells" / f"{name}.nc")
        p, w = float(cell.p_uncond[0]), float(cell.guidance_w[0])
        np.testing.assert_array_equal(
            ds.guided_divergence.sel(p_uncond=p, guidance_w=w).values,
            cell.guided_divergence.sel(guidance_w=w).isel(p_uncond=0).values,
        )
    assert (out / "guidance.png").is_file()


def test_the_guidance_figure_of_a_cell(kept: tuple, tmp_path: Path) -> None:
    from physgen.plots import guidance

    ds, _, _ = kept
    (path,) = guidance(ds, tmp_path / "guidance.png")
    assert path.stat().st_size > 10_000
    # a file without guided diagnostics draws nothing
    assert guidance(ds.drop_vars("guided_divergence"), tmp_path / "none.png") == []
    assert not (tmp_path / "none.png").exists()
