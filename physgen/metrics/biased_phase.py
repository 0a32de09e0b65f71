r"""The biased phase across a sweep: onset exponents against :math:`n` and the phase's width
(docs/onsets.md, "Exponents and the width of the biased phase"; docs/theory.md §4.3).

Both functions take a merged results Dataset (or any Dataset) holding the per-pair onsets
``tau_bias`` and ``tau_test`` (dimension ``pair``, any further dimensions: ``n_train``, ``depth``,
``weights`` …) and, when recorded, their flags ``tau_bias_censored`` and ``tau_test_censored``.
An onset is **measured** when it is finite and not flagged censored (a censored onset is a
bound, docs/onsets.md); a pair is measured when both its onsets are.

* :func:`onset_exponents`: per value of every dimension other than ``n_train`` and ``pair``
  (e.g. per depth and weights), the exponents of

  .. math:: \tau_{\rm bias} \propto n^{a}, \qquad \tau_{\rm test} \propto n^{b}, \qquad
            \tau_{\rm test}/\tau_{\rm bias} \propto n^{b'}

  from :func:`physgen.metrics.scaling.loglog_slope_ci`: least squares of the per-size mean of
  :math:`\log\tau` over pairs against :math:`\log n`, with a percentile bootstrap over the pairs
  within each size. The ratio is taken per pair (both onsets of one pair resampled together);
  :math:`b' = b - a` when every pair is measured. **Censoring** (``censoring="drop"``, the
  default): censored onsets are left out, and a ratio is left out when either onset of its pair
  is censored; the result counts them (``n_censored``) beside those used (``n_used``). With
  ``"bound"`` a censored onset enters at its recorded step (the bound, which biases the slope
  toward the checked range). Fewer than two sizes with a usable onset: NaN exponent. A size
  with a single usable onset adds no spread to the bootstrap, so the interval is too narrow
  there: ``min_pairs`` (the fewest usable onsets at a size that entered) says when.

* :func:`phase_width`: per cell (every dimension but ``pair``), over the measured pairs, the
  difference :math:`\tau_{\rm test} - \tau_{\rm bias}` (steps) and the ratio
  :math:`\tau_{\rm test} / \tau_{\rm bias}`: median, minimum and maximum, and the number of
  measured pairs out of all pairs. With no measured pair the statistics are NaN. A negative
  difference (ratio below 1) is a pair whose test loss turns before its S does: no biased phase.
"""

from __future__ import annotations

import itertools
import warnings
from typing import Literal

import numpy as np
import xarray as xr

from physgen.errors import PhysgenError
from physgen.metrics.scaling import loglog_slope_ci

__all__ = ["QUANTITIES", "onset_exponents", "pair_onsets", "phase_width"]

#: the fitted quantities of :func:`onset_exponents`, in order
QUANTITIES = ("tau_bias", "tau_test", "ratio")


def _attrs(long_name: str, units: str, description: str) -> dict[str, str]:
    return {"long_name": long_name, "units": units, "description": description}


def pair_onsets(ds: xr.Dataset) -> dict[str, tuple[xr.DataArray, xr.DataArray]]:
    """Per quantity of :data:`QUANTITIES`, the per-pair values and their censored flags (bool;
    NaN values count as censored; the ratio is censored when either onset is). Raises
    :class:`~physgen.errors.PhysgenError` when ``ds`` lacks ``tau_bias`` or ``tau_test`` with a
    ``pair`` dimension."""
    out: dict[str, tuple[xr.DataArray, xr.DataArray]] = {}
    for name in QUANTITIES[:2]:
        if name not in ds or "pair" not in ds[name].dims:
            raise PhysgenError(
                f"the file has no per-pair {name} (a tree sweep's tau_bias and tau_test with a "
                "pair dimension): nothing to measure the biased phase with"
            )
        tau = ds[name].astype(np.float64)
        flag = f"{name}_censored"
        censored = ds[flag].astype(bool) if flag in ds else xr.zeros_like(tau, dtype=bool)
        out[name] = (tau, censored | tau.isnull())
    (tb, cb), (tt, ct) = out["tau_bias"], out["tau_test"]
    out["ratio"] = (tt / tb, cb | ct)
    return out


