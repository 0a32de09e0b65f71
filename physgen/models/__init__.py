"""Data models with exact denoisers; each registers itself by name (see :mod:`physgen.registry`)."""

from __future__ import annotations

from physgen.models.base import DataModel, Denoiser, tweedie_score
from physgen.models.empirical import Empirical
from physgen.models.gmm import GaussianMixture, gmm

__all__ = ["DataModel", "Denoiser", "Empirical", "GaussianMixture", "gmm", "tweedie_score"]
