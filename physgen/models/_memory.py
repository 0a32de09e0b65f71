"""Refuse an array that cannot fit in memory with one line naming the offending key, instead of a
``MemoryError`` (or the swap death) half-way through a sample."""

from __future__ import annotations

import os

from physgen.errors import ConfigError

__all__ = ["available_memory", "check_fits_in_memory"]


def available_memory() -> int:
    """Bytes of memory available now (``MemAvailable`` of /proc/meminfo; the physical memory where
    that file does not exist)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def check_fits_in_memory(key: str, n: int, item_bytes: int) -> None:
    """Raise :class:`~physgen.errors.ConfigError` on ``key`` when ``n`` items of ``item_bytes``
    bytes each exceed the memory available."""
    need, have = int(n) * int(item_bytes), available_memory()
    if need > have:
        raise ConfigError(
            key,
            f"{int(n):,} items of {int(item_bytes):,} B need {need / 2**30:.3g} GiB, more than "
            f"the {have / 2**30:.3g} GiB of memory available",
        )
