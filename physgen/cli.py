"""The ``physgen`` command line (typer). Thin: each command parses, calls a library function and
prints. Heavy imports (torch, numba, xarray) happen inside the commands so ``--help`` is instant.
User errors (:class:`physgen.errors.PhysgenError`) print one line on stderr and exit 2."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Annotated, Any, TypeVar

import typer

from physgen import __version__
from physgen.errors import PhysgenError

__all__ = ["app"]

app = typer.Typer(
    name="physgen",
    help="Toy models with exact scores for studying (biased) generalisation in diffusion models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

F = TypeVar("F", bound=Callable[..., Any])


def user_errors(func: F) -> F:
    """Turn a :class:`PhysgenError` (and a missing file) into one line on stderr and exit 2."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (PhysgenError, FileNotFoundError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"physgen {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """physgen: toy models, diffusion samplers, bias diagnostics and phase-diagram sweeps."""


@app.command("models")
@user_errors
def models_cmd() -> None:
    """List the registered data models and their constructor parameters."""
    import inspect

    from physgen.registry import available_models, model_parameters

    for name in available_models():
        params = ", ".join(
            p if d is inspect.Parameter.empty else f"{p}={d!r}"
            for p, d in model_parameters(name).items()
        )
        typer.echo(f"{name}({params})")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
