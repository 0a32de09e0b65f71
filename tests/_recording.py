"""Run a cell while keeping what the public-function tests compare against: the recorder (its
frozen inputs) and each network's denoiser at the last checkpoint (the trained network)."""

from __future__ import annotations

from typing import Any

import xarray as xr

from physgen.config import ExperimentConfig
from physgen.experiments.plan import CellRecorder, run_cell


def run_and_keep(
    cfg: ExperimentConfig, recorder: type[CellRecorder]
) -> tuple[xr.Dataset, Any, dict[Any, Any]]:
    """``(dataset, recorder, captured)`` of one run of ``cfg``: ``captured[network]`` is the
    network's final denoiser of the first weights, ``captured[network, w]`` that of weights
    ``w``."""
    captured: dict[Any, Any] = {}
    kept: list[CellRecorder] = []

    class Keep(recorder):  # type: ignore[valid-type, misc]
        def evaluate(self, net: int, w: int, k: int, den: Any) -> None:
            super().evaluate(net, w, k, den)
            if k == self.steps.size - 1:
                captured[net, w] = den
                if w == 0:
                    captured[net] = den

        def results(self) -> dict[str, Any]:
            kept.append(self)
            return super().results()

    ds = run_cell(cfg, cfg.model.build(), Keep)
    return ds, kept[0], captured
