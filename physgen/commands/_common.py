"""Shared CLI plumbing: every mistake as one ``error:`` line, interrupts, progress reporting."""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, TypeVar

import typer
from typer.core import TyperGroup

from physgen.errors import PhysgenError

__all__ = ["OneLineErrors", "Progress", "Terminated", "note", "progress", "user_errors"]

F = TypeVar("F", bound=Callable[..., Any])


class Terminated(BaseException):
    """SIGTERM raised as an exception (a :class:`BaseException`, like
    :class:`KeyboardInterrupt`, so no ``except Exception`` swallows it) so that ``finally``
    blocks run: running cells are stopped, finished ones stay on disk."""


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def note(message: str) -> None:
    """A one-line note on stderr (a manifest rebuilt, a stale lock taken over)."""
    typer.echo(f"note: {_one_line(message)}", err=True)


def user_errors(func: F) -> F:
    """Turn a :class:`PhysgenError` or an OS error (missing file, no permission) into one line
    on stderr and exit code 2; Ctrl-C (SIGINT) and SIGTERM print ``interrupted`` and exit 130
    and 143 without a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, _raise_terminated) if main else None
        try:
            return func(*args, **kwargs)
        except (PhysgenError, OSError) as exc:
            typer.echo(f"error: {_one_line(str(exc))}", err=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            raise typer.Exit(130) from None
        except Terminated:
            typer.echo("interrupted", err=True)
            raise typer.Exit(128 + signal.SIGTERM) from None
        finally:
            if previous is not None:  # the command ran inside a program (tests, notebooks)
                signal.signal(signal.SIGTERM, previous)

    return wrapper  # type: ignore[return-value]


class OneLineErrors(TyperGroup):
    """The root command group: usage errors (a bad option value, a missing option) print the
    same one ``error:`` line as every other mistake, with exit code 2, instead of click's
    multi-line box."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        try:  # typer ≥ 0.20 vendors click
            from typer._click.exceptions import ClickException
        except ImportError:  # pragma: no cover - older typer
            from click.exceptions import ClickException

        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except ClickException as exc:
            ctx = getattr(exc, "ctx", None)
            where = f"{ctx.command_path}: " if ctx is not None else ""
            hint = f" (see {ctx.command_path} --help)" if ctx is not None else ""
            typer.echo(f"error: {where}{_one_line(exc.format_message())}{hint}", err=True)
            sys.exit(2)
        except typer.Abort:
            typer.echo("interrupted", err=True)
            sys.exit(130)
        sys.exit(code if isinstance(code, int) else 0)


class Progress:
    """Progress on stderr, nothing when ``quiet``.

    On a terminal: a rich bar of the cells, and below it one bar per running cell (its
    checkpoints evaluated, with the network and training step). Otherwise: one line per
    finished cell, and at most one line every ``interval`` seconds about the running cells.
    """

    def __init__(self, quiet: bool, interval: float = 30.0) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.interval = interval
        self._bar: Any = None
        self._task: Any = None
        self._cells: dict[str, Any] = {}
        self._last_line = time.monotonic()
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
        self._last_line = time.monotonic()

    def update(self, label: str, done: int, total: int, message: str) -> None:
        """Progress inside the running cell ``label``: ``done`` of ``total`` checkpoints."""
        if self.quiet:
            return
        if self._bar is not None:
            text = f"  {label}: {message}"
            if label not in self._cells:
                self._cells[label] = self._bar.add_task(text, total=total)
            self._bar.update(self._cells[label], completed=done, total=total, description=text)
        elif time.monotonic() - self._last_line >= self.interval:
            self._last_line = time.monotonic()
            typer.echo(f"  [{label}] checkpoint {done}/{total}: {message}", err=True)

    def advance(self, label: str, text: str = "") -> None:
        """The cell ``label`` finished (``text``: e.g. its wall time)."""
        self.done += 1
        if self.quiet:
            return
        line = f"{label} {text}".strip()
        if self._bar is not None:
            task = self._cells.pop(label, None)
            if task is not None:
                self._bar.remove_task(task)
            self._bar.update(self._task, advance=1, description=line)
        else:
            typer.echo(f"[{self.done}/{self.total}] {line}", err=True)
            self._last_line = time.monotonic()

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
