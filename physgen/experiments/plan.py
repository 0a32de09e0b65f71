"""The skeleton every experiment shares: plan the networks, train them, record, assemble.

A cell (:func:`run_cell`) builds nothing itself: it takes the data model built once by
:func:`physgen.experiments.run_experiment`, plans the networks of its disjoint pairs and seed
pairs (a seed pair reuses the replicate-0 network of its split), trains each once, calling the
experiment's :class:`CellRecorder` at every log-spaced checkpoint, and hands the recorder's
arrays, by name, to :func:`physgen.experiments.schema.build_dataset`, which gives them their
declared dims and attributes. An experiment module is a :class:`CellRecorder` subclass: what it
evaluates at a checkpoint (:meth:`CellRecorder.evaluate`) and what it returns
(:meth:`CellRecorder.results`), each diagnostic computed by its public function in
:mod:`physgen.metrics`.

The shared pieces live here once: coupled sampling (:meth:`CellRecorder.generate`), the
memorised fraction and its noise floor (:meth:`CellRecorder.memorisation`,
:meth:`CellRecorder.fresh_floor`), pair averages (:func:`pair_mean`, :func:`pair_stderr`) and the
memorisation onsets (:func:`memorisation_onsets`).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

from physgen.config import ExperimentConfig
from physgen.rng import stream

if TYPE_CHECKING:
    import xarray as xr

__all__ = [
    "CellPlan",
    "CellRecorder",
    "NetworkPlan",
    "ProgressFn",
    "init_weights",
    "memorisation_onsets",
    "network_coords",
    "onset_values",
    "pair_mean",
    "pair_stderr",
    "plan_cell",
    "plan_networks",
    "run_cell",
    "sample_checkpoint_mask",
    "train_networks",
]

ProgressFn = Callable[[int, int, str], None]
Pairs = list[tuple[int, int]]


@dataclass(frozen=True)
class NetworkPlan:
    """One network to train: its index in the cell, split, replicate, seed and role ('A', 'B'
    for the members of a disjoint pair, 'seed' for an extra replicate of a seed pair)."""

    index: int
    split: int
    replicate: int
    seed: int
    role: str


def plan_networks(protocol: Any) -> tuple[list[NetworkPlan], Pairs, Pairs]:
    """The networks of a cell (each once), its disjoint pairs and its seed pairs, from the data
    protocol's :meth:`~physgen.data.DataProtocol.pairs`. A pair is ``(index_a, index_b)`` into
    the returned networks."""
    nets: dict[tuple[int, int], NetworkPlan] = {}
    pairs: Pairs = []
    seed_pairs: Pairs = []
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


def sample_checkpoint_mask(steps: np.ndarray, n_sample: int, ratio: float = 0.0) -> np.ndarray:
    """Boolean mask of the checkpoints that get the sample-based diagnostics: ``n_sample`` of
    them (at most all), the last one always included, spread evenly over the checkpoints of the
    last two decades of training (step ≥ last step / 100; all checkpoints when fewer are
    there). Samples of the first few hundredths of training carry no structure, and the
    onsets sit later, so that is where the costly diagnostics are spent. With ``ratio > 1``
    (``metrics.sample_ratio``) instead the sparsest subset of those checkpoints at most
    ``ratio`` apart (:func:`physgen.train.ratio_subset`), so that a first exceedance (τ_mem)
    is bracketed within that ratio wherever it falls in the last two decades."""
    steps = np.asarray(steps)
    if ratio > 1.0:
        from physgen.train import ratio_subset

        return ratio_subset(steps, ratio, start=steps[-1] / 100)
    n = steps.size
    k = min(n, max(1, n_sample))
    late = np.flatnonzero(steps >= steps[-1] / 100)
    pool = late if late.size >= k else np.arange(n - k, n)
    mask = np.zeros(n, dtype=bool)
    mask[pool[np.rint(np.linspace(pool.size - 1, 0, k)).astype(np.int64)]] = True
    return mask


@dataclass(frozen=True)
class CellPlan:
    """The resolved ingredients of a cell: data model, schedule, data protocol, the networks and
    their pairs, the checkpoint steps (shape ``(n_checkpoints,)``) and the weights evaluated at
    each (name → decay of the average, :func:`physgen.train.weight_decays`) and whether the
    averages warm their decay up."""

    model: Any
    schedule: Any
    protocol: Any
    nets: list[NetworkPlan]
    pairs: Pairs
    seed_pairs: Pairs
    steps: np.ndarray
    weights: dict[str, float]
    ema_warmup: bool = True


def plan_cell(cfg: ExperimentConfig, model: Any) -> CellPlan:
    """The schedule and data protocol of ``cfg`` around the (already built) ``model``, and the
    plan of its networks."""
    from physgen.data import DataProtocol
    from physgen.train import checkpoints_of, weight_decays

    protocol = DataProtocol(model, cfg.data, cfg.seed)
    nets, pairs, seed_pairs = plan_networks(protocol)
    steps = checkpoints_of(cfg.train)
    return CellPlan(
        model,
        cfg.diffusion.build(),
        protocol,
        nets,
        pairs,
        seed_pairs,
        steps,
        weight_decays(cfg.train),
        cfg.train.ema_warmup,
    )


def pair_mean(x: np.ndarray, pairs: Pairs) -> np.ndarray:
    """Per pair, the mean of its two networks' rows of ``x`` (``(n_network, ...)``):
    ``(n_pair, ...)``."""
    x = np.asarray(x, dtype=np.float64)
    return np.array([(x[a] + x[b]) / 2 for a, b in pairs]).reshape(len(pairs), *x.shape[1:])


def pair_stderr(se: np.ndarray, pairs: Pairs) -> np.ndarray:
    """Per pair, the standard error of the mean of two independent estimates with standard
    errors ``se`` (``(n_network, ...)``): :math:`\\sqrt{se_a^2 + se_b^2}/2`."""
    se = np.asarray(se, dtype=np.float64)
    return np.array([np.sqrt(se[a] ** 2 + se[b] ** 2) / 2 for a, b in pairs]).reshape(
        len(pairs), *se.shape[1:]
    )


def onset_values(name: str, onset: Any) -> dict[str, np.ndarray]:
    """The arrays of an :class:`~physgen.metrics.onsets.Onset` under their declared names:
    ``name`` (the step), ``name_lo``, ``name_hi`` (its bracket) and ``name_censored``."""
    return {
        name: np.asarray(onset.tau, dtype=np.float64),
        f"{name}_lo": np.asarray(onset.lo, dtype=np.float64),
        f"{name}_hi": np.asarray(onset.hi, dtype=np.float64),
        f"{name}_censored": np.asarray(onset.censored, dtype=bool),
    }


def memorisation_onsets(
    steps: np.ndarray,
    pairs: Pairs,
    fraction: np.ndarray,
    stderr: np.ndarray,
    floor: np.ndarray,
    name: str = "tau_mem",
) -> dict[str, np.ndarray]:
    """``name`` (``tau_mem``) per pair (mean fraction, standard error of the mean, mean floor)
    and ``<name>_net`` per network, with brackets and censoring, by
    :func:`physgen.metrics.onsets.memorisation_bracketed`.

    ``fraction``, ``stderr``: ``(n_network, n_weights, n_checkpoint)`` (any middle axes);
    ``floor``: ``(n_network,)``.
    """
    from physgen.metrics import memorisation_bracketed

    rank = np.ndim(fraction)
    floor = np.asarray(floor, dtype=np.float64).reshape(-1, *[1] * (rank - 1))
    return {
        **onset_values(
            name,
            memorisation_bracketed(
                steps,
                pair_mean(fraction, pairs),
                pair_stderr(stderr, pairs),
                pair_mean(floor, pairs),
            ),
        ),
        **onset_values(f"{name}_net", memorisation_bracketed(steps, fraction, stderr, floor)),
    }


class CellRecorder(ABC):
    """Base of the experiments: holds the cell (config, model, schedule, networks, checkpoint
    steps), the seeds of the frozen evaluation inputs and of the coupled samples, and the mask of
    checkpoints that get the sample-based diagnostics. Subclasses set the class attributes and
    implement :meth:`train_data`, :meth:`evaluate` and :meth:`results`."""

    experiment: ClassVar[str]
    """Name of the experiment (``"tree"``, ``"vectors"``, ``"images"``)."""
    title: ClassVar[str]
    """ACDD ``title`` of the cell's file."""
    summary: ClassVar[str]
    """ACDD ``summary`` of the cell's file."""
    loss: ClassVar[str]
    """Training loss of the networks (:func:`physgen.train.train`)."""
    sampler: ClassVar[Literal["ddpm", "respaced"]] = "ddpm"
    """Coupled samples by ancestral DDPM on every step, or (``"respaced"``) on
    ``metrics.sample_steps`` evenly respaced steps (DDIM with η = 1) when that is fewer than T."""

    def __init__(self, cfg: ExperimentConfig, cell: CellPlan) -> None:
        self.cfg, self.cell = cfg, cell
        self.model, self.schedule = cell.model, cell.schedule
        self.nets, self.pairs, self.seed_pairs = cell.nets, cell.pairs, cell.seed_pairs
        self.steps = cell.steps
        self.weights = list(cell.weights)
        self.sample_mask = sample_checkpoint_mask(
            cell.steps, cfg.metrics.sample_checkpoints, cfg.metrics.sample_ratio
        )
        self.eval_seed = stream(cfg.seed, "evaluation")
        self.sample_seed = stream(cfg.seed, "sampling")

    # -- what an experiment implements ---------------------------------------------------------

    @abstractmethod
    def train_data(self, plan: NetworkPlan) -> np.ndarray:
        """Diffusion-space training data of network ``plan``: ``(n_train, *event_shape)``."""
        ...

    @abstractmethod
    def evaluate(self, net: int, w: int, k: int, den: Any) -> None:
        """Record every diagnostic of network ``net``, weights ``w`` (index into
        ``self.weights``) at checkpoint ``k`` (denoiser ``den``)."""
        ...

    @abstractmethod
    def results(self) -> dict[str, Any]:
        """Every recorded array by its declared name (:mod:`physgen.experiments.schema`),
        the experiment's own coordinates included."""
        ...

    def train_classes(self, plan: NetworkPlan) -> np.ndarray | None:
        """Class of each training point of network ``plan`` (int ``(n_train,)``) for
        class-conditional training with label dropout (``train.p_uncond``), or ``None`` (the
        default) for an unconditional network."""
        return None

    def options(self) -> dict[str, Any]:
        """Choices recorded as ``physgen_<name>`` global attributes."""
        t = self.cfg.train
        return {
            "ema_decay": t.ema_decay,
            "extra_ema_decays": json.dumps(list(t.extra_ema_decays)),
            "ema_warmup": int(t.ema_warmup),
            "sample_checkpoints": int(self.sample_mask.sum()),
        }

    # -- shared pieces -------------------------------------------------------------------------

    def allocate(self, *names: str, **sizes: int) -> dict[str, np.ndarray]:
        """NaN arrays for the declared variables ``names``, shaped by their declared dims:
        ``network``, ``weights`` and ``checkpoint`` from the cell, any other dim from ``sizes``."""
        from physgen.experiments.schema import VARIABLES

        known = {
            "network": len(self.nets),
            "weights": len(self.weights),
            "checkpoint": self.steps.size,
            **sizes,
        }
        return {n: np.full([known[d] for d in VARIABLES[n].dims], np.nan) for n in names}

    def generate(self, den: Any, classes: np.ndarray | None = None) -> np.ndarray:
        """``metrics.n_generate`` samples of ``den`` (diffusion space) from the cell's sampling
        seed: every network and checkpoint sees the same ``x_T`` and noise, so the samples of two
        networks are coupled (:func:`physgen.diffusion.coupled_sample`); ``classes``
        (``(n_generate,)``, optional) are the classes the samples are requested with."""
        from physgen.diffusion import coupled_sample

        m = self.cfg.metrics
        shape = self.model.event_shape
        if self.sampler == "respaced" and m.sample_steps < self.schedule.T:
            options: dict[str, Any] = {"sampler": "ddim", "eta": 1.0, "steps": m.sample_steps}
        else:
            options = {"sampler": "ddpm"}
        return coupled_sample(
            [den], self.schedule, m.n_generate, shape, self.sample_seed, classes=classes, **options
        )[0]

    def memorisation(
        self, samples: np.ndarray, train: np.ndarray, k: int, metric: str = "euclidean"
    ) -> tuple[float, float]:
        """Memorised fraction of ``samples`` against ``train`` and its bootstrap standard error
        (:func:`physgen.metrics.memorised_fraction`), the bootstrap seeded per checkpoint ``k``."""
        from physgen.metrics import memorised_fraction

        seed = stream(self.sample_seed, "bootstrap", k)
        return memorised_fraction(samples, train, seed=seed, metric=metric)  # type: ignore[arg-type]

    def fresh_floor(self, fresh: np.ndarray, train: np.ndarray, metric: str = "euclidean") -> float:
        """Chance level of the memorised fraction: that of ``fresh`` true samples against one
        training split ``train``, plus two bootstrap standard errors
        (:func:`physgen.metrics.memorisation_floor`)."""
        from physgen.metrics import memorisation_floor, memorised_fraction

        seed = stream(self.sample_seed, "fresh_floor")
        frac, se = memorised_fraction(fresh, train, seed=seed, metric=metric)  # type: ignore[arg-type]
        return float(memorisation_floor(frac, se))


