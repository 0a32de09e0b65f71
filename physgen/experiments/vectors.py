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
memorised fraction exceeds the floor by two standard errors; ``tau_closer`` = first checkpoint at
which :math:`\sum_{t\in I} D_t(\theta, \mathrm{emp}) < \sum_{t\in I} D_t(\theta, \mathrm{pop})`
(informative steps, see above); ``tau_test`` = argmin
of the test ε-MSE. Bonnaire et al. (arXiv:2505.17638) predict ``tau_gen`` independent of ``n``
and ``tau_mem`` ∝ ``n``.

**Dynamical regimes** (training-free, on split 0 of ``n`` points in ``d`` dimensions,
:mod:`physgen.metrics.scores`): predicted speciation time :math:`\tfrac12\log\Lambda` from the
split's sample covariance (and from the model's covariance when it has one); predicted collapse
time from :math:`f(s_C) = (\log n)/d` with :math:`f` estimated on the noised empirical measure
of the test points (and with the exact density when the model has ``log_prob``); measured times
from cloned trajectories of the exact empirical-score dynamics of the split: the step where the
class agreement passes midway between chance and 1 (speciation), and where the agreement on the
training point reached passes 1/2 (collapse). The class of a point is its nearest component mean
when the model has ``means``, else the sign of its projection on the data's top principal axis.
Times are reported in Ornstein–Uhlenbeck units :math:`s = -\tfrac12\log\bar\alpha`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from physgen.config import ExperimentConfig
from physgen.experiments.plan import (
    CellPlan,
    CellRecorder,
    NetworkPlan,
    ProgressFn,
    network_coords,
    plan_cell,
    train_networks,
)
from physgen.experiments.schema import VarSpec, build_dataset, global_attrs, register_variables
from physgen.rng import spawn

__all__ = ["GEN_THRESHOLD", "INFORMATIVE", "regimes", "run", "vector_onsets"]

GEN_THRESHOLD = 0.25
"""Relative population error at which a network counts as generalising (``tau_gen``)."""

INFORMATIVE = 0.1
"""Diffusion steps where the exact noise prediction varies (variance over inputs at least this
fraction of its largest value over ``score_t``) enter the relative population error."""

# spawn labels under the experiment seed (1, 2: data pool and networks; 3, 4: evaluation and
# sampling, as in the token experiment; 5: the clone dynamics of the regime measurement)
_LABEL_CLONES = 5

