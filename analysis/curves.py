"""Training curves of each sweep cell (:func:`physgen.plots.curves`).

python -m analysis.curves FILE.nc OUT.png
"""

from physgen.plots import curves

from ._common import main

if __name__ == "__main__":
    main(curves, __doc__)
