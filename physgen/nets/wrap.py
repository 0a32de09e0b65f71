r"""A trained network wrapped to the common denoiser signature, and the network builders.

:class:`NetDenoiser` gives any network ``net(x_t, t) → y`` the call of the exact models,
``denoise(x_t, alpha_bar) → x̂0`` on NumPy arrays (see :class:`physgen.models.base.Denoiser`), so
samplers and metrics take a network or an oracle interchangeably. The network's step input is the
continuous :math:`t` whose :math:`\bar\alpha_t` matches (:meth:`Schedule.t_of_alpha_bar`), and its
output is read according to ``output``:

* ``"logits"`` (token data): :math:`\hat x_0 = \operatorname{softmax}(y)` over the last axis,
  computed in float64 (:meth:`NetDenoiser.log_denoise` gives the log-softmax for exact
  cross-entropies);
* ``"x0"``: :math:`\hat x_0 = y`;
* ``"eps"``: Tweedie, :math:`\hat x_0 = (x_t - \sqrt{1-\bar\alpha}\,\hat\varepsilon)/\sqrt{\bar\alpha}`.

A class-conditional network (built with ``n_classes > 0``) is called with the classes of the rows,
``denoise(x_t, alpha_bar, classes)``: ``classes=None`` or -1 rows go through the null class, so
one call gives conditional and unconditional denoising (and guidance,
:class:`physgen.guidance.GuidedDenoiser`).

:func:`build_net` chooses a network for a data model from ``NetConfig.kind`` through the builder
table :data:`NET_BUILDERS`; a new kind registers with :func:`register_net`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from physgen.config import NetConfig
from physgen.diffusion import Schedule
from physgen.errors import ConfigError, PhysgenError
from physgen.models.base import as_alpha_bar, tweedie_score
from physgen.models.conditional import conditional_inputs
from physgen.nets.mlp import MLPDenoiser
from physgen.nets.transformer import SequenceTransformer

__all__ = [
    "NET_BUILDERS",
    "NetDenoiser",
    "Output",
    "build_net",
    "register_net",
    "resolve_device",
]

Output = Literal["logits", "x0", "eps"]

NetBuilder = Callable[..., nn.Module]

NET_BUILDERS: dict[str, NetBuilder] = {}
"""``NetConfig.kind`` → builder ``(net_cfg, model) → nn.Module``; a builder that supports classes
also takes ``n_classes=C``."""


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` → ``cuda`` when available, else ``cpu``; anything else as given. Asking for
    CUDA on a machine without it is a :class:`PhysgenError`."""
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise PhysgenError(f"invalid torch device {device!r}: {exc}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise PhysgenError(
            f"device {device!r} requested but CUDA is not available; use 'auto' or 'cpu'"
        )
    return dev


def register_net(kind: str) -> Callable[[NetBuilder], NetBuilder]:
    """Decorator adding a builder ``(net_cfg, model) → nn.Module`` for ``NetConfig.kind``."""

    def decorator(builder: NetBuilder) -> NetBuilder:
        NET_BUILDERS[kind] = builder
        return builder

    return decorator


@register_net("transformer")
def _build_transformer(cfg: NetConfig, model: Any, n_classes: int = 0) -> nn.Module:
    q = getattr(model, "vocab_size", None)
    shape = tuple(model.event_shape)
    if q is None or len(shape) != 2 or shape[1] != q:
        raise ConfigError(
            "net.kind",
            f"'transformer' needs token data of event shape (N, q); the model has event shape "
            f"{shape} and vocab_size {q}",
        )
    return SequenceTransformer(
        shape[0],
        q,
        width=cfg.width,
        layers=cfg.layers,
        heads=cfg.heads,
        ff=cfg.ff,
        time_dim=cfg.time_dim,
        dropout=cfg.dropout,
        n_classes=n_classes,
    )


@register_net("mlp")
def _build_mlp(cfg: NetConfig, model: Any, n_classes: int = 0) -> nn.Module:
    shape = tuple(model.event_shape)
    if len(shape) != 1:
        raise ConfigError(
            "net.kind", f"'mlp' needs vector data of event shape (d,); the model has {shape}"
        )
    return MLPDenoiser(
        shape[0], hidden=cfg.width, layers=cfg.layers, time_dim=cfg.time_dim, n_classes=n_classes
    )


def build_net(
    net_cfg: NetConfig, model: Any, *, seed: int | None = None, n_classes: int = 0
) -> nn.Module:
    """The network of kind ``net_cfg.kind`` sized for ``model`` (its ``event_shape`` and
    ``vocab_size``). With ``seed``, the initial weights are drawn from ``torch.manual_seed(seed)``
    inside a forked RNG (the global torch stream is left untouched). ``n_classes > 0`` builds a
    class-conditional network (a class embedding with a null class)."""
    builder = NET_BUILDERS.get(net_cfg.kind)
    if builder is None:
        raise ConfigError(
            "net.kind", f"unknown network {net_cfg.kind!r}; available: {', '.join(NET_BUILDERS)}"
        )
    if int(n_classes) < 0:
        raise ConfigError("net.n_classes", f"must be ≥ 0, got {n_classes}")
    kwargs = {"n_classes": int(n_classes)} if n_classes else {}
    if kwargs and "n_classes" not in inspect.signature(builder).parameters:
        raise ConfigError("net.kind", f"network {net_cfg.kind!r} does not support classes")
    with torch.random.fork_rng(devices=[]) if seed is not None else nullcontext():
        if seed is not None:
            torch.manual_seed(int(seed))
        return builder(net_cfg, model, **kwargs)


