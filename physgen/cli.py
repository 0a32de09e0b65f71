"""The ``physgen`` command line (typer). Thin: each command parses, calls a library function and
prints. Heavy imports (torch, numba, xarray) happen inside the commands so ``--help`` is instant.
Every mistake (a :class:`physgen.errors.PhysgenError`, an OS error, a usage error such as a
bad option value) prints one ``error:`` line on stderr and exits 2; Ctrl-C and SIGTERM print
``interrupted`` and exit 130 and 143. ``-h`` is ``--help``; ``python -m physgen`` runs the app;
``--install-completion`` sets up shell completion.

Commands: ``sweep run|status|merge`` (:mod:`physgen.commands.sweep`), ``train``, ``sample``,
``info``, ``plot`` (:mod:`physgen.commands.tools`) and ``models``."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from physgen import __version__
from physgen.commands import sweep as _sweep
from physgen.commands import tools as _tools
from physgen.commands._common import OneLineErrors, user_errors

__all__ = ["app", "user_errors"]

app = typer.Typer(
    name="physgen",
    help="Toy models with exact scores for studying (biased) generalisation in diffusion models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
    cls=OneLineErrors,
    context_settings={"help_option_names": ["-h", "--help"]},
)


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


app.add_typer(_sweep.app, name="sweep")
app.command("train")(_tools.train_cmd)
app.command("sample")(_tools.sample_cmd)
app.command("info")(_tools.info_cmd)
app.command("plot")(_tools.plot_cmd)


def main_entry() -> None:
    """Console entry point (``physgen``, ``python -m physgen``)."""
    sys.exit(app(prog_name="physgen"))


if __name__ == "__main__":  # pragma: no cover
    main_entry()
