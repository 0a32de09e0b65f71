r"""The vector experiment: Gaussian mixtures (or any vector model with an exact denoiser) through
the same protocol as the trees — disjoint splits, networks along checkpoints, onsets — plus the
dynamical-regime theory of Biroli et al. (one sweep cell).

**Networks.** As for tokens (:func:`physgen.experiments.plan.plan_networks`): disjoint pairs
(A on split ``2p``, B on ``2p + 1``) and optional same-split seed pairs; each network is
``build_net(cfg.net, model)`` (``net.kind = "mlp"``: :class:`~physgen.nets.MLPDenoiser`) trained
by :func:`physgen.train.train` with ``loss = "mse_eps"``.

**Frozen evaluation inputs** (from ``cfg.seed``): ``n_eval`` test points :math:`x_0^\mu`; their
losses use :math:`(t_\mu, \varepsilon_\mu)`, :math:`t_\mu \sim U\{1..T\}`; the score distances use
the same points noised at every step of the grid ``score_t`` (``metrics.kl_t_points``
log-spaced steps in ``[1, T]``, one noise draw per point). Denoisers are compared through their
noise predictions :math:`\hat\varepsilon = (x_t - \sqrt{\bar\alpha}\,\hat x_0)/\sqrt{1-\bar\alpha}`
(:func:`~physgen.metrics.scores.denoiser_distance` with ``kind="eps"``): the ε-distance to the
exact denoiser is the excess of the ε-MSE over its Bayes floor, bounded at every ``t``, whereas
posterior means of an ε-network are noise-dominated at large ``t``.

**At every checkpoint** :math:`\tau`: the ε-MSE on the network's training split and on the test
points; the distances per coordinate of its noise prediction to the exact population one and
to the empirical denoiser of its own split (:func:`physgen.metrics.scores.denoiser_distance`,
``dist_pop`` and ``dist_emp``, one value per ``score_t``); the relative population error
:math:`r(\tau) = \sum_{t\in I} D_t(\theta, \mathrm{pop}) / \sum_{t\in I}
\mathrm{Var}_\mu[\hat\varepsilon^{\rm pop}_t]` over the *informative* steps :math:`I` where the
exact noise prediction varies over inputs (variance ≥ ``INFORMATIVE`` = 0.1 of its largest value).
At small :math:`t` the exact :math:`\hat\varepsilon` is nearly constant and every network's
error there is dominated by its inability to resolve tiny noise; including those steps would
make :math:`r` measure that instead of the learned structure. :math:`r \approx 1` for a network
that knows nothing, 0 for the exact denoiser.
At the sample checkpoints (``metrics.sample_checkpoints``): ``n_generate`` coupled DDPM samples
and their memorised fraction (:math:`d_1/d_2 < 1/3`, Euclidean) against the network's split, with
the noise floor of as many fresh test points.

**Onsets** per network and per pair (pair curves averaged over the two networks):
``tau_gen`` = first checkpoint with :math:`r \le` ``GEN_THRESHOLD`` = 0.25 (the network
reproduces 75 % of the variation of the exact noise prediction at informative steps)
(:func:`~physgen.metrics.scores.generalisation_onset`); ``tau_mem`` = first sample checkpoint whose
memorised fraction exceeds the floor by two standard errors
(:func:`~physgen.metrics.onsets.memorisation_onset`); ``tau_closer`` = first checkpoint at
which :math:`\sum_{t\in I} D_t(\theta, \mathrm{emp}) < \sum_{t\in I} D_t(\theta, \mathrm{pop})`
(informative steps, see above); ``tau_test`` = argmin
of the test ε-MSE. Bonnaire et al. (arXiv:2505.17638) predict ``tau_gen`` independent of ``n``
and ``tau_mem`` ∝ ``n``.

**Dynamical regimes** (training-free, by the definitions of :mod:`physgen.metrics.regimes`,
docs/mixtures.md). Speciation, for the symmetric mixture: ``metrics.n_generate`` exact-score
reverse chains started at :math:`T` from the exact :math:`P_T`, cloned at branching times
around :math:`t_S = \tfrac12\log\Lambda` (:math:`\Lambda` of the model covariance); the measured
time is where the fraction of clone pairs ending nearest to the same mean crosses 3/4, beside its
exact curve and crossing (:func:`~physgen.metrics.regimes.cloned_speciation`); the predicted
time also from split 0's sample covariance. Collapse, on split 0 of ``n`` points in ``d``
dimensions: :math:`P_{\rm point}(t) = E\sum_\mu w_\mu(x_t)^2` of its empirical denoiser over
starts from its noised empirical measure (:func:`~physgen.metrics.regimes.same_point_curve`),
measured time where it crosses 1/2; predicted from :math:`f(t_C) = (\log n)/d` with :math:`f`
in closed form for the symmetric mixture (else by Monte Carlo with the exact density) and, from
data, estimated on the noised empirical measure of the test points.
Times are reported in Ornstein–Uhlenbeck units :math:`s = -\tfrac12\log\bar\alpha`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from physgen.config import ExperimentConfig
from physgen.experiments import plan
from physgen.models.base import HasCovariance, HasLogProb
from physgen.rng import stream

__all__ = [
    "BRANCH_OFFSETS",
    "CLONE_DT",
    "GEN_THRESHOLD",
    "INFORMATIVE",
    "VectorRecorder",
    "regimes",
    "vector_onsets",
]

GEN_THRESHOLD = 0.25
"""Relative population error at which a network counts as generalising (``tau_gen``)."""

INFORMATIVE = 0.1
"""Diffusion steps where the exact noise prediction varies (variance over inputs at least this
fraction of its largest value over ``score_t``) enter the relative population error."""

CLONE_DT = 0.05
"""OU step of the exact-score clone chains: its bias on the speciation time (about +0.02,
docs/mixtures.md) is below the sampling error of a few thousand clone pairs."""

BRANCH_OFFSETS = np.linspace(-1.0, 1.5, 11)
"""Branching OU times of the speciation clones relative to :math:`t_S = \\tfrac12\\log\\Lambda`
(clipped at ``CLONE_DT``): :math:`P_{\\rm same}` falls from near 1 to near 1/2 across them."""


def _mean_distance(a: Any, b: Any, frozen: Any) -> float:
    """Mean over inputs of :func:`physgen.metrics.scores.denoiser_distance` (``kind="eps"``)
    of two denoisers on the frozen inputs."""
    from physgen.metrics.scores import denoiser_distance

    return float(np.mean(denoiser_distance(a, b, frozen.x_t, frozen.alpha_bar, kind="eps")))


class VectorRecorder(plan.CellRecorder):
    """Frozen inputs, exact references and the per-network curves of one vector cell."""

    experiment = "vectors"
    loss = "mse_eps"
    title = "physgen vector experiment (generalisation, memorisation and dynamical regimes)"
    summary = (
        "Networks trained on disjoint splits of a vector model with an exact denoiser, evaluated "
        "along training: epsilon losses, score distances to the population and empirical "
        "denoisers, memorisation of coupled samples, the onsets tau_gen, tau_mem, tau_closer "
        "and tau_test, and the predicted and measured speciation and collapse times."
    )

    def __init__(self, cfg: ExperimentConfig, cell: plan.CellPlan) -> None:
        from physgen.metrics import Precomputed, frozen_noise
        from physgen.metrics.scores import prediction_variance
        from physgen.models import Empirical

        m = cfg.metrics
        super().__init__(cfg, cell)
        model, schedule, protocol = cell.model, cell.schedule, cell.protocol
        self.score_t = np.unique(
            np.rint(np.geomspace(1, schedule.T, m.kl_t_points)).astype(np.int64)
        )
        test = np.asarray(model.encode(protocol.test_set()), dtype=np.float64)
        x0 = test[: min(m.n_eval, len(test))]
        self.x0 = x0
        self.loss_test = frozen_noise(x0, schedule, self.eval_seed)
        self.inputs = [frozen_noise(x0, schedule, self.eval_seed, int(t)) for t in self.score_t]
        # exact references on the frozen inputs, computed once (they do not change in training)
        self.pop = [Precomputed(f.x_t, model.denoise(f.x_t, f.alpha_bar)) for f in self.inputs]
        self.pop_variance = np.array(
            [
                prediction_variance(p, f.x_t, f.alpha_bar)
                for p, f in zip(self.pop, self.inputs, strict=True)
            ]
        )
        self.informative = self.pop_variance >= INFORMATIVE * self.pop_variance.max()
        self.train = {
            s: np.asarray(protocol.train_data(s), dtype=np.float64)
            for s in sorted({p.split for p in self.nets})
        }
        self.loss_train = {
            s: frozen_noise(x[: m.n_eval], schedule, stream(self.eval_seed, "eval_split", s))
            for s, x in self.train.items()
        }
        self.emp = {
            s: [Precomputed(f.x_t, Empirical(x).denoise(f.x_t, f.alpha_bar)) for f in self.inputs]
            for s, x in self.train.items()
        }
        fresh = test[: min(m.n_generate, len(test))]
        self.floor = {s: self.fresh_floor(fresh, x) for s, x in self.train.items()}
        self.curves = self.allocate(
            "eps_train_loss",
            "eps_test_loss",
            "rel_pop_error",
            "memorised_fraction",
            "memorised_fraction_se",
            "dist_pop",
            "dist_emp",
            score_t=self.score_t.size,
        )
        self.x0_hat = np.empty(
            (len(self.nets), len(self.weights), self.steps.size, self.score_t.size, *x0.shape)
        )

    def train_data(self, net: plan.NetworkPlan) -> np.ndarray:
        """The network's training split."""
        return self.train[net.split]

    def evaluate(self, net: int, w: int, k: int, den: Any) -> None:
        """Every diagnostic of network ``net``, weights ``w`` at checkpoint ``k``."""
        from physgen.metrics import Precomputed, denoising_loss
        from physgen.metrics.scores import relative_error

        c, split, at = self.curves, self.nets[net].split, (net, w, k)
        train = self.train[split]
        c["eps_train_loss"][at] = np.mean(
            denoising_loss(den, train[: self.cfg.metrics.n_eval], self.loss_train[split], "eps_mse")
        )
        c["eps_test_loss"][at] = np.mean(denoising_loss(den, self.x0, self.loss_test, "eps_mse"))
        for j, f in enumerate(self.inputs):
            self.x0_hat[(*at, j)] = den.denoise(f.x_t, f.alpha_bar)
            mine = Precomputed(f.x_t, self.x0_hat[(*at, j)])
            c["dist_pop"][(*at, j)] = _mean_distance(mine, self.pop[j], f)
            c["dist_emp"][(*at, j)] = _mean_distance(mine, self.emp[split][j], f)
        c["rel_pop_error"][at] = relative_error(
            c["dist_pop"][at], self.pop_variance, self.informative
        )
        if self.sample_mask[k]:
            frac, se = self.memorisation(self.generate(den), train, k)
            c["memorised_fraction"][at] = frac
            c["memorised_fraction_se"][at] = se

    def pair_distance(self, a: int, b: int) -> np.ndarray:
        """``(n_weights, n_checkpoint, n_score_t)`` ε-distance between networks ``a`` and
        ``b``."""
        from physgen.metrics import Precomputed

        shape = (len(self.weights), self.steps.size)
        return np.array(
            [
                [
                    _mean_distance(
                        Precomputed(f.x_t, self.x0_hat[a, w, k, j]),
                        Precomputed(f.x_t, self.x0_hat[b, w, k, j]),
                        f,
                    )
                    for j, f in enumerate(self.inputs)
                ]
                for w, k in np.ndindex(shape)
            ]
        ).reshape(*shape, self.score_t.size)

    def options(self) -> dict[str, Any]:
        return {
            **super().options(),
            "gen_threshold": GEN_THRESHOLD,
            "informative": INFORMATIVE,
            "dim": int(self.x0.shape[1]),
        }

    def results(self) -> dict[str, Any]:
        c, steps, nets = self.curves, self.steps, self.nets
        floors = np.array([self.floor[p.split] for p in nets])
        n_t = self.score_t.size
        dist_pop_emp = np.array(
            [
                [
                    _mean_distance(self.pop[j], self.emp[p.split][j], f)
                    for j, f in enumerate(self.inputs)
                ]
                for p in nets
            ]
        )
        theory = regimes(self.cfg, self.model, self.schedule, self.cell.protocol)
        T = self.schedule.T
        return {
            **c,
            "score_t": self.score_t,
            "score_t_frac": self.score_t / T,
            "dist_pop_emp": dist_pop_emp,
            "pop_variance": self.pop_variance,
            "memorised_floor": floors,
            "pair_distance": np.array([self.pair_distance(a, b) for a, b in self.pairs]).reshape(
                len(self.pairs), len(self.weights), steps.size, n_t
            ),
            "seed_pair_distance": np.array(
                [self.pair_distance(a, b) for a, b in self.seed_pairs]
            ).reshape(len(self.seed_pairs), len(self.weights), steps.size, n_t),
            **theory,
            **vector_onsets(
                steps,
                self.pairs,
                c["rel_pop_error"],
                c["memorised_fraction"],
                c["memorised_fraction_se"],
                floors,
                c["dist_emp"],
                c["dist_pop"],
                c["eps_test_loss"],
                self.informative,
            ),
        }


