"""The netCDF schema of one experiment (one sweep cell): variable attributes and Dataset builders.

Every variable and coordinate an experiment emits carries CF-style attributes ``long_name``,
``units`` (``"1"`` when dimensionless, ``"nat"`` for information quantities in natural log,
``"step"`` for counts of optimiser steps) and ``description``. They live in one registry,
:data:`VARIABLES`, so that every experiment module (tokens, vectors, images) names the same
quantity the same way; a module adds its own entries with :func:`register_variables`.

:func:`build_dataset` assembles an :class:`xarray.Dataset` from plain arrays, attaches the
attributes (an unregistered name is an error, so nothing leaves physgen undocumented) and the
global attributes of :func:`global_attrs`: ``config_json`` (the fully resolved configuration),
``config_sha256`` and the options physgen adds on top of the paper (``physgen_*``). All
attributes are netCDF-safe: strings, ints and floats only (booleans are stored as 0/1, mappings
as JSON strings), checked by :func:`check_netcdf_safe`. A cell's output holds no wall-clock
quantity, so the same configuration gives an identical Dataset.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from physgen.config import ExperimentConfig
from physgen.errors import PhysgenError

__all__ = [
    "VARIABLES",
    "VarSpec",
    "build_dataset",
    "check_netcdf_safe",
    "global_attrs",
    "register_variables",
    "variable_attrs",
]

REFERENCES = (
    "Garnier-Brun et al., Biased Generalization in Diffusion Models, arXiv:2603.03469; "
    "Garnier-Brun et al., arXiv:2408.15138; Bonnaire et al., arXiv:2505.17638"
)


@dataclass(frozen=True)
class VarSpec:
    """CF-style attributes of one variable or coordinate."""

    long_name: str
    units: str
    description: str

    def attrs(self) -> dict[str, str]:
        return {"long_name": self.long_name, "units": self.units, "description": self.description}


def _v(long_name: str, units: str, description: str) -> VarSpec:
    return VarSpec(long_name, units, description)


_PAIR_MEAN = " Pair-level: computed from the average of the pair's two networks' curves."

VARIABLES: dict[str, VarSpec] = {
    # ---- coordinates -------------------------------------------------------------------------
    "step": _v("training step", "step", "Optimiser step of the checkpoint (log-spaced, 1-based)."),
    "network": _v("network index", "1", "Index of a trained network of this cell."),
    "split": _v(
        "training split",
        "1",
        "Index of the disjoint training split (data protocol block) the network trained on.",
    ),
    "role": _v(
        "network role",
        "1",
        "'A' or 'B' for the two members of a disjoint pair, 'seed' for the second replicate of a "
        "same-split seed pair (its partner is the replicate-0 network of that split).",
    ),
    "replicate": _v(
        "replicate", "1", "Replicate (seed) index of the network on its split (0 = pair member)."
    ),
    "net_seed": _v("network seed", "1", "Seed of the network's initialisation and batches."),
    "pair": _v("disjoint pair index", "1", "Index of a pair (A, B) trained on disjoint splits."),
    "pair_a": _v("network A of pair", "1", "Network index of the pair's member A."),
    "pair_b": _v("network B of pair", "1", "Network index of the pair's member B."),
    "seed_pair": _v(
        "seed pair index", "1", "Index of a pair of networks trained on one split with two seeds."
    ),
    "seed_pair_a": _v("first network of seed pair", "1", "Network index of the first seed."),
    "seed_pair_b": _v("second network of seed pair", "1", "Network index of the second seed."),
    "level": _v(
        "filtering level k",
        "1",
        "Filtering level k of the oracle BP_k (k = 0 exact tree, k = L root-mediated "
        "correlations only); for validity, the tree level d of the parent nodes (0 = root).",
    ),
    "t": _v("diffusion step", "1", "Diffusion step t of the KL-along-time curves (t = 0 clean)."),
    "t_frac": _v("diffusion time fraction", "1", "t / T for the diffusion step t."),
    "nn_bin": _v(
        "nearest-neighbour distance bin",
        "1",
        "Left edge of the Hamming-distance bin [d, d + 1) of the NN histograms (in tokens).",
    ),
    "uturn_t": _v("U-turn start step", "1", "Diffusion step to which a U-turn noises a sequence."),
    "uturn_t_frac": _v("U-turn start time fraction", "1", "uturn_t / T."),
    # ---- losses ------------------------------------------------------------------------------
    "train_loss": _v(
        "training loss",
        "nat",
        "Per-token cross-entropy on the network's own training split with (t, noise) drawn once "
        "per sequence (t ~ U{1..T}) and frozen across checkpoints.",
    ),
    "test_loss": _v(
        "test loss",
        "nat",
        "Per-token cross-entropy on held-out test sequences with frozen (t, noise), "
        "t ~ U{1..T}. Its argmin is tau_test.",
    ),
    "bayes_test_loss": _v(
        "Bayes test loss",
        "nat",
        "The test loss of the exact BP denoiser on the same frozen inputs: the floor no network "
        "can beat in expectation.",
    ),
    # ---- score-level diagnostics at t_frac ----------------------------------------------------
    "ladder_test": _v(
        "model-oracle ladder on test inputs",
        "nat",
        "D_k = E KL(BP_k(x_t) || model(x_t)), summed over tokens and symbols, averaged over "
        "frozen noised test sequences at t = t_frac T.",
    ),
    "ladder_train": _v(
        "model-oracle ladder on training inputs",
        "nat",
        "D_k as ladder_test, on the network's own training sequences.",
    ),
    "oracle_ladder": _v(
        "oracle-oracle ladder",
        "nat",
        "E KL(BP_0(x_t) || BP_k(x_t)) on the frozen test inputs at t = t_frac T. Its value at "
        "k = L is the threshold of the 'learned' bias rule.",
    ),
    "split_divergence": _v(
        "sample-split divergence S",
        "nat",
        "S = E KL(model_A(x_t) || model_B(x_t)) on the shared frozen test inputs at "
        "t = t_frac T for the networks of a disjoint pair. Its argmin is tau_bias.",
    ),
    "seed_divergence": _v(
        "seed-noise divergence",
        "nat",
        "The sample-split divergence for two seeds trained on one split: the baseline of S.",
    ),
    "learned": _v(
        "learned beyond root-only oracle",
        "1",
        "1 where the network's D_0 on test inputs is below KL(BP_0 || BP_L) (it has learned "
        "correlations beyond the root-only oracle), else 0.",
    ),
    # ---- KL along diffusion time --------------------------------------------------------------
    "kl_oracle_time": _v(
        "oracle KL along diffusion time",
        "nat",
        "E KL(BP_0(x_t) || BP_k(x_t)) at each diffusion step t on noised test sequences.",
    ),
    "kl_model_time": _v(
        "model KL along diffusion time",
        "nat",
        "E KL(BP_0(x_t) || model(x_t)) at each diffusion step t on noised test sequences "
        "(sample checkpoints only; NaN elsewhere).",
    ),
    # ---- loss decomposition ------------------------------------------------------------------
    "loss_total_train": _v(
        "loss at loss_t_frac on training data",
        "nat",
        "Per-token cross-entropy l = l* + l~ at t = loss_t_frac T, training split (Eq. 4).",
    ),
    "loss_exact_train": _v(
        "distillation loss on training data",
        "nat",
        "l* = -BP_0(x_t)^T log model(x_t) per token at t = loss_t_frac T, training split.",
    ),
    "loss_excess_train": _v(
        "excess loss on training data",
        "nat",
        "l~ = -(x0 - BP_0(x_t))^T log model(x_t) per token at t = loss_t_frac T, training "
        "split; a decrease below 0 is fitting of the individual training samples.",
    ),
    "loss_total_test": _v(
        "loss at loss_t_frac on test data",
        "nat",
        "As loss_total_train, on held-out test sequences.",
    ),
    "loss_exact_test": _v(
        "distillation loss on test data",
        "nat",
        "As loss_exact_train, on held-out test sequences.",
    ),
    "loss_excess_test": _v(
        "excess loss on test data",
        "nat",
        "As loss_excess_train, on held-out test sequences (zero in expectation).",
    ),
    "membership_auc": _v(
        "membership-inference AUC",
        "1",
        "AUC of the attack 'lower loss at t = loss_t_frac T => training member' separating the "
        "training split from test sequences (0.5 = no leak, 1 = perfect).",
    ),
    # ---- samples -----------------------------------------------------------------------------
    "nn_hist_gen": _v(
        "NN distance histogram of generated samples",
        "1",
        "Fraction of the coupled generated samples whose Hamming distance to the nearest "
        "sequence of the network's training split falls in each bin (sample checkpoints only).",
    ),
    "nn_hist_test": _v(
        "NN distance histogram of fresh samples",
        "1",
        "The same histogram for fresh samples of the true distribution (test sequences).",
    ),
    "nn_divergence": _v(
        "NN divergence",
        "nat",
        "KL(P_gen || P_test) between the NN-distance histograms (clipped at 1e-8). Its argmin "
        "is tau_nn.",
    ),
    "nn_mean_gen": _v(
        "mean NN distance of generated samples",
        "1",
        "Mean Hamming distance (tokens) of generated samples to the nearest training sequence.",
    ),
    "nn_mean_test": _v(
        "mean NN distance of fresh samples",
        "1",
        "Mean Hamming distance (tokens) of fresh true samples to the nearest training sequence.",
    ),
    "copy_fraction": _v(
        "exact-copy fraction",
        "1",
        "Fraction of generated samples equal to a sequence of the network's training split.",
    ),
    "memorised_fraction": _v(
        "memorised fraction",
        "1",
        "Fraction of generated samples with gap ratio d1/d2 < 1/3 (nearest and second-nearest "
        "training distances).",
    ),
    "memorised_fraction_se": _v(
        "memorised fraction standard error",
        "1",
        "Bootstrap standard error of memorised_fraction.",
    ),
    "memorised_floor": _v(
        "memorised fraction noise floor",
        "1",
        "Memorised fraction of fresh true samples against the training split: the chance level "
        "that tau_mem must exceed.",
    ),
    "validity": _v(
        "validity per level",
        "1",
        "Fraction of sibling groups of generated samples that are allowed rules, per tree level "
        "d of the parent (bottom-up parse; NaN at level L, which has no children).",
    ),
    "valid_fraction": _v(
        "valid fraction",
        "1",
        "Fraction of generated samples with non-zero probability under the true grammar.",
    ),
    "log_likelihood": _v(
        "log-likelihood of valid samples",
        "nat",
        "Mean exact log p0 of the valid generated samples (NaN when none is valid).",
    ),
    "uturn_ratio_train": _v(
        "U-turn overlap ratio, training starts",
        "1",
        "<overlap of model U-turns> / <overlap of BP U-turns> from the network's training "
        "sequences: noise to uturn_t, denoise back with fresh noise, overlap = fraction of "
        "tokens equal to the start.",
    ),
    "uturn_ratio_test": _v(
        "U-turn overlap ratio, test starts",
        "1",
        "As uturn_ratio_train, from held-out test sequences.",
    ),
    # ---- onsets ------------------------------------------------------------------------------
    "tau_bias": _v(
        "onset of biased generalisation",
        "step",
        "Checkpoint step of the minimum of the pair's sample-split divergence S, restricted by "
        "the bias rule (attr physgen_bias_rule; 'learned': both networks learned). NaN if the "
        "minimum is not inside the run.",
    ),
    "tau_bias_seed": _v(
        "argmin of the seed-noise divergence",
        "step",
        "The tau_bias rule applied to a seed pair's divergence (the baseline has no bias).",
    ),
    "tau_test": _v(
        "test-loss minimum",
        "step",
        "Checkpoint step of the minimum of the test loss (early-stopping point); NaN when the "
        "minimum sits at the last checkpoint." + _PAIR_MEAN,
    ),
    "tau_nn": _v(
        "NN-divergence minimum",
        "step",
        "Sample checkpoint step of the minimum of the NN divergence; NaN when not inside the "
        "run." + _PAIR_MEAN,
    ),
    "tau_mem": _v(
        "onset of memorisation",
        "step",
        "First sample checkpoint step at which memorised_fraction minus two standard errors "
        "exceeds memorised_floor; NaN if never." + _PAIR_MEAN,
    ),
    "tau_test_net": _v("test-loss minimum per network", "step", "tau_test of each network."),
    "tau_nn_net": _v("NN-divergence minimum per network", "step", "tau_nn of each network."),
    "tau_mem_net": _v("onset of memorisation per network", "step", "tau_mem of each network."),
}


def register_variables(specs: Mapping[str, VarSpec]) -> None:
    """Add variable specifications (used by the vector and image experiments).

    Re-registering a name with different attributes is an error: one name, one meaning.
    """
    for name, spec in specs.items():
        old = VARIABLES.get(name)
        if old is not None and old != spec:
            raise PhysgenError(f"variable {name!r} is already registered with other attributes")
        VARIABLES[name] = spec


def variable_attrs(name: str) -> dict[str, str]:
    """``long_name``, ``units`` and ``description`` of a registered variable."""
    try:
        return VARIABLES[name].attrs()
    except KeyError:
        raise PhysgenError(
            f"variable {name!r} has no registered attributes (physgen.experiments.schema)"
        ) from None


def _safe_attr(value: Any) -> str | int | float:
    """A netCDF-safe attribute: bool → 0/1, mapping/sequence → JSON, None → ''."""
    if isinstance(value, bool | np.bool_):
        return int(value)
    if value is None:
        return ""
    if isinstance(value, str | int | float | np.integer | np.floating):
        return value.item() if isinstance(value, np.generic) else value
    return json.dumps(value, sort_keys=True)


def global_attrs(
    cfg: ExperimentConfig, title: str, options: Mapping[str, Any] | None = None
) -> dict[str, str | int | float]:
    """Global attributes of a cell: provenance of the configuration and physgen's options.

    ``options`` are recorded as ``physgen_<name>`` (choices physgen makes on top of the paper,
    e.g. the weight average and the bias rule).
    """
    from physgen import __version__

    attrs: dict[str, str | int | float] = {
        "Conventions": "CF-1.10",
        "title": title,
        "source": f"physgen {__version__}",
        "references": REFERENCES,
        "config_json": cfg.to_json(),
        "config_sha256": cfg.sha256(),
    }
    for key, value in (options or {}).items():
        attrs[f"physgen_{key}"] = _safe_attr(value)
    return attrs


def build_dataset(
    data_vars: Mapping[str, tuple[tuple[str, ...], Any]],
    coords: Mapping[str, tuple[tuple[str, ...], Any]],
    attrs: Mapping[str, str | int | float],
) -> xr.Dataset:
    """An :class:`xarray.Dataset` whose variables and coordinates carry their registered attrs.

    ``data_vars`` and ``coords`` map a name to ``(dims, values)``; every name must be in
    :data:`VARIABLES`. ``attrs`` are the global attributes (see :func:`global_attrs`).
    """
    ds = xr.Dataset(
        data_vars={
            k: (dims, np.asarray(v), variable_attrs(k)) for k, (dims, v) in data_vars.items()
        },
        coords={k: (dims, np.asarray(v), variable_attrs(k)) for k, (dims, v) in coords.items()},
        attrs=dict(attrs),
    )
    check_netcdf_safe(ds)
    return ds


def check_netcdf_safe(ds: xr.Dataset) -> None:
    """Raise :class:`PhysgenError` if an attribute cannot be written to netCDF (dict, None,
    bool) or a variable lacks ``long_name``/``units``/``description``."""
    items = [("<global>", ds.attrs)] + [(str(k), v.attrs) for k, v in ds.variables.items()]
    for owner, attrs in items:
        for key, value in attrs.items():
            if value is None or isinstance(value, dict | bool | np.bool_):
                raise PhysgenError(
                    f"attribute {key!r} of {owner} is a {type(value).__name__}: not netCDF-safe"
                )
    for name, var in ds.variables.items():
        missing = {"long_name", "units", "description"} - set(var.attrs)
        if missing:
            raise PhysgenError(f"variable {name!r} lacks attributes {sorted(missing)}")
