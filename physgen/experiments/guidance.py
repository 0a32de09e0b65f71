r"""The guidance experiment: class-conditional networks on disjoint splits of a tree model, and
the bias diagnostics of their classifier-free guided denoisers as functions of the guidance
weight :math:`w` (one sweep cell; docs/guidance.md).

**Networks.** The pairs of :mod:`physgen.experiments.tree` (:class:`~physgen.data.DataProtocol`),
each network class-conditional (``build_net(n_classes=C)``): the class of a training sequence is
its root class (:meth:`~physgen.models.TreeGrammar.parse_class`), dropped to the null class with
probability ``train.p_uncond`` per minibatch row (label dropout), so one network gives
:math:`\hat x_0(x_t \mid c)` and :math:`\hat x_0(x_t \mid \varnothing)`. Training does not depend
on :math:`w`: every weight of ``metrics.guidance_w`` (the cell's ``guidance_w`` dimension) is
evaluated on the same networks.

**At every checkpoint**, for each weights of the ``weights`` dimension: the conditional
training and test losses (each sequence with its own root class) and their standard error; the
ladder :math:`D_k` of the unconditional branch on the frozen test inputs at :math:`t_c` (whether
a network has learned, independent of :math:`w`); and the conditional and unconditional
:math:`\hat x_0` on those inputs, kept to form after training, for every disjoint pair and every
:math:`w`, the guided sample-split divergence

.. math:: S_w(\tau) = E\,\mathrm{KL}\big(\hat x^{A}_{0,w} \,\|\, \hat x^{B}_{0,w}\big), \qquad
          \hat x_{0,w} = (1 + w)\,\hat x_0(x_t \mid c) - w\,\hat x_0(x_t \mid \varnothing),

:math:`c` the root class of each test sequence (the combination of
:class:`physgen.guidance.GuidedDenoiser`; the KL clips at 1e-8 and renormalises per position, as
every KL of :mod:`physgen.metrics.divergence` does, since the guided :math:`\hat x_0` leaves the
simplex for :math:`w > 0`).

**At the sample checkpoints** (those of the tree experiment), for each :math:`w`:
``metrics.n_generate`` coupled samples of the guided network (classes ``metrics.guidance_classes``,
or every class, cycled over the samples; the cell's sampler and seed, so every network,
checkpoint and :math:`w` sees the same noise); their NN divergence and memorised fraction against
the network's split (as in the tree experiment), and the guidance diagnostics of
:func:`physgen.metrics.guidance.tree_guidance_diagnostics`: validity, class accuracy, leaf
entropy, distinct samples and the excess cross-entropy.

**Exact reference** (no training): the same diagnostics for samples of the exact guided BP
denoiser ``GuidedDenoiser(model, w)`` drawn with the same sampler, seed and classes, per
:math:`w`.

**Onsets**, per weights and :math:`w`: ``tau_bias_guided`` by the cell's bias rule
(:func:`physgen.experiments.tree.bias_onsets`) on :math:`S_w`, ``tau_mem_guided`` from the
guided memorised fraction (:func:`physgen.experiments.plan.memorisation_onsets`), and, once per
weights, ``tau_test`` of the conditional test loss; ``n_bias_before_test_guided`` counts the
pairs with :math:`\tau_{\rm bias}(w) < \tau_{\rm test}` beyond their brackets.
"""

from __future__ import annotations

from dataclasses import astuple
from typing import Any

import numpy as np

from physgen.config import ExperimentConfig
from physgen.experiments.plan import (
    CellPlan,
    CellRecorder,
    NetworkPlan,
    init_weights,
    memorisation_onsets,
    onset_values,
    pair_mean,
)
from physgen.experiments.tree import (
    BIAS_PROGRESS,
    INIT_WEIGHT_MAX,
    bias_onsets,
    frozen_splits,
    step_of,
)
from physgen.metrics.onsets import Onset

__all__ = ["GuidanceRecorder", "guided_x0"]

_GUIDED_CURVES = (
    "guided_nn_divergence",
    "guided_memorised_fraction",
    "guided_memorised_fraction_se",
    "guided_valid_fraction",
    "guided_class_accuracy",
    "guided_leaf_entropy",
    "guided_distinct",
    "guided_ce_excess",
)
"""Per-network sample diagnostics under guidance, dims ``(network, weights, guidance_w,
checkpoint)``."""

