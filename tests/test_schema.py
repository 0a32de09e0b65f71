"""The declarations of the recorded variables: docs table up to date, UDUNITS-valid units,
reserved sweep dimensions derived from them, and every ``computed_by`` an importable function."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from physgen.errors import ConfigError
from physgen.experiments.schema import (
    EXPERIMENTS,
    VARIABLES,
    experiment_variables,
    reserved_dims,
    variables_markdown,
)

DOC = Path(__file__).resolve().parent.parent / "docs" / "variables.md"


def test_docs_table_is_generated_from_the_declarations() -> None:
    assert DOC.read_text() == variables_markdown(), (
        "docs/variables.md is stale: python -m physgen.experiments.schema > docs/variables.md"
    )


def test_every_declared_unit_is_udunits_and_dimensionless() -> None:
    cf_units = pytest.importorskip("cf_units")
    for name, var in VARIABLES.items():
        unit = cf_units.Unit(var.units)  # raises on a string UDUNITS cannot parse
        # nats, counts and steps are numbers: no physical dimension may sneak in
        assert unit.is_dimensionless(), (name, var.units)
    # what the declarations avoid: "nat" reads as a pressure, "step" does not parse
    assert not cf_units.Unit("nat").is_dimensionless()
    with pytest.raises(ValueError):
        cf_units.Unit("step")


def test_reserved_dims_cover_every_result_dimension() -> None:
    names = reserved_dims()
    for dim in (
        "checkpoint",
        "network",
        "seed_pair",
        "nn_bin",
        "uturn_t",
        "kl_t",
        "image_width",
        "cell",
    ):
        assert dim in names
    for var in VARIABLES.values():
        assert set(var.dims) <= set(names)
    assert "t_frac" not in names and "memorised_fraction" not in names  # not dims


def test_a_grid_axis_cannot_take_a_result_dimension() -> None:
    from physgen.config import ExperimentConfig
    from physgen.sweep.spec import INNER_AXES, SweepSpec

    with pytest.raises(
        ConfigError, match=r"grid.metrics.x.level: dimension name 'level' is reserved"
    ):
        SweepSpec.from_dict({"grid": {"metrics.x.level": [1, 2]}})
    # no config key can be swept into a clash: net.width, metrics.t_frac, … keep their names;
    # an inner axis (metrics.guidance_w) is a cell's own dimension, merged along it
    keys: list[str] = []

    def walk(mapping: dict, prefix: str = "") -> None:
        for k, v in mapping.items():
            walk(v, f"{prefix}{k}.") if isinstance(v, dict) else keys.append(prefix + k)

    walk(ExperimentConfig().to_dict())
    assert "net.width" in keys and "metrics.t_frac" in keys
    clash = [k for k in keys if k.rsplit(".", 1)[-1] in {*reserved_dims(), *VARIABLES}]
    assert clash == list(INNER_AXES) == ["metrics.guidance_w"]


def test_computed_by_names_a_public_function_and_experiments_are_known() -> None:
    for var in VARIABLES.values():
        assert set(var.experiments) <= set(EXPERIMENTS), var.name
        if not var.computed_by:
            assert var.coordinate, f"{var.name} says nothing of how it is computed"
            continue
        module, _, attr = var.computed_by.rpartition(".")
        try:
            obj = importlib.import_module(module)
        except ModuleNotFoundError:  # a method of a protocol: module.Class.method
            module, _, cls = module.rpartition(".")
            obj = getattr(importlib.import_module(module), cls)
        assert not attr.startswith("_"), var.computed_by
        assert callable(getattr(obj, attr, None)), var.computed_by
    assert {v.name for v in experiment_variables("tree")} >= {"ladder_test", "tau_bias", "step"}