def onset_exponents(
    ds: xr.Dataset,
    *,
    x: str = "n_train",
    censoring: Literal["drop", "bound"] = "drop",
    level: float = 0.95,
    n_boot: int = 4000,
    seed: int = 0,
) -> xr.Dataset:
    r"""Exponents of :math:`\tau_{\rm bias}`, :math:`\tau_{\rm test}` and their ratio against
    ``x`` (module docstring), per value of every other dimension of the onsets but ``pair``.

    Returns a Dataset with dimensions ``(*others, quantity)`` (``quantity`` = :data:`QUANTITIES`)
    and variables ``exponent``, ``exponent_lo``, ``exponent_hi`` (the bootstrap interval at
    ``level``), ``log_prefactor`` (:math:`\hat\alpha`: the fitted line is
    :math:`e^{\hat\alpha} n^{\rm exponent}`), ``n_sizes`` (sizes with a usable onset),
    ``n_used`` (onsets used), ``min_pairs`` (the fewest usable onsets at one size; 1 makes the
    interval too narrow) and ``n_censored`` (censored onsets, left out under ``"drop"``);
    the attributes record ``censoring``, ``level``, ``n_boot`` and ``seed``. Raises
    :class:`~physgen.errors.PhysgenError` when ``x`` is not a dimension of the onsets.
    """
    onsets = pair_onsets(ds)
    tau0 = onsets["tau_bias"][0]
    if x not in tau0.dims:
        raise PhysgenError(f"the onsets have no {x!r} dimension to fit against: {tau0.dims}")
    if censoring not in ("drop", "bound"):
        raise PhysgenError(f"censoring must be 'drop' or 'bound', got {censoring!r}")
    others = [d for d in tau0.dims if d not in (x, "pair")]
    shape = (*(tau0.sizes[d] for d in others), len(QUANTITIES))
    fields = {k: np.full(shape, np.nan) for k in ("exponent", "lo", "hi", "alpha")}
    counts = {
        k: np.zeros(shape, dtype=np.int64) for k in ("n_sizes", "n_used", "n_censored", "min_pairs")
    }
    n = np.asarray(ds[x].values, dtype=np.float64)
    for index in itertools.product(*(range(s) for s in shape[:-1])):
        sel = dict(zip(others, index, strict=True))
        for q, name in enumerate(QUANTITIES):
            tau, cens = (v.isel(sel).transpose(x, "pair").values for v in onsets[name])
            usable = np.isfinite(tau) & (~cens if censoring == "drop" else True)
            at = (*index, q)
            counts["n_sizes"][at] = np.unique(n[usable.any(axis=1)]).size
            counts["n_used"][at] = int(usable.sum())
            counts["n_censored"][at] = int(cens.sum())
            per_size = usable.sum(axis=1)
            counts["min_pairs"][at] = per_size[per_size > 0].min() if per_size.any() else 0
            if counts["n_sizes"][at] < 2:
                continue
            ci = loglog_slope_ci(
                n, tau, cens, level=level, n_boot=n_boot, seed=seed, censoring=censoring
            )
            for key, value in zip(fields, (ci.slope, ci.lo, ci.hi, ci.intercept), strict=True):
                fields[key][at] = value
    dims = (*others, "quantity")
    boot = f"{100 * level:g} % percentile bootstrap over the pairs within each size"
    described = {
        "exponent": (fields["exponent"], "exponent", "log-log least-squares slope of the "
                     "per-size mean of log(onset) over pairs"),
        "exponent_lo": (fields["lo"], "exponent: lower end", boot),
        "exponent_hi": (fields["hi"], "exponent: upper end", boot),
        "log_prefactor": (fields["alpha"], "log prefactor", "fitted log(onset) at n = 1"),
        "n_sizes": (counts["n_sizes"], "sizes with a usable onset", ""),
        "n_used": (counts["n_used"], "onsets used", ""),
        "min_pairs": (counts["min_pairs"], "fewest usable onsets at one size", ""),
        "n_censored": (counts["n_censored"], "censored onsets", "left out when censoring = 'drop'"),
    }  # fmt: skip
    return xr.Dataset(
        {k: (dims, v, _attrs(name, "1", text)) for k, (v, name, text) in described.items()},
        coords={"quantity": list(QUANTITIES), **{d: ds[d].values for d in others}},
        attrs={"censoring": censoring, "level": level, "n_boot": n_boot, "seed": seed, "x": x},
    )


def phase_width(ds: xr.Dataset) -> xr.Dataset:
    r"""Width of the biased phase per cell, over the measured pairs (module docstring).

    Returns a Dataset with the onsets' dimensions but ``pair`` and the variables
    ``width_median``, ``width_min``, ``width_max`` (:math:`\tau_{\rm test} - \tau_{\rm bias}`,
    steps), ``ratio_median``, ``ratio_min``, ``ratio_max`` (:math:`\tau_{\rm test} /
    \tau_{\rm bias}`), ``n_measured`` (pairs with both onsets measured) and ``n_pairs``.
    """
    onsets = pair_onsets(ds)
    (tb, _), (tt, _), (ratio, censored) = (onsets[q] for q in QUANTITIES)
    measured = ~censored
    values = {"width": (tt - tb).where(measured), "ratio": ratio.where(measured)}
    out = xr.Dataset()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN cells stay NaN
        for key, v in values.items():
            unit = "1" if key == "ratio" else "steps"
            text = "tau_test / tau_bias" if key == "ratio" else "tau_test - tau_bias"
            for stat, fn in (("median", np.nanmedian), ("min", np.nanmin), ("max", np.nanmax)):
                da = xr.apply_ufunc(fn, v, input_core_dims=[["pair"]], kwargs={"axis": -1})
                out[f"{key}_{stat}"] = da.assign_attrs(
                    _attrs(f"{stat} of {text}", unit, "over the pairs with both onsets measured")
                )
    out["n_measured"] = measured.sum("pair").assign_attrs(
        _attrs("measured pairs", "1", "pairs with tau_bias and tau_test both uncensored")
    )
    out["n_pairs"] = xr.full_like(out["n_measured"], ds.sizes["pair"]).assign_attrs(
        _attrs("pairs", "1", "")
    )
    return out