class NetDenoiser:
    """A network wrapped as ``denoise(x_t, alpha_bar) → x̂0`` (NumPy float64 in and out).

    Args:
        net: module ``net(x_t (B, *event_shape), t (B,)) → (B, *event_shape)``.
        schedule: the schedule the network was trained with (maps ``alpha_bar`` to its step).
        output: how to read the network's output: ``"logits"``, ``"x0"`` or ``"eps"``.
        device: where to run; ``"auto"`` picks CUDA when present. The network is moved there.
        batch_size: inputs per forward pass (memory bound, not a result-changing setting up to
            float rounding of batched kernels).

    Evaluation runs under ``torch.no_grad`` in eval mode; the module's training flag is restored
    afterwards, so a wrapper of a network being trained can be used in a checkpoint callback.
    """

    def __init__(
        self,
        net: nn.Module,
        schedule: Schedule,
        output: Output = "logits",
        device: str | torch.device = "auto",
        batch_size: int = 4096,
    ) -> None:
        if output not in ("logits", "x0", "eps"):
            raise PhysgenError(f"output must be 'logits', 'x0' or 'eps', got {output!r}")
        if batch_size < 1:
            raise PhysgenError(f"batch_size must be ≥ 1, got {batch_size}")
        self.device = resolve_device(device)
        self.net = net.to(self.device)
        self.schedule = schedule
        self.output = output
        self.batch_size = batch_size
        self.n_classes = int(getattr(net, "n_classes", 0) or 0)

    def _forward(
        self, x_t: np.ndarray, alpha_bar: float | np.ndarray, classes: Any = None
    ) -> np.ndarray:
        """Raw network output as float64, shape of ``x_t``; ``classes`` (n,) (-1: null class)."""
        x, a, cls = conditional_inputs(x_t, alpha_bar, classes, self.n_classes)
        n = x.shape[0]
        t = self.schedule.t_of_alpha_bar(a)
        out = np.empty_like(x)
        # Switching modes walks every submodule: do it only when the net is in training mode
        # (samplers call this hundreds of times per trajectory).
        was_training = self.net.training
        if was_training:
            self.net.eval()
        try:
            with torch.no_grad():
                for lo in range(0, n, self.batch_size):
                    hi = min(lo + self.batch_size, n)
                    xb = torch.as_tensor(x[lo:hi], dtype=torch.float32, device=self.device)
                    tb = torch.as_tensor(t[lo:hi], dtype=torch.float32, device=self.device)
                    if self.n_classes:
                        cb = torch.as_tensor(cls[lo:hi], device=self.device)
                        yb = self.net(xb, tb, cb)
                    else:
                        yb = self.net(xb, tb)
                    out[lo:hi] = yb.to(torch.float64).cpu().numpy()
        finally:
            if was_training:
                self.net.train()
        return out

    def denoise(
        self, x_t: np.ndarray, alpha_bar: float | np.ndarray, classes: Any = None
    ) -> np.ndarray:
        """:math:`\\hat x_0(x_t)` of shape ``x_t.shape`` (``(n, *event_shape)``), float64;
        ``alpha_bar`` a float or shape ``(n,)``; ``classes`` ``(n,)`` int for a conditional
        network (-1 or ``None``: unconditional, the null class)."""
        y = self._forward(x_t, alpha_bar, classes)
        if self.output == "logits":
            y = np.exp(y - y.max(axis=-1, keepdims=True))
            return y / y.sum(axis=-1, keepdims=True)
        if self.output == "x0":
            return y
        a = as_alpha_bar(alpha_bar, y.shape[0]).reshape((-1,) + (1,) * (y.ndim - 1))
        return (np.asarray(x_t, dtype=np.float64) - np.sqrt(1.0 - a) * y) / np.sqrt(a)

    def log_denoise(
        self, x_t: np.ndarray, alpha_bar: float | np.ndarray, classes: Any = None
    ) -> np.ndarray:
        """:math:`\\log \\hat x_0(x_t)` (log-softmax of the logits, float64), shape of ``x_t``;
        only for ``output="logits"``."""
        if self.output != "logits":
            raise PhysgenError(
                f"log_denoise needs a token network (output='logits'), not {self.output!r}"
            )
        y = self._forward(x_t, alpha_bar, classes)
        m = y.max(axis=-1, keepdims=True)
        return y - m - np.log(np.exp(y - m).sum(axis=-1, keepdims=True))

    def score(
        self, x_t: np.ndarray, alpha_bar: float | np.ndarray, classes: Any = None
    ) -> np.ndarray:
        """:math:`\\nabla \\log p_t(x_t)` by Tweedie's formula from :meth:`denoise`."""
        return tweedie_score(
            np.asarray(x_t, dtype=np.float64), self.denoise(x_t, alpha_bar, classes), alpha_bar
        )
