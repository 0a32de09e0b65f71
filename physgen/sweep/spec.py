"""Sweep specifications: a TOML file = one experiment configuration + grid axes + an executor.

A spec is an :class:`~physgen.config.ExperimentConfig` (its tables ``seed``, ``[model]``,
``[data]``, ``[diffusion]``, ``[net]``, ``[train]``, ``[metrics]`` are the *base* shared by every
cell) plus four reserved tables::

    [sweep]                       # optional: what the sweep is
    title = "n x depth phase diagram"
    description = "..."
    plot = true                   # draw DIR/phase_diagram.png after merging

    [grid]                        # the axes: dotted config key -> list of values
    "data.n_train" = [125, 250, 500]
    "model.depth" = [3, 4]        # any key of the config, e.g. "seed", "net.width", "train.lr"

    [link."data.n_train"]         # optional: keys that follow an axis value by value
    "train.steps" = [16000, 24000, 48000]

    [executor]                    # optional; the CLI options override it
    kind = "local"                # "local" (process pool) or "dask" (dask.distributed)
    workers = 2
    address = ""                  # dask scheduler address; "" starts a LocalCluster

The cells are the outer product of the axes (xyzpy's ``Runner`` grid), in the order the axes are
written; the dimension of an axis in the results is the last component of its key (``n_train``,
``depth``), or the whole key with ``_`` for ``.`` where that name is taken by a recorded variable
(``section.name`` → ``section_name``). A linked key takes, in each cell, the value at the same position as its axis and
becomes a coordinate along that axis. Replicates are the experiment's own ``pair`` dimension
(``data.n_pairs`` disjoint pairs); for independent seeds add ``seed = [0, 1, 2]`` to ``[grid]``.

:func:`load_spec` checks the structure (unknown tables, malformed axes, duplicate dimension names)
and :func:`physgen.sweep.cells.resolve_cells` then validates every cell's configuration, both
raising one :class:`~physgen.errors.ConfigError` naming the offending key before any work starts.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from physgen.config import ExperimentConfig
from physgen.errors import ConfigError, PhysgenError
from physgen.experiments.schema import reserved_dims

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "INNER_AXES",
    "RESERVED_DIMS",
    "Axis",
    "ExecutorSpec",
    "SweepSpec",
    "load_spec",
    "read_toml",
    "to_toml",
]

Scalar = int | float | str | bool

#: Dimension and coordinate names of a cell's own results (derived from the declarations of
#: physgen.experiments.schema); a grid axis cannot reuse them.
RESERVED_DIMS = reserved_dims()
_SECTIONS = tuple(ExperimentConfig.__dataclass_fields__)
_RESERVED_TABLES = ("sweep", "grid", "link", "executor")
#: Config keys holding a list that a cell evaluates along its own dimension (the guidance
#: weights, dimension ``guidance_w``). A grid axis over one gives each cell a one-element list
#: and the cells merge along that same dimension (no dimension is added to a cell).
INNER_AXES: dict[str, str] = {"metrics.guidance_w": "guidance_w"}


@dataclass(frozen=True)
class ExecutorSpec:
    """Where cells run: ``local`` processes or ``dask`` (a scheduler at ``address``, or a
    LocalCluster of ``workers`` processes when ``address`` is empty)."""

    kind: Literal["local", "dask"] = "local"
    workers: int = 1
    address: str = ""

    @classmethod
    def from_dict(cls, mapping: Mapping[str, Any]) -> ExecutorSpec:
        """Validate the ``[executor]`` table (errors name ``executor.<key>``)."""
        _check_keys(mapping, ("kind", "workers", "address"), "executor")
        kind = mapping.get("kind", cls.kind)
        if kind not in ("local", "dask"):
            raise ConfigError("executor.kind", f"must be 'local' or 'dask', got {kind!r}")
        workers = mapping.get("workers", cls.workers)
        if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
            raise ConfigError("executor.workers", f"must be an integer ≥ 1, got {workers!r}")
        address = mapping.get("address", cls.address)
        if not isinstance(address, str):
            raise ConfigError("executor.address", f"must be a string, got {address!r}")
        return cls(kind=kind, workers=workers, address=address)


@dataclass(frozen=True)
class Axis:
    """One grid axis: the config ``key`` (dotted), its dimension name ``dim``, its ``values`` and
    the ``linked`` keys that follow it value by value (key → values of the same length)."""

    key: str
    values: tuple[Scalar, ...]
    linked: dict[str, tuple[Scalar, ...]] = field(default_factory=dict)

    @property
    def inner(self) -> bool:
        """Whether the axis sets a key that a cell evaluates along its own dimension
        (:data:`INNER_AXES`)."""
        return self.key in INNER_AXES

    @property
    def dim(self) -> str:
        """Name of the dimension in the results: the cell's own dimension of an inner axis
        (:data:`INNER_AXES`); otherwise the last component of :attr:`key`, or the whole key with
        ``_`` for ``.`` when that component names a variable a cell records (``section.name`` →
        ``section_name``)."""
        if self.inner:
            return INNER_AXES[self.key]
        last = self.key.rsplit(".", 1)[-1]
        taken = last in recorded_names() and last not in RESERVED_DIMS
        return self.key.replace(".", "_") if taken else last


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep: ``base`` experiment mapping, grid ``axes``, ``executor`` and labels.

    ``shape`` is the grid shape (one entry per axis) and ``dims`` the dimension names.
    """

    base: dict[str, Any]
    axes: tuple[Axis, ...] = ()
    executor: ExecutorSpec = field(default_factory=ExecutorSpec)
    title: str = "physgen sweep"
    description: str = ""
    plot: bool = True
    #: The TOML file the spec was read from (never rewritten by a sweep), ``None`` otherwise.
    source: Path | None = field(default=None, compare=False)

    @classmethod
    def from_dict(cls, mapping: Mapping[str, Any]) -> SweepSpec:
        """Validate the structure of a spec mapping (the cells are validated by
        :func:`physgen.sweep.cells.resolve_cells`)."""
        if not isinstance(mapping, Mapping):
            raise ConfigError("", "a sweep spec must be a table")
        _check_keys(mapping, (*_SECTIONS, *_RESERVED_TABLES), "")
        base = {k: copy.deepcopy(v) for k, v in mapping.items() if k in _SECTIONS}
        sweep = _table(mapping, "sweep")
        _check_keys(sweep, ("title", "description", "plot"), "sweep")
        title = sweep.get("title", cls.title)
        description = sweep.get("description", cls.description)
        plot = sweep.get("plot", cls.plot)
        for key, value, tp in (("title", title, str), ("description", description, str)):
            if not isinstance(value, tp):
                raise ConfigError(f"sweep.{key}", f"must be a string, got {value!r}")
        if not isinstance(plot, bool):
            raise ConfigError("sweep.plot", f"must be true or false, got {plot!r}")
        axes = _parse_axes(_table(mapping, "grid"), _table(mapping, "link"))
        executor = ExecutorSpec.from_dict(_table(mapping, "executor"))
        return cls(
            base=base,
            axes=axes,
            executor=executor,
            title=title,
            description=description,
            plot=plot,
        )

    def with_executor(
        self, *, kind: str | None = None, workers: int | None = None, address: str | None = None
    ) -> SweepSpec:
        """A copy with the given executor settings replaced (the CLI options), validated."""
        given = {"kind": kind, "workers": workers, "address": address}
        merged = asdict(self.executor)
        merged.update({k: v for k, v in given.items() if v is not None})
        return replace(self, executor=ExecutorSpec.from_dict(merged))

    @property
    def dims(self) -> tuple[str, ...]:
        return tuple(a.dim for a in self.axes)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(a.values) for a in self.axes)

    @property
    def n_cells(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n

    def to_dict(self) -> dict[str, Any]:
        """The spec as a mapping that :meth:`from_dict` reads back (dotted keys quoted)."""
        d: dict[str, Any] = copy.deepcopy(self.base)
        d["sweep"] = {"title": self.title, "description": self.description, "plot": self.plot}
        d["grid"] = {a.key: list(a.values) for a in self.axes}
        links = {a.key: {k: list(v) for k, v in a.linked.items()} for a in self.axes if a.linked}
        if links:
            d["link"] = links
        d["executor"] = {
            "kind": self.executor.kind,
            "workers": self.executor.workers,
            "address": self.executor.address,
        }
        return d

    def to_json(self) -> str:
        """Canonical JSON of what determines the results (base, grid, links; not the executor)."""
        d = self.to_dict()
        d.pop("executor")
        return json.dumps(d, sort_keys=True, separators=(",", ":"))

    def sha256(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()


@functools.cache
def recorded_names() -> frozenset[str]:
    """Names of the variables and coordinates an experiment records (its schema)."""
    from physgen.experiments.schema import VARIABLES

    return frozenset(VARIABLES)


def _check_keys(mapping: Mapping[str, Any], allowed: tuple[str, ...], prefix: str) -> None:
    for key in mapping:
        if key not in allowed:
            dotted = f"{prefix}.{key}" if prefix else str(key)
            raise ConfigError(dotted, f"unknown key; known: {', '.join(allowed)}")


def _table(mapping: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = mapping.get(name, {})
    if not isinstance(value, Mapping):
        raise ConfigError(name, f"must be a table, got {type(value).__name__}")
    return value


def _flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"data": {"n_train": [..]}}`` and ``{"data.n_train": [..]}`` alike → dotted keys."""
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            out.update(_flatten(value, dotted))
        else:
            out[dotted] = value
    return out


def _values(key: str, value: Any) -> tuple[Scalar, ...]:
    if not isinstance(value, list) or not value:
        raise ConfigError(key, f"must be a non-empty list of values, got {value!r}")
    for v in value:
        if not isinstance(v, int | float | str | bool):
            raise ConfigError(key, f"values must be numbers, strings or booleans, got {v!r}")
    kinds = {str if isinstance(v, str) else bool if isinstance(v, bool) else float for v in value}
    if len(kinds) > 1:
        raise ConfigError(key, f"values must all be of one type, got {value!r}")
    return tuple(value)


def _parse_axes(grid: Mapping[str, Any], link: Mapping[str, Any]) -> tuple[Axis, ...]:
    flat = _flatten(grid)
    axes: dict[str, Axis] = {}
    seen_dims: dict[str, str] = {}
    for key, value in flat.items():
        gkey = f"grid.{key}"
        values = _values(gkey, value)
        if len(set(values)) != len(values):
            raise ConfigError(gkey, f"values must be distinct, got {list(values)}")
        axis = Axis(key=key, values=values)
        if key.split(".", 1)[0] not in _SECTIONS:
            raise ConfigError(gkey, f"unknown key; a grid key starts with one of {_SECTIONS}")
        if axis.dim in RESERVED_DIMS and not axis.inner:
            raise ConfigError(gkey, f"dimension name {axis.dim!r} is reserved for cell results")
        if axis.dim in seen_dims:
            raise ConfigError(
                gkey, f"gives dimension {axis.dim!r} like grid.{seen_dims[axis.dim]}; rename one"
            )
        seen_dims[axis.dim] = key
        axes[key] = axis
    for full, value in _flatten(link).items():
        owner = next((k for k in axes if full.startswith(k + ".")), None)
        if owner is None:
            raise ConfigError(f"link.{full}", "does not follow any grid axis")
        key = full[len(owner) + 1 :]
        lkey = f"link.{owner}.{key}"
        values = _values(lkey, value)
        if len(values) != len(axes[owner].values):
            raise ConfigError(
                lkey, f"needs {len(axes[owner].values)} values (one per {owner}), got {len(values)}"
            )
        if key in axes or any(key in a.linked for a in axes.values()):
            raise ConfigError(lkey, "is already set by another axis or link")
        if key.split(".", 1)[0] not in _SECTIONS:
            raise ConfigError(lkey, f"unknown key; a linked key starts with one of {_SECTIONS}")
        axes[owner].linked[key] = values
    return tuple(axes.values())


def read_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse a TOML file; a missing file or malformed TOML is a :class:`PhysgenError`."""
    path = Path(path)
    if not path.is_file():
        raise PhysgenError(f"no such file: {path}")
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise PhysgenError(f"{path}: malformed TOML ({exc})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PhysgenError(f"{path}: cannot read ({exc})") from None


def load_spec(path: str | os.PathLike[str]) -> SweepSpec:
    """Read and structurally validate the sweep spec at ``path``."""
    return replace(SweepSpec.from_dict(read_toml(path)), source=Path(path))


def to_toml(mapping: Mapping[str, Any]) -> str:
    """A mapping as TOML text (what ``--dry-run`` prints and a sweep folder stores)."""
    import tomli_w

    return tomli_w.dumps(_drop_none(mapping))


def _drop_none(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, tuple):
        return [_drop_none(v) for v in value]
    return value