_D = (
    " Mean over coordinates of the squared difference of the noise predictions"
    " eps = (x_t - sqrt(alpha_bar) x0_hat) / sqrt(1 - alpha_bar), averaged over the frozen noised"
    " test points at each score_t."
)
register_variables(
    {
        "score_t": VarSpec(
            "diffusion step of score diagnostics",
            "1",
            "Diffusion step t at which denoisers are compared (x_t = noised test points).",
        ),
        "score_t_frac": VarSpec("score diagnostic time fraction", "1", "score_t / T."),
        "eps_train_loss": VarSpec(
            "training ε-MSE",
            "1",
            "Mean squared error of the predicted noise on the network's training split with "
            "(t, noise) frozen per point, t ~ U{1..T}.",
        ),
        "eps_test_loss": VarSpec(
            "test ε-MSE",
            "1",
            "Mean squared error of the predicted noise on held-out points with frozen (t, noise), "
            "t ~ U{1..T}. Its argmin is tau_test.",
        ),
        "dist_pop": VarSpec(
            "distance to the population denoiser",
            "1",
            "D(model, exact population denoiser)." + _D,
        ),
        "dist_emp": VarSpec(
            "distance to the empirical denoiser",
            "1",
            "D(model, empirical denoiser of the network's own training split)." + _D,
        ),
        "dist_pop_emp": VarSpec(
            "population-empirical distance",
            "1",
            "D(exact population denoiser, empirical denoiser of the split): what memorising "
            "costs in distance to the population." + _D,
        ),
        "pop_variance": VarSpec(
            "variance of the population denoiser",
            "1",
            "Variance over the test inputs of the exact noise prediction, per coordinate: the "
            "normaliser of rel_pop_error.",
        ),
        "rel_pop_error": VarSpec(
            "relative population error",
            "1",
            "sum_t dist_pop / sum_t pop_variance over the informative score_t (pop_variance at "
            "least physgen_informative times its maximum); tau_gen is the first checkpoint "
            "where it is at most physgen_gen_threshold.",
        ),
        "pair_distance": VarSpec(
            "distance between the models of a disjoint pair",
            "1",
            "D(model_A, model_B) on the shared inputs (the continuous analogue of the "
            "sample-split divergence S)." + _D,
        ),
        "seed_pair_distance": VarSpec(
            "distance between the models of a seed pair",
            "1",
            "pair_distance for two seeds on one split: the seed-noise baseline." + _D,
        ),
        "tau_gen": VarSpec(
            "onset of generalisation",
            "step",
            "First checkpoint at which the pair-averaged rel_pop_error is at most "
            "physgen_gen_threshold; NaN if never.",
        ),
        "tau_gen_net": VarSpec(
            "onset of generalisation per network", "step", "tau_gen of each network."
        ),
        "tau_closer": VarSpec(
            "onset of empirical dominance",
            "step",
            "First checkpoint at which the pair-averaged dist_emp summed over the informative "
            "score_t is below dist_pop summed likewise "
            "(the models are closer to their empirical denoisers than to the population); NaN if "
            "never.",
        ),
        "tau_closer_net": VarSpec(
            "onset of empirical dominance per network", "step", "tau_closer of each network."
        ),
        "clone_t": VarSpec(
            "start step of cloned trajectories",
            "1",
            "Diffusion step at which two reverse chains of the empirical-score dynamics of split 0 "
            "are split from one noised training point.",
        ),
        "clone_t_ou": VarSpec("OU time of clone_t", "1", "-log(alpha_bar) / 2 at clone_t."),
        "class_agreement": VarSpec(
            "class agreement of clones",
            "1",
            "Fraction of cloned pairs ending in the same class (nearest component mean).",
        ),
        "point_agreement": VarSpec(
            "training-point agreement of clones",
            "1",
            "Fraction of cloned pairs ending nearest to the same training point.",
        ),
        "ou_time": VarSpec("Ornstein-Uhlenbeck time", "1", "s = -log(alpha_bar) / 2."),
        "excess_entropy_data": VarSpec(
            "excess entropy density (data estimate)",
            "nat",
            "f(s) = entropy per dimension of the noised distribution minus that of a Gaussian of "
            "variance 1 - exp(-2s); Monte Carlo with the noised empirical measure of the test "
            "points as density and split 0 as probes.",
        ),
        "excess_entropy_exact": VarSpec(
            "excess entropy density (exact density)",
            "nat",
            "f(s) as excess_entropy_data with the model's exact log-density (NaN without one).",
        ),
        "t_speciation_pred": VarSpec(
            "predicted speciation time",
            "1",
            "OU time log(Lambda) / 2, Lambda the largest eigenvalue of split 0's covariance.",
        ),
        "t_speciation_model": VarSpec(
            "speciation time of the model covariance",
            "1",
            "OU time log(Lambda) / 2 from the model's exact covariance (NaN without one).",
        ),
        "t_speciation_meas": VarSpec(
            "measured speciation time",
            "1",
            "OU time where class_agreement passes midway between its chance level and 1.",
        ),
        "t_collapse_pred": VarSpec(
            "predicted collapse time",
            "1",
            "OU time where excess_entropy_data = log(n_train) / dim.",
        ),
        "t_collapse_model": VarSpec(
            "collapse time from the exact density",
            "1",
            "OU time where excess_entropy_exact = log(n_train) / dim.",
        ),
        "t_collapse_meas": VarSpec(
            "measured collapse time", "1", "OU time where point_agreement passes 1/2."
        ),
    }
)


