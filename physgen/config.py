"""The configuration of one experiment (one sweep cell), validated strictly.

An experiment trains the same denoiser on disjoint training splits of one data model and records
every diagnostic along training. Its configuration is a tree of dataclasses built from a plain
mapping (a TOML table, a JSON string) by :meth:`ExperimentConfig.from_dict`, which rejects unknown
keys, wrong types and infeasible values with a :class:`~physgen.errors.ConfigError` naming the
dotted key (``train.steps``, ``model.q_eff`` …) before any work starts.

Sections::

    seed = 0
    [model]      name = "tree", then the model's own constructor parameters (q, depth, …)
    [data]       n_train, n_test, n_pairs, n_seed_pairs, pool_size, content_disjoint
    [diffusion]  T, schedule
    [net]        kind, width, layers, heads, ff, time_dim, dropout
    [train]      steps, batch_size, lr, lr_schedule, ema_decay, ema_warmup, eval_weights,
                 n_checkpoints, checkpoint_ratio, checkpoint_window, device, threads, p_uncond
    [metrics]    t_frac, loss_t_frac, n_eval, n_generate, …, guidance_w, guidance_classes

``to_dict`` gives the fully resolved mapping (every default filled in); its canonical JSON and
SHA-256 (:meth:`ExperimentConfig.sha256`) identify a cell on disk.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import os
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from physgen.errors import ConfigError

__all__ = [
    "LATE_KEYS",
    "DataConfig",
    "DiffusionConfig",
    "ExperimentConfig",
    "MetricsConfig",
    "ModelConfig",
    "NetConfig",
    "TrainConfig",
    "available_memory",
    "check_guidance",
    "check_memory",
    "check_resources",
    "estimate_seconds",
    "from_mapping",
    "largest_arrays",
]


def _check(cond: bool, key: str, message: str) -> None:
    if not cond:
        raise ConfigError(key, message)


@dataclass(frozen=True)
class ModelConfig:
    """Which registered data model, and its constructor parameters."""

    name: str = "tree"
    # The CPU default: the paper grammar (q=6, q_eff=4, σ=1, seed 0) at depth 3 (8 tokens).
    params: dict[str, Any] = field(default_factory=lambda: {"depth": 3})

    def build(self) -> Any:
        """The model (errors name ``model.<param>``), instantiated on the first call and kept:
        validating a config and running its cell use one model, built once."""
        from physgen.registry import make_model

        built = self.__dict__.get("_built")
        if built is not None:
            return built
        for key, value in self.params.items():
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"model.{key}", f"must be a finite number, got {value!r}")
        try:
            built = make_model(self.name, **self.params)
        except ConfigError:
            raise
        except (ValueError, TypeError) as exc:
            raise ConfigError("model", str(exc)) from None
        except (MemoryError, OverflowError):
            raise ConfigError(
                "model", f"{self.name}({_params_text(self.params)}) does not fit in memory"
            ) from None
        object.__setattr__(self, "_built", built)  # a cache, not a field: frozen stays frozen
        return built


@dataclass(frozen=True)
class DataConfig:
    """Training splits and held-out data.

    ``n_pairs`` disjoint pairs (A, B) use ``2 * n_pairs`` disjoint splits of ``n_train`` samples;
    ``n_seed_pairs`` pairs train two seeds on one split (the seed-noise baseline). The splits and
    the test set are disjoint blocks of one seeded pool of ``pool_size`` samples (the paper: 10^6);
    asking for more than the pool holds is an error, never a silent overlap.
    ``content_disjoint`` (discrete models): no sequence appears twice across the splits and the
    test set — repeats of the model's i.i.d. draws are dropped, and a support too small for the
    data asked for is an error naming ``data.n_train`` (:mod:`physgen.data`); ``false`` keeps
    the index-disjoint blocks of i.i.d. draws (only for tests on tiny grammars).
    """

    n_train: int = 64
    n_test: int = 1000
    n_pairs: int = 3
    n_seed_pairs: int = 1
    pool_size: int = 1_000_000
    content_disjoint: bool = True

    def validate(self, prefix: str = "data") -> None:
        _check(self.n_train >= 1, f"{prefix}.n_train", f"must be ≥ 1, got {self.n_train}")
        _check(self.n_test >= 2, f"{prefix}.n_test", f"must be ≥ 2, got {self.n_test}")
        _check(self.n_pairs >= 1, f"{prefix}.n_pairs", f"must be ≥ 1, got {self.n_pairs}")
        _check(
            self.n_seed_pairs >= 0,
            f"{prefix}.n_seed_pairs",
            f"must be ≥ 0, got {self.n_seed_pairs}",
        )
        need = 2 * self.n_pairs * self.n_train + self.n_test
        _check(
            need <= self.pool_size,
            f"{prefix}.n_train",
            f"{2 * self.n_pairs} disjoint splits of {self.n_train} plus {self.n_test} test samples "
            f"need {need} samples but the pool holds {self.pool_size}",
        )


@dataclass(frozen=True)
class DiffusionConfig:
    """The noise schedule: ``T`` steps, ``linear`` (the paper's rescaled betas) or ``cosine``."""

    T: int = 500
    schedule: Literal["linear", "cosine"] = "linear"

    def validate(self, prefix: str = "diffusion") -> None:
        _check(self.T >= 2, f"{prefix}.T", f"must be ≥ 2, got {self.T}")
        _check(
            self.schedule != "linear" or self.T >= 21,
            f"{prefix}.T",
            f"the rescaled linear schedule needs T ≥ 21 (last beta 20/T < 1), got {self.T}",
        )

    def build(self) -> Any:
        from physgen.diffusion import Schedule

        return Schedule.linear(self.T) if self.schedule == "linear" else Schedule.cosine(self.T)


@dataclass(frozen=True)
class NetConfig:
    """The denoiser network (``transformer`` for tokens, ``mlp`` for vectors, ``unet`` for
    images). Defaults are the CPU-sized transformer of the issue's measurements (≈70 k params)."""

    kind: Literal["transformer", "mlp", "unet"] = "transformer"
    width: int = 64
    layers: int = 2
    heads: int = 4
    ff: int = 128
    time_dim: int = 32
    dropout: float = 0.0
    # U-Net only (kind = "unet"): width multiplier per resolution level, the spatial sizes with
    # self-attention (base width = ``width``, residual blocks per level = ``layers``).
    mults: tuple[int, ...] = (1, 2)
    attn_resolutions: tuple[int, ...] = ()

    def validate(self, prefix: str = "net") -> None:
        for name in ("width", "layers", "heads", "ff", "time_dim"):
            v = getattr(self, name)
            _check(v >= 1, f"{prefix}.{name}", f"must be ≥ 1, got {v}")
        _check(
            len(self.mults) >= 1 and min(self.mults) >= 1,
            f"{prefix}.mults",
            f"must be a non-empty list of integers ≥ 1, got {list(self.mults)}",
        )
        _check(
            self.kind != "transformer" or self.width % self.heads == 0,
            f"{prefix}.heads",
            f"width {self.width} must be divisible by heads {self.heads}",
        )
        _check(
            0.0 <= self.dropout < 1.0, f"{prefix}.dropout", f"must be in [0, 1), got {self.dropout}"
        )


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation. ``lr_schedule``: ``constant`` or ``paper`` (factor 1 → 0.5 linearly over the
    first 1/400 of the steps — the paper's 50 of 20 000 epochs — then cosine to 0.1).
    ``ema_decay`` = 0 disables the weight average; ``ema_warmup`` warms its decay up,
    :math:`\\gamma_s = \\min(\\gamma, (1+s)/(10+s))`, so the random initial weights leave the
    average within ~10 steps (:mod:`physgen.train`); ``extra_ema_decays``: further averages of other
    horizons tracked in the same run; ``eval_weights``: the weights every checkpoint evaluates,
    ``"ema"`` (the average, and each extra average; the raw weights when ``ema_decay = 0``) and/or
    ``"raw"`` (:func:`physgen.train.weight_decays` names them).
    Checkpoints are ``n_checkpoints`` log-spaced steps in ``[1, steps]``; ``checkpoint_ratio`` > 1
    adds steps so that consecutive checkpoints inside ``checkpoint_window = [lo, hi]`` (empty: the
    whole run) are at most that ratio apart (0: no cap; :func:`physgen.train.checkpoint_steps`)."""

    steps: int = 6_000
    batch_size: int = 64
    lr: float = 1e-3
    lr_schedule: Literal["constant", "paper"] = "constant"
    ema_decay: float = 0.999
    n_checkpoints: int = 25
    device: str = "auto"
    threads: int = 1
    ema_warmup: bool = True
    eval_weights: tuple[Literal["ema", "raw"], ...] = ("ema",)
    checkpoint_ratio: float = 0.0
    checkpoint_window: tuple[int, ...] = ()
    extra_ema_decays: tuple[float, ...] = ()
    # label dropout of class-conditional training (the guidance experiment): each minibatch
    # row's class becomes the null class with this probability (physgen.train.label_dropout)
    p_uncond: float = 0.1

    def validate(self, prefix: str = "train") -> None:
        _check(self.steps >= 1, f"{prefix}.steps", f"must be ≥ 1, got {self.steps}")
        _check(
            0.0 <= self.p_uncond < 1.0,
            f"{prefix}.p_uncond",
            f"must be a probability in [0, 1), got {self.p_uncond}",
        )
        _check(self.batch_size >= 1, f"{prefix}.batch_size", f"must be ≥ 1, got {self.batch_size}")
        _check(self.lr > 0, f"{prefix}.lr", f"must be > 0, got {self.lr}")
        _check(0.0 <= self.ema_decay < 1.0, f"{prefix}.ema_decay", "must be in [0, 1)")
        extra = self.extra_ema_decays
        _check(
            all(0.0 < g < 1.0 for g in extra)
            and len(set(extra) | {self.ema_decay}) == len(extra) + 1
            and (not extra or self.ema_decay > 0.0),
            f"{prefix}.extra_ema_decays",
            f"must be distinct decays in (0, 1) other than ema_decay > 0, got {list(extra)}",
        )
        _check(
            2 <= self.n_checkpoints <= self.steps,
            f"{prefix}.n_checkpoints",
            f"must be in [2, steps={self.steps}], got {self.n_checkpoints}",
        )
        _check(
            re.fullmatch(r"auto|cpu|cuda(:[0-9]+)?", self.device) is not None,
            f"{prefix}.device",
            f"must be 'auto', 'cpu' or 'cuda[:N]', got {self.device!r}",
        )
        _check(self.threads >= 1, f"{prefix}.threads", f"must be ≥ 1, got {self.threads}")
        _check(
            len(self.eval_weights) >= 1 and len(set(self.eval_weights)) == len(self.eval_weights),
            f"{prefix}.eval_weights",
            f"must be a non-empty list of distinct 'ema' / 'raw', got {list(self.eval_weights)}",
        )
        _check(
            self.checkpoint_ratio == 0.0 or self.checkpoint_ratio > 1.0,
            f"{prefix}.checkpoint_ratio",
            f"must be 0 (no cap) or > 1, got {self.checkpoint_ratio}",
        )
        w = self.checkpoint_window
        _check(
            len(w) == 0 or (len(w) == 2 and 1 <= w[0] < w[1] <= self.steps),
            f"{prefix}.checkpoint_window",
            f"must be empty or [lo, hi] with 1 ≤ lo < hi ≤ steps = {self.steps}, got {list(w)}",
        )


@dataclass(frozen=True)
class MetricsConfig:
    """Evaluation settings (docs/theory.md §4).

    ``t_frac``: diffusion time of the score-level diagnostics (D_k, S), paper 0.15;
    ``loss_t_frac``: time of the loss decomposition, paper 0.3; ``n_eval``: inputs per score-level
    diagnostic; ``n_generate``: coupled samples per checkpoint for NN / memorisation statistics;
    ``uturn_t_fracs`` and ``uturn_reps``: U-turn starts and repetitions; ``kl_t_points``: number of
    diffusion times of the KL-along-time curves; ``bias_rule``: ``progress`` (the default) restricts
    argmin S to checkpoints after both networks have learned — beaten the independent-site
    predictor or covered half the way from their first checkpoint to their best in D_0 — and, for
    an average, after it holds ≤ 1 % of the initial weights
    (:func:`physgen.metrics.onsets.bias_onset_bracketed`, docs/onsets.md); ``learned`` to
    checkpoints where both models beat the root-only oracle (D_0 < KL(BP_0‖BP_L)); ``none`` takes
    the plain argmin.
    """

    t_frac: float = 0.15
    loss_t_frac: float = 0.3
    n_eval: int = 512
    n_generate: int = 256
    uturn_t_fracs: tuple[float, ...] = (0.01, 0.03, 0.05, 0.085, 0.12)
    uturn_reps: int = 2
    kl_t_points: int = 20
    # The CPU default (n = 64, depth 3) overfits before D_0 drops below KL(BP_0‖BP_L), so the
    # 'learned' rule finds no checkpoint there; 'none' is the paper's plain argmin of S.
    bias_rule: Literal["progress", "learned", "none"] = "progress"
    # Sampling costs T network calls, so the sample-based diagnostics (NN, memorisation,
    # validity, U-turn, KL along time) run at this many of the checkpoints (log-spaced, the
    # last included); ``uturn_starts`` training and test sequences start the U-turns.
    sample_checkpoints: int = 6
    # > 1: the sample checkpoints are instead the sparsest subset of the checkpoints of the last
    # two decades of training at most this ratio apart (physgen.train.ratio_subset), so that a
    # first exceedance (τ_mem) there is bracketed within the ratio, not pushed to the end of the
    # run by a sparse schedule; 0: ``sample_checkpoints`` of them, evenly spread
    sample_ratio: float = 0.0
    uturn_starts: int = 32
    # Coupled samples use ancestral DDPM on this many evenly respaced steps (DDIM with η = 1,
    # Nichol & Dhariwal's respacing); a value ≥ T is the paper's full T-step sampler.
    sample_steps: int = 100
    # Classifier-free guidance weights: non-empty runs the guidance experiment (class-conditional
    # training, every diagnostic of guided samples repeated per weight along the cell's
    # ``guidance_w`` dimension; docs/guidance.md); any finite weight, negative ones included.
    guidance_w: tuple[float, ...] = ()
    # Classes requested for the guided samples, cycled over the samples; empty: every class.
    guidance_classes: tuple[int, ...] = ()

    def validate(self, prefix: str = "metrics") -> None:
        _check(
            len(set(self.guidance_w)) == len(self.guidance_w),
            f"{prefix}.guidance_w",
            f"must be distinct weights, got {list(self.guidance_w)}",
        )
        _check(
            not self.guidance_classes or bool(self.guidance_w),
            f"{prefix}.guidance_classes",
            "only applies with guidance (set metrics.guidance_w)",
        )
        for name in ("t_frac", "loss_t_frac"):
            v = getattr(self, name)
            _check(0.0 < v <= 1.0, f"{prefix}.{name}", f"must be in (0, 1], got {v}")
        for v in self.uturn_t_fracs:
            _check(0.0 < v <= 1.0, f"{prefix}.uturn_t_fracs", f"values must be in (0, 1], got {v}")
        _check(
            self.sample_ratio == 0.0 or self.sample_ratio > 1.0,
            f"{prefix}.sample_ratio",
            f"must be 0 (use sample_checkpoints) or > 1, got {self.sample_ratio}",
        )
        for name in (
            "n_eval",
            "n_generate",
            "uturn_reps",
            "kl_t_points",
            "sample_checkpoints",
            "uturn_starts",
            "sample_steps",
        ):
            v = getattr(self, name)
            _check(v >= 1, f"{prefix}.{name}", f"must be ≥ 1, got {v}")


#: Keys added after cells were first recorded on disk, oldest first. The canonical JSON (the
#: identity of a cell, :meth:`ExperimentConfig.sha256`) leaves each out while it holds its
#: default: a sweep folder computed before the key existed stays valid. A new key goes here.
LATE_KEYS: tuple[str, ...] = ("train.p_uncond", "metrics.guidance_w", "metrics.guidance_classes")


def _default_of(key: str) -> Any:
    """The default of a dotted ``section.name`` key, in :meth:`ExperimentConfig.to_dict`'s
    form (tuples as lists)."""
    section, name = key.split(".")
    return _default_dict()[section][name]


@functools.cache
def _default_dict() -> dict[str, Any]:
    """:meth:`ExperimentConfig.to_dict` of the default config (read-only by convention)."""
    return ExperimentConfig().to_dict()


@dataclass(frozen=True)
class ExperimentConfig:
    """One experiment = one sweep cell. See the module docstring for the sections."""

    seed: int = 0
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)
    net: NetConfig = field(default_factory=NetConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)

    @classmethod
    def from_dict(cls, mapping: Mapping[str, Any]) -> ExperimentConfig:
        """Build and validate from a nested mapping; ``model`` is ``{name, **params}``."""
        mapping = dict(mapping)
        # No [model] table: the default model section; a given table replaces it entirely.
        model = mapping.pop("model", None)
        if model is None:
            model = {"name": ModelConfig.name, **ModelConfig().params}
        if not isinstance(model, Mapping):
            raise ConfigError("model", f"must be a table, got {type(model).__name__}")
        model = dict(model)
        name = model.pop("name", ModelConfig.name)
        if not isinstance(name, str):
            raise ConfigError("model.name", f"must be a string, got {type(name).__name__}")
        cfg = from_mapping(cls, mapping, "")
        cfg = dataclasses.replace(cfg, model=ModelConfig(name=name, params=model))
        cfg.validate()
        return cfg

    def validate(self) -> Any:
        """Check every section, that the model builds and that it provides what its experiment
        needs (:func:`physgen.experiments.check_model`); raises :class:`ConfigError`. Returns the
        built data model (so a cell builds it once)."""
        from physgen.experiments import check_model

        self.data.validate()
        self.diffusion.validate()
        self.net.validate()
        self.train.validate()
        self.metrics.validate()
        _check(self.seed >= 0, "seed", f"must be an integer ≥ 0, got {self.seed}")
        model = self.model.build()
        check_model(model)
        check_guidance(self, model)
        check_resources(self, model)
        return model

    def to_dict(self) -> dict[str, Any]:
        """The fully resolved mapping (round-trips through :meth:`from_dict`)."""
        d = dataclasses.asdict(self)
        model = d.pop("model")
        for section in d.values():  # the tuple-valued keys as lists (the TOML/JSON form)
            if isinstance(section, dict):
                section.update({k: list(v) for k, v in section.items() if isinstance(v, tuple)})
        d["model"] = {"name": model["name"], **model["params"]}
        return d

    def to_json(self) -> str:
        """Canonical JSON (sorted keys): the ``config_json`` attribute of output files. A key of
        :data:`LATE_KEYS` at its default is left out, so adding a key to the config does not
        change the identity of the cells already computed: they resume as done."""
        d = self.to_dict()
        for key in LATE_KEYS:
            section, name = key.split(".")
            if d[section][name] == _default_of(key):
                del d[section][name]
        return json.dumps(d, sort_keys=True, separators=(",", ":"))

    def sha256(self) -> str:
        """SHA-256 of :meth:`to_json`: a cell's identity for resuming."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()


# -- resources --------------------------------------------------------------------------------
# A value can be valid and still infeasible: ``diffusion.T = 1e10`` is a 80 GB schedule,
# ``train.steps = 2**62`` never ends. These checks run with the rest of the validation, so such a
# cell is rejected before any folder is written rather than failing with a MemoryError mid-run.

#: Optimiser steps above which a config is rejected (10^9 steps are years on a CPU).
MAX_STEPS = 10**9
#: Floating-point throughput assumed by :func:`estimate_seconds` (a few CPU cores), flop/s.
FLOPS = 2e10


def _params_text(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in params.items())


def available_memory() -> int:
    """Bytes of memory available to a new allocation: ``MemAvailable`` of ``/proc/meminfo`` on
    Linux, else the physical memory (``os.sysconf``), else 2^40 when neither is known."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (OSError, ValueError, AttributeError):
        return 2**40


def _as_float(n: float) -> float:
    """``float(n)``, or infinity for an int beyond the float range (``net.width = 1e300``
    squared)."""
    try:
        return float(n)
    except OverflowError:
        return math.inf


def _human_bytes(n: float) -> str:
    n = _as_float(n)
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if n < 1000:
            return f"{n:.3g} {unit}"
        n /= 1000
    return f"{n:.3g} EB"


def _human_seconds(s: float) -> str:
    for unit, size in (("years", 3.15e7), ("days", 86400.0), ("hours", 3600.0), ("min", 60.0)):
        if s >= size:
            return f"{s / size:.3g} {unit}"
    return f"{s:.3g} s"


def largest_arrays(cfg: ExperimentConfig, model: Any) -> dict[str, int]:
    r"""Estimated bytes of the largest array each size key makes the experiment allocate.

    With :math:`E = \prod` ``event_shape`` (one datum in the diffusion space, one-hot for
    tokens), :math:`N = E / q` native values per datum and :math:`w = \max(` width, ff `)`:
    ``diffusion.T`` → the schedule, 8 float64 arrays of length :math:`T`;
    ``train.batch_size`` → a batch of activations, :math:`B E w` float32;
    ``data.pool_size`` → the native data pool, :math:`P N` int64/float64;
    ``data.n_test``, ``metrics.n_eval``, ``metrics.n_generate`` → :math:`n E` float64;
    ``metrics.kl_t_points`` → its grid of times; ``metrics.uturn_starts`` → starts × repetitions
    × :math:`E`; ``train.n_checkpoints`` → one value per checkpoint and network.
    These are lower bounds of the peak (order of magnitude), enough to reject what cannot fit.
    """
    event = math.prod(getattr(model, "event_shape", ()) or (1,))
    native = event // (getattr(model, "vocab_size", None) or 1)
    return {
        "diffusion.T": 8 * 8 * cfg.diffusion.T,
        "train.batch_size": 4 * cfg.train.batch_size * event * max(cfg.net.width, cfg.net.ff),
        "data.pool_size": 8 * cfg.data.pool_size * native,
        "data.n_test": 8 * cfg.data.n_test * event,
        "metrics.n_eval": 8 * cfg.metrics.n_eval * event,
        "metrics.n_generate": 8 * cfg.metrics.n_generate * event,
        "metrics.kl_t_points": 8 * cfg.metrics.kl_t_points,
        "metrics.uturn_starts": 8 * cfg.metrics.uturn_starts * cfg.metrics.uturn_reps * event,
        "train.n_checkpoints": 8 * cfg.train.n_checkpoints * (2 * cfg.data.n_pairs + 1),
    }


def estimate_seconds(cfg: ExperimentConfig, model: Any) -> float:
    r"""Order-of-magnitude wall time of the training of one cell, in seconds:
    :math:`6\,\text{params}\cdot B \cdot L` flop per step (forward and backward) for a
    network of :math:`\approx \text{layers}\,(4w^2 + 2w\,ff) + E w` parameters on
    :math:`L` positions, times the steps and the networks trained, at :data:`FLOPS` flop/s."""
    shape = getattr(model, "event_shape", ()) or (1,)
    event = math.prod(shape)
    positions = shape[0] if cfg.net.kind == "transformer" else 1
    w, ff = cfg.net.width, cfg.net.ff
    params = cfg.net.layers * (4 * w * w + 2 * w * ff) + event * w
    networks = 2 * cfg.data.n_pairs + 2 * cfg.data.n_seed_pairs
    flop = 6 * params * cfg.train.batch_size * positions * cfg.train.steps * networks
    return _as_float(flop) / FLOPS


def check_guidance(cfg: ExperimentConfig, model: Any) -> None:
    """With ``metrics.guidance_w`` set: the model must have classes (``n_classes > 0``), be a
    tree model (the guidance experiment, :mod:`physgen.experiments.guidance`) and every
    ``metrics.guidance_classes`` must be one of its classes; a :class:`ConfigError` naming the
    key otherwise."""
    m = cfg.metrics
    if not m.guidance_w:
        return
    from physgen.experiments import experiment_kind
    from physgen.models.conditional import n_classes_of

    n_classes = n_classes_of(model)
    name = cfg.model.name
    _check(
        n_classes > 0,
        "metrics.guidance_w",
        f"guidance needs a class-conditional model; model {name!r} has no classes",
    )
    kind = experiment_kind(model)
    _check(
        kind == "tree",
        "metrics.guidance_w",
        f"the guidance experiment runs on tree models; model {name!r} is a {kind} model",
    )
    for c in m.guidance_classes:
        _check(
            0 <= c < n_classes,
            "metrics.guidance_classes",
            f"class {c} out of range: model {name!r} has classes 0 … {n_classes - 1}",
        )


def check_resources(cfg: ExperimentConfig, model: Any) -> None:
    """Reject a config whose largest array exceeds the available memory, or whose step count
    exceeds :data:`MAX_STEPS` (the message gives the estimated time); raises
    :class:`ConfigError` naming the key."""
    if cfg.train.steps > MAX_STEPS:
        raise ConfigError(
            "train.steps",
            f"{cfg.train.steps:.3g} steps exceed the ceiling of {MAX_STEPS:.0e} "
            f"(estimated {_human_seconds(estimate_seconds(cfg, model))} of training)",
        )
    check_memory(*max(largest_arrays(cfg, model).items(), key=lambda kv: kv[1]))


def check_memory(key: str, nbytes: int) -> None:
    """A :class:`ConfigError` naming ``key`` when an array of ``nbytes`` exceeds the
    :func:`available_memory`."""
    free = available_memory()
    if nbytes > free:
        raise ConfigError(
            key,
            f"needs an array of about {_human_bytes(nbytes)} but {_human_bytes(free)} of memory "
            "is available",
        )


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check ``value`` against the annotation ``tp`` (ints accepted where floats are expected)."""
    origin = typing.get_origin(tp)
    if origin is Literal:
        choices = typing.get_args(tp)
        _check(value in choices, key, f"must be one of {list(choices)}, got {value!r}")
        return value
    if origin in (typing.Union, types.UnionType):
        errors = []
        for arg in typing.get_args(tp):
            if arg is type(None) and value is None:
                return None
            try:
                return _coerce(value, arg, key)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(key, f"invalid value {value!r}")
    if origin is tuple:
        _check(isinstance(value, list | tuple), key, f"must be a list, got {type(value).__name__}")
        (elem, _) = typing.get_args(tp)
        return tuple(_coerce(v, elem, key) for v in value)
    if origin is dict:
        _check(isinstance(value, Mapping), key, f"must be a table, got {type(value).__name__}")
        return dict(value)
    if dataclasses.is_dataclass(tp):
        _check(isinstance(value, Mapping), key, f"must be a table, got {type(value).__name__}")
        return from_mapping(tp, value, key)
    if tp is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        _check(ok, key, f"must be a number, got {value!r}")
        # inf and nan pass every range check below (nan compares false) and fail mid-run
        _check(math.isfinite(value), key, f"must be a finite number, got {value!r}")
        return float(value)
    if tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        if not ok and isinstance(value, float) and value.is_integer():
            return int(value)
        _check(ok, key, f"must be an integer, got {value!r}")
        return value
    if tp is bool:
        _check(isinstance(value, bool), key, f"must be true or false, got {value!r}")
        return value
    if tp is str:
        _check(isinstance(value, str), key, f"must be a string, got {value!r}")
        return value
    raise TypeError(f"unsupported annotation {tp!r} for {key}")


def from_mapping(cls: type, mapping: Mapping[str, Any], prefix: str) -> Any:
    """Strictly build dataclass ``cls`` from ``mapping``: unknown keys and wrong types raise a
    :class:`ConfigError` naming ``prefix.key``."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    kwargs = {}
    for key, value in mapping.items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        if key not in names:
            raise ConfigError(dotted, f"unknown key; known: {', '.join(sorted(names))}")
        kwargs[key] = _coerce(value, hints[key], dotted)
    return cls(**kwargs)
