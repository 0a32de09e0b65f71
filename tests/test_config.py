"""The cell configuration: strict parsing, errors naming the key, canonical JSON and hash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import xarray as xr

from physgen.config import LATE_KEYS, ExperimentConfig, _default_of
from physgen.errors import ConfigError


def _cfg(**sections: object) -> dict:
    base: dict = {"model": {"name": "tree", "q": 3, "depth": 2, "q_eff": 2}}
    base.update(sections)
    return base


def test_round_trip_through_dict_and_json() -> None:
    cfg = ExperimentConfig.from_dict(_cfg(seed=3, train={"steps": 100, "n_checkpoints": 5}))
    again = ExperimentConfig.from_dict(json.loads(cfg.to_json()))
    assert again == cfg
    assert again.sha256() == cfg.sha256()
    assert cfg.model.params == {"q": 3, "depth": 2, "q_eff": 2}


def test_hash_changes_with_any_value() -> None:
    a = ExperimentConfig.from_dict(_cfg(train={"steps": 100, "n_checkpoints": 5}))
    b = ExperimentConfig.from_dict(_cfg(train={"steps": 101, "n_checkpoints": 5}))
    assert a.sha256() != b.sha256()


MAIN_JOB = Path(__file__).parents[1] / "docs" / "results" / "main-job-long" / "results.nc"


def test_cells_written_by_older_code_keep_their_identity() -> None:
    """The committed first main job (runs/quick_long.toml) was computed before the keys of
    LATE_KEYS existed: its cells' recorded configs must hash to their recorded identities, or
    resuming its folder would recompute every finished cell."""
    with xr.open_dataset(MAIN_JOB) as ds:
        pairs = list(
            zip(
                ds.cell_config_json.values.ravel(),
                ds.cell_config_sha256.values.ravel(),
                strict=True,
            )
        )
    assert len(pairs) == 6
    for text, sha in pairs:
        cfg = ExperimentConfig.from_dict(json.loads(str(text)))
        assert cfg.sha256() == str(sha)


@pytest.mark.parametrize(
    ("key", "value", "given"),
    [
        ("train.p_uncond", 0.3, {}),
        ("metrics.guidance_w", [0.0, 1.0], {}),
        ("metrics.guidance_classes", [0], {"guidance_w": [0.0, 1.0]}),
    ],
)
def test_late_key_counts_once_it_leaves_its_default(key: str, value: object, given: dict) -> None:
    assert key in LATE_KEYS
    section, name = key.split(".")
    other = {"metrics": given} if given else {}
    base = ExperimentConfig.from_dict(_cfg(**other))
    changed = ExperimentConfig.from_dict(_cfg(**{**other, section: {**given, name: value}}))
    assert name not in json.loads(base.to_json())[section]
    assert json.loads(changed.to_json())[section][name] == value != _default_of(key)
    assert changed.sha256() != base.sha256()
    assert ExperimentConfig.from_dict(json.loads(changed.to_json())) == changed


def test_integral_float_accepted_as_int_and_int_as_float() -> None:
    cfg = ExperimentConfig.from_dict(_cfg(train={"steps": 100.0, "lr": 1, "n_checkpoints": 5}))
    assert cfg.train.steps == 100 and isinstance(cfg.train.steps, int)
    assert cfg.train.lr == 1.0 and isinstance(cfg.train.lr, float)


@pytest.mark.parametrize(
    ("mapping", "key"),
    [
        ({"trian": {}}, "trian"),
        ({"train": {"stepz": 1}}, "train.stepz"),
        ({"train": {"steps": "many"}}, "train.steps"),
        ({"train": {"steps": 1.5}}, "train.steps"),
        ({"train": {"steps": True}}, "train.steps"),
        ({"train": {"lr": -1.0}}, "train.lr"),
        ({"train": {"lr_schedule": "linear"}}, "train.lr_schedule"),
        ({"train": {"device": "tpu"}}, "train.device"),
        ({"data": {"n_train": 0}}, "data.n_train"),
        ({"data": {"n_train": 600_000}}, "data.n_train"),
        ({"net": {"width": 10, "heads": 4}}, "net.heads"),
        ({"metrics": {"t_frac": 1.5}}, "metrics.t_frac"),
        ({"metrics": {"uturn_t_fracs": [0.1, 2.0]}}, "metrics.uturn_t_fracs"),
        ({"diffusion": {"schedule": "sigmoid"}}, "diffusion.schedule"),
        ({"diffusion": {"T": 20}}, "diffusion.T"),
        ({"data": 3}, "data"),
    ],
)
def test_bad_values_name_their_key(mapping: dict, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        ExperimentConfig.from_dict(_cfg(**mapping))
    assert info.value.key == key
    assert str(info.value).startswith(f"{key}: ")


def test_unknown_model_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown model 'nope'"):
        ExperimentConfig.from_dict({"model": {"name": "nope"}})


def test_the_model_of_a_config_is_built_once() -> None:
    from unittest import mock

    from physgen import registry

    calls = []
    real = registry.make_model

    def counting(name, **params):
        calls.append(name)
        return real(name, **params)

    with mock.patch.object(registry, "make_model", counting):
        cfg = ExperimentConfig.from_dict({"model": {"name": "gmm", "dim": 2}})  # validates
        assert cfg.validate() is cfg.model.build()
    assert calls == ["gmm"]
    assert cfg == ExperimentConfig.from_dict({"model": {"name": "gmm", "dim": 2}})
