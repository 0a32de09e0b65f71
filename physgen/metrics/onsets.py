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

* :func:`first_exceed_onset`: the first step at which a curve exceeds a floor;
  :math:`\tau_{\rm mem}` = ``first_exceed_onset(steps, memorised_fraction, floor)`` with
  :func:`memorisation_floor`: the memorised fraction shown by samples of the *exact* model against
  the same training set (what chance alone gives) plus ``z`` bootstrap standard errors. When the
  exact model's samples show no memorised sample, the floor is 0 and :math:`\tau_{\rm mem}` is the
  first checkpoint with a non-zero memorised fraction (the paper's definition).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from physgen.errors import PhysgenError

__all__ = [
    "argmin_onset",
    "bias_onset",
    "first_exceed_onset",
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
    """
    s, c = _steps_and_curve(steps, curve)
    ok = np.isfinite(c)
    if valid is not None:
        ok &= np.broadcast_to(np.asarray(valid, dtype=bool), c.shape)
    if edge not in ("nan", "keep"):
        raise PhysgenError(f"edge must be 'nan' or 'keep', got {edge!r}")
    idx = np.argmin(np.where(ok, c, np.inf), axis=-1)
    last_valid = c.shape[-1] - 1 - np.argmax(ok[..., ::-1], axis=-1)
    bad = ~ok.any(axis=-1)
    if edge == "nan":
        bad |= idx == last_valid
    return _scalar_or_array(np.where(bad, np.nan, s[idx]))


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


def first_exceed_onset(
    steps: np.ndarray, values: np.ndarray, floor: float | np.ndarray
) -> float | np.ndarray:
    """First step at which ``values`` (``(..., n_steps)``) exceed ``floor`` (a float or
    broadcastable to ``values``); NaN where they never do. NaN values never exceed."""
    s, v = _steps_and_curve(steps, values)
    above = v > np.asarray(floor, dtype=np.float64)  # False for NaN values
    idx = np.argmax(above, axis=-1)
    return _scalar_or_array(np.where(above.any(axis=-1), s[idx], np.nan))


def memorisation_floor(
    frac_exact: float | np.ndarray, stderr_exact: float | np.ndarray, z: float = 2.0
) -> float | np.ndarray:
    """Noise floor of the memorised fraction: the exact model's ``frac + z · stderr``.

    ``frac_exact``, ``stderr_exact``: :func:`~physgen.metrics.neighbours.memorised_fraction` of
    samples of the exact model against the training set (same number of samples as the model's).
    """
    out = np.asarray(frac_exact, dtype=np.float64) + z * np.asarray(stderr_exact, dtype=np.float64)
    return _scalar_or_array(out)


def memorisation_onset(
    steps: np.ndarray,
    fraction: np.ndarray,
    stderr: np.ndarray,
    floor: float | np.ndarray,
    z: float = 2.0,
) -> float | np.ndarray:
    """:math:`\tau_{\rm mem}`, the one rule of every experiment: the first step at which the
    memorised fraction exceeds the noise floor by ``z`` standard errors,
    ``fraction - z · stderr > floor``; NaN where it never does.

    ``fraction``, ``stderr``: ``(..., n_steps)`` (NaN off the sample checkpoints, never counted);
    ``floor``: :func:`memorisation_floor` of fresh true samples, a float or broadcastable to
    ``fraction`` (e.g. ``(n, 1)`` for one floor per curve). Counting only fractions ``z``
    standard errors above the floor keeps one lucky sample out of ``n_generate`` from setting
    the onset.
    """
    lower = np.asarray(fraction, dtype=np.float64) - z * np.asarray(stderr, dtype=np.float64)
    return first_exceed_onset(steps, lower, floor)
