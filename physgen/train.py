r"""Training a denoiser with online noising, along log-spaced checkpoints.

Objective (docs/theory.md §2). For clean data :math:`x_0` (diffusion space: one-hot tokens or floats),
every update draws, independently per sample of the minibatch, a step :math:`t \sim U\{1..T\}` and
fresh noise :math:`\varepsilon \sim \mathcal N(0, I)`, forms
:math:`x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon` and minimises

* ``"ce"``: the per-token cross-entropy :math:`-\frac1N\sum_i \log \operatorname{softmax}(f_\theta(x_t, t))_{i, a_i}`
  against the clean tokens :math:`a_i = \arg\max x_{0,i}` (its minimiser is
  :math:`E[x_0 \mid x_t]`);
* ``"mse_x0"``: :math:`\lVert f_\theta(x_t, t) - x_0 \rVert^2` (mean over entries);
* ``"mse_eps"``: :math:`\lVert f_\theta(x_t, t) - \varepsilon \rVert^2` (mean over entries).

Optimiser: Adam (PyTorch's fused kernel on CPU and CUDA) at ``lr × factor(s)``. ``lr_schedule = "constant"``: factor 1. ``"paper"``: with
:math:`S` updates and a warm-down of :math:`w = \max(1, \mathrm{round}(S/400))` updates (the paper's
50 of 20 000 epochs), update :math:`s = 1..S` uses

.. math:: \mathrm{factor}(s) = 1 - \tfrac12 \tfrac{s-1}{w} \quad (s \le w), \qquad
          \mathrm{factor}(s) = 0.1 + 0.2\,\bigl(1 + \cos(\pi \tfrac{s-1-w}{S-w})\bigr) \quad (s > w),

i.e. linear from 1 to 0.5, then a cosine from 0.5 down towards 0.1.

Weight average: with ``ema_decay = γ > 0`` the average is updated after every step,
:math:`\bar\theta_s = \gamma_s \bar\theta_{s-1} + (1-\gamma_s)\theta_s`, :math:`\bar\theta_0 = \theta_0`,
with the **warmed-up decay** (``ema_warmup = True``, the default)

.. math:: \gamma_s = \min\Bigl(\gamma, \frac{1+s}{10+s}\Bigr), \qquad s = 1, 2, \dots

(``ema_warmup = False``: :math:`\gamma_s = \gamma`, the average started at the initialisation). In
closed form :math:`\bar\theta_S = \sum_{k=0}^S w_k \theta_k` with
:math:`w_k = (1-\gamma_k)\prod_{j=k+1}^S \gamma_j` (:math:`\gamma_0 \equiv 0`). While the cap is
inactive (:math:`S < (10\gamma - 1)/(1-\gamma)`, i.e. 8 990 steps for γ = 0.999) the products
telescope: :math:`w_0 = 10!\,(S+1)!/(S+10)! \approx 3.6\cdot10^6\,S^{-9}` (below :math:`10^{-4}`
from :math:`S = 10`), and :math:`w_k = 9\prod_{i=2}^{9}(k+i) / \prod_{i=2}^{10}(S+i) \approx 9k^8/S^9`:
an average over the last :math:`\approx S/9` steps, lagging by :math:`\approx S/10` — a fixed
fraction of the step, i.e. a fixed shift on the log-spaced checkpoints. Why warm-up and not Adam's
bias correction (:math:`\bar\theta_0 = 0`, divide by :math:`1-\gamma^s`): the correction also
removes :math:`\theta_0`, but for :math:`s \ll 1/(1-\gamma)` it weights all past steps almost
equally, so its lag is :math:`\approx s/2` and the averaged curves move on the averaging horizon;
the warm-up's lag is :math:`s/10` until the horizon :math:`1/(1-\gamma)` takes over. Without either,
:math:`\gamma^s` of the random initial weights stays in the average (37 % after 1 000 steps at
γ = 0.999), and every diagnostic of the averaged weights then moves on the horizon, not on the
data (docs/theory.md §4).

Weights evaluated at a checkpoint (``eval_weights``): ``"ema"``, the average (the raw weights when
``ema_decay = 0``, the average of horizon 0) and the further averages of ``extra_ema_decays``
(other horizons, updated in the same run: one fused ``lerp`` per step each), and ``"raw"``, the
weights of the optimiser; :func:`weight_decays` names them.

Checkpoints: after update :math:`s` for :math:`s` in :func:`checkpoints_of` (log-spaced,
optionally densified to a ratio cap, see :func:`checkpoint_steps`), ``on_checkpoint`` receives
``(s, {name: NetDenoiser})`` for every name in ``eval_weights``, and ``callback`` receives
``(s, NetDenoiser)`` of the average.

Class-conditional training (``classes`` given, a network built with ``n_classes > 0``): each
minibatch row carries the class of its training point, replaced by the null class -1 with
probability ``p_uncond`` independently per row (label dropout, :func:`label_dropout`), so one
network learns :math:`\hat x_0(x_t \mid c)` and :math:`\hat x_0(x_t \mid \varnothing)` for
classifier-free guidance. The dropout draws come from the same generator, after the noise.

Randomness: the network's initial weights are the caller's (``physgen.nets.build_net(seed=…)``);
minibatch indices (drawn **with replacement**, uniform over the training set), steps and noise come
from one ``torch.Generator`` seeded with ``physgen.rng.stream(seed, "batches")``. On the CPU the same
network, data, config and seed give bit-identical weights.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from physgen.config import TrainConfig
from physgen.diffusion import Schedule
from physgen.errors import ConfigError, PhysgenError
from physgen.nets.wrap import NetDenoiser, Output, resolve_device
from physgen.rng import stream
from physgen.threads import pinned_threads

__all__ = [
    "OUTPUT_OF_LOSS",
    "ExponentialMovingAverage",
    "Loss",
    "TrainResult",
    "checkpoint_steps",
    "checkpoints_of",
    "init_weight",
    "label_dropout",
    "load_checkpoint",
    "lr_factors",
    "ratio_subset",
    "save_checkpoint",
    "train",
    "weight_decays",
]

Loss = Literal["ce", "mse_x0", "mse_eps"]

OUTPUT_OF_LOSS: dict[str, Output] = {"ce": "logits", "mse_x0": "x0", "mse_eps": "eps"}
"""How a network trained with each loss is read by :class:`~physgen.nets.NetDenoiser`."""


def checkpoint_steps(
    steps: int,
    n_checkpoints: int,
    max_ratio: float = 0.0,
    window: tuple[int, int] | None = None,
) -> np.ndarray:
    """``min(n_checkpoints, steps)`` log-spaced, strictly increasing ints in ``[1, steps]``,
    always including 1 and ``steps``, then densified to a ratio cap (shape ``(n,)``, int64).

    Rounded geometric positions, pushed up where rounding would repeat a step (early, dense end)
    and capped from the top so that exactly ``n`` distinct steps remain. With ``max_ratio = r > 1``,
    the grid points inside ``window = (lo, hi)`` (default ``(1, steps)``) are replaced by ``lo``,
    ``hi`` and the fewest rounded geometric points between them that keep every gap there at most
    ``r`` or of one step (a gap of one step cannot be split). ``max_ratio = 0`` leaves the
    log-spaced grid as it is.
    """
    if steps < 1 or n_checkpoints < 1:
        raise PhysgenError(f"need steps ≥ 1 and n_checkpoints ≥ 1, got {steps}, {n_checkpoints}")
    if max_ratio != 0.0 and not max_ratio > 1.0:
        raise PhysgenError(f"max_ratio must be 0 (no cap) or > 1, got {max_ratio}")
    n = min(int(n_checkpoints), int(steps))
    if n == 1:
        pos = np.array([steps], dtype=np.int64)
    else:
        pos = np.rint(np.geomspace(1.0, float(steps), n)).astype(np.int64)
        for i in range(1, n):
            pos[i] = max(pos[i], pos[i - 1] + 1)
        for i in range(n - 1, -1, -1):
            pos[i] = min(pos[i], steps - (n - 1 - i))
    if max_ratio == 0.0:
        return pos
    lo, hi = window if window is not None else (1, steps)
    if not 1 <= lo < hi <= steps:
        raise PhysgenError(f"window must satisfy 1 ≤ lo < hi ≤ steps = {steps}, got {window}")
    inside = _fill_gap(lo, hi, max_ratio) if hi - lo >= 2 else np.empty(0, dtype=np.int64)
    return np.unique(np.concatenate([pos[(pos <= lo) | (pos >= hi)], [lo, hi], inside]))


def _fill_gap(a: int, b: int, ratio: float) -> np.ndarray:
    """Integers strictly between ``a`` and ``b`` splitting ``[a, b]`` into gaps ≤ ``ratio`` or of
    one step: the fewest geometric points whose rounding keeps every gap within the cap (rounding
    can widen a gap at small steps, so the count grows until it does; all integers always do)."""
    k = max(1, int(np.ceil(np.log(b / a) / np.log(ratio))))
    while True:
        pts = np.unique(np.rint(np.geomspace(a, b, k + 1)).astype(np.int64))
        ok = (pts[1:] / pts[:-1] <= ratio) | (np.diff(pts) == 1)
        if ok.all():
            return pts[1:-1]
        k += 1


def ratio_subset(steps: np.ndarray, max_ratio: float, start: float = 1.0) -> np.ndarray:
    """The sparsest subset of checkpoints ``steps`` (``(n,)``, increasing) from ``start`` on
    whose consecutive members are at most ``max_ratio`` apart (or neighbours in ``steps`` where
    the grid itself is coarser), the last step always included: a bool mask ``(n,)``.

    For the costly sample-based diagnostics: checked at these checkpoints, a first exceedance
    such as τ_mem is bracketed within a factor ``max_ratio`` wherever it falls after ``start``,
    rather than landing on the end of the run because the previous check was far earlier.
    Greedy from the last step back: each next member is the earliest checkpoint within the ratio.
    """
    s = np.asarray(steps, dtype=np.float64)
    if s.ndim != 1 or s.size == 0 or np.any(np.diff(s) <= 0):
        raise PhysgenError("steps must be a non-empty, strictly increasing 1-d array")
    if not max_ratio > 1.0:
        raise PhysgenError(f"max_ratio must be > 1, got {max_ratio}")
    mask = np.zeros(s.size, dtype=bool)
    i = s.size - 1
    mask[i] = True
    while i > 0 and s[i] > start:
        j = int(np.searchsorted(s, s[i] / max_ratio, side="left"))
        i = min(j, i - 1)
        mask[i] = True
    return mask


def checkpoints_of(cfg: TrainConfig) -> np.ndarray:
    """The checkpoint steps of a training run: :func:`checkpoint_steps` with ``cfg.steps``,
    ``cfg.n_checkpoints``, ``cfg.checkpoint_ratio`` and ``cfg.checkpoint_window`` (shape
    ``(n,)``, int64)."""
    window = tuple(cfg.checkpoint_window) if cfg.checkpoint_window else None
    return checkpoint_steps(cfg.steps, cfg.n_checkpoints, cfg.checkpoint_ratio, window)  # type: ignore[arg-type]


def weight_decays(cfg: TrainConfig) -> dict[str, float]:
    """The weights evaluated at every checkpoint, in order: name → decay of the average (0 for
    the raw weights). ``"ema"`` in ``cfg.eval_weights`` gives ``"ema"`` (decay ``ema_decay``;
    ``"raw"`` when it is 0) and ``"ema_<γ>"`` for each γ of ``extra_ema_decays``; ``"raw"``
    gives ``"raw"``. A name met twice (``ema_decay = 0`` with both) is kept once."""
    out: dict[str, float] = {}
    for name in cfg.eval_weights:
        if name == "raw" or cfg.ema_decay == 0.0:
            out["raw"] = 0.0
        else:
            out["ema"] = cfg.ema_decay
            out.update({f"ema_{g:g}": g for g in cfg.extra_ema_decays})
    return out


def label_dropout(
    labels: torch.Tensor, p_uncond: float, generator: torch.Generator
) -> torch.Tensor:
    """``labels`` ``(B,)`` with each entry replaced by the null class -1 with probability
    ``p_uncond``, independently (one uniform per entry from ``generator``)."""
    drop = torch.rand(labels.shape, generator=generator, device=labels.device) < p_uncond
    return torch.where(drop, torch.full_like(labels, -1), labels)


def _check_classes(net: nn.Module, classes: Any, n: int, p_uncond: float) -> np.ndarray:
    """Training labels as int64 ``(n,)`` in ``[0, n_classes)``; checks ``p_uncond``."""
    n_classes = int(getattr(net, "n_classes", 0) or 0)
    if n_classes == 0:
        raise PhysgenError("classes were given but the network has no classes (n_classes = 0)")
    if not (isinstance(p_uncond, (int, float)) and 0.0 <= p_uncond <= 1.0):
        raise ConfigError("train.p_uncond", f"must be a probability in [0, 1], got {p_uncond!r}")
    c = np.asarray(classes)
    if c.shape != (n,) or (c.size and not np.issubdtype(c.dtype, np.integer)):
        raise ConfigError("classes", f"must be {n} integers, one per training point")
    if c.size and (c.min() < 0 or c.max() >= n_classes):
        raise ConfigError("classes", f"training classes must lie in 0 … {n_classes - 1}")
    return c.astype(np.int64)


def lr_factors(steps: int, schedule: str) -> np.ndarray:
    """Learning-rate factor of updates ``1..steps`` (shape ``(steps,)``): see the module docstring."""
    if schedule == "constant":
        return np.ones(steps)
    if schedule != "paper":
        raise PhysgenError(f"lr_schedule must be 'constant' or 'paper', got {schedule!r}")
    i = np.arange(steps, dtype=np.float64)  # s - 1
    w = max(1, round(steps / 400))
    warm = 1.0 - 0.5 * i / w
    span = max(steps - w, 1)
    cosine = 0.1 + 0.2 * (1.0 + np.cos(np.pi * (i - w) / span))
    return np.where(i < w, warm, cosine)


def init_weight(steps: np.ndarray, decay: float, warmup: bool = True) -> np.ndarray:
    r"""Share :math:`w_0(s) = \prod_{j=1}^{s} \gamma_j` of the initial weights in the average
    after ``s`` updates, for each ``s`` in ``steps`` (shape of ``steps``, float64); 1 at
    ``s = 0``, and 0 for ``decay = 0`` (no average). A diagnostic of the average is a lag
    artefact where this share is not small (docs/onsets.md: ``valid = init_weight ≤ 0.01``)."""
    s = np.asarray(steps, dtype=np.int64)
    if decay == 0.0:
        return np.where(s == 0, 1.0, 0.0)
    j = np.arange(1, int(s.max(initial=0)) + 1, dtype=np.float64)
    gamma = np.minimum(decay, (1.0 + j) / (10.0 + j)) if warmup else np.full(j.size, decay)
    log_w = np.concatenate([[0.0], np.cumsum(np.log(gamma))])
    return np.exp(log_w[s])


class ExponentialMovingAverage:
    r"""A copy of ``net`` holding :math:`\bar\theta \leftarrow \gamma_s\bar\theta + (1-\gamma_s)\theta`
    at update :math:`s`, with :math:`\gamma_s = \min(\gamma, (1+s)/(10+s))` when ``warmup``
    (else :math:`\gamma`): see the module docstring.

    :meth:`update` is one fused ``lerp`` over all parameters (no per-step Python loop over
    tensors); buffers (none in physgen's nets) are copied by :meth:`sync_buffers`.
    """

    def __init__(self, net: nn.Module, decay: float, warmup: bool = True) -> None:
        if not 0.0 < decay < 1.0:
            raise PhysgenError(f"ema decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.warmup = warmup
        self.updates = 0
        # never trained, only evaluated: kept in eval mode, so a denoiser of it does not switch
        # modes (which walks every submodule) on each call
        self.module = copy.deepcopy(net).eval()
        self.module.requires_grad_(False)
        self._source = list(net.parameters())
        self._average = list(self.module.parameters())
        self._source_buffers = list(net.buffers())
        self._average_buffers = list(self.module.buffers())

    def current_decay(self) -> float:
        r""":math:`\gamma_s` of the next update ``s = updates + 1``."""
        s = self.updates + 1
        return min(self.decay, (1.0 + s) / (10.0 + s)) if self.warmup else self.decay

    @torch.no_grad()
    def update(self) -> None:
        """One averaging step after an optimiser update."""
        torch._foreach_lerp_(self._average, self._source, 1.0 - self.current_decay())
        self.updates += 1

    @torch.no_grad()
    def sync_buffers(self) -> None:
        """Copy the buffers (e.g. normalisation statistics) of the trained network."""
        for avg, src in zip(self._average_buffers, self._source_buffers, strict=True):
            avg.copy_(src)


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes:
        net: the trained network (raw weights after the last update).
        ema: the weight average, in eval mode (``None`` when ``ema_decay = 0``).
        denoiser: :class:`NetDenoiser` of the average (of the raw weights when ``ema_decay = 0``).
        denoisers: ``{name: NetDenoiser}`` for each weights of :func:`weight_decays`.
        steps: checkpoint steps, shape ``(n_checkpoints,)``.
        train_loss: mean minibatch loss over the updates since the previous checkpoint, one value
            per checkpoint, shape ``(n_checkpoints,)``.
        wall_time: seconds spent in the training loop, callbacks included.
        callback_time: seconds spent in the callbacks.
    """

    net: nn.Module
    ema: nn.Module | None
    denoiser: NetDenoiser
    denoisers: dict[str, NetDenoiser]
    steps: np.ndarray
    train_loss: np.ndarray
    wall_time: float
    callback_time: float


def _check_data(x0: np.ndarray, loss: str) -> np.ndarray:
    if loss not in OUTPUT_OF_LOSS:
        raise PhysgenError(f"loss must be one of {list(OUTPUT_OF_LOSS)}, got {loss!r}")
    x = np.asarray(x0)
    if x.ndim < 2 or x.shape[0] < 1:
        raise PhysgenError(f"training data must have shape (n ≥ 1, *event_shape), got {x.shape}")
    if loss == "ce" and not (np.all((x == 0) | (x == 1)) and np.all(x.sum(axis=-1) == 1)):
        raise PhysgenError("loss 'ce' needs one-hot data along the last axis (model.encode)")
    return x


def train(
    net: nn.Module,
    x0: np.ndarray,
    schedule: Schedule,
    cfg: TrainConfig,
    *,
    loss: Loss = "ce",
    seed: int,
    callback: Callable[[int, NetDenoiser], None] | None = None,
    on_checkpoint: Callable[[int, dict[str, NetDenoiser]], None] | None = None,
    classes: np.ndarray | None = None,
    p_uncond: float | None = None,
) -> TrainResult:
    """Train ``net`` on ``x0`` (shape ``(n, *event_shape)``, diffusion space) for ``cfg.steps``
    updates; see the module docstring for the objective, schedule, average and randomness.

    ``callback(step, denoiser)`` runs at every checkpoint step; ``denoiser`` wraps the live
    averaged weights (copy it to keep a snapshot). ``on_checkpoint(step, denoisers)`` runs there
    too, with ``{name: NetDenoiser}`` for every weights of :func:`weight_decays` (``"ema"``: the
    average, ``"ema_<γ>"``: the extra averages, ``"raw"``: the optimiser's weights), so any
    diagnostic can be recorded for each. The network is moved to ``cfg.device``
    (``"auto"``: CUDA when present, where the forward pass runs under bf16 autocast). Torch runs
    on ``cfg.threads`` threads during training (:func:`physgen.threads.pinned_threads`).

    ``classes`` ``(n,)`` int, with a conditional network: train with label dropout of rate
    ``p_uncond`` (default ``cfg.p_uncond``; module docstring).
    """
    x = _check_data(x0, loss)
    if p_uncond is None:
        p_uncond = cfg.p_uncond
    labels = None if classes is None else _check_classes(net, classes, x.shape[0], p_uncond)
    device = resolve_device(cfg.device)
    with pinned_threads(cfg.threads):
        return _train(
            net, x, schedule, cfg, loss, seed, callback, on_checkpoint, device, labels, p_uncond
        )


def _train(
    net: nn.Module,
    x: np.ndarray,
    schedule: Schedule,
    cfg: TrainConfig,
    loss: str,
    seed: int,
    callback: Callable[[int, NetDenoiser], None] | None,
    on_checkpoint: Callable[[int, dict[str, NetDenoiser]], None] | None,
    device: torch.device,
    labels: np.ndarray | None = None,
    p_uncond: float = 0.0,
) -> TrainResult:
    """The loop of :func:`train` on checked data, with the thread count already set."""
    net.to(device).train()

    data = torch.as_tensor(x, dtype=torch.float32, device=device)
    target = data.argmax(dim=-1) if loss == "ce" else None
    label_t = None if labels is None else torch.as_tensor(labels, device=device)
    n, event = data.shape[0], tuple(data.shape[1:])
    batch, T = cfg.batch_size, schedule.T
    bshape = (batch,) + (1,) * len(event)
    sqrt_ab = torch.as_tensor(np.sqrt(schedule.alpha_bar), dtype=torch.float32, device=device)
    sqrt_1mab = torch.as_tensor(
        np.sqrt(1.0 - schedule.alpha_bar), dtype=torch.float32, device=device
    )

    gen = torch.Generator(device=device)
    gen.manual_seed(stream(seed, "batches"))
    # the fused kernel updates all tensors in one pass: ≈4× cheaper than the per-tensor loop
    # on the CPU for small nets, where the optimiser step is a visible share of a training step
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, fused=device.type in ("cpu", "cuda"))
    factors = (
        None
        if cfg.lr_schedule == "constant"
        else (lr_factors(cfg.steps, cfg.lr_schedule) * cfg.lr).tolist()
    )
    ema = (
        ExponentialMovingAverage(net, cfg.ema_decay, cfg.ema_warmup) if cfg.ema_decay > 0 else None
    )
    raw = NetDenoiser(net, schedule, OUTPUT_OF_LOSS[loss], device=device)
    # γ = 0 is the average of horizon 0: the raw weights themselves
    denoiser = (
        NetDenoiser(ema.module, schedule, OUTPUT_OF_LOSS[loss], device=device)
        if ema is not None
        else raw
    )
    decays = weight_decays(cfg)
    extras = {
        name: ExponentialMovingAverage(net, g, cfg.ema_warmup)
        for name, g in decays.items()
        if name not in ("ema", "raw")
    }
    named = {
        "ema": denoiser,
        "raw": raw,
        **{
            name: NetDenoiser(avg.module, schedule, OUTPUT_OF_LOSS[loss], device=device)
            for name, avg in extras.items()
        },
    }
    denoisers = {name: named[name] for name in decays}
    averages = ([ema] if ema is not None else []) + list(extras.values())
    checkpoints = checkpoints_of(cfg)
    losses = np.empty(checkpoints.size)
    amp = device.type == "cuda"

    loss_sum = torch.zeros((), device=device)
    last, k, callback_time = 0, 0, 0.0
    start = time.perf_counter()
    for step in range(1, cfg.steps + 1):
        idx = torch.randint(n, (batch,), generator=gen, device=device)
        t = torch.randint(1, T + 1, (batch,), generator=gen, device=device)
        eps = torch.randn((batch, *event), generator=gen, device=device)
        clean = data[idx]
        x_t = sqrt_ab[t].view(bshape) * clean + sqrt_1mab[t].view(bshape) * eps
        if factors is not None:
            for group in opt.param_groups:
                group["lr"] = factors[step - 1]
        with torch.autocast("cuda", dtype=torch.bfloat16) if amp else nullcontext():
            if label_t is None:
                out = net(x_t, t.to(torch.float32))
            else:
                out = net(x_t, t.to(torch.float32), label_dropout(label_t[idx], p_uncond, gen))
        if loss == "ce":
            value = F.cross_entropy(out.flatten(0, -2).float(), target[idx].flatten())
        else:
            value = F.mse_loss(out.float(), clean if loss == "mse_x0" else eps)
        opt.zero_grad(set_to_none=True)
        value.backward()
        opt.step()
        for avg in averages:
            avg.update()
        loss_sum += value.detach()
        if step == checkpoints[k]:
            losses[k] = loss_sum.item() / (step - last)
            loss_sum.zero_()
            last = step
            if callback is not None or on_checkpoint is not None:
                for avg in averages:
                    avg.sync_buffers()
                tic = time.perf_counter()
                # one switch per checkpoint, not one per denoiser call (hundreds per checkpoint)
                net.eval()
                if callback is not None:
                    callback(step, denoiser)
                if on_checkpoint is not None:
                    on_checkpoint(step, denoisers)
                net.train()
                callback_time += time.perf_counter() - tic
            k += 1
    wall = time.perf_counter() - start
    if ema is not None:
        ema.sync_buffers()
    return TrainResult(
        net=net,
        ema=ema.module if ema is not None else None,
        denoiser=denoiser,
        denoisers=denoisers,
        steps=checkpoints,
        train_loss=losses,
        wall_time=wall,
        callback_time=callback_time,
    )


