"""Coupled image samples and their nearest training images (:func:`physgen.plots.quadruplets`).

python -m analysis.quadruplets FILE.nc OUT.png
"""

from physgen.plots import quadruplets

from ._common import main

if __name__ == "__main__":
    main(quadruplets, __doc__)
