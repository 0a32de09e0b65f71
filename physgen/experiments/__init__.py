"""One experiment = one call: train the networks of one configuration and measure everything.

:func:`run_experiment` is the sweep cell of physgen: a pure function of an
:class:`~physgen.config.ExperimentConfig` returning an :class:`xarray.Dataset` of every curve over
training checkpoints (``step``) and the onsets ``tau_bias``, ``tau_test``, ``tau_nn``,
``tau_mem``, with CF attributes and the configuration in the global attributes (see
:mod:`physgen.experiments.schema`). The same configuration gives the same arrays on the CPU.

It dispatches on the data model: token models (``vocab_size`` set) run
:mod:`physgen.experiments.tokens`, vector models (event shape ``(d,)``)
:mod:`physgen.experiments.vectors`, images :mod:`physgen.experiments.images`; each module exposes
``run(cfg, *, progress=None) -> xr.Dataset``. They are imported when needed, so importing
physgen stays light.

Example::

    from physgen.config import ExperimentConfig
    from physgen.experiments import run_experiment

    cfg = ExperimentConfig.from_dict({"model": {"name": "tree", "depth": 3}, "data": {"n_train": 125}})
    ds = run_experiment(cfg)
    ds.tau_bias.values, ds.tau_test.values
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import TYPE_CHECKING, Any

from physgen.errors import PhysgenError

if TYPE_CHECKING:
    import xarray as xr

    from physgen.config import ExperimentConfig

__all__ = ["experiment_kind", "run_experiment"]

ProgressFn = Callable[[int, int, str], None]


def experiment_kind(model: Any) -> str:
    """``"tokens"``, ``"vectors"`` or ``"images"`` for a data model, from its ``vocab_size``
    and ``event_shape``."""
    if getattr(model, "vocab_size", None) is not None:
        return "tokens"
    shape = tuple(getattr(model, "event_shape", ()))
    if len(shape) == 1:
        return "vectors"
    if len(shape) >= 2:
        return "images"
    raise PhysgenError(
        f"model {type(model).__name__} has event shape {shape}: an experiment needs tokens "
        "(vocab_size set), vectors (d,) or images (C, H, W)"
    )


def run_experiment(cfg: ExperimentConfig, *, progress: ProgressFn | None = None) -> xr.Dataset:
    """Run the experiment (sweep cell) ``cfg`` and return its Dataset.

    ``progress(done, total, message)``, when given, is called after every checkpoint evaluation.
    Torch and Numba run on ``cfg.train.threads`` threads for the duration of the call (restored
    afterwards): parallel sweep workers must not oversubscribe the cores, and Numba's thread pool
    costs more than it saves on the small batches of an evaluation.
    """
    import numba
    import torch

    cfg.validate()
    kind = experiment_kind(cfg.model.build())
    module = import_module(f"physgen.experiments.{kind}")
    saved = torch.get_num_threads(), numba.get_num_threads()
    torch.set_num_threads(cfg.train.threads)
    numba.set_num_threads(min(cfg.train.threads, numba.config.NUMBA_NUM_THREADS))
    try:
        return module.run(cfg, progress=progress)
    finally:
        torch.set_num_threads(saved[0])
        numba.set_num_threads(saved[1])
