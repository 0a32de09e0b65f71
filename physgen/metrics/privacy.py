r"""Membership inference from the denoising loss: the privacy reading of bias.

A model that has begun to fit its own training samples gives them a lower denoising loss than
fresh samples of the same distribution. The attack "lower loss ⇒ member" is scored by its area
under the ROC curve,

.. math:: \mathrm{AUC} = P(\ell_{\rm train} < \ell_{\rm test})
          + \tfrac12 P(\ell_{\rm train} = \ell_{\rm test}),

the Mann–Whitney statistic of the two loss samples divided by :math:`n_{\rm train} n_{\rm test}`,
computed from mid-ranks of the pooled losses in :math:`O(n \log n)`. AUC = 1: every training item
has a lower loss than every test item; 0.5: no separation (the exact denoiser, which never saw
the training set); below 0.5: training items are *harder* than test items.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

from physgen.errors import PhysgenError

__all__ = ["membership_auc"]


def membership_auc(loss_train: np.ndarray, loss_test: np.ndarray) -> float:
    """AUC of "lower loss ⇒ member" from per-item losses ``(n_train,)`` and ``(n_test,)``."""
    a = np.asarray(loss_train, dtype=np.float64).ravel()
    b = np.asarray(loss_test, dtype=np.float64).ravel()
    if a.size == 0 or b.size == 0:
        raise PhysgenError("membership_auc needs at least one training and one test loss")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise PhysgenError("membership_auc needs finite losses")
    ranks = rankdata(np.concatenate([a, b]))  # mid-ranks: ties count one half
    u_test = ranks[a.size :].sum() - b.size * (b.size + 1) / 2.0
    return float(u_test / (a.size * b.size))
