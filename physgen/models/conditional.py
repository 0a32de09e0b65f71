r"""Classes of conditional data models: the one check of a per-sample class array.

A conditional model has ``n_classes = C > 0`` classes ``0 … C-1`` and conditions sample ``i`` on
``classes[i]``; the value -1 means *unconditional* (the null class of classifier-free guidance),
so one call mixes conditional and unconditional rows. A model without classes has
``n_classes = 0`` and accepts only ``classes=None`` or all -1.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from physgen.errors import ConfigError, PhysgenError
from physgen.models.base import as_alpha_bar

__all__ = ["UNCONDITIONAL", "check_classes", "conditional_inputs", "n_classes_of"]

UNCONDITIONAL = -1
"""The class value that asks for the unconditional model (the null class)."""


def n_classes_of(denoiser: Any) -> int:
    """``denoiser.n_classes`` (0 when the attribute is missing: no classes)."""
    return int(getattr(denoiser, "n_classes", 0) or 0)


def check_classes(classes: Any, n: int, n_classes: int, key: str = "classes") -> np.ndarray:
    """``classes`` as a contiguous int64 array of shape ``(n,)`` with values in
    ``{-1, 0, …, n_classes - 1}``.

    ``None`` → all -1 (unconditional); a scalar int is broadcast to ``n`` rows. A value out of
    range is a :class:`~physgen.errors.ConfigError` naming ``key``; a class asked of a model
    without classes (``n_classes = 0``) is a :class:`~physgen.errors.PhysgenError` saying so.
    """
    if classes is None:
        return np.full(n, UNCONDITIONAL, dtype=np.int64)
    c = np.asarray(classes)
    if c.size and not np.issubdtype(c.dtype, np.integer):
        raise ConfigError(key, f"must be integers, got dtype {c.dtype}")
    if c.ndim == 0:
        c = np.full(n, int(c))
    if c.shape != (n,):
        raise ConfigError(key, f"must be an int or have shape ({n},), got {c.shape}")
    c = np.ascontiguousarray(c, dtype=np.int64)
    if n_classes == 0 and (c != UNCONDITIONAL).any():
        raise PhysgenError(
            "this model has no classes: conditioning needs a class-conditional model"
        )
    if c.size and (c.min() < UNCONDITIONAL or c.max() >= n_classes):
        bad = c[(c < UNCONDITIONAL) | (c >= n_classes)][0]
        raise ConfigError(
            key, f"class {bad} out of range: classes lie in 0 … {n_classes - 1} (-1: unconditional)"
        )
    return c


def conditional_inputs(
    x_t: np.ndarray, alpha_bar: float | np.ndarray, classes: Any, n_classes: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The checked inputs of a conditional denoiser call: ``x_t`` as float64 ``(n, *event)``,
    ``alpha_bar`` as ``(n,)`` (:func:`~physgen.models.base.as_alpha_bar`) and ``classes`` as
    ``(n,)`` int64 (:func:`check_classes`)."""
    x = np.asarray(x_t, dtype=np.float64)
    n = x.shape[0]
    return x, as_alpha_bar(alpha_bar, n), check_classes(classes, n, n_classes)
