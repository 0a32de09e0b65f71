"""Data models with exact denoisers; each registers itself by name (see :mod:`physgen.registry`)."""

from __future__ import annotations

from physgen.models.base import DataModel, Denoiser, tweedie_score
from physgen.models.empirical import Empirical
from physgen.models.gmm import GaussianMixture, gmm
from physgen.models.images import Digits, ImageArray, ImageDataset, ImageFolder
from physgen.models.tree import TreeGrammar, random_hierarchy_model

__all__ = [
    "DataModel",
    "Denoiser",
    "Digits",
    "Empirical",
    "GaussianMixture",
    "ImageArray",
    "ImageDataset",
    "ImageFolder",
    "TreeGrammar",
    "gmm",
    "random_hierarchy_model",
    "tweedie_score",
]
