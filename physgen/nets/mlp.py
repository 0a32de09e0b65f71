r"""Residual MLP denoiser with a time embedding, for vector data (Bonnaire et al. 2025's setting).

For :math:`x_t \in \mathbb R^{B \times d}` and steps :math:`t \in \mathbb R^B`:

.. math:: h^{(0)} = W_{\rm in} x_t, \qquad
          h^{(\ell)} = h^{(\ell-1)} + W^{(\ell)}_2\,\mathrm{SiLU}\bigl(W^{(\ell)}_1
              \mathrm{LN}(h^{(\ell-1)}) + W^{(\ell)}_\tau e(t)\bigr), \qquad
          y = W_{\rm out}\,\mathrm{LN}(h^{(L)}),

with the sinusoidal embedding :math:`e(t)` (:mod:`physgen.nets.embedding`) injected into every
block; a class-conditional MLP (``n_classes > 0``) adds the class embedding to it,
:math:`e(t) + E[c]` (:class:`~physgen.nets.embedding.ClassEmbedding`, with a null class). The output :math:`y \in \mathbb R^{B \times d}` is read as :math:`\hat x_0` or
:math:`\hat\varepsilon` depending on the training loss (:class:`physgen.nets.wrap.NetDenoiser`).
"""

from __future__ import annotations

import torch
from torch import nn

from physgen.nets.embedding import ClassEmbedding, SinusoidalEmbedding, label_embedding

__all__ = ["MLPDenoiser"]


class _Block(nn.Module):
    """One pre-LN residual block with an additive time conditioning."""

    def __init__(self, hidden: int, time_dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(hidden)
        self.fc1 = nn.Linear(hidden, hidden)
        self.time = nn.Linear(time_dim, hidden, bias=False)
        self.fc2 = nn.Linear(hidden, hidden)
        self.act = nn.SiLU()

    def forward(self, h: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        return h + self.fc2(self.act(self.fc1(self.norm(h)) + self.time(emb)))


class MLPDenoiser(nn.Module):
    """Residual MLP ``(x_t (B, d), t (B,))`` → ``(B, d)``.

    Args:
        dim: d, the data dimension.
        hidden: width of the residual stream.
        layers: number of residual blocks.
        time_dim: dimension of the sinusoidal time embedding (even).
        n_classes: classes of a conditional network (0: unconditional only).
    """

    def __init__(
        self, dim: int, hidden: int = 256, layers: int = 3, time_dim: int = 32, n_classes: int = 0
    ) -> None:
        super().__init__()
        self.dim = dim
        self.embed = SinusoidalEmbedding(time_dim)
        self.input = nn.Linear(dim, hidden)
        self.blocks = nn.ModuleList(_Block(hidden, time_dim) for _ in range(layers))
        self.norm = nn.LayerNorm(hidden)
        self.output = nn.Linear(hidden, dim)
        # created last, so the other initial weights are those of the unconditional network
        self.n_classes = n_classes
        self.label = ClassEmbedding(n_classes, time_dim) if n_classes > 0 else None

    def forward(
        self, x_t: torch.Tensor, t: torch.Tensor, classes: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Output ``(B, d)`` from ``x_t`` ``(B, d)``, float steps ``t`` ``(B,)`` and optional
        ``classes`` ``(B,)`` long (-1 or ``None``: the null class)."""
        emb = self.embed(t)
        lab = label_embedding(self, classes, x_t.shape[0], x_t.device)
        if lab is not None:
            emb = emb + lab
        h = self.input(x_t)
        for block in self.blocks:
            h = block(h, emb)
        return self.output(self.norm(h))
