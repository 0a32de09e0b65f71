r"""Onset times extracted from curves over training checkpoints (docs/theory.md §4, issue 3 item 5).

All functions take ``steps`` (``(n_steps,)``, the checkpoints' training steps, increasing) and
curves of shape ``(..., n_steps)`` (leading axes: pairs, replicates …); they return a float for
one curve and an array of the leading shape otherwise. **NaN means "not reached within the run".**

* :func:`argmin_onset`: the step of the minimum of a curve over its *valid* checkpoints. A minimum
  at the last valid checkpoint is not an onset — the curve may still be decreasing — so it gives
  NaN (``edge="keep"`` returns it instead). NaN values count as invalid.

  - :math:`\tau_{\rm test}` = ``argmin_onset(steps, test_loss)``, the usual early-stopping point;
  - :math:`\tau_{\rm nn}` = ``argmin_onset(steps, nn_divergence)``;
  - :math:`\tau_{\rm bias}` = :func:`bias_onset`.

* :func:`bias_onset`: argmin of the sample-split divergence :math:`S`. At the first checkpoints
  both models make the same trivial prediction (they know at most the single-site marginals), so
  :math:`S` is small there for a reason unrelated to bias. Rule ``"learned"`` (physgen's choice on
  top of the paper) restricts the argmin to checkpoints where **both** models have learned beyond
  the root-only oracle, :math:`D_0^A < \mathrm{KL}(\mathrm{BP}_0\|\mathrm{BP}_L)` and
  :math:`D_0^B < \mathrm{KL}(\mathrm{BP}_0\|\mathrm{BP}_L)`; rule ``"none"`` is the plain argmin.

* :func:`bias_onset_bracketed` (the ``progress`` rule, docs/onsets.md): argmin of :math:`S` over
  the checkpoints from the first one at which **both** networks have learned, in their divergence
  :math:`d` from the exact denoiser (:math:`D_0` for trees): each beats the independent-site
  predictor (:math:`d_X \le d_{\rm triv}`, :func:`physgen.metrics.oracle.site_only_kl`) or has
  covered half of the way from its first checkpoint to its best,
  :math:`d_X(\tau) \le d_X^{\min} + \tfrac12 (d_X^{\rm first} - d_X^{\min})`. The initial
  transient (networks that still ignore their input agree, so :math:`S` is small, while
  :math:`d` is near its initial level) fails it; an average that still holds the initial
  weights is excluded with ``valid = init_weight ≤ 0.01`` (:func:`physgen.train.init_weight`).
  It asks nothing of the oracle ladder, so it finds checkpoints at small :math:`n`; at paper
  scale the networks beat the trivial predictor from the first checkpoint on and it is the
  plain argmin.

* Every ``*_bracketed`` function returns an :class:`Onset`: the step, its **bracket** (the
  neighbouring valid checkpoints: the true onset lies strictly between them) and a **censored**
  flag (not reached, or at either edge of its valid range — a minimum at the first valid
  checkpoint included). :func:`count_before` counts pairs with :math:`\tau_{\rm bias} <
  \tau_{\rm test}` beyond their brackets.

* :func:`first_exceed_onset`: the first step at which a curve exceeds a floor;
  :math:`\tau_{\rm mem}` = ``first_exceed_onset(steps, memorised_fraction, floor)`` with
  :func:`memorisation_floor`: the memorised fraction shown by samples of the *exact* model against
  the same training set (what chance alone gives) plus ``z`` bootstrap standard errors. When the
  exact model's samples show no memorised sample, the floor is 0 and :math:`\tau_{\rm mem}` is the
  first checkpoint with a non-zero memorised fraction (the paper's definition).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from physgen.errors import PhysgenError

__all__ = [
    "Onset",
    "argmin_bracketed",
    "argmin_onset",
    "bias_onset",
    "bias_onset_bracketed",
    "count_before",
    "exceed_bracketed",
    "first_exceed_onset",
    "memorisation_bracketed",
    "memorisation_floor",
    "memorisation_onset",
]


def _steps_and_curve(steps: np.ndarray, curve: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(steps, dtype=np.float64)
    c = np.asarray(curve, dtype=np.float64)
    if s.ndim != 1 or c.ndim < 1 or c.shape[-1] != s.size:
        raise PhysgenError(
            f"a curve must have shape (..., n_steps) with n_steps = len(steps) = {s.size}, "
            f"got {c.shape}"
        )
    if s.size and np.any(np.diff(s) <= 0):
        raise PhysgenError("steps must be strictly increasing")
    return s, c


def _scalar_or_array(x: np.ndarray) -> float | np.ndarray:
    return float(x) if x.ndim == 0 else x


@dataclass(frozen=True)
class Onset:
    """An onset with its resolution. Every field has the leading shape of the curves (floats for
    one curve).

    Attributes:
        tau: the step; NaN when not reached (no valid checkpoint, or never exceeded).
        lo, hi: the bracket, steps of the neighbouring valid checkpoints: the onset lies in
            ``(lo, hi)`` for an argmin and in ``(lo, tau]`` for a first exceedance
            (``hi = tau``); 0 below the first checkpoint, ``inf`` beyond the last.
        censored: True when not reached or at an edge of the valid range (bool).
    """

    tau: float | np.ndarray
    lo: float | np.ndarray
    hi: float | np.ndarray
    censored: bool | np.ndarray


def _neighbours(s: np.ndarray, ok: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Steps of the last valid checkpoint before and the first after ``idx`` (0 / inf if none).
    ``ok``: ``(..., n)`` bool, ``idx``: ``(...)`` int."""
    pos = np.arange(s.size)
    before = ok & (pos < idx[..., None])
    after = ok & (pos > idx[..., None])
    i_lo = s.size - 1 - np.argmax(before[..., ::-1], axis=-1)
    i_hi = np.argmax(after, axis=-1)
    lo = np.where(before.any(axis=-1), s[i_lo], 0.0)
    hi = np.where(after.any(axis=-1), s[i_hi], np.inf)
    return lo, hi


