"""Registry of data models by name.

Built-in models register themselves with :func:`register_model` when :mod:`physgen.models` is
imported. A separate package adds its own through the ``physgen.models`` entry-point group::

    # in that package's pyproject.toml
    [project.entry-points."physgen.models"]
    my_model = "my_package.models:MyModel"

The CLI and the sweeps accept any registered name; ``physgen models`` lists them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any, TypeVar

from physgen.errors import ConfigError

__all__ = [
    "ENTRY_POINT_GROUP",
    "available_models",
    "get_model",
    "make_model",
    "model_parameters",
    "register_model",
]

ENTRY_POINT_GROUP = "physgen.models"

T = TypeVar("T")

_REGISTRY: dict[str, Callable[..., Any]] = {}
_entry_points_loaded = False


def register_model(name: str) -> Callable[[T], T]:
    """Class (or factory) decorator registering a data model under ``name``.

    Registering a second, different object under a taken name is an error.
    """

    def decorator(obj: T) -> T:
        old = _REGISTRY.get(name)
        if old is not None and old is not obj and _qualname(old) != _qualname(obj):
            raise ValueError(
                f"a data model named {name!r} is already registered ({_qualname(old)})"
            )
        _REGISTRY[name] = obj  # type: ignore[assignment]
        return obj

    return decorator


def _qualname(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    import physgen.models  # noqa: F401  (registers the built-in models)

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in _REGISTRY:
            _REGISTRY[ep.name] = ep.load()


def available_models() -> dict[str, Callable[..., Any]]:
    """All registered models, name → class or factory (built-ins and entry points)."""
    _load_entry_points()
    return dict(sorted(_REGISTRY.items()))


def get_model(name: str) -> Callable[..., Any]:
    """The class or factory registered under ``name``; a :class:`ConfigError` when unknown."""
    models = available_models()
    if name not in models:
        raise ConfigError("model.name", f"unknown model {name!r}; registered: {', '.join(models)}")
    return models[name]


def model_parameters(name: str) -> dict[str, Any]:
    """Constructor parameters of model ``name`` with their defaults (``inspect.Parameter.empty``
    when required)."""
    sig = inspect.signature(get_model(name))
    return {
        p.name: p.default
        for p in sig.parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }


def make_model(name: str, **params: Any) -> Any:
    """Instantiate model ``name`` with ``params``; unknown parameters are a :class:`ConfigError`."""
    allowed = model_parameters(name)
    for key in params:
        if key not in allowed:
            raise ConfigError(
                f"model.{key}", f"unknown parameter for model {name!r}; known: {', '.join(allowed)}"
            )
    return get_model(name)(**params)
