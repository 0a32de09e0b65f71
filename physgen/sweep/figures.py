"""Draw the standard figures of a results file with the scripts of the repository's
``analysis/`` folder (which read netCDF only).

The scripts live beside the package in a source checkout (``pip install -e .``); they are loaded
by path under the private package name ``physgen_analysis`` so that no other ``analysis``
package on ``sys.path`` can shadow them.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from physgen.errors import PhysgenError

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["FIGURES", "analysis_dir", "draw_figures", "load_figure_module"]

#: figure kind → output file name
FIGURES = {"phase_diagram": "phase_diagram.png", "curves": "curves.png", "kl_time": "kl_time.png"}
_PACKAGE = "physgen_analysis"


def analysis_dir() -> Path:
    """The ``analysis/`` folder of the source tree (``PHYSGEN_ANALYSIS_DIR`` overrides it)."""
    env = os.environ.get("PHYSGEN_ANALYSIS_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "analysis"


def load_figure_module(kind: str) -> ModuleType:
    """The module ``analysis/<kind>.py`` (it has ``plot(ds, out) -> list[Path]``)."""
    if kind not in FIGURES:
        raise PhysgenError(f"unknown figure {kind!r}; known: {', '.join(FIGURES)}")
    if _PACKAGE not in sys.modules:
        root = analysis_dir()
        if not (root / "__init__.py").is_file():
            raise PhysgenError(
                f"the figure scripts are not found in {root}: install physgen from a source "
                "checkout (pip install -e .) or set PHYSGEN_ANALYSIS_DIR"
            )
        spec = importlib.util.spec_from_file_location(
            _PACKAGE, root / "__init__.py", submodule_search_locations=[str(root)]
        )
        if spec is None or spec.loader is None:
            raise PhysgenError(f"cannot load the figure scripts from {root}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[_PACKAGE] = module
        spec.loader.exec_module(module)
    return importlib.import_module(f"{_PACKAGE}.{kind}")


def draw_figures(
    ds: xr.Dataset, out_dir: str | os.PathLike[str], kinds: Sequence[str] = tuple(FIGURES)
) -> list[Path]:
    """Draw the figures ``kinds`` of ``ds`` into ``out_dir``; returns the files written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for kind in kinds:
        paths += load_figure_module(kind).plot(ds, out_dir / FIGURES[kind])
    return paths
