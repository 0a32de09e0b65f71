"""User-level figure scripts: each opens a physgen netCDF file and calls :mod:`physgen.plots`.

Run from the repository root (or copy one as the start of your own analysis)::

    python -m analysis.phase_diagram results/quick/results.nc docs/figures/phase_quick.png
    python -m analysis.curves results/quick/results.nc curves.png
    python -m analysis.kl_time results/quick/results.nc kl_time.png
    python -m analysis.quadruplets results/digits/results.nc quadruplets.png
    python -m analysis.depth results/depth/results.nc --out figures/

(``analysis.depth`` prints the exponents and widths of the biased phase as markdown tables and
draws ``width.png`` and ``onset_scaling.png``; ``analysis.tables`` holds its tables.)

``physgen plot FILE`` draws the same figures.
"""