def regimes(cfg: ExperimentConfig, model: Any, schedule: Any, protocol: Any) -> dict[str, Any]:
    """Predicted and measured speciation and collapse times (module docstring), by the
    definitions of :mod:`physgen.metrics.regimes` (docs/mixtures.md).

    Speciation: exact-score clones of the symmetric mixture
    (:func:`~physgen.metrics.regimes.cloned_speciation`, ``metrics.n_generate`` clone pairs, OU
    step ``CLONE_DT``, branching at :math:`t_S` + ``BRANCH_OFFSETS``), NaN for other models.
    Collapse: :func:`~physgen.metrics.regimes.same_point_curve` of split 0's empirical denoiser
    (``metrics.n_generate`` starts) on the ``ou_time`` grid. Returns the scalar times (OU units)
    and the curves they come from, by their declared names.
    """
    from physgen.metrics import regimes as rg
    from physgen.models import Empirical

    train = np.asarray(protocol.train_data(0), dtype=np.float64)
    test = np.asarray(model.encode(protocol.test_set()), dtype=np.float64)
    n, d = train.shape
    seed = stream(cfg.seed, "clones")
    n_clones = cfg.metrics.n_generate
    nan = float("nan")
    symmetric = rg.symmetric_parameters(model)
    t_model = rg.speciation_time(model.covariance()) if isinstance(model, HasCovariance) else nan

    if symmetric is not None:
        t_branch = np.maximum(t_model + BRANCH_OFFSETS, CLONE_DT)
        sp = rg.cloned_speciation(model, t_branch, n_clones, seed, dt=CLONE_DT)
        clone_t, p_same, p_exact = sp.t, sp.p_same, sp.p_exact
        t_meas, t_exact = sp.t_half, sp.t_half_exact
    else:
        clone_t = np.full(BRANCH_OFFSETS.size, nan)
        p_same = p_exact = clone_t
        t_meas = t_exact = nan

    top = t_model if np.isfinite(t_model) else 0.0
    s_grid = np.geomspace(1e-3, max(3.0, top + 1.5), 60)
    p_point, p_point_se = rg.same_point_curve(
        Empirical(train), s_grid, n_clones, stream(seed, "point_starts")
    )
    probe_seed = stream(seed, "entropy_probes")
    ab = rg.alpha_bar_of_ou(s_grid)
    f_data = rg.excess_entropy(rg.noised_empirical_log_density(test), train, ab, probe_seed)
    if symmetric is not None:
        f_exact = rg.symmetric_excess_entropy(s_grid, d, *symmetric)
        t_c_model = rg.symmetric_collapse_time(n, d, *symmetric)
    elif isinstance(model, HasLogProb):
        f_exact = rg.excess_entropy(model.log_prob, train, ab, probe_seed)
        t_c_model = rg.collapse_time(s_grid, f_exact, n, d)
    else:
        f_exact, t_c_model = np.full(s_grid.size, nan), nan
    return {
        "clone_t": clone_t,
        "class_agreement": p_same,
        "class_agreement_exact": p_exact,
        "ou_time": s_grid,
        "point_agreement": p_point,
        "point_agreement_se": p_point_se,
        "excess_entropy_data": f_data,
        "excess_entropy_exact": f_exact,
        "t_speciation_pred": rg.speciation_time(np.cov(train.T).reshape(d, d)),
        "t_speciation_model": t_model,
        "t_speciation_exact": t_exact,
        "t_speciation_meas": t_meas,
        "t_collapse_pred": rg.collapse_time(s_grid, f_data, n, d),
        "t_collapse_model": t_c_model,
        "t_collapse_meas": rg.crossing_time(s_grid, p_point, 0.5),
    }


