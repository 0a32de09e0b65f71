"""Small torch denoisers and their wrapper to the common ``denoise(x_t, alpha_bar)`` signature."""

from __future__ import annotations

from physgen.nets.embedding import SinusoidalEmbedding, sinusoidal_embedding
from physgen.nets.mlp import MLPDenoiser
from physgen.nets.transformer import SequenceTransformer
from physgen.nets.unet import UNet
from physgen.nets.wrap import NET_BUILDERS, NetDenoiser, build_net, register_net, resolve_device

__all__ = [
    "NET_BUILDERS",
    "MLPDenoiser",
    "NetDenoiser",
    "SequenceTransformer",
    "SinusoidalEmbedding",
    "UNet",
    "build_net",
    "register_net",
    "resolve_device",
    "sinusoidal_embedding",
]
