"""Exceptions raised for user mistakes.

A :class:`PhysgenError` is a user error (bad parameter, bad file, infeasible request): the CLI
prints its message on one line and exits non-zero, without a traceback. Anything else is a bug.
"""

from __future__ import annotations

__all__ = ["ConfigError", "PhysgenError"]


class PhysgenError(ValueError):
    """A user error with a message that says what is wrong and how to fix it."""


class ConfigError(PhysgenError):
    """An invalid configuration value; ``key`` is the dotted path of the offending entry."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(f"{key}: {message}" if key else message)
