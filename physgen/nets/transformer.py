r"""Encoder-only transformer :math:`x_0`-predictor for one-hot token sequences.

Input :math:`x_t \in \mathbb R^{B \times N \times q}` (noised one-hot tokens) and the diffusion step
:math:`t \in \mathbb R^B`; output logits :math:`\ell \in \mathbb R^{B \times N \times q}` with
:math:`\hat x_0 = \operatorname{softmax}(\ell)` over the last axis. The architecture is the paper's
(Garnier-Brun et al. 2026, docs/theory.md §4):

.. math:: h^{(0)}_i = W_{\rm in} x_{t,i} + b_{\rm in} + p_i + W_\tau\, e(t) + b_\tau, \qquad
          h^{(\ell)} = \mathrm{EncoderLayer}_\ell\bigl(h^{(\ell-1)}\bigr), \qquad
          \ell_i = W_{\rm out} h^{(L)}_i + b_{\rm out},

with a learned positional embedding :math:`p_i`, the sinusoidal time embedding :math:`e(t)`
(:mod:`physgen.nets.embedding`) added to every token (and, for a class-conditional network, the
class embedding :math:`E[c]` of width ``width`` with a null class, also added to every token), and ``layers`` standard
:class:`torch.nn.TransformerEncoderLayer` blocks (multi-head self-attention and a ReLU
feed-forward, post-LN by default as in PyTorch and the paper; ``norm_first=True`` gives pre-LN with
a final LayerNorm). No attention mask: every position sees every other.

Parameter count at width :math:`w`, feed-forward :math:`f`, time dimension :math:`d_\tau`:
:math:`(q+1)w + Nw + (d_\tau+1)w + L\,(4w^2 + 4w + 2wf + f + w + 4w) + (w+1)q`; the paper preset
(8 × 512, 4 heads, f = 1024, N = 16, q = 6) has 16 854 022.
"""

from __future__ import annotations

import torch
from torch import nn

from physgen.nets.embedding import ClassEmbedding, SinusoidalEmbedding, label_embedding

__all__ = ["SequenceTransformer"]


class SequenceTransformer(nn.Module):
    """Encoder-only transformer mapping ``(x_t (B, N, q), t (B,))`` to logits ``(B, N, q)``.

    Args:
        seq_len: N, the number of token positions.
        vocab_size: q, the alphabet size (input and output features).
        width: model width (embedding dimension).
        layers: number of encoder layers.
        heads: attention heads (``width`` must be divisible by ``heads``).
        ff: feed-forward hidden width.
        time_dim: dimension of the sinusoidal time embedding (even).
        dropout: dropout inside the encoder layers (0 in the paper's and the default setting).
        norm_first: pre-LN layers (with a final LayerNorm) instead of PyTorch's post-LN.
        n_classes: classes of a conditional network (0: unconditional only).
    """

    def __init__(
        self,
        seq_len: int,
        vocab_size: int,
        width: int = 64,
        layers: int = 2,
        heads: int = 4,
        ff: int = 128,
        time_dim: int = 32,
        dropout: float = 0.0,
        norm_first: bool = False,
        n_classes: int = 0,
    ) -> None:
        super().__init__()
        if width % heads != 0:
            raise ValueError(f"width {width} must be divisible by heads {heads}")
        self.seq_len = seq_len
        self.vocab_size = vocab_size
        self.input = nn.Linear(vocab_size, width)
        self.position = nn.Parameter(torch.empty(1, seq_len, width))
        nn.init.normal_(self.position, std=0.02)
        self.time = nn.Sequential(SinusoidalEmbedding(time_dim), nn.Linear(time_dim, width))
        layer = nn.TransformerEncoderLayer(
            d_model=width,
            nhead=heads,
            dim_feedforward=ff,
            dropout=dropout,
            batch_first=True,
            norm_first=norm_first,
        )
        # nested tensors only help padded batches; ours are dense, and the flag warns with pre-LN
        self.encoder = nn.TransformerEncoder(
            layer,
            num_layers=layers,
            norm=nn.LayerNorm(width) if norm_first else None,
            enable_nested_tensor=False,
        )
        self.output = nn.Linear(width, vocab_size)
        # created last, so the other initial weights are those of the unconditional network
        self.n_classes = n_classes
        self.label = ClassEmbedding(n_classes, width) if n_classes > 0 else None

    @classmethod
    def paper(cls, seq_len: int, vocab_size: int) -> SequenceTransformer:
        """The paper's network: 8 layers, width 512, 4 heads, feed-forward 1024, time dim 32."""
        return cls(seq_len, vocab_size, width=512, layers=8, heads=4, ff=1024, time_dim=32)

    def forward(
        self, x_t: torch.Tensor, t: torch.Tensor, classes: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Logits ``(B, N, q)`` from ``x_t`` ``(B, N, q)``, float steps ``t`` ``(B,)`` and
        optional ``classes`` ``(B,)`` long (-1 or ``None``: the null class)."""
        cond = self.time(t)
        lab = label_embedding(self, classes, x_t.shape[0], x_t.device)
        if lab is not None:
            cond = cond + lab
        h = self.input(x_t) + self.position + cond[:, None, :]
        return self.output(self.encoder(h))