def _onset(tau: np.ndarray, lo: np.ndarray, hi: np.ndarray, censored: np.ndarray) -> Onset:
    out = (_scalar_or_array(np.asarray(v, dtype=np.float64)) for v in (tau, lo, hi))
    c = np.asarray(censored, dtype=bool)
    return Onset(*out, censored=bool(c) if c.ndim == 0 else c)


def _valid_mask(c: np.ndarray, valid: np.ndarray | None) -> np.ndarray:
    ok = np.isfinite(c)
    if valid is not None:
        ok &= np.broadcast_to(np.asarray(valid, dtype=bool), c.shape)
    return ok


def argmin_bracketed(
    steps: np.ndarray, curve: np.ndarray, valid: np.ndarray | None = None
) -> Onset:
    """Step of the minimum of ``curve`` over the ``valid`` finite checkpoints, with its bracket
    (the neighbouring valid checkpoints) and censoring: a minimum at the first or last valid
    checkpoint (the curve may go lower outside the range) and no valid checkpoint at all
    (``tau = lo = hi = NaN``) are censored; the step of an edge minimum is still given.

    ``steps``: ``(n_steps,)``; ``curve`` and ``valid`` (bool, default all): ``(..., n_steps)``.
    Ties go to the earliest step.
    """
    s, c = _steps_and_curve(steps, curve)
    ok = _valid_mask(c, valid)
    idx = np.argmin(np.where(ok, c, np.inf), axis=-1)
    first = np.argmax(ok, axis=-1)
    last = c.shape[-1] - 1 - np.argmax(ok[..., ::-1], axis=-1)
    none = ~ok.any(axis=-1)
    lo, hi = _neighbours(s, ok, idx)
    nan = np.where(none, np.nan, 0.0)
    return _onset(s[idx] + nan, lo + nan, hi + nan, none | (idx == first) | (idx == last))


def argmin_onset(
    steps: np.ndarray,
    curve: np.ndarray,
    valid: np.ndarray | None = None,
    *,
    edge: Literal["nan", "keep"] = "nan",
) -> float | np.ndarray:
    """Step of the minimum of ``curve`` over the ``valid`` checkpoints.

    ``steps``: ``(n_steps,)``; ``curve`` and ``valid`` (bool, default all): ``(..., n_steps)``.
    NaN where no checkpoint is valid, and (``edge="nan"``) where the minimum sits at the last
    valid checkpoint, i.e. is not inside the run. Ties go to the earliest step.
    (:func:`argmin_bracketed` gives the bracket and the censoring of either edge.)
    """
    if edge not in ("nan", "keep"):
        raise PhysgenError(f"edge must be 'nan' or 'keep', got {edge!r}")
    onset = argmin_bracketed(steps, curve, valid)
    tau = np.asarray(onset.tau)
    if edge == "nan":
        tau = np.where(np.isinf(np.asarray(onset.hi)), np.nan, tau)
    return _scalar_or_array(tau)


