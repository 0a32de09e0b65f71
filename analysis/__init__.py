"""Figures drawn from physgen netCDF outputs only (no physgen import needed to read them).

Each module has ``plot(ds, out) -> list[Path]`` (``out`` a PNG path; figures of several sweep
cells get the cell's name appended) and runs as a script::

    python -m analysis.phase_diagram results/quick/results.nc docs/figures/phase_quick.png
    python -m analysis.curves results/quick/results.nc curves.png
    python -m analysis.kl_time results/quick/results.nc kl_time.png

``physgen plot FILE`` calls the same functions.
"""