def _eps(frozen: Any, x0_hat: np.ndarray) -> np.ndarray:
    """Noise prediction implied by a posterior mean at the frozen inputs, ``(n, d)``."""
    a = frozen.alpha_bar[:, None]
    return (frozen.x_t - np.sqrt(a) * x0_hat) / np.sqrt(1.0 - a)


class _Recorder(CellRecorder):
    """Frozen inputs, exact references and the per-network curves of one vector cell."""

    def __init__(self, cfg: ExperimentConfig, cell: CellPlan) -> None:
        from physgen.metrics import frozen_noise
        from physgen.models import Empirical

        m = cfg.metrics
        super().__init__(cfg, cell)
        model, schedule, protocol, nets, steps = (
            cell.model,
            cell.schedule,
            cell.protocol,
            cell.nets,
            cell.steps,
        )
        T = schedule.T
        self.score_t = np.unique(np.rint(np.geomspace(1, T, m.kl_t_points)).astype(np.int64))

        test = np.asarray(model.encode(protocol.test_set()), dtype=np.float64)
        self.test = test
        x0 = test[: min(m.n_eval, len(test))]
        self.x0 = x0
        self.loss_test = frozen_noise(x0, schedule, self.eval_seed)
        self.inputs = [frozen_noise(x0, schedule, self.eval_seed, int(t)) for t in self.score_t]
        self.pop = [_eps(f, model.denoise(f.x_t, f.alpha_bar)) for f in self.inputs]
        self.pop_variance = np.array([np.mean(np.var(p, axis=0)) for p in self.pop])
        self.informative = self.pop_variance >= INFORMATIVE * self.pop_variance.max()

        self.train = {
            s: np.asarray(protocol.train_data(s), dtype=np.float64)
            for s in sorted({p.split for p in nets})
        }
        self.loss_train = {
            s: frozen_noise(x[: m.n_eval], schedule, spawn(self.eval_seed, 1 + s))
            for s, x in self.train.items()
        }
        self.emp = {
            s: [_eps(f, Empirical(x).denoise(f.x_t, f.alpha_bar)) for f in self.inputs]
            for s, x in self.train.items()
        }
        fresh = test[: min(m.n_generate, len(test))]
        self.floor = {
            s: self.fresh_floor(fresh, x, metric="euclidean") for s, x in self.train.items()
        }

        n_net, n_step, n_t = len(nets), steps.size, self.score_t.size
        self.curves = {
            name: np.full((n_net, n_step), np.nan)
            for name in (
                "eps_train_loss",
                "eps_test_loss",
                "rel_pop_error",
                "memorised_fraction",
                "memorised_fraction_se",
            )
        }
        self.curves["dist_pop"] = np.full((n_net, n_step, n_t), np.nan)
        self.curves["dist_emp"] = np.full((n_net, n_step, n_t), np.nan)
        self.eps_hat = np.empty((n_net, n_step, n_t, *x0.shape))

    def evaluate(self, i: int, k: int, den: Any) -> None:
        """Every diagnostic of network ``i`` at checkpoint ``k``."""
        from physgen.diffusion import ddpm_sample
        from physgen.metrics import denoising_loss, memorised_fraction

        c, split = self.curves, self.nets[i].split
        train = self.train[split]
        c["eps_train_loss"][i, k] = np.mean(
            denoising_loss(den, train[: self.cfg.metrics.n_eval], self.loss_train[split], "eps_mse")
        )
        c["eps_test_loss"][i, k] = np.mean(denoising_loss(den, self.x0, self.loss_test, "eps_mse"))
        for j, f in enumerate(self.inputs):
            eps = _eps(f, den.denoise(f.x_t, f.alpha_bar))
            self.eps_hat[i, k, j] = eps
            c["dist_pop"][i, k, j] = np.mean((eps - self.pop[j]) ** 2)
            c["dist_emp"][i, k, j] = np.mean((eps - self.emp[split][j]) ** 2)
        inf = self.informative
        c["rel_pop_error"][i, k] = c["dist_pop"][i, k, inf].sum() / self.pop_variance[inf].sum()
        if self.sample_mask[k]:
            m = self.cfg.metrics
            x = ddpm_sample(
                den, self.schedule, m.n_generate, self.model.event_shape, self.sample_seed
            )
            frac, se = memorised_fraction(
                x, train, seed=spawn(self.sample_seed, 7919 + k), metric="euclidean"
            )
            c["memorised_fraction"][i, k] = frac
            c["memorised_fraction_se"][i, k] = se

    def pair_distance(self, a: int, b: int) -> np.ndarray:
        """``(n_steps, n_t)`` distance per coordinate between networks ``a`` and ``b``."""
        return np.mean((self.eps_hat[a] - self.eps_hat[b]) ** 2, axis=(-2, -1))