def save_checkpoint(
    path: str | Path, net: nn.Module, meta: Mapping[str, Any] | None = None
) -> Path:
    """Write ``net``'s state dict and JSON-serialisable ``meta`` to ``path`` atomically (temporary
    file, then ``os.replace``). Returns the path."""
    path = Path(path)
    try:
        meta_json = json.dumps(dict(meta or {}), sort_keys=True)
    except TypeError as exc:
        raise PhysgenError(f"checkpoint meta must be JSON-serialisable: {exc}") from None
    state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        torch.save({"state_dict": state, "meta_json": meta_json}, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def load_checkpoint(
    path: str | Path, net: nn.Module | None = None
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read ``(state_dict, meta)`` written by :func:`save_checkpoint` with
    ``torch.load(weights_only=True)`` (never runs code from the file); with ``net``, also load the
    weights into it."""
    try:
        blob = torch.load(Path(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as exc:
        raise PhysgenError(f"{path}: not a physgen checkpoint ({exc})") from None
    if not isinstance(blob, dict) or "state_dict" not in blob or "meta_json" not in blob:
        raise PhysgenError(f"{path}: not a physgen checkpoint (missing state_dict/meta_json)")
    state, meta = blob["state_dict"], json.loads(blob["meta_json"])
    if net is not None:
        net.load_state_dict(state)
    return state, meta