def train_networks(
    cfg: ExperimentConfig,
    cell: CellPlan,
    *,
    data_of: Callable[[NetworkPlan], np.ndarray],
    classes_of: Callable[[NetworkPlan], np.ndarray | None] = lambda plan: None,
    loss: str,
    evaluate: Callable[[int, int, int, Any], None],
    progress: ProgressFn | None = None,
) -> None:
    """Train every network of ``cell`` on ``data_of(plan)`` (diffusion-space training data,
    ``(n_train, *event_shape)``) with ``loss`` — class-conditionally, with label dropout
    ``train.p_uncond``, where ``classes_of(plan)`` gives the classes of those points (the
    network then has the model's ``n_classes``) — calling ``evaluate(network_index,
    weights_index, checkpoint_index, denoiser)`` at each checkpoint for each of
    ``cell.weights`` and ``progress(done, total, message)`` after it (``total`` = networks ×
    checkpoints)."""
    from physgen.nets import build_net
    from physgen.train import train

    total, done = len(cell.nets) * cell.steps.size, 0
    index = {int(s): k for k, s in enumerate(cell.steps)}
    for plan in cell.nets:

        def on_checkpoint(step: int, dens: dict[str, Any], plan: NetworkPlan = plan) -> None:
            nonlocal done
            for w, name in enumerate(cell.weights):
                evaluate(plan.index, w, index[int(step)], dens[name])
            done += 1
            if progress is not None:
                progress(done, total, f"network {plan.index} ({plan.role}), step {step}")

        classes = classes_of(plan)
        n_classes = 0 if classes is None else int(cell.model.n_classes)
        net = build_net(cfg.net, cell.model, seed=plan.seed, n_classes=n_classes)
        train(
            net,
            data_of(plan),
            cell.schedule,
            cfg.train,
            loss=loss,  # type: ignore[arg-type]
            seed=plan.seed,
            on_checkpoint=on_checkpoint,
            classes=classes,
        )


