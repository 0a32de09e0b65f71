"""Guidance figure: the bias measurements of guided networks against the guidance weight w,
beside the guided process with exact scores (the guidance experiment, docs/guidance.md).

One row per ``weights`` (raw weights, each average), three panels against w, one line per value
of the series dimension (``n_train`` when swept, else the first grid dimension other than
``guidance_w``; any further dimension is averaged over):

* τ_bias of the guided pair divergence (mean over pairs ± standard error over pairs; a hollow
  marker where any pair's onset is censored), with the w-independent τ_test as a dashed line;
* the memorised fraction of guided samples at the last checkpoint (mean over networks ± SE);
* S_w at two fixed checkpoints: the last one (solid) and the one nearest the mean τ_test
  (dashed).

A last row shows what guidance does to the samples: the excess cross-entropy
−log p(x|c) − H(x|c), the fraction of distinct samples, and validity and class accuracy, for the
exact guided BP denoiser (black) and for the networks at their last checkpoint (the series
colours, the first weights).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from physgen.plots._axes import colours, log_axis, new_figure, save_figure
from physgen.plots._layout import grid_dims, training_axis

__all__ = ["guidance"]


def _series(ds: xr.Dataset) -> tuple[str | None, list[Any]]:
    """The dimension drawn as one line per value and its values (``[None]`` when none)."""
    dims = [d for d in grid_dims(ds) if d != "guidance_w"]
    dim = "n_train" if "n_train" in dims else (dims[0] if dims else None)
    return dim, ([None] if dim is None else list(ds[dim].values))


def _mean_se(da: xr.DataArray, over: str) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error over ``over`` (NaN-skipping), as arrays over ``guidance_w``
    (every other dimension averaged)."""
    extra = [d for d in da.dims if d not in (over, "guidance_w")]
    if extra:
        da = da.mean(extra, skipna=True)
    n = np.isfinite(da).sum(over)
    mean = da.mean(over, skipna=True)
    se = da.std(over, skipna=True, ddof=1) / np.sqrt(n.where(n > 0))
    return (
        np.asarray(mean.transpose("guidance_w").values, float),
        np.asarray(se.transpose("guidance_w").values, float),
    )


def _cell(ds: xr.Dataset, dim: str | None, value: Any) -> xr.Dataset:
    return ds if dim is None else ds.sel({dim: value})


def _last(cell: xr.Dataset, da: xr.DataArray) -> xr.DataArray:
    """``da`` at the cell's last checkpoint (in a merged sweep a cell with fewer checkpoints is
    NaN-padded at the end: its last checkpoint is the last one with a step)."""
    dim, steps = training_axis(cell["guided_divergence"])
    return da.isel({dim: int(np.flatnonzero(np.isfinite(steps))[-1])})


def _at_step(cell: xr.Dataset, da: xr.DataArray, step: float) -> xr.DataArray:
    """``da`` at the checkpoint whose step is nearest ``step``."""
    dim, steps = training_axis(cell["guided_divergence"])
    return da.isel({dim: int(np.nanargmin(np.abs(steps - step)))})