def regimes(cfg: ExperimentConfig, model: Any, schedule: Any, protocol: Any) -> dict[str, Any]:
    """Predicted and measured speciation and collapse times of split 0 (module docstring).

    Returns the scalar times (OU units) and the curves they come from: ``clone_t`` (steps),
    ``class_agreement``, ``point_agreement``, ``ou_time``, ``excess_entropy_data`` and
    ``excess_entropy_exact``.
    """
    from physgen.metrics.images import nearest_neighbours
    from physgen.metrics.scores import (
        alpha_bar_of_ou,
        clone_agreement,
        collapse_time,
        crossing_time,
        excess_entropy,
        noised_empirical_log_density,
        ou_time,
        speciation_time,
    )
    from physgen.models import Empirical

    train = np.asarray(protocol.train_data(0), dtype=np.float64)
    test = np.asarray(model.encode(protocol.test_set()), dtype=np.float64)
    n, d = train.shape
    T = schedule.T
    seed = spawn(cfg.seed, _LABEL_CLONES)

    means = getattr(model, "means", None)
    if means is not None:
        centres = np.asarray(means, dtype=np.float64)

        def classes(x: np.ndarray) -> np.ndarray:
            d2 = np.sum(x**2, 1)[:, None] - 2 * x @ centres.T + np.sum(centres**2, 1)[None]
            return np.argmin(d2, axis=1)

        weights = np.asarray(getattr(model, "weights", np.full(len(centres), 1 / len(centres))))
        chance = float(np.sum(weights**2))
    else:
        axis = np.linalg.eigh(np.cov(train.T))[1][:, -1]
        centre = train.mean(axis=0)

        def classes(x: np.ndarray) -> np.ndarray:
            return ((x - centre) @ axis > 0).astype(np.int64)

        chance = 0.5

    def labels(x: np.ndarray) -> np.ndarray:
        return np.stack([classes(x), nearest_neighbours(x, train)[0]], axis=1)

    clone_t = np.unique(np.rint(np.geomspace(1, T, cfg.metrics.kl_t_points)).astype(np.int64))
    phi = clone_agreement(
        Empirical(train), schedule, train, clone_t, labels, cfg.metrics.n_generate, seed
    )
    clone_ou = ou_time(schedule.alpha_bar[clone_t])

    def ou_at(step: float) -> float:
        if not np.isfinite(step):
            return float("nan")
        return float(ou_time(np.interp(step, np.arange(T + 1), schedule.alpha_bar)))

    s_grid = np.geomspace(1e-3, max(3.0, float(clone_ou[-1])), 60)
    ab = alpha_bar_of_ou(s_grid)
    probe_seed = spawn(seed, 1)
    f_data = excess_entropy(noised_empirical_log_density(test), train, ab, probe_seed)
    log_prob = getattr(model, "log_prob", None)
    f_exact = (
        excess_entropy(lambda x, a: log_prob(x, a), train, ab, probe_seed)
        if callable(log_prob)
        else np.full(s_grid.size, np.nan)
    )
    cov = getattr(model, "covariance", None)
    return {
        "clone_t": clone_t,
        "clone_t_ou": clone_ou,
        "class_agreement": phi[:, 0],
        "point_agreement": phi[:, 1],
        "ou_time": s_grid,
        "excess_entropy_data": f_data,
        "excess_entropy_exact": f_exact,
        "t_speciation_pred": speciation_time(np.cov(train.T).reshape(d, d)),
        "t_speciation_model": speciation_time(cov()) if callable(cov) else float("nan"),
        "t_speciation_meas": ou_at(crossing_time(clone_t, phi[:, 0], 0.5 * (1.0 + chance))),
        "t_collapse_pred": collapse_time(s_grid, f_data, n, d),
        "t_collapse_model": collapse_time(s_grid, f_exact, n, d)
        if callable(log_prob)
        else float("nan"),
        "t_collapse_meas": ou_at(crossing_time(clone_t, phi[:, 1], 0.5)),
    }


