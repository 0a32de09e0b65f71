"""physgen: statistical-physics toy models with exact scores for diffusion-model research.

Data models with exact denoisers (hierarchical tree grammar by belief propagation, Gaussian
mixtures in closed form, the empirical "memorizer" of a finite set), diffusion samplers that
take any denoiser, small torch denoisers, training along checkpoints, bias / memorisation
diagnostics and phase-diagram sweeps written as xarray/netCDF.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("physgen")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__", "open_results"]


def open_results(path):
    """Open a physgen results file (netCDF) as an :class:`xarray.Dataset`.

    See :func:`physgen.io.open_results`.
    """
    from physgen.io import open_results as _open

    return _open(path)