def bias_onset(
    steps: np.ndarray,
    S: np.ndarray,
    D0_a: np.ndarray,
    D0_b: np.ndarray,
    root_only_kl: float | np.ndarray,
    rule: Literal["learned", "none"] = "learned",
) -> float | np.ndarray:
    """:math:`\\tau_{\\rm bias}`: argmin of the sample-split divergence ``S`` (module docstring).

    ``S``, ``D0_a``, ``D0_b``: ``(..., n_steps)``, the divergence of the pair and each model's
    :math:`D_0` at every checkpoint; ``root_only_kl``: :math:`\\mathrm{KL}(\\mathrm{BP}_0\\|
    \\mathrm{BP}_L)` on the same inputs (a float, or broadcastable to ``S``). ``rule="learned"``
    keeps only checkpoints where both :math:`D_0` are below it, ``"none"`` all checkpoints.
    """
    if rule == "none":
        return argmin_onset(steps, S)
    if rule != "learned":
        raise PhysgenError(f"unknown bias rule {rule!r}; choose 'learned' or 'none'")
    r = np.asarray(root_only_kl, dtype=np.float64)
    valid = (np.asarray(D0_a) < r) & (np.asarray(D0_b) < r)
    return argmin_onset(steps, S, valid)


def bias_onset_bracketed(
    steps: np.ndarray,
    S: np.ndarray,
    d_a: np.ndarray,
    d_b: np.ndarray,
    d_trivial: float | np.ndarray,
    *,
    valid: np.ndarray | None = None,
    progress: float = 0.5,
) -> Onset:
    r""":math:`\tau_{\rm bias}` by the ``progress`` rule (module docstring, docs/onsets.md).

    ``S``, ``d_a``, ``d_b``: ``(..., n_steps)``: the pair's divergence and each network's
    divergence from the exact denoiser (:math:`D_0` on test inputs); ``d_trivial``: that
    divergence for the independent-site predictor (a float or the leading shape). Network
    :math:`X` has *learned* at :math:`\tau` when it beats the independent-site predictor,
    :math:`d_X(\tau) \le d_{\rm triv}`, or has covered the fraction :math:`p` (``progress``) of
    the way from its first checkpoint to its best,
    :math:`d_X(\tau) \le d_X^{\min} + (1-p)(d_X^{\rm first} - d_X^{\min})` with
    :math:`d_X^{\min} < d_X^{\rm first}`. The valid range runs from the first checkpoint where
    both have learned (and ``valid`` holds, e.g. the average no longer holds the initial
    weights) to the end; ``valid`` is applied throughout. No valid checkpoint: NaN, censored.
    """
    if not 0.0 < progress < 1.0:
        raise PhysgenError(f"progress must be in (0, 1), got {progress}")
    s, c = _steps_and_curve(steps, S)
    triv = np.asarray(d_trivial, dtype=np.float64)[..., None]
    learned = np.ones(c.shape, dtype=bool)
    for d in (d_a, d_b):
        d = np.broadcast_to(np.asarray(d, dtype=np.float64), c.shape)
        finite = np.isfinite(d)
        best = np.min(np.where(finite, d, np.inf), axis=-1, keepdims=True)
        first = np.take_along_axis(d, np.argmax(finite, axis=-1)[..., None], axis=-1)
        halfway = (best < first) & (d <= best + (1.0 - progress) * (first - best))
        learned &= finite & ((d <= triv) | halfway)
    ok = _valid_mask(c, valid)
    # one-sided: every checkpoint after the first learned one counts (a network whose d rises
    # again while it overfits is past the transient, not back in it)
    started = np.cumsum(learned & ok, axis=-1) > 0
    return argmin_bracketed(s, c, started & ok)


def exceed_bracketed(steps: np.ndarray, values: np.ndarray, floor: float | np.ndarray) -> Onset:
    """First step at which ``values`` (``(..., n_steps)``, NaN = not checked there) exceed
    ``floor``, with its bracket ``(lo, tau]`` (``lo`` the last checked checkpoint before) and
    censoring: exceeded already at the first or only at the last checked checkpoint, or never
    (``tau = NaN``, ``lo`` = the last checked step, ``hi = inf``)."""
    s, v = _steps_and_curve(steps, values)
    checked = np.isfinite(v)
    above = v > np.asarray(floor, dtype=np.float64)  # False for NaN values
    reached = above.any(axis=-1)
    idx = np.argmax(above, axis=-1)
    first = np.argmax(checked, axis=-1)
    last = v.shape[-1] - 1 - np.argmax(checked[..., ::-1], axis=-1)
    lo, _ = _neighbours(s, checked, idx)
    last_step = np.where(checked.any(axis=-1), s[last], np.nan)
    tau = np.where(reached, s[idx], np.nan)
    censored = ~reached | (idx == first) | (idx == last)
    return _onset(tau, np.where(reached, lo, last_step), np.where(reached, tau, np.inf), censored)