def run(cfg: ExperimentConfig, *, progress: ProgressFn | None = None) -> xr.Dataset:
    """Train every network of ``cfg`` (a vector model) and return the cell's Dataset.

    ``progress(done, total, message)`` is called after each checkpoint evaluation.
    """
    cell = plan_cell(cfg)
    rec = _Recorder(cfg, cell)
    train_networks(
        cfg,
        cell,
        data_of=lambda plan: rec.train[plan.split],
        loss="mse_eps",
        evaluate=rec.evaluate,
        progress=progress,
    )
    return _assemble(
        cfg,
        rec,
        cell.nets,
        cell.pairs,
        cell.seed_pairs,
        regimes(cfg, cell.model, cell.schedule, cell.protocol),
    )


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
) -> dict[str, tuple[tuple[str, ...], np.ndarray]]:
    """The onsets of one cell from its stored curves (so they can be recomputed from a file).

    Curves are ``(n_network, n_step)`` (distances ``(n_network, n_step, n_score_t)``),
    ``memorised_floor`` is ``(n_network,)``, ``informative`` a boolean mask over ``score_t``.
    A memorised fraction counts once it exceeds the floor by two standard errors
    (``frac - 2 se > floor``; for a pair, the mean fraction and the standard error of the mean),
    so that one lucky sample out of ``n_generate`` does not set ``tau_mem``. ``tau_closer``
    compares the distances summed over the informative steps, where a network can resolve the
    difference between the empirical and the population denoisers. Returns ``name → (dims,
    values)`` for ``tau_*`` over ``pair`` and ``tau_*_net`` over ``network``.
    """
    from physgen.metrics import argmin_onset, first_exceed_onset
    from physgen.metrics.scores import closer_onset, generalisation_onset

    def pair_mean(x: np.ndarray) -> np.ndarray:
        return np.array([(x[a] + x[b]) / 2 for a, b in pairs]).reshape(len(pairs), *x.shape[1:])

    emp = np.asarray(dist_emp)[..., informative].sum(axis=-1)
    pop = np.asarray(dist_pop)[..., informative].sum(axis=-1)
    se = np.asarray(memorised_fraction_se)
    pair_se = np.array([np.sqrt(se[a] ** 2 + se[b] ** 2) / 2 for a, b in pairs]).reshape(
        len(pairs), -1
    )
    floor = np.asarray(memorised_floor, dtype=np.float64)
    pair_floor = pair_mean(floor)
    return {
        "tau_gen": (
            ("pair",),
            np.atleast_1d(generalisation_onset(steps, pair_mean(rel_pop_error), GEN_THRESHOLD)),
        ),
        "tau_mem": (
            ("pair",),
            np.atleast_1d(
                first_exceed_onset(
                    steps, pair_mean(memorised_fraction) - 2 * pair_se, pair_floor[:, None]
                )
            ),
        ),
        "tau_closer": (
            ("pair",),
            np.atleast_1d(closer_onset(steps, pair_mean(emp), pair_mean(pop))),
        ),
        "tau_test": (("pair",), np.atleast_1d(argmin_onset(steps, pair_mean(eps_test_loss)))),
        "tau_gen_net": (
            ("network",),
            np.atleast_1d(generalisation_onset(steps, rel_pop_error, GEN_THRESHOLD)),
        ),
        "tau_mem_net": (
            ("network",),
            np.atleast_1d(
                first_exceed_onset(steps, np.asarray(memorised_fraction) - 2 * se, floor[:, None])
            ),
        ),
        "tau_closer_net": (("network",), np.atleast_1d(closer_onset(steps, emp, pop))),
        "tau_test_net": (("network",), np.atleast_1d(argmin_onset(steps, eps_test_loss))),
    }


