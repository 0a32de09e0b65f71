"""What every experiment cell shares: the plan of its networks and the training loop over them.

A cell trains each network of its disjoint pairs and seed pairs once (a seed pair reuses the
replicate-0 network of its split), calling an evaluation function at every log-spaced checkpoint.
The experiment modules (:mod:`~physgen.experiments.tokens`, :mod:`~physgen.experiments.vectors`,
:mod:`~physgen.experiments.images`) differ only in what they evaluate and record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from physgen.config import ExperimentConfig

__all__ = [
    "LABEL_EVAL",
    "LABEL_SAMPLE",
    "CellPlan",
    "CellRecorder",
    "NetworkPlan",
    "ProgressFn",
    "network_coords",
    "plan_cell",
    "plan_networks",
    "sample_checkpoint_mask",
    "train_networks",
]

ProgressFn = Callable[[int, int, str], None]

# physgen.rng.spawn labels of the evaluation streams under the experiment seed (labels 1 and 2
# are the data pool and the network seeds of physgen.data).
LABEL_EVAL = 3
LABEL_SAMPLE = 4


@dataclass(frozen=True)
class NetworkPlan:
    """One network to train: its index in the cell, split, replicate, seed and role ('A', 'B'
    for the members of a disjoint pair, 'seed' for an extra replicate of a seed pair)."""

    index: int
    split: int
    replicate: int
    seed: int
    role: str


def plan_networks(
    protocol: Any,
) -> tuple[list[NetworkPlan], list[tuple[int, int]], list[tuple[int, int]]]:
    """The networks of a cell (each once), its disjoint pairs and its seed pairs, from the data
    protocol's :meth:`~physgen.data.DataProtocol.pairs`. A pair is ``(index_a, index_b)`` into
    the returned networks."""
    nets: dict[tuple[int, int], NetworkPlan] = {}
    pairs: list[tuple[int, int]] = []
    seed_pairs: list[tuple[int, int]] = []
    for pair in protocol.pairs():
        members = []
        for spec, role in ((pair.a, "A"), (pair.b, "B")):
            key = (spec.split, spec.replicate)
            if key not in nets:
                role = role if pair.kind == "disjoint" else ("A" if spec.replicate == 0 else "seed")
                nets[key] = NetworkPlan(len(nets), spec.split, spec.replicate, spec.seed, role)
            members.append(nets[key].index)
        (pairs if pair.kind == "disjoint" else seed_pairs).append((members[0], members[1]))
    return list(nets.values()), pairs, seed_pairs


def sample_checkpoint_mask(steps: np.ndarray, n_sample: int) -> np.ndarray:
    """Boolean mask of the checkpoints that get the sample-based diagnostics: ``n_sample`` of
    them (at most all), the last one always included, spread evenly over the checkpoints of the
    last two decades of training (step ≥ last step / 100; all checkpoints when fewer are
    there). Samples of the first few hundredths of training carry no structure, and the
    onsets sit later, so that is where the costly diagnostics are spent."""
    steps = np.asarray(steps)
    n = steps.size
    k = min(n, max(1, n_sample))
    late = np.flatnonzero(steps >= steps[-1] / 100)
    pool = late if late.size >= k else np.arange(n - k, n)
    mask = np.zeros(n, dtype=bool)
    mask[pool[np.rint(np.linspace(pool.size - 1, 0, k)).astype(np.int64)]] = True
    return mask


class CellRecorder:
    """Base of the experiments' recorders: the cell's config, model, schedule, networks and
    checkpoint steps, the seeds of the frozen evaluation inputs and of the coupled samples, and
    the mask of checkpoints that get the sample-based diagnostics."""

    def __init__(self, cfg: ExperimentConfig, cell: CellPlan) -> None:
        from physgen.rng import spawn

        self.cfg, self.model, self.schedule = cfg, cell.model, cell.schedule
        self.nets, self.steps = cell.nets, cell.steps
        self.sample_mask = sample_checkpoint_mask(cell.steps, cfg.metrics.sample_checkpoints)
        self.eval_seed = spawn(cfg.seed, LABEL_EVAL)
        self.sample_seed = spawn(cfg.seed, LABEL_SAMPLE)

    def fresh_floor(self, fresh: np.ndarray, train: np.ndarray, metric: str = "hamming") -> float:
        """Chance level of the memorised fraction: that of ``fresh`` true samples against one
        training split ``train``, plus two bootstrap standard errors
        (:func:`physgen.metrics.memorisation_floor`)."""
        from physgen.metrics import memorisation_floor, memorised_fraction
        from physgen.rng import spawn

        frac, se = memorised_fraction(fresh, train, seed=spawn(self.sample_seed, 1), metric=metric)
        return memorisation_floor(frac, se)


@dataclass(frozen=True)
class CellPlan:
    """The resolved ingredients of a cell: data model, schedule, data protocol, the networks and
    their pairs, and the checkpoint steps (shape ``(n_checkpoints,)``)."""

    model: Any
    schedule: Any
    protocol: Any
    nets: list[NetworkPlan]
    pairs: list[tuple[int, int]]
    seed_pairs: list[tuple[int, int]]
    steps: np.ndarray


def plan_cell(cfg: ExperimentConfig) -> CellPlan:
    """Build the model, schedule and data protocol of ``cfg`` and plan its networks."""
    from physgen.data import DataProtocol
    from physgen.train import checkpoint_steps

    model = cfg.model.build()
    protocol = DataProtocol(model, cfg.data, cfg.seed)
    nets, pairs, seed_pairs = plan_networks(protocol)
    steps = checkpoint_steps(cfg.train.steps, cfg.train.n_checkpoints)
    return CellPlan(model, cfg.diffusion.build(), protocol, nets, pairs, seed_pairs, steps)


def train_networks(
    cfg: ExperimentConfig,
    cell: CellPlan,
    *,
    data_of: Callable[[NetworkPlan], np.ndarray],
    loss: str,
    evaluate: Callable[[int, int, Any], None],
    progress: ProgressFn | None = None,
) -> None:
    """Train every network of ``cell`` on ``data_of(plan)`` (diffusion-space training data,
    ``(n_train, *event_shape)``) with ``loss``, calling ``evaluate(network_index,
    checkpoint_index, denoiser)`` at each checkpoint and ``progress(done, total, message)`` after
    it (``total`` = networks × checkpoints)."""
    from physgen.nets import build_net
    from physgen.train import train

    total, done = len(cell.nets) * cell.steps.size, 0
    index = {int(s): k for k, s in enumerate(cell.steps)}
    for plan in cell.nets:

        def callback(step: int, den: Any, plan: NetworkPlan = plan) -> None:
            nonlocal done
            evaluate(plan.index, index[int(step)], den)
            done += 1
            if progress is not None:
                progress(done, total, f"network {plan.index} ({plan.role}), step {step}")

        net = build_net(cfg.net, cell.model, seed=plan.seed)
        train(
            net,
            data_of(plan),
            cell.schedule,
            cfg.train,
            loss=loss,
            seed=plan.seed,
            callback=callback,
        )


def network_coords(
    steps: np.ndarray,
    nets: list[NetworkPlan],
    pairs: list[tuple[int, int]],
    seed_pairs: list[tuple[int, int]],
) -> dict[str, tuple[tuple[str, ...], np.ndarray]]:
    """The coordinates every cell shares: ``step``; ``network`` with its split, role, replicate
    and seed; ``pair`` and ``seed_pair`` with the indices of their two networks."""
    i64 = np.int64
    return {
        "step": (("step",), np.asarray(steps).astype(i64)),
        "network": (("network",), np.arange(len(nets), dtype=i64)),
        "split": (("network",), np.array([p.split for p in nets], dtype=i64)),
        "role": (("network",), np.array([p.role for p in nets])),
        "replicate": (("network",), np.array([p.replicate for p in nets], dtype=i64)),
        "net_seed": (("network",), np.array([p.seed for p in nets], dtype=i64)),
        "pair": (("pair",), np.arange(len(pairs), dtype=i64)),
        "pair_a": (("pair",), np.array([a for a, _ in pairs], dtype=i64)),
        "pair_b": (("pair",), np.array([b for _, b in pairs], dtype=i64)),
        "seed_pair": (("seed_pair",), np.arange(len(seed_pairs), dtype=i64)),
        "seed_pair_a": (("seed_pair",), np.array([a for a, _ in seed_pairs], dtype=i64)),
        "seed_pair_b": (("seed_pair",), np.array([b for _, b in seed_pairs], dtype=i64)),
    }
