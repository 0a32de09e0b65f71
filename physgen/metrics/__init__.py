"""Bias, memorisation and oracle diagnostics (docs/theory.md §4), and onset extraction.

Every function is batched NumPy in float64 and takes any denoiser (an object with
``denoise(x_t, alpha_bar) -> x̂0``: exact data models, wrapped networks, the empirical memorizer,
or :class:`Precomputed` outputs on fixed inputs). Each diagnostic an experiment records is
computed by exactly one of these functions.

* :mod:`~physgen.metrics.divergence`: per-item KL, the denoiser divergence S, KL along time;
* :mod:`~physgen.metrics.losses`: frozen-noise denoising losses, the decomposition ℓ = ℓ* + ℓ̃;
* :mod:`~physgen.metrics.oracle`: the model–oracle ladder D_k and the root-only threshold;
* :mod:`~physgen.metrics.neighbours`: Hamming / Euclidean nearest neighbours, NN histograms and
  divergence, copy fraction, gap ratio and the memorised fraction;
* :mod:`~physgen.metrics.uturn`: the U-turn overlap;
* :mod:`~physgen.metrics.privacy`: membership-inference AUC;
* :mod:`~physgen.metrics.onsets`: τ_bias, τ_test, τ_nn, τ_mem from curves over checkpoints;
* :mod:`~physgen.metrics.biased_phase`: across a sweep, the exponents of τ_bias and τ_test
  against n (:mod:`~physgen.metrics.scaling`) and the width of the biased phase per cell;
* :mod:`~physgen.metrics.images`: paired-sample cosine distance, ε-prediction similarity;
* :mod:`~physgen.metrics.scores`: score distances for continuous data, τ_gen, τ_closer;
* :mod:`~physgen.metrics.regimes`: speciation and collapse times, predicted and measured on cloned
  trajectories (docs/mixtures.md).
"""

from __future__ import annotations

from physgen.metrics import images, regimes, scores
from physgen.metrics._common import Precomputed, noise_prediction
from physgen.metrics.divergence import (
    Bound,
    DivergenceEstimate,
    denoiser_divergence,
    divergence_estimate,
    item_divergence,
    kl_along_time,
    kl_divergence,
    nested_mean_se,
)
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
    Onset,
    argmin_bracketed,
    argmin_onset,
    bias_onset,
    bias_onset_bracketed,
    count_before,
    exceed_bracketed,
    first_exceed_onset,
    memorisation_bracketed,
    memorisation_floor,
    memorisation_onset,
)
from physgen.metrics.oracle import (
    learned_beyond_root,
    oracle_gaps,
    oracle_ladder,
    oracle_outputs,
    root_only_kl,
    site_only_kl,
)
from physgen.metrics.privacy import membership_auc
from physgen.metrics.uturn import uturn_overlap

__all__ = [
    "Bound",
    "DivergenceEstimate",
    "FrozenNoise",
    "LossParts",
    "Onset",
    "Precomputed",
    "argmin_bracketed",
    "argmin_onset",
    "bias_onset",
    "bias_onset_bracketed",
    "copy_fraction",
    "count_before",
    "denoiser_divergence",
    "denoising_loss",
    "divergence_estimate",
    "euclidean_nn",
    "exceed_bracketed",
    "first_exceed_onset",
    "frozen_noise",
    "gap_ratio",
    "hamming_bins",
    "hamming_nn",
    "images",
    "item_divergence",
    "kl_along_time",
    "kl_divergence",
    "learned_beyond_root",
    "loss_decomposition",
    "membership_auc",
    "memorisation_bracketed",
    "memorisation_floor",
    "memorisation_onset",
    "memorised_fraction",
    "nested_mean_se",
    "nn_divergence",
    "nn_histogram",
    "noise_prediction",
    "oracle_gaps",
    "oracle_ladder",
    "oracle_outputs",
    "regimes",
    "root_only_kl",
    "scores",
    "site_only_kl",
    "uturn_overlap",
]
