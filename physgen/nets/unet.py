r"""The DDPM U-Net ε-predictor for images (Ho et al. 2020), sized for CPUs by default.

The network maps a noisy image and its diffusion step to the predicted noise,

.. math:: \hat\varepsilon_\theta(x_t, t), \qquad
          x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon,

trained with :math:`\lVert \hat\varepsilon_\theta(x_t, t) - \varepsilon \rVert^2` (``loss =
"mse_eps"`` in :func:`physgen.train.train`); the posterior mean follows by Tweedie,
:math:`\hat x_0 = (x_t - \sqrt{1-\bar\alpha}\,\hat\varepsilon)/\sqrt{\bar\alpha}`
(:class:`physgen.nets.NetDenoiser` with ``output="eps"``).

Architecture (the DDPM one): a 3×3 input convolution to ``base`` channels; one resolution level
per entry of ``mults`` with ``num_res_blocks`` residual blocks of ``base · mult`` channels (GroupNorm,
SiLU, 3×3 convolutions, the time embedding added between the two convolutions), self-attention
after each block at the spatial sizes listed in ``attn_resolutions``, and a stride-2 convolution
between levels; a middle block (residual, attention, residual); the mirrored upsampling path whose
blocks take the concatenated skip connections (``num_res_blocks + 1`` per level, nearest-neighbour
upsampling then a 3×3 convolution between levels); GroupNorm, SiLU and a 3×3 output convolution.
The time embedding is the sinusoidal one of the step ``t`` (dimension ``time_dim``) followed by a
two-layer MLP to ``4 · base`` features; a class-conditional U-Net (``n_classes > 0``) adds a
class embedding of that width, with a null class (:class:`~physgen.nets.embedding.ClassEmbedding`).

Sizes: an input ``(B, C, H, W)`` needs ``H`` and ``W`` divisible by ``2**(len(mults) - 1)``.
``image_size`` only decides at which levels attention sits (level ``l`` has spatial size
``image_size / 2**l``); the network itself accepts any admissible size.

Presets: the default (``base = 16``, ``mults = (1, 2)``, one residual block per level, no
attention, ≈ 0.17 M parameters, ≈ 0.1 s per Adam step of 64 images on one core) suits
scikit-learn's 8×8 digits on a CPU; :meth:`UNet.paper` is the
paper's CelebA 32×32 network (base 32, multipliers 1, 2, 4, two residual blocks per level,
attention at 16² and 8², ≈ 4 M parameters), a GPU-scale model.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from physgen.config import NetConfig
from physgen.errors import ConfigError
from physgen.nets.embedding import ClassEmbedding, label_embedding, sinusoidal_embedding
from physgen.nets.wrap import register_net

__all__ = ["UNet"]


def _groups(channels: int, groups: int) -> int:
    """The largest divisor of ``channels`` not above ``groups`` (GroupNorm needs one)."""
    return math.gcd(channels, groups)


class ResBlock(nn.Module):
    """GroupNorm–SiLU–conv, + time projection, GroupNorm–SiLU–dropout–conv, residual (1×1 when
    the width changes). ``(B, c_in, H, W), (B, t_dim)`` → ``(B, c_out, H, W)``."""

    def __init__(self, c_in: int, c_out: int, t_dim: int, dropout: float, groups: int) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(_groups(c_in, groups), c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.temb = nn.Linear(t_dim, c_out)
        self.norm2 = nn.GroupNorm(_groups(c_out, groups), c_out)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.temb(temb)[:, :, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return self.skip(x) + h


class AttnBlock(nn.Module):
    """Multi-head self-attention over the ``H·W`` positions, residual. ``(B, c, H, W)`` → same."""

    def __init__(self, channels: int, heads: int, groups: int) -> None:
        super().__init__()
        if channels % heads:
            raise ValueError(f"attention width {channels} is not divisible by heads={heads}")
        self.heads = heads
        self.norm = nn.GroupNorm(_groups(channels, groups), channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, self.heads, c // self.heads, h * w).unbind(1)
        # (B, heads, HW, c/heads) for scaled_dot_product_attention
        out = F.scaled_dot_product_attention(
            q.transpose(-1, -2), k.transpose(-1, -2), v.transpose(-1, -2)
        )
        return x + self.proj(out.transpose(-1, -2).reshape(b, c, h, w))


class UNet(nn.Module):
    """DDPM U-Net ε-predictor (see the module docstring).

    Parameters
    ----------
    channels:
        Image channels ``C`` (1 for grayscale).
    base:
        Width of the first level; level ``l`` has ``base * mults[l]`` channels.
    mults:
        Width multipliers, one per resolution level.
    attn_resolutions:
        Spatial sizes (e.g. ``(16, 8)``) at which self-attention follows each residual block.
    num_res_blocks:
        Residual blocks per level on the way down (``+ 1`` on the way up).
    time_dim:
        Dimension of the sinusoidal step embedding.
    heads:
        Attention heads.
    dropout:
        Dropout inside the residual blocks.
    image_size:
        Spatial size that ``attn_resolutions`` refers to.
    groups:
        GroupNorm groups (reduced to a divisor of each width).
    n_classes:
        Classes of a conditional network (0: unconditional only).

    ``forward(x_t, t)``: ``x_t`` of shape ``(B, C, H, W)``, ``t`` of shape ``(B,)`` (the diffusion
    step, float) → ``ε̂`` of shape ``(B, C, H, W)``.
    """

    def __init__(
        self,
        channels: int = 1,
        base: int = 16,
        mults: tuple[int, ...] = (1, 2),
        attn_resolutions: tuple[int, ...] = (),
        num_res_blocks: int = 1,
        time_dim: int = 32,
        heads: int = 1,
        dropout: float = 0.0,
        image_size: int = 8,
        groups: int = 8,
        n_classes: int = 0,
    ) -> None:
        super().__init__()
        if (
            channels < 1
            or base < 1
            or num_res_blocks < 1
            or time_dim < 2
            or time_dim % 2
            or not mults
        ):
            raise ValueError(
                "UNet needs channels ≥ 1, base ≥ 1, num_res_blocks ≥ 1, an even time_dim ≥ 2 and mults"
            )
        if image_size % 2 ** (len(mults) - 1):
            raise ValueError(
                f"image_size {image_size} is not divisible by 2**{len(mults) - 1} "
                f"({len(mults)} resolution levels)"
            )
        self.channels = channels
        self.levels = len(mults)
        self.time_dim = time_dim
        t_dim = 4 * base
        self.time_mlp = nn.Sequential(
            nn.Linear(time_dim, t_dim), nn.SiLU(), nn.Linear(t_dim, t_dim)
        )
        self.conv_in = nn.Conv2d(channels, base, 3, padding=1)

        def attn(c: int, level: int) -> nn.Module:
            res = image_size // 2**level
            return AttnBlock(c, heads, groups) if res in attn_resolutions else nn.Identity()

        self.down = nn.ModuleList()
        skips = [base]
        c = base
        for level, m in enumerate(mults):
            blocks = nn.ModuleList()
            for _ in range(num_res_blocks):
                blocks.append(
                    nn.ModuleList(
                        [ResBlock(c, base * m, t_dim, dropout, groups), attn(base * m, level)]
                    )
                )
                c = base * m
                skips.append(c)
            down = (
                nn.Conv2d(c, c, 3, stride=2, padding=1)
                if level < self.levels - 1
                else nn.Identity()
            )
            if level < self.levels - 1:
                skips.append(c)
            self.down.append(nn.ModuleList([blocks, down]))

        self.mid = nn.ModuleList(
            [
                ResBlock(c, c, t_dim, dropout, groups),
                AttnBlock(c, heads, groups),
                ResBlock(c, c, t_dim, dropout, groups),
            ]
        )

        self.up = nn.ModuleList()
        for level in reversed(range(self.levels)):
            m = mults[level]
            blocks = nn.ModuleList()
            for _ in range(num_res_blocks + 1):
                blocks.append(
                    nn.ModuleList(
                        [
                            ResBlock(c + skips.pop(), base * m, t_dim, dropout, groups),
                            attn(base * m, level),
                        ]
                    )
                )
                c = base * m
            up = nn.Conv2d(c, c, 3, padding=1) if level > 0 else nn.Identity()
            self.up.append(nn.ModuleList([blocks, up]))
        self.norm_out = nn.GroupNorm(_groups(c, groups), c)
        self.conv_out = nn.Conv2d(c, channels, 3, padding=1)
        # created last, so the other initial weights are those of the unconditional network
        self.n_classes = n_classes
        self.label = ClassEmbedding(n_classes, t_dim) if n_classes > 0 else None

    @classmethod
    def paper(cls, channels: int = 1, image_size: int = 32) -> UNet:
        """The paper's CelebA 32×32 U-Net: base 32, mults (1, 2, 4), two residual blocks per level,
        attention at 16² and 8² (≈ 4 M parameters)."""
        return cls(
            channels=channels,
            base=32,
            mults=(1, 2, 4),
            attn_resolutions=(16, 8),
            num_res_blocks=2,
            time_dim=32,
            heads=1,
            image_size=image_size,
        )

    def forward(
        self, x_t: torch.Tensor, t: torch.Tensor, classes: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``ε̂`` ``(B, C, H, W)``; ``classes`` ``(B,)`` long (-1 or ``None``: the null class)."""
        factor = 2 ** (self.levels - 1)
        if (
            x_t.ndim != 4
            or x_t.shape[1] != self.channels
            or x_t.shape[2] % factor
            or x_t.shape[3] % factor
        ):
            raise ValueError(
                f"UNet expects (B, {self.channels}, H, W) with H, W divisible by {factor}, "
                f"got {tuple(x_t.shape)}"
            )
        temb = self.time_mlp(sinusoidal_embedding(t, self.time_dim))
        lab = label_embedding(self, classes, x_t.shape[0], x_t.device)
        if lab is not None:
            temb = temb + lab
        h = self.conv_in(x_t)
        hs = [h]
        for blocks, down in self.down:
            for res, att in blocks:
                h = att(res(h, temb))
                hs.append(h)
            if not isinstance(down, nn.Identity):
                h = down(h)
                hs.append(h)
        res1, att, res2 = self.mid
        h = res2(att(res1(h, temb)), temb)
        for blocks, up in self.up:
            for res, att in blocks:
                h = att(res(torch.cat([h, hs.pop()], dim=1), temb))
            if not isinstance(up, nn.Identity):
                h = up(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.conv_out(F.silu(self.norm_out(h)))


@register_net("unet")
def _build_unet(cfg: NetConfig, model: Any, n_classes: int = 0) -> nn.Module:
    """``NetConfig`` → :class:`UNet`: ``width`` is the base width, ``layers`` the residual blocks
    per level, ``heads`` the attention heads; ``mults`` and ``attn_resolutions`` as in the U-Net."""
    shape = tuple(model.event_shape)
    if len(shape) != 3 or shape[1] != shape[2]:
        raise ConfigError(
            "net.kind",
            f"'unet' needs square images of event shape (C, H, H); the model has {shape}",
        )
    if cfg.time_dim % 2:
        raise ConfigError(
            "net.time_dim", f"the U-Net's time embedding needs an even size, got {cfg.time_dim}"
        )
    factor = 2 ** (len(cfg.mults) - 1)
    if shape[1] % factor:
        raise ConfigError(
            "net.mults",
            f"{len(cfg.mults)} resolution levels need the image size {shape[1]} divisible by {factor}",
        )
    return UNet(
        channels=shape[0],
        base=cfg.width,
        mults=tuple(cfg.mults),
        attn_resolutions=tuple(cfg.attn_resolutions),
        num_res_blocks=cfg.layers,
        time_dim=cfg.time_dim,
        heads=cfg.heads,
        dropout=cfg.dropout,
        image_size=shape[1],
        n_classes=n_classes,
    )
