"""The README's main job (runs/quick.toml) keeps the design docs/results/2026-12-03-main-job-15min.md
measured: depths 3 and 4, three sizes spanning 4x, three content-disjoint pairs, the raw weights
and two averages, checkpoints at most 1.3x apart where the onsets fall, memorisation checked at
most 2x apart; and runs/quick_long.toml is the same job with more steps and sampler steps."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from physgen.experiments.plan import sample_checkpoint_mask
from physgen.sweep.cells import resolve_cells
from physgen.sweep.runner import dry_run
from physgen.sweep.spec import load_spec
from physgen.train import checkpoints_of, weight_decays

RUNS = Path(__file__).resolve().parents[1] / "runs"


def test_main_job_design() -> None:
    spec = RUNS / "quick.toml"
    cells = resolve_cells(load_spec(spec))
    assert dry_run(spec).count("--- cell") == len(cells) == 6
    sizes = sorted({c.config.data.n_train for c in cells})
    assert {c.config.model.params["depth"] for c in cells} == {3, 4}
    assert len(sizes) == 3 and sizes[-1] / sizes[0] >= 4
    for cell in cells:
        cfg = cell.config
        assert cfg.data.n_pairs >= 3 and cfg.data.content_disjoint
        assert weight_decays(cfg.train) == {"raw": 0.0, "ema": 0.999, "ema_0.99": 0.99}
        steps = checkpoints_of(cfg.train)
        ratio = steps[1:] / steps[:-1]
        # every onset of the timed run lies at step 20 or later (τ_bias ≥ 20)
        assert ratio[steps[1:] >= 20].max() <= 1.3
        mask = sample_checkpoint_mask(
            steps, cfg.metrics.sample_checkpoints, cfg.metrics.sample_ratio
        )
        checked = steps[mask]
        assert checked[-1] == cfg.train.steps and (checked[1:] / checked[:-1]).max() <= 2.0
    # training steps grow with n
    by_n = {c.config.data.n_train: c.config.train.steps for c in cells}
    assert [by_n[n] for n in sizes] == sorted(by_n.values())


def test_long_job_differs_only_in_its_budget() -> None:
    def cells(name: str) -> dict[str, dict]:
        out = {}
        for c in resolve_cells(load_spec(RUNS / name)):
            d = c.config.to_dict()
            d["train"].pop("steps")
            d["metrics"].pop("sample_steps")
            out[c.name] = d
        return out

    quick, long = cells("quick.toml"), cells("quick_long.toml")
    assert quick == long
    steps = np.array(
        [
            [c.config.train.steps for c in resolve_cells(load_spec(RUNS / name))]
            for name in ("quick.toml", "quick_long.toml")
        ]
    )
    assert (steps[1] >= steps[0]).all() and (steps[1] > steps[0]).any()