def _assemble(
    cfg: ExperimentConfig,
    rec: _Recorder,
    nets: list[NetworkPlan],
    pairs: list[tuple[int, int]],
    seed_pairs: list[tuple[int, int]],
    theory: dict[str, Any],
) -> xr.Dataset:
    c, steps = rec.curves, rec.steps
    floors = np.array([rec.floor[p.split] for p in nets])
    n_t = rec.score_t.size
    dist_pop_emp = np.array(
        [[np.mean((rec.pop[j] - rec.emp[p.split][j]) ** 2) for j in range(n_t)] for p in nets]
    )
    data_vars: dict[str, tuple[tuple[str, ...], Any]] = {
        name: (("network", "step"), c[name])
        for name in (
            "eps_train_loss",
            "eps_test_loss",
            "rel_pop_error",
            "memorised_fraction",
            "memorised_fraction_se",
        )
    }
    data_vars.update(
        vector_onsets(
            steps,
            pairs,
            c["rel_pop_error"],
            c["memorised_fraction"],
            c["memorised_fraction_se"],
            floors,
            c["dist_emp"],
            c["dist_pop"],
            c["eps_test_loss"],
            rec.informative,
        )
    )
    data_vars.update(
        {
            "dist_pop": (("network", "step", "score_t"), c["dist_pop"]),
            "dist_emp": (("network", "step", "score_t"), c["dist_emp"]),
            "dist_pop_emp": (("network", "score_t"), dist_pop_emp),
            "pop_variance": (("score_t",), rec.pop_variance),
            "memorised_floor": (("network",), floors),
            "pair_distance": (
                ("pair", "step", "score_t"),
                np.array([rec.pair_distance(a, b) for a, b in pairs]),
            ),
            "seed_pair_distance": (
                ("seed_pair", "step", "score_t"),
                np.array([rec.pair_distance(a, b) for a, b in seed_pairs]).reshape(
                    len(seed_pairs), steps.size, n_t
                ),
            ),
            "class_agreement": (("clone_t",), theory["class_agreement"]),
            "point_agreement": (("clone_t",), theory["point_agreement"]),
            "excess_entropy_data": (("ou_time",), theory["excess_entropy_data"]),
            "excess_entropy_exact": (("ou_time",), theory["excess_entropy_exact"]),
        }
    )
    for name in (
        "t_speciation_pred",
        "t_speciation_model",
        "t_speciation_meas",
        "t_collapse_pred",
        "t_collapse_model",
        "t_collapse_meas",
    ):
        data_vars[name] = ((), float(theory[name]))
    T = rec.schedule.T
    coords = {
        **network_coords(steps, nets, pairs, seed_pairs),
        "score_t": (("score_t",), rec.score_t),
        "score_t_frac": (("score_t",), rec.score_t / T),
        "clone_t": (("clone_t",), theory["clone_t"]),
        "clone_t_ou": (("clone_t",), theory["clone_t_ou"]),
        "ou_time": (("ou_time",), theory["ou_time"]),
    }
    attrs = global_attrs(
        cfg,
        "physgen vector experiment (generalisation, memorisation and dynamical regimes)",
        {
            "ema_decay": cfg.train.ema_decay,
            "gen_threshold": GEN_THRESHOLD,
            "informative": INFORMATIVE,
            "sample_checkpoints": int(rec.sample_mask.sum()),
            "dim": int(rec.x0.shape[1]),
        },
    )
    return build_dataset(data_vars, coords, attrs)
