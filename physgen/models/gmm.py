r"""Isotropic Gaussian mixtures: exact posterior mean, score and density under VP noising.

The clean distribution is :math:`p_0 = \sum_k \pi_k\, \mathcal N(\mu_k, \sigma_k^2 I_d)`. Under
variance-preserving noising :math:`x_t = \sqrt{\bar\alpha}\,x_0 + \sqrt{1-\bar\alpha}\,\varepsilon`
each component stays Gaussian,

.. math:: p_t(x) = \sum_k \pi_k\, \mathcal N\big(x;\ \sqrt{\bar\alpha}\,\mu_k,\ v_k I\big), \qquad
          v_k = \bar\alpha \sigma_k^2 + 1 - \bar\alpha ,

so the responsibilities :math:`r_k(x) \propto \pi_k \mathcal N(x; \sqrt{\bar\alpha}\mu_k, v_k I)`
(computed with a log-sum-exp) give the exact posterior mean (docs/theory.md §6)

.. math:: E[x_0 \mid x_t] = \sum_k r_k \Big[\mu_k + \frac{\sqrt{\bar\alpha}\,\sigma_k^2}{v_k}
          (x_t - \sqrt{\bar\alpha}\mu_k)\Big]
          = \sum_k r_k \Big[\frac{1-\bar\alpha}{v_k}\mu_k
            + \frac{\sqrt{\bar\alpha}\,\sigma_k^2}{v_k} x_t\Big],

and the score by Tweedie, :math:`\nabla\log p_t = (\sqrt{\bar\alpha}\,\hat x_0 - x_t)/(1-\bar\alpha)`.

**Classes** are the components (``n_classes = K``): conditioning on :math:`c` replaces the
responsibilities by a one-hot on :math:`c`, so :math:`E[x_0 \mid x_t, c]` is the component's
linear (Wiener) posterior mean and :math:`\log p_t(x \mid c) = \log \mathcal N(x;
\sqrt{\bar\alpha}\mu_c, v_c I)`; ``classes`` = -1 rows stay unconditional.

The symmetric two-component model of Bonnaire et al. (arXiv:2505.17638),
:math:`\tfrac12\mathcal N(+\mu\mathbf 1, \sigma^2 I) + \tfrac12\mathcal N(-\mu\mathbf 1, \sigma^2 I)`,
is :meth:`GaussianMixture.symmetric`; its score in Ornstein–Uhlenbeck time
(:math:`\bar\alpha = e^{-2t}`) is :math:`[m e^{-t}\tanh(x\cdot m e^{-t}/\Gamma_t) - x]/\Gamma_t`,
:math:`\Gamma_t = \sigma^2 e^{-2t} + 1 - e^{-2t}`, :math:`m = \mu\mathbf 1`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import logsumexp

from physgen.errors import ConfigError, PhysgenError
from physgen.models._memory import check_fits_in_memory
from physgen.models.base import DataModel, as_alpha_bar
from physgen.models.conditional import check_classes
from physgen.registry import register_model
from physgen.rng import sample_generator, stream

__all__ = ["GaussianMixture", "gmm"]


@register_model("gaussian_mixture")
class GaussianMixture(DataModel):
    r"""A mixture of ``K`` isotropic Gaussians in ``d`` dimensions.

    Parameters
    ----------
    means:
        Component means :math:`\mu_k`, shape ``(K, d)``.
    stds:
        Component standard deviations :math:`\sigma_k > 0`, shape ``(K,)``.
    weights:
        Mixing weights :math:`\pi_k \ge 0` summing to 1, shape ``(K,)``; uniform when omitted.
    """

    def __init__(
        self,
        means: Any,
        stds: Any,
        weights: Any | None = None,
    ) -> None:
        mu = np.asarray(means, dtype=np.float64)
        if mu.ndim != 2 or mu.shape[0] < 1 or mu.shape[1] < 1:
            raise ConfigError(
                "model.means", f"must have shape (K, d) with K, d ≥ 1, got {mu.shape}"
            )
        k, d = mu.shape
        sd = np.asarray(stds, dtype=np.float64)
        if sd.shape != (k,):
            raise ConfigError(
                "model.stds", f"must have shape ({k},) like the means, got {sd.shape}"
            )
        if not np.all(np.isfinite(sd) & (sd > 0.0)):
            raise ConfigError("model.stds", "every standard deviation must be finite and > 0")
        if weights is None:
            w = np.full(k, 1.0 / k)
        else:
            w = np.asarray(weights, dtype=np.float64)
            if w.shape != (k,):
                raise ConfigError(
                    "model.weights", f"must have shape ({k},) like the means, got {w.shape}"
                )
            if not np.all(w >= 0.0) or abs(w.sum() - 1.0) > 1e-6:
                raise ConfigError(
                    "model.weights", f"must be non-negative and sum to 1, got sum {w.sum():.6g}"
                )
            w = w / w.sum()
        if not np.all(np.isfinite(mu)):
            raise ConfigError("model.means", "every mean must be finite")
        self.means = mu
        self.stds = sd
        self.weights = w
        self.event_shape = (d,)

    @property
    def n_components(self) -> int:
        """Number of components ``K``."""
        return self.means.shape[0]

    @property
    def n_classes(self) -> int:
        """Classes of the conditional model: the ``K`` components."""
        return self.means.shape[0]

    @property
    def dim(self) -> int:
        """Dimension ``d``."""
        return self.means.shape[1]

    @classmethod
    def symmetric(cls, dim: int, mean: float = 1.0, std: float = 1.0) -> GaussianMixture:
        r"""Bonnaire et al.'s :math:`\tfrac12\mathcal N(+\mu\mathbf 1,\sigma^2 I)
        + \tfrac12\mathcal N(-\mu\mathbf 1,\sigma^2 I)` in ``dim`` dimensions."""
        if int(dim) < 1:
            raise ConfigError("model.dim", f"must be ≥ 1, got {dim}")
        ones = np.ones(int(dim))
        return cls(means=np.stack([mean * ones, -mean * ones]), stds=[std, std])

    def params(self) -> dict[str, Any]:
        """Constructor parameters as JSON-able lists."""
        return {
            "means": self.means.tolist(),
            "stds": self.stds.tolist(),
            "weights": self.weights.tolist(),
        }

    def mean(self) -> np.ndarray:
        r""":math:`E[x_0] = \sum_k \pi_k \mu_k`, shape ``(d,)``."""
        return self.weights @ self.means

    def covariance(self) -> np.ndarray:
        r""":math:`\mathrm{Cov}[x_0] = \sum_k \pi_k(\sigma_k^2 I + \mu_k\mu_k^\top) - m m^\top`,
        shape ``(d, d)``."""
        m = self.mean()
        second = (self.means.T * self.weights) @ self.means
        second += np.eye(self.dim) * float(self.weights @ self.stds**2)
        return second - np.outer(m, m)

    def sample(
        self, n: int, seed: int, classes: Any = None, return_classes: bool = False
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """``n`` draws, shape ``(n, d)``; sample ``i`` (its component, then its Gaussian
        coordinates) comes from the stream ``(seed, i)`` alone.

        ``classes`` (int or ``(n,)``, -1 = unconditional) fixes the component of each row; the
        component's uniform number is still drawn, so a row conditioned on the component the
        unconditional draw had is the unconditional sample. ``return_classes`` also returns the
        components, int64 ``(n,)``.
        """
        if int(n) < 0:
            raise ConfigError("n", f"must be ≥ 0, got {n}")
        check_fits_in_memory("n", int(n), 8 * self.dim)
        cls = check_classes(classes, int(n), self.n_classes)
        out = np.empty((int(n), self.dim))
        comp = np.empty(int(n), dtype=np.int64)
        cdf = np.cumsum(self.weights)
        for i in range(int(n)):
            g = sample_generator(seed, i)
            k = min(int(np.searchsorted(cdf, g.random(), side="right")), self.n_components - 1)
            k = k if cls[i] < 0 else int(cls[i])
            comp[i] = k
            out[i] = self.means[k] + self.stds[k] * g.standard_normal(self.dim)
        return (out, comp) if return_classes else out

    def _check_x(self, x_t: np.ndarray) -> np.ndarray:
        x = np.asarray(x_t, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise PhysgenError(f"x must have shape (n, {self.dim}), got {x.shape}")
        return x

    def _log_joint(
        self, x: np.ndarray, a: np.ndarray, classes: Any = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``log π_k N(x; √ᾱ μ_k, v_k I)`` of shape ``(n, K)`` and the variances ``v`` (n, K).

        A row with class ``c ≥ 0`` gets ``log N(x; √ᾱ μ_c, v_c I)`` in column ``c`` (no weight:
        the density given the class) and -inf elsewhere."""
        cls = check_classes(classes, x.shape[0], self.n_classes)
        v = a[:, None] * self.stds[None, :] ** 2 + (1.0 - a[:, None])
        sq = (
            np.sum(x**2, axis=1)[:, None]
            - 2.0 * np.sqrt(a)[:, None] * (x @ self.means.T)
            + a[:, None] * np.sum(self.means**2, axis=1)[None, :]
        )
        sq = np.maximum(sq, 0.0)  # cancellation can leave tiny negatives
        with np.errstate(divide="ignore"):
            log_w = np.log(self.weights)
        cond = cls >= 0
        prior = np.where(cond[:, None], -np.inf, log_w[None, :])
        prior[cond, cls[cond]] = 0.0
        logp = prior - 0.5 * self.dim * np.log(2.0 * np.pi * v) - sq / (2 * v)
        return logp, v

    def denoise(
        self, x_t: np.ndarray, alpha_bar: float | np.ndarray, classes: Any = None
    ) -> np.ndarray:
        r"""Exact :math:`E[x_0 \mid x_t]`: ``x_t`` of shape ``(n, d)``, ``alpha_bar`` a float or
        ``(n,)`` in ``(0, 1]``; returns ``(n, d)``. ``classes`` (n,) int: row ``i`` gets
        :math:`E[x_0 \mid x_t, c_i]` (-1 or ``None``: unconditional)."""
        x = self._check_x(x_t)
        a = as_alpha_bar(alpha_bar, x.shape[0])
        logp, v = self._log_joint(x, a, classes)
        r = np.exp(logp - logsumexp(logp, axis=1, keepdims=True))
        shrink = (r * (1.0 - a[:, None]) / v) @ self.means
        gain = np.sqrt(a) * np.sum(r * self.stds[None, :] ** 2 / v, axis=1)
        return shrink + gain[:, None] * x

    def log_prob(
        self, x: np.ndarray, alpha_bar: float | np.ndarray = 1.0, classes: Any = None
    ) -> np.ndarray:
        r""":math:`\log p_t(x)` of the noised marginal at ``alpha_bar`` (default 1: the clean
        density :math:`\log p_0`); ``x`` of shape ``(n, d)``, returns ``(n,)``. ``classes``
        (n,) int: row ``i`` gets :math:`\log p_t(x \mid c_i)` (-1: unconditional)."""
        xx = self._check_x(x)
        logp, _ = self._log_joint(xx, as_alpha_bar(alpha_bar, xx.shape[0]), classes)
        return logsumexp(logp, axis=1)


@register_model("gmm")
def gmm(
    dim: int = 8,
    mean: float = 1.0,
    std: float = 1.0,
    components: int = 2,
    seed: int = 0,
) -> GaussianMixture:
    r"""Sweep-friendly Gaussian mixture from scalar parameters (a TOML ``[model]`` table).

    ``components = 2`` (default) is Bonnaire et al.'s symmetric model
    :math:`\tfrac12\mathcal N(\pm\,\mathrm{mean}\cdot\mathbf 1, \mathrm{std}^2 I_{\mathrm{dim}})`
    (``seed`` unused). ``components = K > 2`` draws ``K`` means with i.i.d.
    :math:`\mathcal N(0, \mathrm{mean}^2)` coordinates from ``seed``, equal weights and a common
    ``std``.
    """
    if int(dim) < 1:
        raise ConfigError("model.dim", f"must be ≥ 1, got {dim}")
    if int(components) < 2:
        raise ConfigError("model.components", f"must be ≥ 2, got {components}")
    if not (np.isfinite(std) and std > 0.0):
        raise ConfigError("model.std", f"must be finite and > 0, got {std}")
    if not np.isfinite(mean):
        raise ConfigError("model.mean", f"the separation of the means must be finite, got {mean}")
    if int(components) == 2:
        return GaussianMixture.symmetric(int(dim), mean=float(mean), std=float(std))
    g = np.random.default_rng(stream(seed, "mixture_layout"))
    means = float(mean) * g.standard_normal((int(components), int(dim)))
    return GaussianMixture(means=means, stds=np.full(int(components), float(std)))
