"""KL along diffusion time, oracles and trained models (:func:`physgen.plots.kl_time`).

python -m analysis.kl_time FILE.nc OUT.png
"""

from physgen.plots import kl_time

from ._common import main

if __name__ == "__main__":
    main(kl_time, __doc__)
