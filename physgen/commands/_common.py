"""Shared CLI plumbing: user errors as one line, progress reporting."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, TypeVar

import typer

from physgen.errors import PhysgenError

__all__ = ["Progress", "progress", "user_errors"]

F = TypeVar("F", bound=Callable[..., Any])


def user_errors(func: F) -> F:
    """Turn a :class:`PhysgenError` or an OS error (missing file, no permission) into one line
    on stderr and exit code 2; Ctrl-C exits 130 without a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (PhysgenError, OSError) as exc:
            message = " ".join(str(exc).split())
            typer.echo(f"error: {message}", err=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


class Progress:
    """Progress of ``total`` units on stderr: a rich bar on a terminal, one line per unit
    otherwise, nothing when ``quiet``."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self._bar: Any = None
        self._task: Any = None
        self.done = 0
        self.total = 0

    def start(self, total: int, description: str) -> None:
        self.total = total
        if self.quiet or total == 0:
            return
        if self.tty:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
            )
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._bar.start()
            self._task = self._bar.add_task(description, total=total)
        else:
            typer.echo(f"{description}: {total} to run", err=True)

    def advance(self, label: str) -> None:
        self.done += 1
        if self.quiet:
            return
        if self._bar is not None:
            self._bar.update(self._task, advance=1, description=label)
        else:
            typer.echo(f"[{self.done}/{self.total}] {label}", err=True)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


@contextmanager
def progress(quiet: bool) -> Iterator[Progress]:
    """A :class:`Progress` that is stopped on exit (also on errors)."""
    bar = Progress(quiet)
    try:
        yield bar
    finally:
        bar.stop()
