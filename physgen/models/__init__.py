"""Data models with exact denoisers; each registers itself by name (see :mod:`physgen.registry`)."""

from __future__ import annotations

from physgen.models.base import DataModel, Denoiser, tweedie_score

__all__ = ["DataModel", "Denoiser", "tweedie_score"]
