"""One experiment = one call: train the networks of one configuration and measure everything.

:func:`run_experiment` is the sweep cell of physgen: a pure function of an
:class:`~physgen.config.ExperimentConfig` returning an :class:`xarray.Dataset` of every curve over
training checkpoints (dim ``checkpoint``, with the optimiser ``step`` as a coordinate) and the
onsets, with CF attributes and the configuration in the global attributes (the variables are
declared in :mod:`physgen.experiments.schema`, table in docs/variables.md). The same
configuration gives the same arrays on the CPU.

The data model is built once, and the experiment is chosen by what the model provides
(:data:`EXPERIMENTS`, the protocols of :mod:`physgen.models.base`): a token model with a tree
oracle (:class:`~physgen.models.base.TreeModel`) runs :mod:`physgen.experiments.tree`, a vector
model (event shape ``(d,)``) :mod:`physgen.experiments.vectors`, an image model (``(C, H, W)``)
:mod:`physgen.experiments.images`. A tree model with ``metrics.guidance_w`` set runs the
guidance experiment, :mod:`physgen.experiments.guidance` (class-conditional training and
classifier-free guidance). A model that lacks what its experiment needs is rejected
before anything runs, with one line naming what is missing (:func:`check_model`). The skeleton
they share is :mod:`physgen.experiments.plan`; docs/experiments.md says how to add a curve or an
experiment.

Example::

    from physgen.config import ExperimentConfig
    from physgen.experiments import run_experiment

    cfg = ExperimentConfig.from_dict({"model": {"name": "tree", "depth": 3}, "data": {"n_train": 125}})
    ds = run_experiment(cfg)
    ds.tau_bias.values, ds.ladder_test.sel(level=0)
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import TYPE_CHECKING, Any

from physgen.errors import ConfigError

if TYPE_CHECKING:
    import xarray as xr

    from physgen.config import ExperimentConfig

__all__ = ["EXPERIMENTS", "check_model", "experiment_kind", "experiment_of", "run_experiment"]

ProgressFn = Callable[[int, int, str], None]

EXPERIMENTS: dict[str, tuple[str, str]] = {
    "tree": ("TreeModel", "TreeRecorder"),
    "vectors": ("VectorModel", "VectorRecorder"),
    "images": ("ImageModel", "ImageRecorder"),
    "guidance": ("TreeModel", "GuidanceRecorder"),
}
"""Experiment name (module ``physgen.experiments.<name>``) → the protocol of
:mod:`physgen.models.base` its model must satisfy and the module's
:class:`~physgen.experiments.plan.CellRecorder` (imported when needed: importing physgen stays
light)."""


def experiment_kind(model: Any) -> str:
    """``"tree"``, ``"vectors"`` or ``"images"`` for a data model: token models (``vocab_size``
    set) go to the tree experiment, others by the rank of their ``event_shape``."""
    if getattr(model, "vocab_size", None) is not None:
        return "tree"
    shape = tuple(getattr(model, "event_shape", ()))
    if len(shape) == 1:
        return "vectors"
    if len(shape) >= 2:
        return "images"
    raise ConfigError(
        "model",
        f"{type(model).__name__} has event shape {shape}: an experiment needs tokens "
        "(vocab_size set), vectors (d,) or images (C, H, W)",
    )


def experiment_of(cfg: ExperimentConfig, model: Any) -> str:
    """The experiment a cell runs: ``"guidance"`` when ``metrics.guidance_w`` is set (a tree
    model with classes, checked by :func:`physgen.config.check_guidance`), else the model's
    :func:`experiment_kind`."""
    return "guidance" if cfg.metrics.guidance_w else experiment_kind(model)


def check_model(model: Any) -> str:
    """The experiment of ``model`` after checking it provides its protocol; a model that lacks
    a member raises :class:`~physgen.errors.ConfigError` (key ``model``) naming it."""
    from physgen.models import base

    kind = experiment_kind(model)
    protocol = EXPERIMENTS[kind][0]
    missing = base.missing_members(model, getattr(base, protocol))
    if missing:
        raise ConfigError(
            "model",
            f"{type(model).__name__} lacks {', '.join(missing)}, needed by the {kind} "
            f"experiment (protocol physgen.models.base.{protocol})",
        )
    return kind


def run_experiment(cfg: ExperimentConfig, *, progress: ProgressFn | None = None) -> xr.Dataset:
    """Run the experiment (sweep cell) ``cfg`` and return its Dataset.

    ``progress(done, total, message)``, when given, is called after every checkpoint evaluation.
    Torch and Numba run on ``cfg.train.threads`` threads for the duration of the call (restored
    afterwards, :func:`physgen.threads.pinned_threads`).
    """
    from physgen.experiments.plan import run_cell
    from physgen.threads import pinned_threads

    model = cfg.validate()  # the one build of the model in this cell, checked against its protocol
    kind = experiment_of(cfg, model)
    recorder = getattr(import_module(f"physgen.experiments.{kind}"), EXPERIMENTS[kind][1])
    with pinned_threads(cfg.train.threads):
        return run_cell(cfg, model, recorder, progress)
