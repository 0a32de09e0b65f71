"""The tree experiment end to end on a tiny cell: structure, attrs, determinism, netCDF round
trip, oracle identities through the experiment's own evaluation path, and recorded curves equal
to the public metric functions applied to the same inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr
from _recording import run_and_keep

from physgen.config import ExperimentConfig
from physgen.errors import PhysgenError
from physgen.experiments import check_model, experiment_kind, run_experiment
from physgen.experiments.plan import plan_cell, plan_networks, sample_checkpoint_mask
from physgen.experiments.schema import build_dataset
from physgen.experiments.tree import TreeRecorder
from physgen.io import cell_attrs, check_netcdf_safe

TINY = {
    "seed": 3,
    "model": {"name": "tree", "q": 3, "depth": 2, "q_eff": 2},
    # 24 sequences in this grammar: too few for content-disjoint data
    "data": {
        "n_train": 12,
        "n_test": 40,
        "n_pairs": 1,
        "n_seed_pairs": 1,
        "content_disjoint": False,
    },
    "diffusion": {"T": 40},
    "net": {"width": 16, "layers": 1, "heads": 2, "ff": 16, "time_dim": 8},
    "train": {"steps": 40, "n_checkpoints": 5, "batch_size": 8, "device": "cpu"},
    "metrics": {
        "n_eval": 24,
        "n_generate": 16,
        "uturn_reps": 1,
        "uturn_starts": 6,
        "kl_t_points": 4,
        "uturn_t_fracs": [0.05, 0.12],
        "sample_checkpoints": 2,
        "sample_steps": 10,
    },
}


@pytest.fixture(scope="module")
def cfg() -> ExperimentConfig:
    return ExperimentConfig.from_dict(TINY)


@pytest.fixture(scope="module")
def ds(cfg: ExperimentConfig) -> xr.Dataset:
    torch.set_num_threads(1)
    import numba

    calls: list[tuple[int, int]] = []
    threads = numba.get_num_threads()
    out = run_experiment(cfg, progress=lambda done, total, msg: calls.append((done, total)))
    assert numba.get_num_threads() == threads  # pinned for the call only
    # 3 networks (1 pair + 1 seed replicate) × 5 checkpoints, reported in order.
    assert calls == [(i, 15) for i in range(1, 16)]
    return out


def test_dims_coords_and_roles(ds: xr.Dataset) -> None:
    assert ds.sizes["network"] == 3 and ds.sizes["pair"] == 1 and ds.sizes["seed_pair"] == 1
    assert ds.sizes["level"] == 3  # k = 0..L at depth 2
    assert list(ds.step.values) == sorted(set(ds.step.values.tolist()))
    assert ds.step.values[-1] == 40
    assert ds.step.dims == ("checkpoint",) and ds.ladder_test.dims == (
        "network",
        "weights",
        "checkpoint",
        "level",
    )
    assert list(ds.weights.values) == ["ema"] and ds.weights_decay.values[0] == 0.999
    assert ds.level.dtype == np.int64 and ds.step.dtype == np.int64
    ds.ladder_test.sel(level=0, checkpoint=ds.sizes["checkpoint"] - 1)  # label selection works
    assert list(ds.role.values) == ["A", "B", "seed"]
    assert list(ds.split.values) == [0, 1, 0]
    # a seed pair shares a split, a disjoint pair never does
    a, b = int(ds.seed_pair_a[0]), int(ds.seed_pair_b[0])
    assert ds.split[a] == ds.split[b] and ds.net_seed[a] != ds.net_seed[b]
    for p in ds.pair.values:
        assert ds.split[int(ds.pair_a[p])] != ds.split[int(ds.pair_b[p])]
    np.testing.assert_allclose(ds.kl_t_frac.values, ds.kl_t.values / 40)


def test_every_variable_documented_and_attrs_netcdf_safe(
    ds: xr.Dataset, cfg: ExperimentConfig
) -> None:
    for name, var in ds.variables.items():
        assert {"long_name", "units", "description"} <= set(var.attrs), name
    assert ds.attrs["config_json"] == cfg.to_json()
    assert ds.attrs["config_sha256"] == cfg.sha256()
    assert ds.attrs["physgen_bias_rule"] == cfg.metrics.bias_rule
    assert ds.attrs["physgen_ema_decay"] == pytest.approx(0.999)
    for name in ("tau_bias", "tau_test", "tau_nn", "tau_mem"):
        assert ds[name].dims == ("pair", "weights")
    for value in ds.attrs.values():
        assert isinstance(value, str | int | float)


def test_curves_are_finite_where_evaluated(ds: xr.Dataset) -> None:
    for name in ("train_loss", "test_loss", "ladder_test", "ladder_train", "split_divergence"):
        assert np.all(np.isfinite(ds[name].values)), name
    sampled = np.isfinite(ds.nn_divergence.values[0, 0])
    assert sampled.sum() == 2 and sampled[-1]  # sample checkpoints: 2, the last included
    # histograms are distributions over the bins
    np.testing.assert_allclose(ds.nn_hist_gen.values[:, :, sampled].sum(-1), 1.0)
    np.testing.assert_allclose(ds.nn_hist_test.values.sum(-1), 1.0)
    # loss decomposition holds to rounding
    for split in ("train", "test"):
        total = ds[f"loss_total_{split}"]
        parts = ds[f"loss_exact_{split}"] + ds[f"loss_excess_{split}"]
        np.testing.assert_allclose(total, parts, rtol=1e-10, atol=1e-12)
    # validity has no value at level L (no children)
    assert np.all(np.isnan(ds.validity.sel(level=2).values))


def test_oracle_curves(ds: xr.Dataset) -> None:
    """KL(BP_0‖BP_k) is 0 at k = 0 and grows with k (deeper filtering loses more)."""
    ladder = ds.oracle_ladder.values
    assert ladder[0] == pytest.approx(0.0, abs=1e-12)
    assert np.all(np.diff(ladder) > 0)
    kt = ds.kl_oracle_time.values
    np.testing.assert_allclose(kt[0], 0.0, atol=1e-12)
    assert np.all(kt[2].max() >= kt[1].max())
    assert ds.attrs["physgen_root_only_kl"] == pytest.approx(ladder[-1])
    # the trained networks stay above the Bayes floor on average
    assert float(ds.test_loss.mean()) > float(ds.bayes_test_loss)


def test_deterministic_and_netcdf_round_trip(
    ds: xr.Dataset, cfg: ExperimentConfig, tmp_path
) -> None:
    again = run_experiment(cfg)
    xr.testing.assert_identical(ds, again)
    path = tmp_path / "cell.nc"
    ds.to_netcdf(path)
    with xr.open_dataset(path) as back:
        xr.testing.assert_identical(ds, back.load())


def test_exact_denoiser_through_the_evaluation_path(cfg: ExperimentConfig) -> None:
    """With the BP denoiser as the 'network': D_0 = 0, the test loss is the Bayes loss and the
    U-turn ratios are exactly 1 (same starts, same reverse noise as the BP reference)."""
    from physgen.metrics import Bound

    cell = plan_cell(cfg, cfg.model.build())
    model, steps = cell.model, cell.steps
    rec = TreeRecorder(cfg, cell)
    k = steps.size - 1  # a sample checkpoint
    rec.evaluate(0, 0, k, Bound(model, filtered_levels=0))
    c = rec.curves
    assert c["ladder_test"][0, 0, k, 0] == pytest.approx(0.0, abs=1e-10)
    assert c["ladder_train"][0, 0, k, 0] == pytest.approx(0.0, abs=1e-10)
    from physgen.metrics import kl_divergence

    bp = rec.test.bp_crit  # D_k of BP_0 is KL(BP_k ‖ BP_0)
    expected = [np.mean(kl_divergence(bp[j], bp[0])) for j in range(bp.shape[0])]
    np.testing.assert_allclose(c["ladder_test"][0, 0, k], expected, atol=1e-10)
    assert c["test_loss"][0, 0, k] == pytest.approx(rec.bayes_test_loss, rel=1e-12)
    np.testing.assert_array_equal(c["uturn_ratio_train"][0, 0, k], 1.0)
    np.testing.assert_array_equal(c["uturn_ratio_test"][0, 0, k], 1.0)
    assert c["valid_fraction"][0, 0, k] == 1.0  # exact samples are grammatical
    np.testing.assert_allclose(c["kl_model_time"][0, 0, k], 0.0, atol=1e-10)


def test_plan_networks_reuses_replicate_zero() -> None:
    cfg = ExperimentConfig.from_dict(
        {
            **TINY,
            "data": {**TINY["data"], "n_train": 4, "n_test": 8, "n_pairs": 3, "n_seed_pairs": 2},
        }
    )
    from physgen.data import DataProtocol

    nets, pairs, seed_pairs = plan_networks(DataProtocol(cfg.model.build(), cfg.data, cfg.seed))
    assert len(nets) == 8  # 6 pair members + one extra replicate per seed pair
    assert pairs == [(0, 1), (2, 3), (4, 5)]
    assert seed_pairs == [(0, 6), (1, 7)]
    assert [n.role for n in nets] == ["A", "B", "A", "B", "A", "B", "seed", "seed"]
    assert len({(n.split, n.replicate) for n in nets}) == len(nets)


@pytest.mark.parametrize(("steps", "k"), [(5000, 6), (5000, 1), (5000, 30), (40, 9), (2, 2)])
def test_sample_checkpoint_mask(steps: int, k: int) -> None:
    from physgen.train import checkpoint_steps

    s = checkpoint_steps(steps, min(25, steps))
    mask = sample_checkpoint_mask(s, k)
    assert mask.sum() == min(k, s.size) and mask[-1]
    if k <= np.sum(s >= steps / 100):  # enough late checkpoints: only late ones are chosen
        assert np.all(s[mask] >= steps / 100)


def test_dispatch_kind_and_errors() -> None:
    class Vec:
        event_shape = (3,)

    class Img:
        event_shape = (1, 8, 8)

    class Bad:
        event_shape = ()

    assert experiment_kind(ExperimentConfig().model.build()) == "tree"
    assert experiment_kind(Vec()) == "vectors"
    assert experiment_kind(Img()) == "images"
    with pytest.raises(PhysgenError, match="event shape"):
        experiment_kind(Bad())


def test_schema_rejects_undeclared_misshaped_and_unsafe(cfg: ExperimentConfig) -> None:
    with pytest.raises(PhysgenError, match="not declared"):
        build_dataset({"not_a_variable": [1.0]}, {})
    with pytest.raises(PhysgenError, match="declared over"):
        build_dataset({"test_loss": [1.0]}, {})  # declared (network, weights, checkpoint)
    attrs = cell_attrs(cfg.to_json(), "t", "s", {"flag": True, "table": {"a": 1}, "none": None})
    assert attrs["physgen_flag"] == 1
    assert attrs["physgen_table"] == '{"a": 1}'
    assert "physgen_none" not in attrs  # netCDF cannot store None: dropped
    ds = build_dataset({"test_loss": [[[1.0]]], "checkpoint": [0], "step": [1]}, attrs)
    assert ds.test_loss.dims == ("network", "weights", "checkpoint")
    bad = ds.assign_attrs(oops=True)
    with pytest.raises(PhysgenError, match="not netCDF-safe"):
        check_netcdf_safe(bad)


def test_model_protocol_check_names_the_missing_method(tmp_path) -> None:
    """A token model without validity (or whose denoise takes no filtering level) is refused
    when the cell starts, in one line naming what is missing; nothing is written."""
    from physgen.errors import ConfigError

    tree = ExperimentConfig.from_dict(TINY).model.build()
    assert check_model(tree) == "tree"

    class NoValidity:
        vocab_size, depth, event_shape = tree.vocab_size, tree.depth, tree.event_shape
        sample, encode, decode, log_prob = tree.sample, tree.encode, tree.decode, tree.log_prob

        def denoise(self, x_t, alpha_bar, filtered_levels=0):
            return tree.denoise(x_t, alpha_bar, filtered_levels=filtered_levels)

    class NoLevels(NoValidity):
        validity = tree.validity

        def denoise(self, x_t, alpha_bar):
            return tree.denoise(x_t, alpha_bar)

    with pytest.raises(ConfigError, match=r"^model: NoValidity lacks validity, needed by the tree"):
        check_model(NoValidity())
    with pytest.raises(ConfigError, match=r"lacks denoise\(filtered_levels=\)"):
        check_model(NoLevels())
    with pytest.raises(ConfigError) as err:
        check_model(NoValidity())
    assert "\n" not in str(err.value)
    assert not list(tmp_path.iterdir())


def test_recorded_curves_equal_the_public_functions(cfg: ExperimentConfig) -> None:
    """At the last checkpoint, every score-level curve and S of the experiment equal the public
    metric applied to the trained networks on the same frozen inputs."""
    from physgen.diffusion import coupled_sample
    from physgen.metrics import (
        denoiser_divergence,
        kl_along_time,
        memorisation_onset,
        memorised_fraction,
        oracle_gaps,
        oracle_ladder,
    )
    from physgen.rng import stream

    ds, rec, captured = run_and_keep(cfg, TreeRecorder)
    k = ds.sizes["checkpoint"] - 1
    model, crit = rec.model, rec.test.crit
    a, b = int(ds.pair_a[0]), int(ds.pair_b[0])
    np.testing.assert_array_equal(
        ds.ladder_test.isel(network=a, weights=0, checkpoint=k).values,
        oracle_ladder(captured[a], model, crit.x_t, crit.alpha_bar),
    )
    np.testing.assert_array_equal(
        ds.oracle_ladder.values, oracle_gaps(model, crit.x_t, crit.alpha_bar)
    )
    assert ds.split_divergence.isel(pair=0, weights=0, checkpoint=k).item() == denoiser_divergence(
        captured[a], captured[b], crit.x_t, crit.alpha_bar
    )
    np.testing.assert_array_equal(
        ds.kl_model_time.isel(network=a, weights=0, checkpoint=k).values,
        kl_along_time(rec.bp0, captured[a], rec.kl_x0, rec.schedule, rec.t_grid, rec.eval_seed),
    )
    m = cfg.metrics
    x = coupled_sample(
        [captured[a]],
        rec.schedule,
        m.n_generate,
        model.event_shape,
        rec.sample_seed,
        sampler="ddim",
        eta=1.0,
        steps=m.sample_steps,
    )[0]
    frac, se = memorised_fraction(
        model.decode(x),
        rec.train_tokens[rec.nets[a].split],
        seed=stream(rec.sample_seed, "bootstrap", k),
    )
    assert ds.memorised_fraction.isel(network=a, weights=0, checkpoint=k).item() == frac
    assert ds.memorised_fraction_se.isel(network=a, weights=0, checkpoint=k).item() == se
    np.testing.assert_array_equal(
        ds.tau_mem_net.values,
        memorisation_onset(
            ds.step.values,
            ds.memorised_fraction.values,
            ds.memorised_fraction_se.values,
            ds.memorised_floor.values[:, None, None],
        ),
    )


# A tiny content-disjoint cell evaluating the raw weights and two averages in one run, with
# memorisation checked at checkpoints at most 2× apart.
DISJOINT = {
    **TINY,
    "model": {"name": "tree", "q": 3, "depth": 3, "q_eff": 2},  # 384 sequences
    "data": {"n_train": 12, "n_test": 40, "n_pairs": 2, "n_seed_pairs": 1},
    "train": {
        "steps": 60,
        "n_checkpoints": 6,
        "checkpoint_ratio": 1.5,
        "checkpoint_window": [10, 60],
        "batch_size": 8,
        "device": "cpu",
        "ema_decay": 0.9,
        "extra_ema_decays": [0.5],
        "eval_weights": ["raw", "ema"],
    },
    "metrics": {**TINY["metrics"], "sample_ratio": 2.0},
}


@pytest.fixture(scope="module")
def disjoint() -> tuple[xr.Dataset, ExperimentConfig]:
    cfg = ExperimentConfig.from_dict(DISJOINT)
    return run_experiment(cfg), cfg


def test_weights_overlaps_and_checkpoints(disjoint: tuple[xr.Dataset, ExperimentConfig]) -> None:
    from physgen.train import checkpoints_of, init_weight, ratio_subset

    ds, cfg = disjoint
    assert list(ds.weights.values) == ["raw", "ema", "ema_0.5"]
    np.testing.assert_array_equal(ds.weights_decay.values, [0.0, 0.9, 0.5])
    np.testing.assert_array_equal(ds.step.values, checkpoints_of(cfg.train))
    steps = ds.step.values
    assert np.all((steps[1:] / steps[:-1])[steps[:-1] >= 10] <= 1.5 + 1e-12)
    np.testing.assert_array_equal(ds.init_weight.sel(weights="ema").values, init_weight(steps, 0.9))
    assert np.all(ds.init_weight.sel(weights="raw").values == 0.0)
    # content-disjoint data: no sequence shared by a pair's splits or with the test set
    assert ds.overlap_pair.dims == ("pair",) and ds.overlap_test.dims == ("network",)
    assert ds.overlap_pair.values.tolist() == [0, 0] and not ds.overlap_test.values.any()
    # the three weights differ, and each is evaluated at every checkpoint
    loss = ds.test_loss.values  # (network, weights, checkpoint)
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(ds.test_loss_se.values))
    assert not np.allclose(loss[:, 0], loss[:, 1]) and not np.allclose(loss[:, 1], loss[:, 2])
    # memorisation at the checkpoints of ratio_subset (late two decades, ≤ 2× apart)
    sampled = np.isfinite(ds.memorised_fraction.values[0, 0])
    np.testing.assert_array_equal(sampled, ratio_subset(steps, 2.0, start=steps[-1] / 100))
    assert ds.attrs["physgen_bias_rule"] == "progress"
    assert ds.attrs["physgen_extra_ema_decays"] == "[0.5]"


def test_onsets_brackets_and_counts_recorded(
    disjoint: tuple[xr.Dataset, ExperimentConfig],
) -> None:
    """Every onset is recorded with its bracket and censoring as the public bracketed functions
    give them on the recorded curves; the ordering count is count_before per weights."""
    from physgen.experiments.plan import pair_mean
    from physgen.metrics import (
        Onset,
        argmin_bracketed,
        bias_onset_bracketed,
        count_before,
        memorisation_bracketed,
    )
    from physgen.train import init_weight

    ds, _ = disjoint
    steps = ds.step.values
    a, b = ds.pair_a.values, ds.pair_b.values
    d0 = ds.ladder_test.sel(level=0).values
    valid = np.array([init_weight(steps, g) <= 0.01 for g in ds.weights_decay.values])
    S = ds.split_divergence.values
    expected = {
        "tau_bias": bias_onset_bracketed(
            steps, S, d0[a], d0[b], float(ds.site_only_kl), valid=valid
        ),
        "tau_test": argmin_bracketed(
            steps, pair_mean(ds.test_loss.values, list(zip(a, b, strict=True)))
        ),
        "tau_test_net": argmin_bracketed(steps, ds.test_loss.values),
        "tau_mem_net": memorisation_bracketed(
            steps,
            ds.memorised_fraction.values,
            ds.memorised_fraction_se.values,
            ds.memorised_floor.values[:, None, None],
        ),
    }
    for name, onset in expected.items():
        np.testing.assert_array_equal(ds[name].values, onset.tau, err_msg=name)
        np.testing.assert_array_equal(ds[f"{name}_lo"].values, onset.lo, err_msg=name)
        np.testing.assert_array_equal(ds[f"{name}_hi"].values, onset.hi, err_msg=name)
        np.testing.assert_array_equal(ds[f"{name}_censored"].values, onset.censored)
    # a bracket is the pair of neighbouring checkpoints of an uncensored argmin
    tau, lo, hi = (ds[f"tau_test_net{s}"].values for s in ("", "_lo", "_hi"))
    inside = ~ds.tau_test_net_censored.values
    for t, below, above in zip(tau[inside], lo[inside], hi[inside], strict=True):
        k = int(np.flatnonzero(steps == t)[0])
        assert (below, above) == (steps[k - 1], steps[k + 1])
    # the split divergence has its standard error, and it is small against S
    assert np.all(ds.split_divergence_se.values > 0)
    assert np.all(ds.split_divergence_se.values < ds.split_divergence.values)
    for w in range(ds.sizes["weights"]):
        bias, test = expected["tau_bias"], expected["tau_test"]

        def at(o: Onset, w: int = w) -> Onset:
            return Onset(
                *(np.asarray(getattr(o, f))[:, w] for f in ("tau", "lo", "hi", "censored"))
            )

        assert (
            ds.n_bias_before_test.values[w],
            ds.n_bias_test_measured.values[w],
        ) == count_before(at(bias), at(test))


def test_recorded_standard_errors_equal_the_public_function(
    disjoint: tuple[xr.Dataset, ExperimentConfig],
) -> None:
    """S and its standard error at the last checkpoint, for every weights, equal
    nested_mean_se of the per-input KL of the trained networks (the public functions)."""
    from physgen.metrics import denoiser_divergence, item_divergence, nested_mean_se

    ds, rec, captured = run_and_keep(disjoint[1], TreeRecorder)
    xr.testing.assert_identical(ds, disjoint[0])  # the same cell, recorded again
    crit = rec.test.crit
    a, b = int(ds.pair_a[0]), int(ds.pair_b[0])
    k = ds.sizes["checkpoint"] - 1
    for w in range(ds.sizes["weights"]):
        est = nested_mean_se(
            item_divergence(captured[a, w], captured[b, w], crit.x_t, crit.alpha_bar)
        )
        at = {"pair": 0, "weights": w, "checkpoint": k}
        assert ds.split_divergence.isel(at).item() == pytest.approx(est.mean, rel=1e-12)
        assert ds.split_divergence_se.isel(at).item() == pytest.approx(est.se, rel=1e-12)
        assert est.mean == pytest.approx(
            denoiser_divergence(captured[a, w], captured[b, w], crit.x_t, crit.alpha_bar),
            rel=1e-12,
        )
