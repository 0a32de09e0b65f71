"""The command line shared by the figure scripts: ``FILE.nc OUT.png``."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import xarray as xr

import physgen

__all__ = ["main"]


def main(plot: Callable[[xr.Dataset, Path], list[Path]], doc: str | None) -> None:
    """Parse ``FILE OUT``, open FILE with :func:`physgen.open_results`, draw ``plot`` into OUT
    and print the files written."""
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("file", type=Path, help="physgen netCDF file (results.nc or a cell)")
    parser.add_argument("out", type=Path, help="output PNG path")
    args = parser.parse_args()
    for path in plot(physgen.open_results(args.file), args.out):
        print(path)