def first_exceed_onset(
    steps: np.ndarray, values: np.ndarray, floor: float | np.ndarray
) -> float | np.ndarray:
    """First step at which ``values`` (``(..., n_steps)``) exceed ``floor`` (a float or
    broadcastable to ``values``); NaN where they never do. NaN values never exceed.
    (:func:`exceed_bracketed` gives the bracket and the censoring.)"""
    return exceed_bracketed(steps, values, floor).tau


def count_before(
    bias: Onset, test: Onset, censored: Literal["drop", "bound"] = "drop"
) -> tuple[int, int]:
    r"""Pairs with :math:`\tau_{\rm bias} < \tau_{\rm test}` beyond resolution:
    ``(ordered, counted)``, ``ordered`` being the counted pairs whose brackets are ordered,
    ``bias.hi ≤ test.lo`` (each onset lies strictly inside its bracket, so the order is not an
    artefact of rounding to checkpoints).

    ``censored="drop"``: ``counted`` are the pairs with both onsets uncensored (measured).
    ``censored="bound"``: every pair whose onsets were found (brackets not NaN) counts, a censored
    onset standing for the bound its bracket gives — a minimum at the first valid checkpoint
    ``(0, hi)``: at most ``hi``; at the last, ``(lo, inf)``: beyond ``lo`` — so a pair whose
    τ_bias sits at the start of its valid range and whose τ_test is beyond the end of the run is
    ordered, and one censored the other way round is not.
    """
    if censored not in ("drop", "bound"):
        raise PhysgenError(f"censored must be 'drop' or 'bound', got {censored!r}")
    b_lo, b_hi, t_lo = (np.asarray(x, dtype=np.float64) for x in (bias.lo, bias.hi, test.lo))
    if censored == "drop":
        counted = ~np.asarray(bias.censored) & ~np.asarray(test.censored)
    else:
        counted = ~np.isnan(b_lo) & ~np.isnan(b_hi) & ~np.isnan(t_lo) & ~np.isnan(test.hi)
    ordered = counted & (b_hi <= t_lo)
    return int(ordered.sum()), int(counted.sum())


def memorisation_floor(
    frac_exact: float | np.ndarray, stderr_exact: float | np.ndarray, z: float = 2.0
) -> float | np.ndarray:
    """Noise floor of the memorised fraction: the exact model's ``frac + z · stderr``.

    ``frac_exact``, ``stderr_exact``: :func:`~physgen.metrics.neighbours.memorised_fraction` of
    samples of the exact model against the training set (same number of samples as the model's).
    """
    out = np.asarray(frac_exact, dtype=np.float64) + z * np.asarray(stderr_exact, dtype=np.float64)
    return _scalar_or_array(out)


def memorisation_bracketed(
    steps: np.ndarray,
    fraction: np.ndarray,
    stderr: np.ndarray,
    floor: float | np.ndarray,
    z: float = 2.0,
) -> Onset:
    """:math:`\tau_{\rm mem}`, the one rule of every experiment, with its bracket and censoring
    (:func:`exceed_bracketed`): the first step at which the memorised fraction exceeds the noise
    floor by ``z`` standard errors, ``fraction - z · stderr > floor``.

    ``fraction``, ``stderr``: ``(..., n_steps)`` (NaN off the sample checkpoints, never counted
    and not in the bracket); ``floor``: :func:`memorisation_floor` of fresh true samples, a float
    or broadcastable to ``fraction`` (e.g. ``(n, 1)`` for one floor per curve). Counting only
    fractions ``z`` standard errors above the floor keeps one lucky sample out of
    ``n_generate`` from setting the onset.
    """
    lower = np.asarray(fraction, dtype=np.float64) - z * np.asarray(stderr, dtype=np.float64)
    return exceed_bracketed(steps, lower, floor)


def memorisation_onset(
    steps: np.ndarray,
    fraction: np.ndarray,
    stderr: np.ndarray,
    floor: float | np.ndarray,
    z: float = 2.0,
) -> float | np.ndarray:
    """The step of :func:`memorisation_bracketed` (NaN where the fraction never exceeds the
    floor)."""
    return memorisation_bracketed(steps, fraction, stderr, floor, z).tau
