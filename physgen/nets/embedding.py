r"""Sinusoidal embedding of the diffusion step (Vaswani et al. 2017; Ho et al. 2020).

For a continuous step :math:`t` and an even dimension :math:`D = 2h`,

.. math:: e(t) = \bigl[\sin(\omega_0 t), \dots, \sin(\omega_{h-1} t),
                       \cos(\omega_0 t), \dots, \cos(\omega_{h-1} t)\bigr],
          \qquad \omega_k = P^{-k/h},

with maximal period :math:`P` (10 000). Every entry lies in :math:`[-1, 1]`,
:math:`\lVert e(t) \rVert^2 = h` for every :math:`t`, and :math:`e(0) = [0, \dots, 0, 1, \dots, 1]`.
The frequencies span :math:`[P^{-(h-1)/h}, 1]`, so steps :math:`t \in [0, T]` with :math:`T` in the
hundreds are told apart both finely (fast channels) and coarsely (slow channels). The input is a
float so that a denoiser can be queried between grid steps (see
:meth:`physgen.diffusion.Schedule.t_of_alpha_bar`).
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["ClassEmbedding", "SinusoidalEmbedding", "label_embedding", "sinusoidal_embedding"]


def sinusoidal_embedding(t: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Embed steps ``t`` of shape ``(B,)`` (float) into ``(B, dim)``; ``dim`` must be even."""
    if dim % 2 != 0 or dim < 2:
        raise ValueError(f"the time-embedding dimension must be even and ≥ 2, got {dim}")
    half = dim // 2
    omega = torch.exp(
        -math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half
    )
    phase = t.to(torch.float32)[:, None] * omega[None, :]
    return torch.cat([torch.sin(phase), torch.cos(phase)], dim=-1)


class SinusoidalEmbedding(nn.Module):
    """Parameter-free module form of :func:`sinusoidal_embedding`: ``(B,)`` → ``(B, dim)``."""

    def __init__(self, dim: int, max_period: float = 10_000.0) -> None:
        super().__init__()
        if dim % 2 != 0 or dim < 2:
            raise ValueError(f"the time-embedding dimension must be even and ≥ 2, got {dim}")
        self.dim = dim
        self.max_period = max_period

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return sinusoidal_embedding(t, self.dim, self.max_period)


class ClassEmbedding(nn.Module):
    r"""Learned embedding of a class label with a null class, ``(B,)`` → ``(B, dim)``.

    Row :math:`c \in \{0, \dots, C-1\}` embeds class :math:`c`; row :math:`C` is the *null class*
    :math:`\varnothing` of classifier-free guidance, used for the label -1 and when no labels are
    given (``classes=None``). Training with label dropout (:func:`physgen.train.label_dropout`)
    teaches one network both :math:`\hat x_0(x_t \mid c)` and :math:`\hat x_0(x_t \mid \varnothing)`.
    """

    def __init__(self, n_classes: int, dim: int) -> None:
        super().__init__()
        if n_classes < 1:
            raise ValueError(f"a class embedding needs n_classes ≥ 1, got {n_classes}")
        self.n_classes = n_classes
        self.table = nn.Embedding(n_classes + 1, dim)

    def forward(
        self, classes: torch.Tensor | None, batch: int, device: torch.device
    ) -> torch.Tensor:
        """Embeddings ``(batch, dim)`` of ``classes`` (``(batch,)`` long, -1 = null; ``None``:
        all null)."""
        if classes is None:
            idx = torch.full((batch,), self.n_classes, dtype=torch.long, device=device)
        else:
            idx = torch.where(classes < 0, self.n_classes, classes.long())
        return self.table(idx)


def label_embedding(
    module: nn.Module, classes: torch.Tensor | None, batch: int, device: torch.device
) -> torch.Tensor | None:
    """The class embedding of a network's ``label`` (``None`` for a network without classes,
    which accepts only ``classes=None``)."""
    label = getattr(module, "label", None)
    if label is None:
        if classes is not None:
            raise ValueError("this network has no classes (built with n_classes = 0)")
        return None
    return label(classes, batch, device)
