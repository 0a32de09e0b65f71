"""The vector (Gaussian mixture) and image experiments end to end on tiny configurations."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr
from _recording import run_and_keep

from physgen.config import ExperimentConfig
from physgen.errors import ConfigError
from physgen.experiments import check_model, experiment_kind, run_experiment
from physgen.models import Digits, gmm
from physgen.plots import quadruplets

torch.set_num_threads(1)

VECTORS = {
    "seed": 0,
    "model": {"name": "gmm", "dim": 4},
    "data": {"n_train": 16, "n_test": 64, "n_pairs": 1, "n_seed_pairs": 1},
    "diffusion": {"T": 40},
    "net": {"kind": "mlp", "width": 32, "layers": 2, "time_dim": 16},
    "train": {"steps": 20, "batch_size": 16, "n_checkpoints": 3, "device": "cpu", "ema_decay": 0.0},
    "metrics": {"n_eval": 32, "n_generate": 32, "kl_t_points": 5, "sample_checkpoints": 1},
}

IMAGES = {
    "seed": 0,
    "model": {"name": "digits"},
    "data": {"n_train": 8, "n_test": 16, "n_pairs": 1, "n_seed_pairs": 0},
    "diffusion": {"T": 40},
    "net": {"kind": "unet", "width": 8, "layers": 1, "heads": 1, "time_dim": 16, "mults": [1]},
    "train": {"steps": 4, "batch_size": 8, "n_checkpoints": 2, "device": "cpu", "ema_decay": 0.0},
    "metrics": {"n_eval": 8, "n_generate": 8, "sample_checkpoints": 1},
}


@pytest.fixture(scope="module")
def vectors() -> xr.Dataset:
    return run_experiment(ExperimentConfig.from_dict(VECTORS))


@pytest.fixture(scope="module")
def images() -> xr.Dataset:
    return run_experiment(ExperimentConfig.from_dict(IMAGES))


def _attrs_complete(ds: xr.Dataset) -> None:
    for name, var in ds.variables.items():
        assert {"long_name", "units", "description"} <= set(var.attrs), name
    assert ds.attrs["config_sha256"] and ds.attrs["config_json"]


def test_dispatch() -> None:
    assert experiment_kind(gmm(dim=3)) == "vectors"
    assert experiment_kind(Digits()) == "images"
    assert check_model(gmm(dim=3)) == "vectors" and check_model(Digits()) == "images"

    class NoMean:
        event_shape = (1, 8, 8)
        sample, encode, denoise = Digits().sample, Digits().encode, Digits().denoise

    with pytest.raises(ConfigError, match="lacks mean_image, needed by the images experiment"):
        check_model(NoMean())


def test_recorded_curves_equal_the_public_functions() -> None:
    """Vector and image cells: the recorded score-level curves at the last checkpoint equal the
    public metric functions applied to the trained networks on the same frozen inputs."""
    from physgen.experiments.images import ImageRecorder
    from physgen.experiments.vectors import VectorRecorder
    from physgen.metrics.images import eps_cosine_similarity
    from physgen.metrics.scores import denoiser_distance

    ds, rec, nets = run_and_keep(ExperimentConfig.from_dict(VECTORS), VectorRecorder)
    k = ds.sizes["checkpoint"] - 1
    a, b = int(ds.pair_a[0]), int(ds.pair_b[0])
    for j, f in enumerate(rec.inputs):
        pop = np.mean(denoiser_distance(nets[a], rec.model, f.x_t, f.alpha_bar, kind="eps"))
        pair = np.mean(denoiser_distance(nets[a], nets[b], f.x_t, f.alpha_bar, kind="eps"))
        assert ds.dist_pop.isel(
            network=a, weights=0, checkpoint=k, score_t=j
        ).item() == pytest.approx(pop, rel=1e-12)
        assert ds.pair_distance.isel(
            pair=0, weights=0, checkpoint=k, score_t=j
        ).item() == pytest.approx(pair, rel=1e-12)

    ds, rec, nets = run_and_keep(ExperimentConfig.from_dict(IMAGES), ImageRecorder)
    k = ds.sizes["checkpoint"] - 1
    a, b = int(ds.pair_a[0]), int(ds.pair_b[0])
    expected = [
        np.mean(eps_cosine_similarity(nets[a], nets[b], f.x_t, f.alpha_bar))
        for f in rec.eps_inputs["test"]
    ]
    np.testing.assert_allclose(
        ds.eps_cos_test.isel(pair=0, weights=0, checkpoint=k).values, expected, rtol=1e-12
    )


def test_vector_regimes_record_the_public_functions(vectors: xr.Dataset) -> None:
    """The recorded speciation and collapse curves and times are those of
    physgen.metrics.regimes on the same inputs (split 0, the clones seed)."""
    from physgen.config import ExperimentConfig as Cfg
    from physgen.experiments.plan import plan_cell
    from physgen.experiments.vectors import BRANCH_OFFSETS, CLONE_DT
    from physgen.metrics import regimes
    from physgen.models import Empirical
    from physgen.rng import stream

    ds, cfg = vectors, Cfg.from_dict(VECTORS)
    model = cfg.model.build()
    train = plan_cell(cfg, model).protocol.train_data(0)
    seed, n_clones = stream(cfg.seed, "clones"), cfg.metrics.n_generate
    t_s = 0.5 * np.log(5.0)
    sp = regimes.cloned_speciation(
        model, np.maximum(t_s + BRANCH_OFFSETS, CLONE_DT), n_clones, seed, dt=CLONE_DT
    )
    np.testing.assert_array_equal(ds.clone_t.values, sp.t)
    np.testing.assert_array_equal(ds.class_agreement.values, sp.p_same)
    np.testing.assert_array_equal(ds.class_agreement_exact.values, sp.p_exact)
    assert float(ds.t_speciation_meas) == sp.t_half
    assert float(ds.t_speciation_exact) == sp.t_half_exact
    p, se = regimes.same_point_curve(
        Empirical(np.asarray(train, dtype=np.float64)),
        ds.ou_time.values,
        n_clones,
        stream(seed, "point_starts"),
    )
    np.testing.assert_array_equal(ds.point_agreement.values, p)
    np.testing.assert_array_equal(ds.point_agreement_se.values, se)
    assert float(ds.t_collapse_meas) == regimes.crossing_time(ds.ou_time.values, p, 0.5)
    assert float(ds.t_collapse_model) == regimes.symmetric_collapse_time(16, 4, 2.0, 1.0)
    np.testing.assert_array_equal(
        ds.excess_entropy_exact.values,
        regimes.symmetric_excess_entropy(ds.ou_time.values, 4, 2.0, 1.0),
    )


def test_vector_regimes_of_a_non_symmetric_mixture() -> None:
    """Three components: no cloning speciation (NaN), collapse from the exact density by Monte
    Carlo and from the same-point curve."""
    cfg = {**VECTORS, "model": {"name": "gmm", "dim": 4, "components": 3}}
    ds = run_experiment(ExperimentConfig.from_dict(cfg))
    assert np.all(np.isnan(ds.class_agreement.values)) and np.isnan(float(ds.t_speciation_meas))
    assert np.isfinite(float(ds.t_speciation_model)) and np.isfinite(float(ds.t_collapse_model))
    assert np.isfinite(float(ds.t_collapse_meas))


def test_vector_cell(vectors: xr.Dataset, tmp_path) -> None:
    ds = vectors
    assert ds.sizes["network"] == 3 and ds.sizes["pair"] == 1 and ds.sizes["checkpoint"] == 3
    for name in ("tau_gen", "tau_mem", "tau_closer", "tau_test"):
        assert ds[name].dims == ("pair", "weights")
    assert ds.dist_pop.dims == ("network", "weights", "checkpoint", "score_t")
    assert np.all(ds.dist_pop.values >= 0) and np.all(np.isfinite(ds.rel_pop_error.values))
    # the population-empirical distance is what a memorizer pays; it vanishes at large t
    d = ds.dist_pop_emp.values
    assert d[:, 0].min() > d[:, -1].max()
    # Λ = dim · mean² + std² = 5 for the symmetric mixture
    assert float(ds.t_speciation_model) == pytest.approx(0.5 * np.log(5.0))
    assert np.isfinite(float(ds.t_collapse_model))
    agree = ds.class_agreement.values
    assert agree[0] > 0.9 and agree[-1] < 0.75
    for name in ("tau_gen", "tau_mem"):
        assert ds[f"{name}_censored"].dims == ("pair", "weights")
    _attrs_complete(ds)
    ds.to_netcdf(tmp_path / "v.nc")
    with xr.open_dataset(tmp_path / "v.nc") as back:
        xr.testing.assert_identical(back.load(), ds)


def test_image_cell(images: xr.Dataset, tmp_path) -> None:
    ds = images
    assert ds.sizes["network"] == 2 and ds.sizes["eps_t"] == 4
    assert list(ds.eps_t.values) == [2, 4, 6, 8]
    assert ds.sample_show.dims == (
        "network",
        "weights",
        "checkpoint",
        "show",
        "image_channel",
        "image_height",
        "image_width",
    )
    last = ds.sample_show.isel(checkpoint=-1).values
    assert np.all(np.isfinite(last)) and np.all(np.isnan(ds.sample_show.isel(checkpoint=0).values))
    assert np.all(np.isfinite(ds.cos_distance.isel(checkpoint=-1).values))
    sim = ds.eps_cos_test.values
    assert np.all((sim >= -1) & (sim <= 1))
    assert np.all(ds.eps_cos_train_emp.values <= 1.0)
    _attrs_complete(ds)
    ds.to_netcdf(tmp_path / "i.nc")
    with xr.open_dataset(tmp_path / "i.nc") as back:
        xr.testing.assert_identical(back.load(), ds)
        (quad,) = quadruplets(back, tmp_path / "quad.png")
        assert quad.stat().st_size > 0


@pytest.mark.slow
def test_image_cell_is_deterministic(images: xr.Dataset) -> None:
    again = run_experiment(ExperimentConfig.from_dict(IMAGES))
    xr.testing.assert_identical(again, images)


def test_image_onsets_rules() -> None:
    from physgen.experiments.images import image_onsets

    steps = np.array([1, 10, 100, 1000, 2000])
    # network 0 generates images (NN distance <= 2 x test = 2.0) from step 100, network 1 from 10
    nn = np.array([[900.0, 50.0, 1.5, 1.0, 0.5], [800.0, 1.9, 1.2, 1.0, 0.4]])
    # coupled garbage at steps 1-10 is "alike" (0.05): not a tau_cos candidate
    cos = np.array([[0.05, 0.05, 0.3, 0.2, 0.6]])
    loss = np.array([[3.0, 2.0, 1.0, 0.5, 0.7], [3.0, 2.0, 1.0, 0.6, 0.9]])
    frac = np.array([[0.0, 0.0, 0.0, 0.1, 0.5], [0.0, 0.0, 0.0, 0.02, 0.4]])
    se = np.full((2, 5), 0.02)
    out = image_onsets(steps, [(0, 1)], cos, loss, frac, se, np.zeros(2), nn, np.array([1.0, 1.0]))
    got = {k: np.asarray(v, dtype=float).tolist() for k, v in out.items()}
    assert got["tau_images"] == [100.0]
    assert got["tau_cos"] == [1000.0]  # argmin over 100..2000, not the garbage minimum at 1
    assert got["tau_test"] == [1000.0]
    # pair mean 0.06 - 2 x 0.014 = 0.032 > 0 at 1000
    assert got["tau_mem"] == [1000.0]
    assert got["tau_mem_net"] == [1000.0, 2000.0]  # 0.02 - 2 x 0.02 is not above 0
    never = image_onsets(
        steps, [(0, 1)], cos, loss, frac, se, np.zeros(2), nn * 100, np.array([1.0, 1.0])
    )
    assert np.isnan(never["tau_images"]).all() and np.isnan(never["tau_cos"]).all()


def test_vector_onsets_rules() -> None:
    from physgen.experiments.vectors import vector_onsets

    steps = np.array([1, 10, 100, 1000])
    frac = np.array([[0.0, 0.01, 0.2, 0.9], [0.0, 0.0, 0.1, 0.8]])
    se = np.array([[0.0, 0.01, 0.03, 0.02], [0.0, 0.0, 0.02, 0.03]])
    rel = np.array([[1.0, 0.2, 0.5, 0.9], [1.0, 0.4, 0.3, 0.9]])
    # distances over 3 score_t: the first step is uninformative and dominated by tiny-t error
    pop = np.tile(np.array([100.0, 1.0, 1.0]), (2, 4, 1))
    emp = np.tile(np.array([1000.0, 2.0, 2.0]), (2, 4, 1))
    emp[:, 3, 1:] = 0.5
    loss = np.array([[3.0, 2.0, 1.0, 2.0], [3.0, 2.0, 1.5, 1.0]])
    out = vector_onsets(
        steps, [(0, 1)], rel, frac, se, np.zeros(2), emp, pop, loss, np.array([False, True, True])
    )
    expected = {
        "tau_mem_net": [100, 100],  # at step 10, 0.01 - 2 · 0.01 is not above the floor 0
        "tau_mem": [100],
        "tau_gen_net": [10, np.nan],
        "tau_gen": [np.nan],  # the pair's mean error never reaches 0.25
        "tau_closer": [1000],  # informative steps only: the tiny-t term is ignored
        # network 1's minimum is at the last checkpoint: its step is kept, flagged censored
        "tau_test_net": [100, 1000],
        "tau_test": [100],
    }
    for name, values in expected.items():
        np.testing.assert_array_equal(out[name], np.array(values, dtype=float), err_msg=name)
    np.testing.assert_array_equal(out["tau_test_net_censored"], [False, True])
    np.testing.assert_array_equal(out["tau_test_net_lo"], [10, 100])
    np.testing.assert_array_equal(out["tau_test_net_hi"], [1000, np.inf])
