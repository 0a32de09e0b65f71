r"""Diagnostics of class-conditional and guided samples (exact or learned denoisers).

Pure functions of samples, their requested classes and the data model:

* :func:`class_accuracy`: among the samples whose class can be read (for trees: valid sequences,
  whose root the bottom-up parse determines), the fraction carrying the requested class;
* :func:`leaf_marginal_entropy`: entropy of the empirical single-site marginals, averaged over
  positions (nats) — a diversity measure that does not need many samples per sequence;
* :func:`n_distinct`: number of distinct samples;
* :func:`plugin_kl`: the **plug-in** estimate of :math:`\mathrm{KL}(g \,\|\, p(\cdot \mid c))`
  between the law :math:`g` of the (guided) samples and the exact conditional law, from exact
  :math:`\log p(x \mid c)` (``log_prob``) of the samples:

  .. math:: \widehat{\mathrm{KL}} = \sum_c \hat g(c) \sum_x \hat g(x \mid c)
            \log\frac{\hat g(x \mid c)}{p(x \mid c)},

  with :math:`\hat g` the empirical frequencies. It is an estimate, not the exact KL: the plug-in
  entropy is biased low, so :math:`\widehat{\mathrm{KL}}` is biased high by about
  :math:`(K_c - 1)/(2 n_c)` per class (:math:`K_c` the sequences :math:`g` reaches, :math:`n_c`
  samples); it is close to the KL only when every sequence of the support is seen many times
  (tiny grammars). A sample outside the support of :math:`p(\cdot \mid c)` makes it +inf.
* :func:`cross_entropy_excess`: :math:`-\frac1n \sum_i \log p(x_i \mid c_i) - \sum_c \hat g(c)
  H(p(\cdot \mid c))`, the mean negative log-likelihood minus the exact conditional entropy
  (:meth:`~physgen.models.TreeGrammar.entropy`): an *unbiased* estimate of
  :math:`\mathrm{KL}(g\|p) + H(g) - H(p)`, zero in expectation for exact conditional samples,
  negative when guidance concentrates the samples on likely sequences.

:func:`tree_guidance_diagnostics` computes them all for tree-grammar samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from physgen.errors import PhysgenError

__all__ = [
    "GuidanceDiagnostics",
    "class_accuracy",
    "cross_entropy_excess",
    "leaf_marginal_entropy",
    "n_distinct",
    "plugin_kl",
    "tree_guidance_diagnostics",
]


def _pair(requested: Any, other: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    r = np.asarray(requested, dtype=np.int64)
    o = np.asarray(other)
    if r.ndim != 1 or o.shape[:1] != r.shape:
        raise PhysgenError(f"requested classes (n,) and {name} must have the same length")
    return r, o


def class_accuracy(requested: Any, parsed: Any) -> float:
    """Fraction of samples with a readable class (``parsed ≥ 0``) whose class is the requested
    one; ``requested`` and ``parsed`` int ``(n,)``. NaN when no sample has a readable class."""
    r, p = _pair(requested, parsed, "parsed classes")
    readable = p >= 0
    return float((p[readable] == r[readable]).mean()) if readable.any() else float("nan")


def leaf_marginal_entropy(tokens: Any, q: int) -> float:
    """Entropy (nats) of the empirical marginal of each position of ``tokens`` ``(n, N)`` over
    ``q`` symbols, averaged over the ``N`` positions."""
    t = np.asarray(tokens, dtype=np.int64)
    if t.ndim != 2 or t.shape[0] < 1:
        raise PhysgenError(f"tokens must have shape (n ≥ 1, N), got {t.shape}")
    freq = np.stack([np.bincount(col, minlength=q) for col in t.T]) / t.shape[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(freq > 0, freq * np.log(freq), 0.0)
    return float(-terms.sum(axis=1).mean())


def n_distinct(samples: Any) -> int:
    """Number of distinct rows of ``samples`` ``(n, ...)``."""
    s = np.asarray(samples)
    return int(np.unique(s.reshape(s.shape[0], -1), axis=0).shape[0]) if s.size else 0


def plugin_kl(samples: Any, classes: Any, log_p: Any) -> float:
    """Plug-in :math:`\\widehat{\\mathrm{KL}}(g \\| p(\\cdot \\mid c))` (module docstring) from
    ``samples`` ``(n, ...)``, their classes ``(n,)`` and exact ``log_p`` = log p(x_i | c_i) ``(n,)``.
    """
    c, lp = _pair(classes, log_p, "log_p")
    s = np.asarray(samples)
    if s.shape[:1] != c.shape:
        raise PhysgenError("samples, classes and log_p must have the same length")
    if not np.all(np.isfinite(lp)):
        return float("inf")
    kl = 0.0
    for k in np.unique(c):
        rows = c == k
        _, inverse, counts = np.unique(
            s[rows].reshape(int(rows.sum()), -1), axis=0, return_inverse=True, return_counts=True
        )
        g = counts / rows.sum()
        # Σ_x ĝ log ĝ = mean over samples of log ĝ(x_i)
        kl += rows.mean() * (np.mean(np.log(g[inverse.ravel()])) - np.mean(lp[rows]))
    return float(kl)


def cross_entropy_excess(classes: Any, log_p: Any, entropy: Any) -> float:
    """Mean of :math:`-\\log p(x_i \\mid c_i)` minus the mean exact entropy
    :math:`H(p(\\cdot \\mid c_i))`; ``entropy[c]`` the exact entropy of class ``c`` (nats),
    ``classes`` and ``log_p`` ``(n,)`` (module docstring). +inf when a sample is outside the
    support."""
    c, lp = _pair(classes, log_p, "log_p")
    h = np.asarray(entropy, dtype=np.float64)
    return float(-np.mean(lp) - np.mean(h[c]))


@dataclass(frozen=True)
class GuidanceDiagnostics:
    """Diagnostics of tree samples against their requested classes (module docstring).

    Attributes: ``validity`` fraction of valid samples; ``accuracy`` class accuracy among them;
    ``leaf_entropy`` (nats, mean over positions); ``n_distinct``; ``kl_plugin`` (nats per
    sequence, plug-in, biased high; +inf with invalid samples); ``kl_plugin_valid`` the same on
    the valid samples of the right class only; ``ce_excess`` (nats, unbiased, on the valid samples
    of the right class).
    """

    validity: float
    accuracy: float
    leaf_entropy: float
    n_distinct: int
    kl_plugin: float
    kl_plugin_valid: float
    ce_excess: float


def tree_guidance_diagnostics(model: Any, tokens: Any, classes: Any) -> GuidanceDiagnostics:
    """All diagnostics for tree-grammar samples ``tokens`` ``(n, N)`` requested with ``classes``
    ``(n,)`` (each ≥ 0) under the exact (unfiltered) ``model``
    (:class:`~physgen.models.TreeGrammar`)."""
    t = np.asarray(tokens, dtype=np.int64)
    c, _ = _pair(classes, t, "tokens")
    if (c < 0).any():
        raise PhysgenError("the diagnostics compare samples with requested classes ≥ 0")
    parsed = model.parse_class(t)
    lp = model.log_prob(t, filtered_levels=0, classes=c)
    ok = parsed == c
    entropy = [model.entropy(k) for k in range(model.n_classes)]
    return GuidanceDiagnostics(
        validity=float((parsed >= 0).mean()),
        accuracy=class_accuracy(c, parsed),
        leaf_entropy=leaf_marginal_entropy(t, model.q),
        n_distinct=n_distinct(t),
        kl_plugin=plugin_kl(t, c, lp),
        kl_plugin_valid=plugin_kl(t[ok], c[ok], lp[ok]) if ok.any() else float("nan"),
        ce_excess=cross_entropy_excess(c[ok], lp[ok], entropy) if ok.any() else float("nan"),
    )
