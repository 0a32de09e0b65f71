"""Phase diagram of the onsets against n_train (:func:`physgen.plots.phase_diagram`).

python -m analysis.phase_diagram FILE.nc OUT.png
"""

from physgen.plots import phase_diagram

from ._common import main

if __name__ == "__main__":
    main(phase_diagram, __doc__)
