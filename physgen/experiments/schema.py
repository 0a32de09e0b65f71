"""The declaration of every variable an experiment records, and the Dataset built from it.

Each variable (data variable or coordinate) is declared **once** in :data:`VARIABLES` as a
:class:`Variable`: its name, its dimensions, its CF attributes (``long_name``, ``units``,
``description``), the experiments that record it and the public function that computes it. Everything
else is derived from these declarations:

* :func:`build_dataset` takes plain arrays by name and gives them their declared dimensions and
  attributes (an undeclared name, or an array whose rank does not match its dimensions, is an
  error), so a file's layout does not depend on the grid;
* :func:`reserved_dims` are the dimension names a sweep axis cannot take
  (:data:`physgen.sweep.spec.RESERVED_DIMS`);
* :func:`variables_markdown` is the table of ``docs/variables.md`` (a test keeps it up to date).

Units are UDUNITS strings: ``"1"`` for every quantity physgen records — nats (information in
natural-log units), counts, diffusion steps and training steps are dimensionless numbers, so the
meaning lives in ``long_name`` and ``description`` (:data:`physgen.io.DIMENSIONLESS`).

Dimensions: ``network`` (a trained network of the cell), ``checkpoint`` (a training checkpoint,
with its optimiser ``step`` as a coordinate over it), ``pair`` and ``seed_pair``, ``level``
(filtering level k = 0..L, integer labels), and the per-experiment grids (``t``, ``nn_bin``,
``uturn_t``, ``score_t``, ``clone_t``, ``ou_time``, ``eps_t``, ``show``, ``channel``, ``height``,
``width``).

Adding a curve: declare it here (name, dims, long_name, description, ``computed_by`` naming the
public function that computes it, ``experiments``), compute it in the experiment by calling that
function, and hand the array to :func:`build_dataset` under its name; then regenerate
``docs/variables.md`` (see docs/experiments.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from physgen.errors import PhysgenError
from physgen.io import DIMENSIONLESS, check_netcdf_safe

if TYPE_CHECKING:
    import xarray as xr

__all__ = [
    "EXPERIMENTS",
    "VARIABLES",
    "Variable",
    "build_dataset",
    "experiment_variables",
    "reserved_dims",
    "variable_attrs",
    "variables_markdown",
]

EXPERIMENTS = ("tree", "vectors", "images", "guidance")
"""The experiments of :mod:`physgen.experiments`, by the model protocol they require."""


@dataclass(frozen=True)
class Variable:
    """One recorded variable: name, dims, CF attributes, whether it is a coordinate, the
    experiments that record it and the public function that computes it (dotted path; empty for
    bookkeeping coordinates)."""

    name: str
    dims: tuple[str, ...]
    long_name: str
    description: str
    experiments: tuple[str, ...]
    computed_by: str = ""
    coordinate: bool = False
    units: str = DIMENSIONLESS

    def attrs(self) -> dict[str, str]:
        """The CF attributes ``long_name``, ``units``, ``description``."""
        return {"long_name": self.long_name, "units": self.units, "description": self.description}


_ALL = ("tree", "vectors", "images")
_T, _V, _I, _G = ("tree",), ("vectors",), ("images",), ("guidance",)
_TG = ("tree", "guidance")
_VI = ("vectors", "images")
_NATS = " In nats (natural-log information units)."
_STEPS = " A training step (optimiser steps); NaN when not reached inside the run."
_ONSET = (
    " A training step (optimiser steps); NaN when not reached (no valid checkpoint, never"
    " exceeded); an onset at an edge of its valid range keeps its step and is flagged in"
    " <name>_censored, its bracket in <name>_lo, <name>_hi."
)
_PAIR_MEAN = " Pair-level: computed from the average of the pair's two networks' curves."
_NC = ("network", "weights", "checkpoint")
_PC = ("pair", "weights", "checkpoint")
_SC = ("seed_pair", "weights", "checkpoint")
_NGC = ("network", "weights", "guidance_w", "checkpoint")
_PGC = ("pair", "weights", "guidance_w", "checkpoint")
_M = "physgen.metrics."
_D = (
    " Mean over inputs and coordinates of the squared difference of the noise predictions"
    " eps = (x_t - sqrt(alpha_bar) x0_hat) / sqrt(1 - alpha_bar), on the frozen noised test"
    " points at each score_t."
)


def _coord(
    name: str, dims: tuple[str, ...], long_name: str, description: str, exps: tuple[str, ...]
) -> Variable:
    return Variable(name, dims, long_name, description, exps, coordinate=True)


def _var(
    name: str,
    dims: tuple[str, ...],
    long_name: str,
    description: str,
    exps: tuple[str, ...],
    computed_by: str,
) -> Variable:
    return Variable(name, dims, long_name, description, exps, computed_by)


_BRACKET = {
    "lo": ("lower bracket", "Step of the valid checkpoint before {name} (0 below the first)."),
    "hi": (
        "upper bracket",
        "Step of the valid checkpoint after {name} (inf beyond the last; for a first exceedance "
        "{name} itself): the onset lies strictly inside (lo, hi) for an argmin, in (lo, hi] for "
        "an exceedance.",
    ),
    "censored": (
        "censored flag",
        "1 where {name} is not a measurement but a bound: not reached, or at either edge of its "
        "valid range (a minimum at the first or last valid checkpoint; an exceedance at the "
        "first or only at the last checked checkpoint).",
    ),
}


def _onset(
    name: str,
    dims: tuple[str, ...],
    long_name: str,
    description: str,
    exps: tuple[str, ...],
    computed_by: str,
) -> tuple[Variable, ...]:
    """An onset and its resolution (:class:`physgen.metrics.onsets.Onset`): ``name`` and
    ``name_lo``, ``name_hi``, ``name_censored`` over the same dims."""
    return (
        _var(name, dims, long_name, description, exps, computed_by),
        *(
            _var(
                f"{name}_{part}",
                dims,
                f"{long_name}: {what}",
                text.format(name=name),
                exps,
                computed_by,
            )
            for part, (what, text) in _BRACKET.items()
        ),
    )


_DECLARATIONS: tuple[Variable, ...] = (
    # ---- coordinates every experiment shares ---------------------------------------------------
    _coord(
        "checkpoint",
        ("checkpoint",),
        "checkpoint index",
        "Index of a training checkpoint (0 = first); its optimiser step is the coordinate step.",
        EXPERIMENTS,
    ),
    _coord(
        "step",
        ("checkpoint",),
        "training step",
        "Optimiser step of the checkpoint (log-spaced, 1-based; a count of optimiser steps).",
        EXPERIMENTS,
    ),
    _coord(
        "network",
        ("network",),
        "network index",
        "Index of a trained network of this cell.",
        EXPERIMENTS,
    ),
    _coord(
        "split",
        ("network",),
        "training split",
        "Index of the disjoint training split (data protocol block) the network trained on.",
        EXPERIMENTS,
    ),
    _coord(
        "role",
        ("network",),
        "network role",
        "'A' or 'B' for the two members of a disjoint "
        "pair, 'seed' for the second replicate of a same-split seed pair (its partner is the "
        "replicate-0 network of that split).",
        EXPERIMENTS,
    ),
    _coord(
        "replicate",
        ("network",),
        "replicate",
        "Replicate (seed) index of the network on its split (0 = pair member).",
        EXPERIMENTS,
    ),
    _coord(
        "net_seed",
        ("network",),
        "network seed",
        "Seed of the network's initialisation and batches.",
        EXPERIMENTS,
    ),
    _coord(
        "pair",
        ("pair",),
        "disjoint pair index",
        "Index of a pair (A, B) trained on disjoint splits.",
        EXPERIMENTS,
    ),
    _coord(
        "pair_a",
        ("pair",),
        "network A of pair",
        "Network index of the pair's member A.",
        EXPERIMENTS,
    ),
    _coord(
        "pair_b",
        ("pair",),
        "network B of pair",
        "Network index of the pair's member B.",
        EXPERIMENTS,
    ),
    _coord(
        "seed_pair",
        ("seed_pair",),
        "seed pair index",
        "Index of a pair of networks trained on one split with two seeds.",
        EXPERIMENTS,
    ),
    _coord(
        "seed_pair_a",
        ("seed_pair",),
        "first network of seed pair",
        "Network index of the first seed.",
        EXPERIMENTS,
    ),
    _coord(
        "seed_pair_b",
        ("seed_pair",),
        "second network of seed pair",
        "Network index of the second seed.",
        EXPERIMENTS,
    ),
    _coord(
        "weights",
        ("weights",),
        "weights evaluated",
        "Which weights a checkpoint evaluates (physgen.train.weight_decays): 'raw' (the "
        "optimiser's), 'ema' (the weight average of train.ema_decay), 'ema_<decay>' (the extra "
        "averages of train.extra_ema_decays).",
        EXPERIMENTS,
    ),
    _coord(
        "weights_decay",
        ("weights",),
        "decay of the weight average",
        "Decay gamma of the average (0 for the raw weights); its horizon is 1/(1 - gamma) steps.",
        EXPERIMENTS,
    ),
    _var(
        "init_weight",
        ("weights", "checkpoint"),
        "initial weights' share of the average",
        "Share prod_j gamma_j of the random initial weights still in the weights at the "
        "checkpoint (0 for the raw weights); a checkpoint where it exceeds 1 % is outside the "
        "valid range of tau_bias.",
        EXPERIMENTS,
        "physgen.train.init_weight",
    ),
    # ---- tree experiment coordinates ------------------------------------------------------------
    _coord(
        "level",
        ("level",),
        "filtering level k",
        "Filtering level k of the oracle BP_k (k = 0 "
        "exact tree, k = L root-mediated correlations only); for validity, the tree level d of "
        "the parent nodes (0 = root). Integer labels 0..L; a merged sweep over depths spans "
        "0..max L with NaN data beyond a cell's own depth.",
        _TG,
    ),
    _coord(
        "kl_t",
        ("kl_t",),
        "diffusion step",
        "Diffusion step t of the KL-along-time curves (t = 0 clean).",
        _T,
    ),
    _coord("kl_t_frac", ("kl_t",), "diffusion time fraction", "kl_t / T.", _T),
    _coord(
        "nn_bin",
        ("nn_bin",),
        "nearest-neighbour distance bin",
        "Hamming distance d (in tokens) of the bin [d - 1/2, d + 1/2) of the NN histograms.",
        _T,
    ),
    _coord(
        "uturn_t",
        ("uturn_t",),
        "U-turn start step",
        "Diffusion step to which a U-turn noises a sequence.",
        _T,
    ),
    _coord("uturn_t_frac", ("uturn_t",), "U-turn start time fraction", "uturn_t / T.", _T),
    # ---- tree: losses ---------------------------------------------------------------------------
    _var(
        "train_loss",
        _NC,
        "training loss",
        "Per-token cross-entropy on the network's own "
        "training split with (t, noise) drawn once per sequence (t ~ U{1..T}) and frozen across "
        "checkpoints. In the guidance experiment conditional on each sequence's root class."
        + _NATS,
        _TG,
        _M + "losses.denoising_loss",
    ),
    _var(
        "test_loss",
        _NC,
        "test loss",
        "Per-token cross-entropy on held-out test sequences with "
        "frozen (t, noise), t ~ U{1..T}. Its argmin is tau_test. In the guidance experiment "
        "conditional on each sequence's root class (w = 0)." + _NATS,
        _TG,
        _M + "losses.denoising_loss",
    ),
    _var(
        "test_loss_se",
        _NC,
        "standard error of the test loss",
        "Standard error of test_loss over the frozen test sequences (one (t, noise) draw each)."
        + _NATS,
        _TG,
        _M + "divergence.nested_mean_se",
    ),
    _var(
        "overlap_pair",
        ("pair",),
        "sequences shared by the pair's splits",
        "Distinct sequences common to the two training splits of the pair (a count; 0 with "
        "data.content_disjoint).",
        _T,
        "physgen.data.content_overlaps",
    ),
    _var(
        "overlap_test",
        ("network",),
        "sequences shared with the test set",
        "Distinct sequences common to the network's training split and the test set (a count; "
        "0 with data.content_disjoint).",
        _T,
        "physgen.data.content_overlaps",
    ),
    _var(
        "bayes_test_loss",
        (),
        "Bayes test loss",
        "The test loss of the exact BP denoiser on the "
        "same frozen inputs: the floor no network can beat in expectation." + _NATS,
        _T,
        _M + "losses.denoising_loss",
    ),
    # ---- tree: score-level diagnostics at t_frac -------------------------------------------------
    _var(
        "ladder_test",
        (*_NC, "level"),
        "model-oracle ladder on test inputs",
        "D_k = E KL(BP_k("
        "x_t) || model(x_t)), summed over tokens and symbols, averaged over frozen noised test "
        "sequences at t = t_frac T. In the guidance experiment of the network's unconditional "
        "branch (null class) against the unconditional oracles." + _NATS,
        _TG,
        _M + "oracle.oracle_ladder",
    ),
    _var(
        "ladder_train",
        (*_NC, "level"),
        "model-oracle ladder on training inputs",
        "D_k as ladder_test, on the network's own training sequences." + _NATS,
        _T,
        _M + "oracle.oracle_ladder",
    ),
    _var(
        "oracle_ladder",
        ("level",),
        "oracle-oracle ladder",
        "E KL(BP_0(x_t) || BP_k(x_t)) on "
        "the frozen test inputs at t = t_frac T. Its value at k = L is the threshold of the "
        "'learned' bias rule." + _NATS,
        _TG,
        _M + "oracle.oracle_gaps",
    ),
    _var(
        "split_divergence",
        _PC,
        "sample-split divergence S",
        "S = E KL("
        "model_A(x_t) || model_B(x_t)) on the shared frozen test inputs at t = t_frac T for the "
        "networks of a disjoint pair. Its argmin is tau_bias." + _NATS,
        _T,
        _M + "divergence.denoiser_divergence",
    ),
    _var(
        "split_divergence_se",
        _PC,
        "standard error of S",
        "Standard error of split_divergence over the frozen test inputs (one noise draw each), "
        "from the spread of the per-input KL." + _NATS,
        _T,
        _M + "divergence.nested_mean_se",
    ),
    _var(
        "seed_divergence",
        _SC,
        "seed-noise divergence",
        "The "
        "sample-split divergence for two seeds trained on one split: the baseline of S." + _NATS,
        _T,
        _M + "divergence.denoiser_divergence",
    ),
    _var(
        "seed_divergence_se",
        _SC,
        "standard error of the seed-noise divergence",
        "Standard error of seed_divergence over the frozen test inputs." + _NATS,
        _T,
        _M + "divergence.nested_mean_se",
    ),
    _var(
        "site_only_kl",
        (),
        "divergence of the independent-site predictor",
        "E KL(BP_0(x_t) || site-only predictor) on the frozen test inputs at t = t_frac T: the "
        "D_0 of a network that knows only single-site statistics; the absolute threshold of the "
        "'progress' bias rule." + _NATS,
        _TG,
        _M + "oracle.site_only_kl",
    ),
    _var(
        "learned",
        _NC,
        "learned beyond root-only oracle",
        "1 where the network's D_0 on test "
        "inputs is below KL(BP_0 || BP_L) (it has learned correlations beyond the root-only "
        "oracle), else 0.",
        _T,
        _M + "oracle.learned_beyond_root",
    ),
    # ---- tree: KL along diffusion time ----------------------------------------------------------
    _var(
        "kl_oracle_time",
        ("level", "kl_t"),
        "oracle KL along diffusion time",
        "E KL(BP_0(x_t) || BP_k(x_t)) at each diffusion step t on noised test sequences." + _NATS,
        _T,
        _M + "divergence.kl_along_time",
    ),
    _var(
        "kl_model_time",
        (*_NC, "kl_t"),
        "model KL along diffusion time",
        "E KL(BP_0(x_t) || "
        "model(x_t)) at each diffusion step t on noised test sequences (sample checkpoints "
        "only; NaN elsewhere)." + _NATS,
        _T,
        _M + "divergence.kl_along_time",
    ),
    # ---- tree: loss decomposition ---------------------------------------------------------------
    _var(
        "loss_total_train",
        _NC,
        "loss at loss_t_frac on training data",
        "Per-token cross-entropy l = l* + l~ at t = loss_t_frac T, training split (Eq. 4)." + _NATS,
        _T,
        _M + "losses.loss_decomposition",
    ),
    _var(
        "loss_exact_train",
        _NC,
        "distillation loss on training data",
        "l* = -BP_0(x_t)^T log model(x_t) per token at t = loss_t_frac T, training split." + _NATS,
        _T,
        _M + "losses.loss_decomposition",
    ),
    _var(
        "loss_excess_train",
        _NC,
        "excess loss on training data",
        "l~ = -(x0 - BP_0(x_t))^T log "
        "model(x_t) per token at t = loss_t_frac T, training split; a decrease below 0 is "
        "fitting of the individual training samples." + _NATS,
        _T,
        _M + "losses.loss_decomposition",
    ),
    _var(
        "loss_total_test",
        _NC,
        "loss at loss_t_frac on test data",
        "As loss_total_train, on held-out test sequences." + _NATS,
        _T,
        _M + "losses.loss_decomposition",
    ),
    _var(
        "loss_exact_test",
        _NC,
        "distillation loss on test data",
        "As loss_exact_train, on held-out test sequences." + _NATS,
        _T,
        _M + "losses.loss_decomposition",
    ),
    _var(
        "loss_excess_test",
        _NC,
        "excess loss on test data",
        "As loss_excess_train, on held-out test sequences (zero in expectation)." + _NATS,
        _T,
        _M + "losses.loss_decomposition",
    ),
    _var(
        "membership_auc",
        _NC,
        "membership-inference AUC",
        "AUC of the attack 'lower loss at "
        "t = loss_t_frac T => training member' separating the training split from test "
        "sequences (0.5 = no leak, 1 = perfect).",
        _T,
        _M + "privacy.membership_auc",
    ),
    # ---- tree: samples --------------------------------------------------------------------------
    _var(
        "nn_hist_gen",
        (*_NC, "nn_bin"),
        "NN distance histogram of generated samples",
        "Fraction "
        "of the coupled generated samples whose Hamming distance to the nearest sequence of the "
        "network's training split falls in each bin (sample checkpoints only).",
        _T,
        _M + "neighbours.nn_histogram",
    ),
    _var(
        "nn_hist_test",
        ("network", "nn_bin"),
        "NN distance histogram of fresh samples",
        "The same histogram for fresh samples of the true distribution (test sequences).",
        _T,
        _M + "neighbours.nn_histogram",
    ),
    _var(
        "nn_divergence",
        _NC,
        "NN divergence",
        "KL(P_gen || P_test) between the NN-distance "
        "histograms (clipped at 1e-8). Its argmin is tau_nn." + _NATS,
        _T,
        _M + "neighbours.nn_divergence",
    ),
    _var(
        "nn_mean_gen",
        _NC,
        "mean NN distance of generated samples",
        "Mean Hamming distance (a "
        "count of tokens) of generated samples to the nearest training sequence.",
        _T,
        _M + "neighbours.hamming_nn",
    ),
    _var(
        "nn_mean_test",
        ("network",),
        "mean NN distance of fresh samples",
        "Mean Hamming "
        "distance (a count of tokens) of fresh true samples to the nearest training sequence.",
        _T,
        _M + "neighbours.hamming_nn",
    ),
    _var(
        "copy_fraction",
        _NC,
        "exact-copy fraction",
        "Fraction of generated samples equal to a sequence of the network's training split.",
        _T,
        _M + "neighbours.copy_fraction",
    ),
    _var(
        "validity",
        (*_NC, "level"),
        "validity per level",
        "Fraction of sibling groups of "
        "generated samples that are allowed rules, per tree level d of the parent (bottom-up "
        "parse; NaN at level L, which has no children).",
        _T,
        "physgen.models.base.TreeModel.validity",
    ),
    _var(
        "valid_fraction",
        _NC,
        "valid fraction",
        "Fraction of generated samples with non-zero probability under the true grammar.",
        _T,
        "physgen.models.base.TreeModel.log_prob",
    ),
    _var(
        "log_likelihood",
        _NC,
        "log-likelihood of valid samples",
        "Mean exact log p0 of the valid generated samples (NaN when none is valid)." + _NATS,
        _T,
        "physgen.models.base.TreeModel.log_prob",
    ),
    _var(
        "uturn_ratio_train",
        (*_NC, "uturn_t"),
        "U-turn overlap ratio, training starts",
        "<overlap of model U-turns> / <overlap of BP U-turns> from the network's training "
        "sequences: noise to uturn_t, denoise back with fresh noise, overlap = fraction of "
        "tokens equal to the start.",
        _T,
        _M + "uturn.uturn_overlap",
    ),
    _var(
        "uturn_ratio_test",
        (*_NC, "uturn_t"),
        "U-turn overlap ratio, test starts",
        "As uturn_ratio_train, from held-out test sequences.",
        _T,
        _M + "uturn.uturn_overlap",
    ),
    # ---- memorisation (every experiment) --------------------------------------------------------
    _var(
        "memorised_fraction",
        _NC,
        "memorised fraction",
        "Fraction of coupled generated samples "
        "with gap ratio d1/d2 < 1/3 (nearest and second-nearest training distances: Hamming for "
        "tokens, Euclidean in the diffusion space otherwise); sample checkpoints only.",
        _ALL,
        _M + "neighbours.memorised_fraction",
    ),
    _var(
        "memorised_fraction_se",
        _NC,
        "memorised fraction standard error",
        "Bootstrap standard error of memorised_fraction.",
        _ALL,
        _M + "neighbours.memorised_fraction",
    ),
    _var(
        "memorised_floor",
        ("network",),
        "memorised fraction noise floor",
        "Memorised fraction of "
        "fresh true samples against the network's training split plus two bootstrap standard "
        "errors: the chance level that tau_mem must exceed.",
        EXPERIMENTS,
        _M + "onsets.memorisation_floor",
    ),
    # ---- onsets ---------------------------------------------------------------------------------
    *_onset(
        "tau_bias",
        ("pair", "weights"),
        "onset of biased generalisation",
        "Checkpoint step of the minimum of the pair's sample-split divergence S over the valid "
        "checkpoints of the bias rule (attr physgen_bias_rule; 'progress', the default: from the "
        "first checkpoint at which both networks have learned — D_0 at most the independent-site "
        "predictor's site_only_kl, or half-way from their first D_0 to their best — and the "
        "weights hold at most 1 % of the initial weights (init_weight); 'learned': both beat the "
        "root-only oracle; 'none': all checkpoints)." + _ONSET,
        _T,
        _M + "onsets.bias_onset_bracketed",
    ),
    *_onset(
        "tau_bias_seed",
        ("seed_pair", "weights"),
        "argmin of the seed-noise divergence",
        "The tau_bias rule applied to a seed pair's divergence (the baseline has no bias)."
        + _ONSET,
        _T,
        _M + "onsets.bias_onset_bracketed",
    ),
    *_onset(
        "tau_test",
        ("pair", "weights"),
        "test-loss minimum",
        "Checkpoint step of the minimum of the test loss (the test ε-MSE for vectors and "
        "images): the early-stopping point." + _ONSET + _PAIR_MEAN,
        EXPERIMENTS,
        _M + "onsets.argmin_bracketed",
    ),
    *_onset(
        "tau_nn",
        ("pair", "weights"),
        "NN-divergence minimum",
        "Sample checkpoint step of the minimum of the NN divergence." + _ONSET + _PAIR_MEAN,
        _T,
        _M + "onsets.argmin_bracketed",
    ),
    *_onset(
        "tau_mem",
        ("pair", "weights"),
        "onset of memorisation",
        "First sample checkpoint step at which "
        "memorised_fraction minus two standard errors exceeds memorised_floor (for a pair: the "
        "mean fraction, the standard error of the mean and the mean floor)." + _ONSET + _PAIR_MEAN,
        _ALL,
        _M + "onsets.memorisation_bracketed",
    ),
    *_onset(
        "tau_test_net",
        ("network", "weights"),
        "test-loss minimum per network",
        "tau_test of each network." + _ONSET,
        _ALL,
        _M + "onsets.argmin_bracketed",
    ),
    *_onset(
        "tau_nn_net",
        ("network", "weights"),
        "NN-divergence minimum per network",
        "tau_nn of each network." + _ONSET,
        _T,
        _M + "onsets.argmin_bracketed",
    ),
    *_onset(
        "tau_mem_net",
        ("network", "weights"),
        "onset of memorisation per network",
        "tau_mem of each network." + _ONSET,
        _ALL,
        _M + "onsets.memorisation_bracketed",
    ),
    _var(
        "n_bias_before_test",
        ("weights",),
        "pairs with tau_bias < tau_test beyond resolution",
        "Number of disjoint pairs whose tau_bias and tau_test are both uncensored and ordered "
        "beyond their brackets, tau_bias_hi <= tau_test_lo (a count).",
        _T,
        _M + "onsets.count_before",
    ),
    _var(
        "n_bias_test_measured",
        ("weights",),
        "pairs with both onsets measured",
        "Number of disjoint pairs whose tau_bias and tau_test are both uncensored (a count): "
        "the denominator of n_bias_before_test.",
        _T,
        _M + "onsets.count_before",
    ),
    # ---- guidance experiment ----------------------------------------------------------------------
    _coord(
        "guidance_w",
        ("guidance_w",),
        "guidance weight w",
        "Classifier-free guidance weight w of metrics.guidance_w: the guided denoiser is "
        "(1 + w) x0_hat(x_t | c) - w x0_hat(x_t | null) (physgen.guidance.GuidedDenoiser); "
        "w = 0 is the conditional denoiser. Every guided diagnostic is repeated per w on the "
        "same trained networks.",
        _G,
    ),
    _var(
        "guided_divergence",
        _PGC,
        "sample-split divergence S of the guided denoisers",
        "S_w = E KL(x0_hat_w^A(x_t | c) || x0_hat_w^B(x_t | c)) for the networks of a disjoint "
        "pair on the shared frozen test inputs at t = t_frac T, c the root class of each test "
        "sequence. The guided x0_hat leaves the simplex for w > 0; like every KL of physgen it "
        "is taken after clipping at 1e-8 and renormalising per position, which at w = 0 is the "
        "conditional S. Its argmin is tau_bias_guided." + _NATS,
        _G,
        _M + "divergence.item_divergence",
    ),
    _var(
        "guided_divergence_se",
        _PGC,
        "standard error of guided S",
        "Standard error of guided_divergence over the frozen test inputs." + _NATS,
        _G,
        _M + "divergence.nested_mean_se",
    ),
    _var(
        "guided_nn_divergence",
        _NGC,
        "NN divergence of guided samples",
        "KL(P_gen || P_test) of the histograms of nearest-neighbour Hamming distances to the "
        "network's training split: metrics.n_generate coupled guided samples (classes "
        "metrics.guidance_classes, or all classes, cycled) against as many fresh test sequences."
        + _NATS,
        _G,
        _M + "neighbours.nn_divergence",
    ),
    _var(
        "guided_memorised_fraction",
        _NGC,
        "memorised fraction of guided samples",
        "Fraction of the guided samples whose nearest training sequence is closer than a third "
        "of the second nearest (d1/d2 < 1/3, Hamming), against the network's training split.",
        _G,
        _M + "neighbours.memorised_fraction",
    ),
    _var(
        "guided_memorised_fraction_se",
        _NGC,
        "standard error of the guided memorised fraction",
        "Bootstrap standard error of guided_memorised_fraction.",
        _G,
        _M + "neighbours.memorised_fraction",
    ),
    _var(
        "guided_valid_fraction",
        _NGC,
        "valid fraction of guided samples",
        "Fraction of the guided samples that are valid sequences of the grammar (field validity).",
        _G,
        _M + "guidance.tree_guidance_diagnostics",
    ),
    _var(
        "guided_class_accuracy",
        _NGC,
        "class accuracy of guided samples",
        "Among the valid guided samples, the fraction whose parsed root class is the requested "
        "class (field accuracy).",
        _G,
        _M + "guidance.tree_guidance_diagnostics",
    ),
    _var(
        "guided_leaf_entropy",
        _NGC,
        "leaf-marginal entropy of guided samples",
        "Entropy of the empirical single-site marginals of the guided samples, mean over "
        "positions (field leaf_entropy)." + _NATS,
        _G,
        _M + "guidance.tree_guidance_diagnostics",
    ),
    _var(
        "guided_distinct",
        _NGC,
        "distinct guided samples",
        "Number of distinct sequences among the metrics.n_generate guided samples (a count; "
        "field n_distinct).",
        _G,
        _M + "guidance.tree_guidance_diagnostics",
    ),
    _var(
        "guided_ce_excess",
        _NGC,
        "excess cross-entropy of guided samples",
        "-mean log p(x | c) - mean H(x | c) over the valid guided samples of the requested class "
        "(field ce_excess): 0 in expectation for exact conditional samples, negative when the "
        "samples concentrate on likely sequences (or on copies of training sequences)." + _NATS,
        _G,
        _M + "guidance.tree_guidance_diagnostics",
    ),
    *_onset(
        "tau_bias_guided",
        ("pair", "weights", "guidance_w"),
        "onset of biased generalisation under guidance",
        "tau_bias of the guided divergence guided_divergence at each w, by the rule of tau_bias "
        "(attr physgen_bias_rule); whether a network has learned is read from its unconditional "
        "branch's D_0 (ladder_test at level 0), which does not depend on w." + _ONSET,
        _G,
        _M + "onsets.bias_onset_bracketed",
    ),
    *_onset(
        "tau_mem_guided",
        ("pair", "weights", "guidance_w"),
        "onset of memorisation of guided samples",
        "tau_mem of guided_memorised_fraction at each w against memorised_floor."
        + _ONSET
        + _PAIR_MEAN,
        _G,
        _M + "onsets.memorisation_bracketed",
    ),
    *_onset(
        "tau_mem_guided_net",
        ("network", "weights", "guidance_w"),
        "onset of memorisation of guided samples per network",
        "tau_mem_guided of each network." + _ONSET,
        _G,
        _M + "onsets.memorisation_bracketed",
    ),
    _var(
        "n_bias_before_test_guided",
        ("weights", "guidance_w"),
        "pairs with tau_bias_guided < tau_test beyond resolution",
        "n_bias_before_test with tau_bias_guided at each w (a count).",
        _G,
        _M + "onsets.count_before",
    ),
    _var(
        "n_bias_test_measured_guided",
        ("weights", "guidance_w"),
        "pairs with tau_bias_guided and tau_test measured",
        "Pairs whose tau_bias_guided and tau_test are both uncensored (a count): the "
        "denominator of n_bias_before_test_guided.",
        _G,
        _M + "onsets.count_before",
    ),
    *(
        _var(
            f"exact_{field}",
            ("guidance_w",),
            f"{what} of exact guided samples",
            f"The {what} (field {tree_field} of the guidance diagnostics) of metrics.n_generate "
            "samples of the exact guided BP denoiser (GuidedDenoiser of the tree model, no "
            "training) drawn with the cell's sampler, seed and classes: the reference of what "
            "guidance does with exact scores." + unit,
            _G,
            _M + "guidance.tree_guidance_diagnostics",
        )
        for field, tree_field, what, unit in (
            ("valid_fraction", "validity", "valid fraction", ""),
            ("class_accuracy", "accuracy", "class accuracy", ""),
            ("leaf_entropy", "leaf_entropy", "leaf-marginal entropy", _NATS),
            ("distinct", "n_distinct", "number of distinct samples", " A count."),
            ("ce_excess", "ce_excess", "excess cross-entropy", _NATS),
            ("kl_plugin", "kl_plugin_valid", "plug-in KL to p(x | c) (biased high)", _NATS),
        )
    ),
    _var(
        "exact_ce_excess_se",
        ("guidance_w",),
        "standard error of the exact excess cross-entropy",
        "Standard error of exact_ce_excess over its samples." + _NATS,
        _G,
        _M + "divergence.nested_mean_se",
    ),
    # ---- vectors and images: ε-MSE losses --------------------------------------------------------
    _var(
        "eps_train_loss",
        _NC,
        "training ε-MSE",
        "Mean squared error of the predicted noise on "
        "the network's training split with (t, noise) frozen per point, t ~ U{1..T}.",
        _VI,
        _M + "losses.denoising_loss",
    ),
    _var(
        "eps_test_loss",
        _NC,
        "test ε-MSE",
        "Mean squared error of the predicted noise on "
        "held-out points with frozen (t, noise), t ~ U{1..T}. Its argmin is tau_test.",
        _VI,
        _M + "losses.denoising_loss",
    ),
    # ---- vectors --------------------------------------------------------------------------------
    _coord(
        "score_t",
        ("score_t",),
        "diffusion step of score diagnostics",
        "Diffusion step t at which denoisers are compared (x_t = noised test points).",
        _V,
    ),
    _coord("score_t_frac", ("score_t",), "score diagnostic time fraction", "score_t / T.", _V),
    _var(
        "dist_pop",
        (*_NC, "score_t"),
        "distance to the population denoiser",
        "D(model, exact population denoiser)." + _D,
        _V,
        _M + "scores.denoiser_distance",
    ),
    _var(
        "dist_emp",
        (*_NC, "score_t"),
        "distance to the empirical denoiser",
        "D(model, empirical denoiser of the network's own training split)." + _D,
        _V,
        _M + "scores.denoiser_distance",
    ),
    _var(
        "dist_pop_emp",
        ("network", "score_t"),
        "population-empirical distance",
        "D(exact "
        "population denoiser, empirical denoiser of the split): what memorising costs in "
        "distance to the population." + _D,
        _V,
        _M + "scores.denoiser_distance",
    ),
    _var(
        "pop_variance",
        ("score_t",),
        "variance of the population denoiser",
        "Variance over the "
        "test inputs of the exact noise prediction, per coordinate: the normaliser of "
        "rel_pop_error.",
        _V,
        _M + "scores.prediction_variance",
    ),
    _var(
        "rel_pop_error",
        _NC,
        "relative population error",
        "sum_t dist_pop / sum_t pop_variance "
        "over the informative score_t (pop_variance at least physgen_informative times its "
        "maximum); tau_gen is the first checkpoint where it is at most physgen_gen_threshold.",
        _V,
        _M + "scores.relative_error",
    ),
    _var(
        "pair_distance",
        (*_PC, "score_t"),
        "distance between the models of a disjoint pair",
        "D(model_A, model_B) on the shared inputs (the continuous analogue of "
        "the sample-split divergence S)." + _D,
        _V,
        _M + "scores.denoiser_distance",
    ),
    _var(
        "seed_pair_distance",
        (*_SC, "score_t"),
        "distance between the models of a seed pair",
        "pair_distance for two seeds on one split: the seed-noise baseline." + _D,
        _V,
        _M + "scores.denoiser_distance",
    ),
    *_onset(
        "tau_gen",
        ("pair", "weights"),
        "onset of generalisation",
        "First checkpoint at which the "
        "pair-averaged rel_pop_error is at most physgen_gen_threshold." + _ONSET,
        _V,
        _M + "scores.generalisation_bracketed",
    ),
    *_onset(
        "tau_gen_net",
        ("network", "weights"),
        "onset of generalisation per network",
        "tau_gen of each network." + _ONSET,
        _V,
        _M + "scores.generalisation_bracketed",
    ),
    _var(
        "tau_closer",
        ("pair", "weights"),
        "onset of empirical dominance",
        "First checkpoint at which the "
        "pair-averaged dist_emp summed over the informative score_t is below dist_pop summed "
        "likewise (the models are closer to their empirical denoisers than to the "
        "population)." + _STEPS,
        _V,
        _M + "scores.closer_onset",
    ),
    _var(
        "tau_closer_net",
        ("network", "weights"),
        "onset of empirical dominance per network",
        "tau_closer of each network." + _STEPS,
        _V,
        _M + "scores.closer_onset",
    ),
    _coord(
        "clone_t",
        ("clone_t",),
        "branching OU time of the speciation clones",
        "OU time t at which exact-score reverse chains of the symmetric mixture, started at T "
        "from the exact noised distribution, are cloned into two (NaN for other models).",
        _V,
    ),
    _var(
        "class_agreement",
        ("clone_t",),
        "class agreement of clones (P_same)",
        "Fraction of clone pairs branched at clone_t whose two ends lie nearest to the same "
        "component mean (exact score; NaN for models other than the symmetric mixture).",
        _V,
        _M + "regimes.cloned_speciation",
    ),
    _var(
        "class_agreement_exact",
        ("clone_t",),
        "exact class agreement of clones",
        "Exact P_same at clone_t for the symmetric mixture (one-dimensional Gauss-Hermite "
        "integral).",
        _V,
        _M + "regimes.same_class_probability",
    ),
    _coord("ou_time", ("ou_time",), "Ornstein-Uhlenbeck time", "s = -log(alpha_bar) / 2.", _V),
    _var(
        "point_agreement",
        ("ou_time",),
        "same-training-point probability of clones (P_point)",
        "E sum_mu w_mu(x_s)^2 over starts x_s from the noised empirical measure of split 0: the "
        "probability that two clones of the empirical-score dynamics branched at s end on the "
        "same training point.",
        _V,
        _M + "regimes.same_point_curve",
    ),
    _var(
        "point_agreement_se",
        ("ou_time",),
        "standard error of point_agreement",
        "Standard error of the mean over the starts.",
        _V,
        _M + "regimes.same_point_curve",
    ),
    _var(
        "excess_entropy_data",
        ("ou_time",),
        "excess entropy density (data estimate)",
        "f(s) = "
        "entropy per dimension of the noised distribution minus that of a Gaussian of variance "
        "1 - exp(-2s); Monte Carlo with the noised empirical measure of the test points as "
        "density and split 0 as probes." + _NATS,
        _V,
        _M + "regimes.excess_entropy",
    ),
    _var(
        "excess_entropy_exact",
        ("ou_time",),
        "excess entropy density (exact)",
        "f(s) of the model: closed form for the symmetric mixture, else Monte Carlo as "
        "excess_entropy_data with the model's exact log-density (NaN without one)." + _NATS,
        _V,
        _M + "regimes.symmetric_excess_entropy",
    ),
    _var(
        "t_speciation_pred",
        (),
        "predicted speciation time (data)",
        "OU time log(Lambda) / 2, Lambda the largest eigenvalue of split 0's covariance.",
        _V,
        _M + "regimes.speciation_time",
    ),
    _var(
        "t_speciation_model",
        (),
        "speciation time t_S of the model covariance",
        "OU time log(Lambda) / 2 from the model's exact covariance (NaN without one).",
        _V,
        _M + "regimes.speciation_time",
    ),
    _var(
        "t_speciation_exact",
        (),
        "exact crossing of P_same = 3/4",
        "OU time where the exact class_agreement of the symmetric mixture crosses 3/4 (tends to "
        "t_S + 0.081 as d grows; NaN for other models).",
        _V,
        _M + "regimes.speciation_crossing",
    ),
    _var(
        "t_speciation_meas",
        (),
        "measured speciation time",
        "OU time where class_agreement crosses 3/4 (linear interpolation between clone_t).",
        _V,
        _M + "regimes.crossing_time",
    ),
    _var(
        "t_collapse_pred",
        (),
        "predicted collapse time (data)",
        "OU time where excess_entropy_data = log(n_train) / dim.",
        _V,
        _M + "regimes.collapse_time",
    ),
    _var(
        "t_collapse_model",
        (),
        "predicted collapse time (exact)",
        "OU time where the model's excess entropy density = log(n_train) / dim (root of the "
        "closed form for the symmetric mixture; NaN without an exact density).",
        _V,
        _M + "regimes.symmetric_collapse_time",
    ),
    _var(
        "t_collapse_meas",
        (),
        "measured collapse time",
        "OU time where point_agreement crosses 1/2.",
        _V,
        _M + "regimes.crossing_time",
    ),
    # ---- images ---------------------------------------------------------------------------------
    _coord(
        "eps_t",
        ("eps_t",),
        "diffusion step of the score-level similarity",
        "round(t T / 1000) for the paper's t in {50, 100, 150, 200} of T = 1000.",
        _I,
    ),
    _coord("eps_t_frac", ("eps_t",), "score-level similarity time fraction", "eps_t / T.", _I),
    _coord("show", ("show",), "shown sample index", "Index of a kept coupled sample.", _I),
    _var(
        "cos_distance",
        _PC,
        "median cosine distance of coupled samples",
        "Median over coupled sample pairs (same x_T and noise) of 1 - cosine similarity of the "
        "per-image standardised samples of networks A and B (sample checkpoints only). Its "
        "argmin is tau_cos.",
        _I,
        _M + "images.median_cosine_distance",
    ),
    _var(
        "cos_distance_seed",
        _SC,
        "median cosine distance of a seed pair",
        "cos_distance for two seeds trained on one split: the seed-noise baseline.",
        _I,
        _M + "images.median_cosine_distance",
    ),
    _var(
        "eps_cos_train",
        (*_PC, "eps_t"),
        "ε-prediction similarity on training images",
        "Mean cosine similarity of the noise predictions of A and B on the noised "
        "images of their two training splits, at each eps_t.",
        _I,
        _M + "images.eps_cosine_similarity",
    ),
    _var(
        "eps_cos_test",
        (*_PC, "eps_t"),
        "ε-prediction similarity on test images",
        "Mean cosine similarity of the noise predictions of A and B on noised test images.",
        _I,
        _M + "images.eps_cosine_similarity",
    ),
    _var(
        "eps_cos_train_emp",
        ("pair", "eps_t"),
        "empirical-denoiser ε similarity on training images",
        "eps_cos_train for the exact empirical denoisers of the two splits (perfect "
        "memorizers): the memorising reference.",
        _I,
        _M + "images.eps_cosine_similarity",
    ),
    _var(
        "eps_cos_test_emp",
        ("pair", "eps_t"),
        "empirical-denoiser ε similarity on test images",
        "eps_cos_test for the exact empirical denoisers of the two splits.",
        _I,
        _M + "images.eps_cosine_similarity",
    ),
    _var(
        "nn_distance",
        _NC,
        "mean nearest-neighbour distance of samples",
        "Mean Euclidean "
        "distance (diffusion space) of generated samples to the nearest image of the network's "
        "training split (sample checkpoints only).",
        _I,
        _M + "neighbours.euclidean_nn",
    ),
    _var(
        "nn_distance_test",
        ("network",),
        "mean nearest-neighbour distance of test images",
        "The same distance for fresh test images: the generalising reference.",
        _I,
        _M + "neighbours.euclidean_nn",
    ),
    _var(
        "sample_show",
        (*_NC, "show", "image_channel", "image_height", "image_width"),
        "kept coupled samples",
        "The "
        "first coupled samples of each network (diffusion space, centred; add mean_image for "
        "pixel values in [-1, 1]); NaN outside sample checkpoints.",
        _I,
        "physgen.diffusion.coupled_sample",
    ),
    _var(
        "nn_show",
        (*_NC, "show", "image_channel", "image_height", "image_width"),
        "nearest training images of the kept samples",
        "Nearest image of the network's training split to each kept sample.",
        _I,
        _M + "neighbours.euclidean_nn",
    ),
    _var(
        "mean_image",
        ("image_channel", "image_height", "image_width"),
        "mean image",
        "The centring image subtracted from every image of the data set.",
        _I,
        "physgen.models.base.ImageModel",
    ),
    *_onset(
        "tau_cos",
        ("pair", "weights"),
        "cosine-distance minimum",
        "Sample checkpoint step of the minimum "
        "of cos_distance over the checkpoints where both networks generate images (mean NN "
        "distance at most physgen_image_nn_factor times that of test images)." + _ONSET,
        _I,
        _M + "onsets.argmin_bracketed",
    ),
    *_onset(
        "tau_images",
        ("pair", "weights"),
        "first image-generating checkpoint",
        "First sample checkpoint "
        "at which both networks of the pair generate images (mean NN distance at most "
        "physgen_image_nn_factor times that of test images): the earliest possible "
        "tau_cos." + _ONSET,
        _I,
        _M + "onsets.exceed_bracketed",
    ),
)

VARIABLES: dict[str, Variable] = {v.name: v for v in _DECLARATIONS}
if len(VARIABLES) != len(_DECLARATIONS):  # one name, one meaning
    raise PhysgenError("a variable is declared twice in physgen.experiments.schema")


def variable_attrs(name: str) -> dict[str, str]:
    """``long_name``, ``units`` and ``description`` of a declared variable."""
    try:
        return VARIABLES[name].attrs()
    except KeyError:
        raise PhysgenError(
            f"variable {name!r} is not declared (physgen.experiments.schema.VARIABLES)"
        ) from None


def experiment_variables(experiment: str) -> list[Variable]:
    """The declarations of the variables and coordinates ``experiment`` records."""
    if experiment not in EXPERIMENTS:
        raise PhysgenError(f"unknown experiment {experiment!r}; choose from {EXPERIMENTS}")
    return [v for v in _DECLARATIONS if experiment in v.experiments]


def reserved_dims() -> tuple[str, ...]:
    """Every dimension name of a cell's results (sorted), plus ``cell`` (the stacked grid of
    :func:`physgen.io.describe`): a sweep axis cannot take one of them."""
    return tuple(sorted({d for v in _DECLARATIONS for d in v.dims} | {"cell"}))


def build_dataset(values: Mapping[str, Any], attrs: Mapping[str, Any]) -> xr.Dataset:
    """An :class:`xarray.Dataset` of ``values`` (name → array) with the declared dims and attrs.

    Coordinates and data variables are told apart by their declaration; an undeclared name, or
    an array whose rank differs from its declared dims, raises :class:`PhysgenError`. ``attrs``
    are the global attributes (:func:`physgen.io.cell_attrs`).
    """
    import xarray as xr

    data_vars, coords = {}, {}
    for name, value in values.items():
        if name not in VARIABLES:
            variable_attrs(name)  # raises
        var = VARIABLES[name]
        arr = np.asarray(value)
        if arr.ndim != len(var.dims):
            raise PhysgenError(
                f"variable {name!r} has shape {arr.shape}, but is declared over {var.dims}"
            )
        (coords if var.coordinate else data_vars)[name] = (var.dims, arr, var.attrs())
    ds = xr.Dataset(data_vars=data_vars, coords=coords, attrs=dict(attrs))
    check_netcdf_safe(ds)
    return ds


def variables_markdown() -> str:
    """The table of every declared variable (``docs/variables.md``), one section per kind."""
    lines = [
        "# Variables of the results files",
        "",
        "Generated from the declarations in `physgen/experiments/schema.py` (do not edit by hand;",
        "regenerate with `python -m physgen.experiments.schema > docs/variables.md`). Every",
        'variable has `units = "1"` (UDUNITS: dimensionless); what it counts (nats, steps,',
        "tokens) is in its description. Experiments: tree (token models with a tree oracle),",
        "vectors, images. See docs/experiments.md for how a curve is declared and computed.",
        "",
    ]
    for title, is_coord in (("Coordinates", True), ("Data variables", False)):
        lines += [f"## {title}", "", "| name | dims | experiments | long_name | computed by |"]
        lines.append("|---|---|---|---|---|")
        for v in _DECLARATIONS:
            if v.coordinate == is_coord:
                dims = ", ".join(v.dims) if v.dims else "(scalar)"
                by = f"`{v.computed_by}`" if v.computed_by else ""
                lines.append(
                    f"| `{v.name}` | {dims} | {', '.join(v.experiments)} | {v.long_name} | {by} |"
                )
        lines.append("")
    lines += ["## Descriptions", ""]
    lines += [f"- `{v.name}`: {v.description}" for v in _DECLARATIONS]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(variables_markdown(), end="")