def guidance(ds: xr.Dataset, out: str | Path) -> list[Path]:
    """Draw the guidance figure of ``ds`` (a guidance cell or a merged guidance sweep) to
    ``out``; ``[]`` when ``ds`` holds no guided diagnostics."""
    if "guided_divergence" not in ds:
        return []
    out = Path(out)
    w = np.asarray(ds["guidance_w"].values, float)
    dim, values = _series(ds)
    weights = list(ds["weights"].values) if "weights" in ds.dims else [None]
    cols = colours("viridis", len(values))
    fig, axes = new_figure(len(weights) + 1, 3, (13.5, 3.4 * (len(weights) + 1)))
    label = (lambda v: "") if dim is None else (lambda v: f"{dim} = {v}")
    for r, wt in enumerate(weights):
        part = ds if wt is None else ds.sel(weights=wt)
        ax_tau, ax_mem, ax_s = axes[r]
        for colour, value in zip(cols, values, strict=True):
            cell = _cell(part, dim, value)
            tau, tau_se = _mean_se(cell["tau_bias_guided"], "pair")
            censored = np.asarray(cell["tau_bias_guided_censored"].any("pair").values).reshape(-1)
            ax_tau.errorbar(w, tau, tau_se, color=colour, marker="o", capsize=2, label=label(value))
            if censored.any() and censored.size == w.size:
                ax_tau.plot(w[censored], tau[censored], "o", mfc="white", color=colour)
            tau_test = float(cell["tau_test"].mean(skipna=True))
            if np.isfinite(tau_test):
                ax_tau.axhline(tau_test, color=colour, ls="--", lw=1)
            mem = _last(cell, cell["guided_memorised_fraction"])
            m, m_se = _mean_se(mem, "network")
            ax_mem.errorbar(w, m, m_se, color=colour, marker="s", capsize=2, label=label(value))
            S = cell["guided_divergence"]
            s_last, se_last = _mean_se(_last(cell, S), "pair")
            ax_s.errorbar(w, s_last, se_last, color=colour, marker="o", capsize=2)
            if np.isfinite(tau_test):
                s_mid, se_mid = _mean_se(_at_step(cell, S, tau_test), "pair")
                ax_s.errorbar(w, s_mid, se_mid, color=colour, marker="^", ls="--", capsize=2)
        who = "" if wt is None else f"{wt} weights: "
        ax_tau.set(xlabel="guidance weight w", ylabel="training step")
        ax_tau.set_title(who + "τ_bias(w), τ_test dashed", fontsize=9)
        log_axis(ax_tau)
        ax_mem.set(xlabel="guidance weight w", ylabel="fraction")
        ax_mem.set_title(who + "memorised fraction, last checkpoint", fontsize=9)
        ax_s.set(xlabel="guidance weight w", ylabel="S_w (nats)")
        ax_s.set_title(who + "S_w: last checkpoint (solid), near τ_test (dashed)", fontsize=9)
        log_axis(ax_s)
        if dim is not None:
            ax_tau.legend(fontsize=7)
    _exact_row(ds, axes[-1], w, dim, values, cols, weights[0], label)
    return [save_figure(fig, out)]


def _exact_row(
    ds: xr.Dataset,
    axes: Any,
    w: np.ndarray,
    dim: str | None,
    values: list[Any],
    cols: np.ndarray,
    wt: Any,
    label: Any,
) -> None:
    """The sample diagnostics row: exact guided BP (black) beside the networks (colours)."""
    ax_ce, ax_div, ax_ok = axes
    n_samples = float(ds.attrs.get("physgen_n_generate", np.nan))
    exact = ds if dim is None else ds.isel({dim: 0})
    ce = np.asarray(exact["exact_ce_excess"].values, float).reshape(-1)[: w.size]
    ce_se = np.asarray(exact["exact_ce_excess_se"].values, float).reshape(-1)[: w.size]
    ax_ce.errorbar(w, ce, ce_se, color="black", marker="D", capsize=2, label="exact BP")
    distinct = np.asarray(exact["exact_distinct"].values, float).reshape(-1)[: w.size]
    ax_div.plot(w, distinct / n_samples, "kD-", label="exact BP")
    for name, marker in (("exact_valid_fraction", "D"), ("exact_class_accuracy", "x")):
        v = np.asarray(exact[name].values, float).reshape(-1)[: w.size]
        ax_ok.plot(w, v, color="black", marker=marker, ls="-" if marker == "D" else ":")
    part = ds if wt is None else ds.sel(weights=wt)
    for colour, value in zip(cols, values, strict=True):
        cell = _cell(part, dim, value)
        last = _last(cell, cell)
        m, se = _mean_se(last["guided_ce_excess"], "network")
        ax_ce.errorbar(w, m, se, color=colour, marker="o", capsize=2, label=label(value))
        m, se = _mean_se(last["guided_distinct"] / n_samples, "network")
        ax_div.errorbar(w, m, se, color=colour, marker="o", capsize=2)
        m, _ = _mean_se(last["guided_valid_fraction"], "network")
        ax_ok.plot(w, m, color=colour, marker="o")
        m, _ = _mean_se(last["guided_class_accuracy"], "network")
        ax_ok.plot(w, m, color=colour, marker="x", ls=":")
    who = "" if wt is None else f" (networks: {wt}, last checkpoint)"
    ax_ce.axhline(0.0, color="grey", lw=0.8)
    ax_ce.set(xlabel="guidance weight w", ylabel="nats")
    ax_ce.set_title("excess cross-entropy −log p(x|c) − H(x|c)" + who, fontsize=9)
    ax_ce.legend(fontsize=7)
    ax_div.set(xlabel="guidance weight w", ylabel="fraction")
    ax_div.set_title("distinct samples / samples (exact BP black)", fontsize=9)
    ax_ok.set(xlabel="guidance weight w", ylabel="fraction")
    ax_ok.set_title("validity (solid), class accuracy (dotted)", fontsize=9)
