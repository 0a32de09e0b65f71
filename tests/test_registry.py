"""The model registry: a model defined here plugs in by decorator and by entry point, and is then
sampled (and diffused) through the same names a TOML config uses."""

from __future__ import annotations

import sys
import types
from importlib.metadata import EntryPoint
from typing import Any

import numpy as np
import pytest

import physgen.registry as registry
from physgen.config import ModelConfig
from physgen.diffusion import Schedule, ddpm_sample
from physgen.errors import ConfigError
from physgen.models import DataModel
from physgen.rng import sample_generator


class PointMasses(DataModel):
    """Two point masses ±``scale``·1 in ``dim`` dimensions: its exact denoiser is a tanh."""

    def __init__(self, dim: int = 2, scale: float = 1.0) -> None:
        self.dim = dim
        self.scale = scale
        self.event_shape = (dim,)

    def sample(self, n: int, seed: int) -> np.ndarray:
        signs = [1.0 if sample_generator(seed, i).random() < 0.5 else -1.0 for i in range(n)]
        return self.scale * np.asarray(signs)[:, None] * np.ones((n, self.dim))

    def denoise(self, x_t: np.ndarray, alpha_bar: float | np.ndarray) -> np.ndarray:
        a = np.broadcast_to(np.asarray(alpha_bar, dtype=np.float64), (x_t.shape[0],))[:, None]
        m = self.scale * np.ones(self.dim)
        return m * np.tanh(np.sqrt(a) * (x_t @ m)[:, None] / (1 - a))

    def params(self) -> dict[str, Any]:
        return {"dim": self.dim, "scale": self.scale}


@pytest.fixture
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """A private copy of the registry, so models registered by a test do not leak."""
    registry.available_models()  # built-ins and installed plugins first
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))


def test_builtin_models_are_registered() -> None:
    names = registry.available_models()
    assert {"gaussian_mixture", "gmm"} <= set(names)
    assert registry.model_parameters("gmm")["dim"] == 8


def test_decorated_model_is_sampled_by_name(fresh_registry: None) -> None:
    registry.register_model("point_masses")(PointMasses)
    model = registry.make_model("point_masses", dim=3, scale=2.0)
    x = model.sample(200, seed=0)
    assert set(np.unique(x)) == {-2.0, 2.0}
    assert 60 < (x[:, 0] > 0).sum() < 140
    built = ModelConfig(name="point_masses", params={"dim": 3, "scale": 2.0}).build()
    np.testing.assert_array_equal(built.sample(5, seed=1), model.sample(5, seed=1))
    # the samplers take it as any other data model: reverse diffusion lands on ±scale·1
    gen = ddpm_sample(model, Schedule.linear(50), 50, (3,), seed=2)
    np.testing.assert_allclose(np.abs(gen), 2.0, atol=1e-6)


def test_second_model_under_a_taken_name_is_refused(fresh_registry: None) -> None:
    registry.register_model("point_masses")(PointMasses)
    registry.register_model("point_masses")(PointMasses)  # the same object again is fine

    class Other(PointMasses):
        pass

    with pytest.raises(ValueError, match="already registered"):
        registry.register_model("point_masses")(Other)


def test_entry_point_plugin(fresh_registry: None, monkeypatch: pytest.MonkeyPatch) -> None:
    plugin = types.ModuleType("physgen_test_plugin")
    plugin.PointMasses = PointMasses
    monkeypatch.setitem(sys.modules, "physgen_test_plugin", plugin)
    ep = EntryPoint(
        name="plugin_points", value="physgen_test_plugin:PointMasses", group="physgen.models"
    )

    def fake_entry_points(*, group: str) -> list[EntryPoint]:
        return [ep] if group == registry.ENTRY_POINT_GROUP else []

    monkeypatch.setattr(registry, "entry_points", fake_entry_points)
    monkeypatch.setattr(registry, "_entry_points_loaded", False)
    assert "plugin_points" in registry.available_models()
    model = registry.make_model("plugin_points", dim=4)
    assert isinstance(model, PointMasses) and model.sample(3, seed=0).shape == (3, 4)


def test_unknown_model_and_parameter_are_config_errors() -> None:
    with pytest.raises(ConfigError) as err:
        registry.make_model("no_such_model")
    assert err.value.key == "model.name" and "gaussian_mixture" in str(err.value)
    with pytest.raises(ConfigError) as err:
        registry.make_model("gmm", dims=3)
    assert err.value.key == "model.dims"
    with pytest.raises(ConfigError) as err:
        ModelConfig(name="gmm", params={"std": -1.0}).build()
    assert err.value.key == "model.std"
