"""Command groups of the ``physgen`` CLI, one small module each (spaCy's layout): each command
parses its options and calls one library function. Only typer and the standard library are
imported at module level, so ``physgen --help`` does not load torch, numba or xarray."""

from __future__ import annotations

__all__: list[str] = []