def init_weights(cell: CellPlan) -> np.ndarray:
    """Share of the random initial weights in each of ``cell.weights`` at each checkpoint,
    ``(n_weights, n_checkpoint)`` (:func:`physgen.train.init_weight`; 0 for the raw weights)."""
    from physgen.train import init_weight

    return np.array(
        [init_weight(cell.steps, g, cell.ema_warmup) for g in cell.weights.values()]
    ).reshape(len(cell.weights), cell.steps.size)


def network_coords(cell: CellPlan) -> dict[str, np.ndarray]:
    """The coordinates every cell shares: ``checkpoint`` with its ``step``; ``network`` with
    its split, role, replicate and seed; ``pair`` and ``seed_pair`` with the indices of their two
    networks; ``weights`` with the decay of each average, and the share of the initial weights
    in each at each checkpoint (``init_weight``, :func:`init_weights`)."""
    i64 = np.int64
    nets, pairs, seed_pairs = cell.nets, cell.pairs, cell.seed_pairs
    decays = np.array(list(cell.weights.values()), dtype=np.float64)
    return {
        "weights": np.array(list(cell.weights)),
        "weights_decay": decays,
        "init_weight": init_weights(cell),
        "checkpoint": np.arange(cell.steps.size, dtype=i64),
        "step": np.asarray(cell.steps).astype(i64),
        "network": np.arange(len(nets), dtype=i64),
        "split": np.array([p.split for p in nets], dtype=i64),
        "role": np.array([p.role for p in nets]),
        "replicate": np.array([p.replicate for p in nets], dtype=i64),
        "net_seed": np.array([p.seed for p in nets], dtype=i64),
        "pair": np.arange(len(pairs), dtype=i64),
        "pair_a": np.array([a for a, _ in pairs], dtype=i64),
        "pair_b": np.array([b for _, b in pairs], dtype=i64),
        "seed_pair": np.arange(len(seed_pairs), dtype=i64),
        "seed_pair_a": np.array([a for a, _ in seed_pairs], dtype=i64),
        "seed_pair_b": np.array([b for _, b in seed_pairs], dtype=i64),
    }


def run_cell(
    cfg: ExperimentConfig,
    model: Any,
    recorder: type[CellRecorder],
    progress: ProgressFn | None = None,
) -> xr.Dataset:
    """Train every network of ``cfg`` on ``model``, record with ``recorder`` and return the
    cell's Dataset (declared dims and attributes, :func:`physgen.io.cell_attrs`)."""
    from physgen.experiments.schema import build_dataset
    from physgen.io import cell_attrs, git_commit

    git_commit()  # cached now, from the code that runs: HEAD may move before the cell ends
    cell = plan_cell(cfg, model)
    rec = recorder(cfg, cell)
    train_networks(
        cfg,
        cell,
        data_of=rec.train_data,
        classes_of=rec.train_classes,
        loss=rec.loss,
        evaluate=rec.evaluate,
        progress=progress,
    )
    values = {**network_coords(cell), **rec.results()}
    attrs = cell_attrs(cfg.to_json(), rec.title, rec.summary, rec.options())
    return build_dataset(values, attrs)
