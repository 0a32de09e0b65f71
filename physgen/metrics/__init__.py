"""Bias, memorisation and oracle diagnostics (docs/theory.md §4), and onset extraction.

Every function is batched NumPy in float64 and takes any denoiser (an object with
``denoise(x_t, alpha_bar) -> x̂0``: exact data models, wrapped networks, the empirical memorizer).

* :mod:`~physgen.metrics.divergence`: per-item KL, the denoiser divergence S, KL along time;
* :mod:`~physgen.metrics.losses`: frozen-noise denoising losses, the decomposition ℓ = ℓ* + ℓ̃;
* :mod:`~physgen.metrics.oracle`: the model–oracle ladder D_k and the root-only threshold;
* :mod:`~physgen.metrics.neighbours`: Hamming / Euclidean nearest neighbours, NN histograms and
  divergence, copy fraction, gap ratio and the memorised fraction;
* :mod:`~physgen.metrics.uturn`: the U-turn overlap;
* :mod:`~physgen.metrics.privacy`: membership-inference AUC;
* :mod:`~physgen.metrics.onsets`: τ_bias, τ_test, τ_nn, τ_mem from curves over checkpoints;
* :mod:`~physgen.metrics.images`: paired-sample cosine distance, ε-prediction similarity, image
  nearest neighbours;
* :mod:`~physgen.metrics.scores`: score distances for continuous data, τ_gen, and the speciation
  and collapse times (theory and measurement).
"""

from __future__ import annotations

from physgen.metrics import images, scores
from physgen.metrics.divergence import Bound, denoiser_divergence, kl_along_time, kl_divergence
from physgen.metrics.losses import (
    FrozenNoise,
    LossParts,
    denoising_loss,
    frozen_noise,
    loss_decomposition,
)
from physgen.metrics.neighbours import (
    copy_fraction,
    euclidean_nn,
    gap_ratio,
    hamming_bins,
    hamming_nn,
    memorised_fraction,
    nn_divergence,
    nn_histogram,
)
from physgen.metrics.onsets import (
    argmin_onset,
    bias_onset,
    first_exceed_onset,
    memorisation_floor,
)
from physgen.metrics.oracle import oracle_ladder, root_only_kl
from physgen.metrics.privacy import membership_auc
from physgen.metrics.uturn import uturn_overlap

__all__ = [
    "Bound",
    "FrozenNoise",
    "LossParts",
    "argmin_onset",
    "bias_onset",
    "copy_fraction",
    "denoiser_divergence",
    "denoising_loss",
    "euclidean_nn",
    "first_exceed_onset",
    "frozen_noise",
    "gap_ratio",
    "hamming_bins",
    "hamming_nn",
    "images",
    "kl_along_time",
    "kl_divergence",
    "loss_decomposition",
    "membership_auc",
    "memorisation_floor",
    "memorised_fraction",
    "nn_divergence",
    "nn_histogram",
    "oracle_ladder",
    "root_only_kl",
    "scores",
    "uturn_overlap",
]