_DIAGNOSTIC_FIELDS = {
    "valid_fraction": "validity",
    "class_accuracy": "accuracy",
    "leaf_entropy": "leaf_entropy",
    "distinct": "n_distinct",
    "ce_excess": "ce_excess",
}
"""Recorded name suffix → field of :class:`physgen.metrics.guidance.GuidanceDiagnostics`."""


def guided_x0(x_cond: np.ndarray, x_uncond: np.ndarray, w: float) -> np.ndarray:
    r"""The classifier-free guided :math:`\hat x_0 = (1 + w)\,\hat x_0(\cdot \mid c) -
    w\,\hat x_0(\cdot \mid \varnothing)` from stored conditional and unconditional outputs of the
    same shape (what :class:`physgen.guidance.GuidedDenoiser` returns on those inputs)."""
    return (1.0 + w) * x_cond - w * x_uncond


def _stack_onsets(onsets: list[Onset]) -> Onset:
    """Onsets of equal shapes stacked along a new last axis."""
    return Onset(
        *(
            np.stack([np.asarray(f) for f in fields], axis=-1)
            for fields in zip(*(astuple(o) for o in onsets), strict=True)
        )
    )


class GuidanceRecorder(CellRecorder):
    """Holds the frozen inputs, trains class-conditional networks and fills the guided curves."""

    experiment = "guidance"
    title = "physgen guidance experiment (classifier-free guidance and biased generalisation)"
    summary = (
        "Class-conditional networks trained with label dropout on disjoint splits of a "
        "hierarchical token model; along training, for each guidance weight w, the sample-split "
        "divergence S of the pair's guided denoisers and its onset tau_bias, memorisation, NN "
        "divergence, validity, class accuracy and diversity of guided samples, beside the same "
        "diagnostics of the exact guided belief-propagation denoiser."
    )
    loss = "ce"
    sampler = "respaced"

    def __init__(self, cfg: ExperimentConfig, cell: CellPlan) -> None:
        from physgen.metrics import hamming_bins, hamming_nn
        from physgen.metrics.oracle import oracle_gaps

        m = cfg.metrics
        super().__init__(cfg, cell)
        model, schedule, protocol = cell.model, cell.schedule, cell.protocol
        T, L = schedule.T, model.depth
        self.L = L
        self.t_c, self.t_l = step_of(m.t_frac, T), step_of(m.loss_t_frac, T)
        self.w = np.asarray(m.guidance_w, dtype=np.float64)
        self.bins = hamming_bins(model.event_shape[0])
        requested = m.guidance_classes or tuple(range(model.n_classes))
        self.gen_classes = np.resize(np.asarray(requested, dtype=np.int64), m.n_generate)

        test = np.asarray(protocol.test_set())
        n_eval = min(m.n_eval, test.shape[0])
        self.test, self.train_tokens, self.train_loss_inputs = frozen_splits(
            cell, test[:n_eval], {p.split for p in self.nets}, self.eval_seed, self.t_c, self.t_l
        )
        self.test_classes = model.parse_class(self.test.tokens)
        self.fresh = test[: min(m.n_generate, test.shape[0])]
        self.train_loss_classes = {
            s: model.parse_class(inputs.tokens) for s, inputs in self.train_loss_inputs.items()
        }
        crit = self.test.crit
        self.oracle_ladder = oracle_gaps(model, crit.x_t, crit.alpha_bar, oracle=self.test.bp_crit)
        self.fresh_nn = {
            s: hamming_nn(self.fresh, tok, k=2) for s, tok in self.train_tokens.items()
        }
        self.exact = self._exact_reference()
        self.curves = self.allocate(
            "train_loss", "test_loss", "test_loss_se", "ladder_test", level=L + 1
        )
        self.guided = self.allocate(*_GUIDED_CURVES, guidance_w=self.w.size)
        shape = (len(self.nets), len(self.weights), self.steps.size, *self.test.x0.shape)
        self.x_cond, self.x_uncond = np.empty(shape), np.empty(shape)

    def train_data(self, plan: NetworkPlan) -> np.ndarray:
        """One-hot training sequences of the network's split."""
        return self.model.encode(self.train_tokens[plan.split])

    def train_classes(self, plan: NetworkPlan) -> np.ndarray:
        """The root class of each training sequence of the network's split."""
        return np.asarray(self.model.parse_class(self.train_tokens[plan.split]), dtype=np.int64)

    def _guided_samples(self, den: Any, w: float) -> np.ndarray:
        """Tokens ``(n_generate, N)`` of the cell's coupled sampler run on ``GuidedDenoiser(den,
        w)`` with the requested classes."""
        from physgen.guidance import GuidedDenoiser

        x = self.generate(GuidedDenoiser(den, float(w)), self.gen_classes)
        return np.asarray(self.model.decode(x))

    def _exact_reference(self) -> dict[str, np.ndarray]:
        """The guidance diagnostics of the exact guided BP denoiser per ``w`` (``exact_*``)."""
        from physgen.metrics import nested_mean_se
        from physgen.metrics.guidance import tree_guidance_diagnostics

        model, c = self.model, self.gen_classes
        entropy = np.array([model.entropy(k) for k in range(model.n_classes)])
        out = {f"exact_{name}": np.empty(self.w.size) for name in _DIAGNOSTIC_FIELDS}
        out["exact_kl_plugin"] = np.empty(self.w.size)
        out["exact_ce_excess_se"] = np.empty(self.w.size)
        for g, w in enumerate(self.w):
            tokens = self._guided_samples(model, w)
            diag = tree_guidance_diagnostics(model, tokens, c)
            for name, field in _DIAGNOSTIC_FIELDS.items():
                out[f"exact_{name}"][g] = getattr(diag, field)
            out["exact_kl_plugin"][g] = diag.kl_plugin_valid
            ok = model.parse_class(tokens) == c
            lp = model.log_prob(tokens[ok], filtered_levels=0, classes=c[ok])
            out["exact_ce_excess_se"][g] = (
                nested_mean_se(-lp - entropy[c[ok]]).se if ok.sum() >= 2 else np.nan
            )
        return out

    def evaluate(self, net: int, w: int, k: int, den: Any) -> None:
        """All diagnostics of network ``net``, weights ``w`` at checkpoint ``k`` (denoiser
        ``den``, class-conditional)."""
        from physgen.metrics import (
            Bound,
            Precomputed,
            denoising_loss,
            nested_mean_se,
            oracle_ladder,
        )

        c, at = self.curves, (net, w, k)
        split = self.nets[net].split
        tr, te = self.train_loss_inputs[split], self.test
        tr_classes = self.train_loss_classes[split]
        c["train_loss"][at] = np.mean(
            denoising_loss(Bound(den, classes=tr_classes), tr.x0, tr.loss)
        )
        test = nested_mean_se(denoising_loss(Bound(den, classes=self.test_classes), te.x0, te.loss))
        c["test_loss"][at], c["test_loss_se"][at] = test.mean, test.se
        crit = te.crit
        self.x_cond[at] = den.denoise(crit.x_t, crit.alpha_bar, classes=self.test_classes)
        self.x_uncond[at] = den.denoise(crit.x_t, crit.alpha_bar)
        c["ladder_test"][at] = oracle_ladder(
            Precomputed(crit.x_t, self.x_uncond[at]),
            self.model,
            crit.x_t,
            crit.alpha_bar,
            oracle=te.bp_crit,
        )
        if self.sample_mask[k]:
            for g, gw in enumerate(self.w):
                self._evaluate_samples((net, w, g, k), self._guided_samples(den, gw))

    def _evaluate_samples(self, at: tuple[int, int, int, int], samples: np.ndarray) -> None:
        """The sample diagnostics of guided ``samples`` at ``(network, weights, w, checkpoint)``."""
        from physgen.metrics import hamming_nn, nn_divergence
        from physgen.metrics.guidance import tree_guidance_diagnostics

        c = self.guided
        net, _, _, k = at
        split = self.nets[net].split
        train_tokens = self.train_tokens[split]
        d_gen = hamming_nn(samples, train_tokens, k=2)
        c["guided_nn_divergence"][at] = nn_divergence(
            d_gen[:, 0], self.fresh_nn[split][:, 0], self.bins
        )
        frac, se = self.memorisation(samples, train_tokens, k, metric="hamming")
        c["guided_memorised_fraction"][at], c["guided_memorised_fraction_se"][at] = frac, se
        diag = tree_guidance_diagnostics(self.model, samples, self.gen_classes)
        for name, field in _DIAGNOSTIC_FIELDS.items():
            c[f"guided_{name}"][at] = getattr(diag, field)

    def guided_divergence(self, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
        """:math:`S_w` and its standard error over checkpoints for networks ``a`` and ``b``,
        each ``(n_weights, n_w, n_checkpoint)``: the per-input KL of their guided outputs
        (:func:`guided_x0` of the stored conditional and unconditional :math:`\\hat x_0`;
        :func:`physgen.metrics.item_divergence`) summarised by
        :func:`physgen.metrics.nested_mean_se`."""
        from physgen.metrics import Precomputed, item_divergence, nested_mean_se

        crit = self.test.crit
        shape = (len(self.weights), self.w.size, self.steps.size)
        S, se = np.empty(shape), np.empty(shape)
        for wi, g, k in np.ndindex(shape):
            gw = float(self.w[g])
            est = nested_mean_se(
                item_divergence(
                    Precomputed(
                        crit.x_t, guided_x0(self.x_cond[a, wi, k], self.x_uncond[a, wi, k], gw)
                    ),
                    Precomputed(
                        crit.x_t, guided_x0(self.x_cond[b, wi, k], self.x_uncond[b, wi, k], gw)
                    ),
                    crit.x_t,
                    crit.alpha_bar,
                )
            )
            S[wi, g, k], se[wi, g, k] = est.mean, est.se
        return S, se

    def options(self) -> dict[str, Any]:
        import json

        m = self.cfg.metrics
        return {
            **super().options(),
            "bias_rule": m.bias_rule,
            "bias_progress": BIAS_PROGRESS,
            "init_weight_max": INIT_WEIGHT_MAX,
            "t_crit": self.t_c,
            "t_loss": self.t_l,
            "p_uncond": self.cfg.train.p_uncond,
            "n_generate": m.n_generate,
            "guidance_classes": json.dumps([int(v) for v in np.unique(self.gen_classes)]),
        }

    def results(self) -> dict[str, Any]:
        from physgen.metrics import argmin_bracketed, count_before, site_only_kl

        steps, pairs = self.steps, self.pairs
        W, G, K = len(self.weights), self.w.size, steps.size
        crit = self.test.crit
        d_site = site_only_kl(self.model, crit.x_t, crit.alpha_bar)
        d0 = self.curves["ladder_test"][..., 0]
        averaged = init_weights(self.cell) <= INIT_WEIGHT_MAX
        floors = np.array(
            [self.fresh_floor(self.fresh, self.train_tokens[p.split], "hamming") for p in self.nets]
        )
        out = [self.guided_divergence(a, b) for a, b in pairs]
        S = np.array([o[0] for o in out]).reshape(len(pairs), W, G, K)
        S_se = np.array([o[1] for o in out]).reshape(len(pairs), W, G, K)
        a_idx, b_idx = [p[0] for p in pairs], [p[1] for p in pairs]
        bias = _stack_onsets(
            [
                bias_onsets(
                    self.cfg.metrics.bias_rule,
                    steps,
                    S[:, :, g],
                    d0[a_idx],
                    d0[b_idx],
                    d_site,
                    float(self.oracle_ladder[-1]),
                    averaged,
                )
                for g in range(G)
            ]
        )
        test = argmin_bracketed(steps, pair_mean(self.curves["test_loss"], pairs))
        counts = np.array(
            [
                count_before(
                    Onset(*(np.asarray(f)[:, wi, g] for f in astuple(bias))),
                    Onset(*(np.asarray(f)[:, wi] for f in astuple(test))),
                )
                for wi in range(W)
                for g in range(G)
            ],
            dtype=np.int64,
        ).reshape(W, G, 2)
        g = self.guided
        return {
            **self.curves,
            **g,
            **self.exact,
            "level": np.arange(self.L + 1, dtype=np.int64),
            "guidance_w": self.w,
            "oracle_ladder": self.oracle_ladder,
            "site_only_kl": d_site,
            "memorised_floor": floors,
            "guided_divergence": S,
            "guided_divergence_se": S_se,
            **onset_values("tau_bias_guided", bias),
            **onset_values("tau_test", test),
            "n_bias_before_test_guided": counts[..., 0],
            "n_bias_test_measured_guided": counts[..., 1],
            **memorisation_onsets(
                steps,
                pairs,
                g["guided_memorised_fraction"],
                g["guided_memorised_fraction_se"],
                floors,
                name="tau_mem_guided",
            ),
        }
