r"""Power laws of onsets against the training-set size: the log-log slope of :math:`\tau(n)` with
a bootstrap confidence interval (docs/mixtures.md, "Learned denoisers").

**Slope.** With :math:`G` sizes :math:`n_g` and, for each, the onsets of its pairs
:math:`\tau_{g,1..k_g}`, the slope :math:`\beta` of :math:`\log\tau = \alpha + \beta\log n` is the
least-squares slope through the per-size means of :math:`\log\tau`,

.. math:: \hat\beta = \frac{\sum_g (x_g - \bar x)(y_g - \bar y)}{\sum_g (x_g - \bar x)^2},
          \qquad x_g = \log n_g,\ y_g = \frac1{k_g}\sum_i \log\tau_{g,i},

so each size weighs the same whatever its number of pairs (Bonnaire et al. predict
:math:`\beta = 1` for :math:`\tau_{\rm mem}`). The intercept :math:`\hat\alpha = \bar y -
\hat\beta\bar x` gives the fitted line :math:`\tau = e^{\hat\alpha} n^{\hat\beta}`.

**Interval.** Percentile bootstrap: resample the pairs *within each size* with replacement
(``n_boot`` times, from ``seed``), recompute :math:`\hat\beta`, and take the
:math:`(1\pm\text{level})/2` quantiles. With few pairs per size it is somewhat narrow (the
bootstrap variance of a mean of :math:`k` values is :math:`(k-1)/k` of the usual estimate).

**Censoring** is explicit: an onset flagged censored (not reached, or at an edge of the checked
range, :class:`physgen.metrics.onsets.Onset`) is not a measurement but a bound. ``censoring =
"drop"`` leaves it out (each size keeps its uncensored pairs; a size without any is left out);
``"bound"`` keeps it at its recorded value (e.g. the bracket end, which turns a lower bound into
a value and so biases the slope toward the checked range). The result says how many were
censored and which rule was used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from physgen.errors import PhysgenError

__all__ = ["SlopeCI", "loglog_slope_ci"]


@dataclass(frozen=True)
class SlopeCI:
    """A log-log slope with its bootstrap interval (:func:`loglog_slope_ci`).

    Attributes:
        slope: :math:`\\hat\\beta` on the data.
        intercept: :math:`\\hat\\alpha`, the fitted :math:`\\log\\tau` at :math:`n = 1`.
        lo, hi: the percentile bootstrap interval at ``level``.
        level: its coverage (e.g. 0.95).
        n_sizes: sizes that entered; n_used: onsets that entered; n_censored: censored onsets
            (left out under ``"drop"``, kept under ``"bound"``).
        censoring: the rule, ``"drop"`` or ``"bound"``.
    """

    slope: float
    intercept: float
    lo: float
    hi: float
    level: float
    n_sizes: int
    n_used: int
    n_censored: int
    censoring: str

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies inside the interval (compatibility with, e.g., slope 1)."""
        return bool(self.lo <= value <= self.hi)


def _slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least-squares slopes of the rows of ``y`` ``(b, G)`` against ``x`` ``(G,)``."""
    xc = x - x.mean()
    return (y - y.mean(axis=-1, keepdims=True)) @ xc / np.sum(xc**2)


def loglog_slope_ci(
    n: np.ndarray,
    tau: np.ndarray,
    censored: np.ndarray | None = None,
    *,
    level: float = 0.95,
    n_boot: int = 4000,
    seed: int = 0,
    censoring: Literal["drop", "bound"] = "drop",
) -> SlopeCI:
    r"""Slope of :math:`\log\tau` against :math:`\log n` with a bootstrap interval (module
    docstring).

    ``n``: sizes ``(G,)``, positive; ``tau``: onsets ``(G, k)`` (one row per size, one column per
    pair; NaN = no onset: treated as censored); ``censored``: bool ``(G, k)`` (None: only NaN
    counts). Resamples pairs within each size ``n_boot`` times from ``seed``. Raises
    :class:`~physgen.errors.PhysgenError` when fewer than two sizes keep an onset, or on
    non-positive values.
    """
    x_all = np.asarray(n, dtype=np.float64)
    t = np.asarray(tau, dtype=np.float64)
    if t.ndim != 2 or t.shape[0] != x_all.size:
        raise PhysgenError(
            f"tau must have shape (len(n), n_pairs) = ({x_all.size}, k), got {t.shape}"
        )
    if np.any(~(x_all > 0)):
        raise PhysgenError("n must be positive")
    cens = np.isnan(t)
    if censored is not None:
        cens |= np.broadcast_to(np.asarray(censored, dtype=bool), t.shape)
    if censoring not in ("drop", "bound"):
        raise PhysgenError(f"censoring must be 'drop' or 'bound', got {censoring!r}")
    if not 0.0 < level < 1.0:
        raise PhysgenError(f"level must lie in (0, 1), got {level}")
    keep = ~cens if censoring == "drop" else np.isfinite(t)
    if np.any(t[keep] <= 0):
        raise PhysgenError("onsets must be positive for a log-log slope")
    groups = [np.log(t[g, keep[g]]) for g in range(t.shape[0])]
    sizes = [g for g, v in enumerate(groups) if v.size]
    if len(sizes) < 2 or np.unique(x_all[sizes]).size < 2:
        raise PhysgenError("a slope needs onsets at two or more distinct sizes n")
    x = np.log(x_all[sizes])
    y = np.array([groups[g].mean() for g in sizes])
    rng = np.random.default_rng(np.random.SeedSequence(int(seed)))
    boot = np.empty((int(n_boot), len(sizes)))
    for j, g in enumerate(sizes):
        v = groups[g]
        boot[:, j] = v[rng.integers(v.size, size=(int(n_boot), v.size))].mean(axis=1)
    b = _slopes(x, boot)
    lo, hi = np.quantile(b, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    slope = float(_slopes(x, y[None])[0])
    return SlopeCI(
        slope=slope,
        intercept=float(y.mean() - slope * x.mean()),
        lo=float(lo),
        hi=float(hi),
        level=float(level),
        n_sizes=len(sizes),
        n_used=int(sum(groups[g].size for g in sizes)),
        n_censored=int(cens.sum()),
        censoring=censoring,
    )