def vector_onsets(
    steps: np.ndarray,
    pairs: list[tuple[int, int]],
    rel_pop_error: np.ndarray,
    memorised_fraction: np.ndarray,
    memorised_fraction_se: np.ndarray,
    memorised_floor: np.ndarray,
    dist_emp: np.ndarray,
    dist_pop: np.ndarray,
    eps_test_loss: np.ndarray,
    informative: np.ndarray,
) -> dict[str, np.ndarray]:
    """The onsets of one cell from its stored curves (so they can be recomputed from a file).

    Curves are ``(n_network, n_weights, n_checkpoint)`` (distances ``(n_network, n_weights,
    n_checkpoint, n_score_t)``), ``memorised_floor`` is ``(n_network,)``, ``informative`` a boolean mask over
    ``score_t``. ``tau_mem`` follows the one rule of
    :func:`physgen.metrics.onsets.memorisation_onset` (``frac - 2 se > floor``; for a pair, the
    mean fraction and the standard error of the mean). ``tau_closer`` compares the distances
    summed over the informative steps, where a network can resolve the difference between the
    empirical and the population denoisers. Returns ``name → values`` for ``tau_*`` over
    ``(pair, weights)`` and ``tau_*_net`` over ``(network, weights)`` (``tau_test`` and
    ``tau_mem`` with brackets and censoring, :func:`physgen.experiments.plan.onset_values`).
    """
    from physgen.metrics import argmin_bracketed
    from physgen.metrics.scores import closer_onset, generalisation_bracketed

    emp = np.asarray(dist_emp)[..., informative].sum(axis=-1)
    pop = np.asarray(dist_pop)[..., informative].sum(axis=-1)
    return {
        **plan.onset_values(
            "tau_gen",
            generalisation_bracketed(steps, plan.pair_mean(rel_pop_error, pairs), GEN_THRESHOLD),
        ),
        "tau_closer": np.atleast_1d(
            closer_onset(steps, plan.pair_mean(emp, pairs), plan.pair_mean(pop, pairs))
        ),
        **plan.onset_values(
            "tau_test", argmin_bracketed(steps, plan.pair_mean(eps_test_loss, pairs))
        ),
        **plan.onset_values(
            "tau_gen_net", generalisation_bracketed(steps, rel_pop_error, GEN_THRESHOLD)
        ),
        "tau_closer_net": np.atleast_1d(closer_onset(steps, emp, pop)),
        **plan.onset_values("tau_test_net", argmin_bracketed(steps, eps_test_loss)),
        **plan.memorisation_onsets(
            steps, pairs, memorised_fraction, memorised_fraction_se, memorised_floor
        ),
    }
