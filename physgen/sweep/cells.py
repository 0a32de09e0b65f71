"""Grid → cells: one fully resolved :class:`~physgen.config.ExperimentConfig` per grid point.

For a spec with axes :math:`a_1, \\dots, a_m` of lengths :math:`n_1, \\dots, n_m` the cells are
the :math:`\\prod_j n_j` points of the outer product, enumerated in C order (the last axis
fastest). Cell :math:`(i_1, \\dots, i_m)` is the base mapping with every axis key ``a_j`` set to
its value ``a_j[i_j]`` and every key linked to ``a_j`` set to its value at ``i_j``; it is then
validated by :meth:`ExperimentConfig.from_dict`. The cell's identity on disk is its file name
(``n_train=125__depth=3.nc``, readable; cut to :data:`MAX_NAME` characters plus a hash when longer)
and the SHA-256 of its resolved config (for resuming).
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from physgen.config import ExperimentConfig
from physgen.errors import ConfigError
from physgen.sweep.spec import Scalar, SweepSpec

__all__ = ["MAX_NAME", "Cell", "cell_mapping", "linked_coords", "resolve_cells", "set_dotted"]

#: Longest cell file stem; longer ones are cut and end in a hash of the full name.
MAX_NAME = 160


@dataclass(frozen=True)
class Cell:
    """One grid point: its position ``index`` in the grid, its ``coords`` (dimension → value)
    and its resolved ``config``."""

    index: tuple[int, ...]
    coords: dict[str, Scalar]
    config: ExperimentConfig

    @property
    def name(self) -> str:
        """File stem of the cell, e.g. ``n_train=125__depth=3`` (``cell`` for an empty grid)."""
        if not self.coords:
            return "cell"
        parts = [f"{dim}={_fmt(v)}" for dim, v in self.coords.items()]
        name = re.sub(r"[^A-Za-z0-9._=+-]", "_", "__".join(parts))
        if len(name) > MAX_NAME:
            # file names are limited to 255 bytes (with the temp file's prefix and suffix):
            # keep a readable start and make the name unique with a hash of the whole
            digest = hashlib.sha256(name.encode()).hexdigest()[:16]
            name = f"{name[: MAX_NAME - 17]}-{digest}"
        return name

    @property
    def sha256(self) -> str:
        return self.config.sha256()

    def label(self) -> str:
        """Human-readable coordinates, e.g. ``n_train=125, depth=3``."""
        return ", ".join(f"{d}={_fmt(v)}" for d, v in self.coords.items()) or "single cell"


def _fmt(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def set_dotted(mapping: dict[str, Any], key: str, value: Any) -> None:
    """Set ``mapping["a"]["b"] = value`` for ``key = "a.b"`` (creating tables on the way)."""
    parts = key.split(".")
    node = mapping
    for i, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(".".join(parts[: i + 1]), "is a value, not a table")
        node = child
    node[parts[-1]] = value


def cell_mapping(spec: SweepSpec, index: tuple[int, ...]) -> dict[str, Any]:
    """The experiment mapping of the cell at grid position ``index`` (an inner axis,
    :data:`physgen.sweep.spec.INNER_AXES`, sets a one-element list)."""
    mapping = copy.deepcopy(spec.base)
    for axis, i in zip(spec.axes, index, strict=True):
        set_dotted(mapping, axis.key, [axis.values[i]] if axis.inner else axis.values[i])
        for key, values in axis.linked.items():
            set_dotted(mapping, key, values[i])
    return mapping


def resolve_cells(spec: SweepSpec) -> list[Cell]:
    """Every cell of ``spec`` with its validated config, in C order.

    Raises the first :class:`ConfigError` met, naming the key and the cell.
    """
    cells: list[Cell] = []
    for index in itertools.product(*(range(n) for n in spec.shape)):
        coords = {a.dim: a.values[i] for a, i in zip(spec.axes, index, strict=True)}
        try:
            config = ExperimentConfig.from_dict(cell_mapping(spec, index))
        except ConfigError as exc:
            where = ", ".join(f"{d}={_fmt(v)}" for d, v in coords.items())
            msg = str(exc)[len(exc.key) + 2 :] if exc.key else str(exc)
            suffix = f" (in cell {where})" if where else ""
            raise ConfigError(exc.key, msg + suffix) from None
        cells.append(Cell(index=index, coords=coords, config=config))
    names = [c.name for c in cells]
    if len(set(names)) != len(names):
        raise ConfigError("grid", "two cells get the same file name; use distinct plain values")
    return cells


def linked_coords(spec: SweepSpec) -> Mapping[str, tuple[str, tuple[Scalar, ...]]]:
    """Linked keys as non-index coordinates: name → (axis dimension, values)."""
    return {
        key.rsplit(".", 1)[-1]: (axis.dim, values)
        for axis in spec.axes
        for key, values in axis.linked.items()
    }
