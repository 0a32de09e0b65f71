r"""The tree experiment: train networks on disjoint splits of a token model with a tree oracle
(:class:`~physgen.models.base.TreeModel`) and record every bias diagnostic of docs/theory.md §4
along training (one sweep cell).

**Networks** (:class:`physgen.data.DataProtocol`): for each of the ``P = data.n_pairs`` disjoint
pairs, networks A and B train on splits ``2p`` and ``2p + 1``; each of the ``data.n_seed_pairs``
seed pairs trains a second replicate (another seed) on split ``s`` next to the replicate-0
network already trained there, which gives the seed-noise baseline of S. A network is a function
of (seed, split, replicate) only.

**Frozen evaluation inputs** (drawn once from ``cfg.seed``, shared by every network and every
checkpoint, so curves compare checkpoints and networks on the same inputs):

* test sequences :math:`x_0^\mu`, :math:`\mu < n_{\rm eval}`, and each split's training sequences
  (at most ``n_eval``);
* for each: :math:`(t_\mu, \varepsilon_\mu)` with :math:`t_\mu \sim U\{1..T\}` (the losses), the
  same items noised at :math:`t_c = \mathrm{round}(t_{\rm frac} T)` (ladder and S) and at
  :math:`t_\ell = \mathrm{round}(\ell_{\rm frac} T)` (loss decomposition, membership AUC).

**At every checkpoint** :math:`\tau`, for each weights of the ``weights`` dimension (the raw
weights and the averages, :func:`physgen.train.weight_decays`, all from the same training run):
train/test cross-entropy (the test loss with its standard error over the inputs); the ladder
:math:`D_k(\tau) = E\,\mathrm{KL}(\mathrm{BP}_k(x_{t_c}) \| \hat x_0^\theta(x_{t_c}))`, k = 0..L, on
test and training inputs; the network's :math:`\hat x_0` on the shared test inputs at :math:`t_c`
(kept, then :math:`S(\tau) = E\,\mathrm{KL}(\hat x_0^{A} \| \hat x_0^{B})` is formed after
training for every disjoint and seed pair); the decomposition
:math:`\ell = \ell^* + \tilde\ell` at :math:`t_\ell` on training and test data and the
membership-inference AUC of its per-sequence loss.

**At the sample checkpoints** (``metrics.sample_checkpoints`` of them, spread over the last two
decades of training, the last checkpoint included, or with ``metrics.sample_ratio = r > 1`` the
sparsest subset of them at most r apart, see :func:`sample_checkpoint_mask`; sampling costs one network call per reverse step): ``n_generate`` coupled samples
(ancestral DDPM on ``metrics.sample_steps`` evenly respaced steps — DDIM with η = 1, the full
T-step chain when ``sample_steps ≥ T`` — with the same seed for every network and checkpoint);
their nearest-neighbour Hamming distances to the network's own training split against those of
as many fresh test sequences, histograms on one bin per distance and the NN divergence
:math:`\mathrm{KL}(P_{\rm gen}\|P_{\rm test})`; exact-copy and memorised (:math:`d_1/d_2 < 1/3`)
fractions; validity per level, valid fraction and exact log-likelihood; the U-turn overlap ratio
model/BP from ``uturn_starts`` training and test starts; and
:math:`\mathrm{KL}(\mathrm{BP}_0\|\theta)(t)` along diffusion time on the first ``n_generate``
test sequences. Elsewhere these are NaN.

**Onsets**, per weights, each with its checkpoint bracket (``*_lo``, ``*_hi``) and censoring
(``*_censored``; see :mod:`physgen.metrics.onsets` and docs/onsets.md): ``tau_bias`` = argmin of
the pair's S over the valid checkpoints of ``metrics.bias_rule`` (default ``"progress"``:
:func:`bias_onsets`); ``tau_test``, ``tau_nn`` and ``tau_mem`` per network and, per pair, from
the average of the pair's two networks' curves (test loss, NN divergence, memorised fraction
against the average of their noise floors, by the one rule of
:func:`physgen.metrics.onsets.memorisation_bracketed`: fraction − 2 SE > floor);
``n_bias_before_test`` / ``n_bias_test_measured``: pairs with τ_bias < τ_test beyond their
brackets, of those with both onsets uncensored. S comes with its standard error over the
inputs; ``overlap_pair`` / ``overlap_test`` count sequences shared between a pair's splits and
with the test set (0 with content-disjoint data).

Each recorded curve is declared in :mod:`physgen.experiments.schema` and computed here by the
public function named there; this module only orchestrates.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import astuple, dataclass
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
from physgen.metrics.onsets import Onset
from physgen.rng import stream

__all__ = [
    "BIAS_PROGRESS",
    "INIT_WEIGHT_MAX",
    "FrozenInputs",
    "TreeRecorder",
    "bias_onsets",
    "frozen_inputs",
    "frozen_splits",
    "step_of",
]

_STEP_CURVES = (
    "train_loss",
    "test_loss",
    "loss_total_train",
    "loss_exact_train",
    "loss_excess_train",
    "loss_total_test",
    "loss_exact_test",
    "loss_excess_test",
    "membership_auc",
    "test_loss_se",
    "nn_divergence",
    "nn_mean_gen",
    "copy_fraction",
    "memorised_fraction",
    "memorised_fraction_se",
    "valid_fraction",
    "log_likelihood",
    "ladder_test",
    "ladder_train",
    "validity",
    "kl_model_time",
    "nn_hist_gen",
    "uturn_ratio_train",
    "uturn_ratio_test",
)
"""The per-network curves over checkpoints (declared dims ``(network, checkpoint, ...)``)."""


BIAS_PROGRESS = 0.5
"""Fraction of the way from a network's first D_0 to its best after which it counts as having
learned (the ``progress`` bias rule, docs/onsets.md)."""
INIT_WEIGHT_MAX = 0.01
"""An average's checkpoint enters the valid range of tau_bias once it holds at most this share
of the random initial weights (:func:`physgen.train.init_weight`)."""


def step_of(frac: float, T: int) -> int:
    """The diffusion step nearest to ``frac · T``, at least 1."""
    return max(1, min(T, round(frac * T)))


@dataclass
class FrozenInputs:
    """Frozen evaluation inputs of one item set (test set, or one training split).

    ``tokens``: ``(m, N)``; ``x0``: ``(m, N, q)`` one-hot; ``loss``: frozen noise with random t;
    ``crit``: at ``t_c``; ``decomp``: at ``t_l``; ``bp_crit``: BP_k outputs at ``t_c``,
    ``(L + 1, m, N, q)`` (:func:`physgen.metrics.oracle_outputs`).
    """

    tokens: np.ndarray
    x0: np.ndarray
    loss: Any
    crit: Any
    decomp: Any
    bp_crit: np.ndarray


def frozen_inputs(
    model: Any, tokens: np.ndarray, schedule: Any, seed: int, t_c: int, t_l: int
) -> FrozenInputs:
    """The frozen evaluation inputs of ``tokens`` ``(m, N)`` from ``seed``: the loss noise at
    random steps, the same items noised at ``t_c`` and at ``t_l``, and the oracle outputs at
    ``t_c``."""
    from physgen.metrics import frozen_noise, oracle_outputs

    x0 = model.encode(tokens)
    loss = frozen_noise(x0, schedule, seed)
    crit = frozen_noise(x0, schedule, seed, t_c)
    decomp = frozen_noise(x0, schedule, seed, t_l)
    return FrozenInputs(
        tokens, x0, loss, crit, decomp, oracle_outputs(model, crit.x_t, crit.alpha_bar)
    )


def frozen_splits(
    cell: CellPlan,
    test: np.ndarray,
    splits: Iterable[int],
    seed: int,
    t_c: int,
    t_l: int,
) -> tuple[FrozenInputs, dict[int, np.ndarray], dict[int, FrozenInputs]]:
    """The frozen evaluation inputs of a cell: those of the test tokens ``test`` ``(m, N)``
    (from ``seed``); the tokens of each training split of ``splits``; and the frozen inputs of
    each split's first ``m`` sequences (stream ``(seed, "eval_split", split)``)."""
    model, schedule = cell.model, cell.schedule
    tokens = {s: np.asarray(cell.protocol.split(s)) for s in sorted(splits)}
    inputs = {
        s: frozen_inputs(
            model,
            tok[: test.shape[0]],
            schedule,
            stream(seed, "eval_split", s),
            t_c,
            t_l,
        )
        for s, tok in tokens.items()
    }
    return frozen_inputs(model, test, schedule, seed, t_c, t_l), tokens, inputs


class TreeRecorder(CellRecorder):
    """Holds the frozen inputs and fills the per-network curves at each checkpoint."""

    experiment = "tree"
    title = "physgen tree experiment (biased generalisation along training)"
    summary = (
        "Networks trained on disjoint splits of a hierarchical token model, evaluated along "
        "training against the exact belief-propagation oracles: losses, the model-oracle ladder, "
        "the sample-split divergence S, nearest-neighbour and memorisation statistics of coupled "
        "samples, validity, U-turns, and the onsets tau_bias, tau_test, tau_nn and tau_mem."
    )
    loss = "ce"
    sampler = "respaced"

    def __init__(self, cfg: ExperimentConfig, cell: CellPlan) -> None:
        from physgen.metrics import Bound, denoising_loss, hamming_bins, hamming_nn, kl_along_time
        from physgen.metrics.oracle import oracle_gaps

        m = cfg.metrics
        super().__init__(cfg, cell)
        model, schedule, protocol = cell.model, cell.schedule, cell.protocol
        T, L, N = schedule.T, model.depth, model.event_shape[0]
        self.L, self.N = L, N
        self.t_c, self.t_l = step_of(m.t_frac, T), step_of(m.loss_t_frac, T)
        self.t_grid = np.unique(
            np.rint(np.linspace(0, T, m.kl_t_points + 1)[1:]).astype(np.int64).clip(1, T)
        )
        self.uturn_t = np.unique([step_of(f, T) for f in m.uturn_t_fracs]).astype(np.int64)
        self.bins = hamming_bins(N)

        test = np.asarray(protocol.test_set())
        n_eval = min(m.n_eval, test.shape[0])
        self.test, self.train_tokens, self.train_inputs = frozen_splits(
            cell, test[:n_eval], {p.split for p in self.nets}, self.eval_seed, self.t_c, self.t_l
        )
        self.fresh = test[: min(m.n_generate, test.shape[0])]
        self.kl_x0 = self.test.x0[: m.n_generate]
        self.uturn_test = test[: min(m.uturn_starts, test.shape[0])]

        self.bp0 = Bound(model, filtered_levels=0)
        crit = self.test.crit
        self.oracle_ladder = oracle_gaps(model, crit.x_t, crit.alpha_bar, oracle=self.test.bp_crit)
        self.kl_oracle_time = np.stack(
            [
                kl_along_time(
                    self.bp0,
                    Bound(model, filtered_levels=k),
                    self.kl_x0,
                    schedule,
                    self.t_grid,
                    self.eval_seed,
                )
                for k in range(L + 1)
            ]
        )
        self.bayes_test_loss = float(
            np.mean(denoising_loss(self.bp0, self.test.x0, self.test.loss))
        )
        # Chance levels against each split: fresh true samples, and BP U-turns (checkpoint-free).
        self.fresh_nn = {
            s: hamming_nn(self.fresh, tok, k=2) for s, tok in self.train_tokens.items()
        }
        self.uturn_bp = {s: self._uturn(self.bp0, s) for s in self.train_tokens}
        self.curves = self.allocate(
            *_STEP_CURVES,
            level=L + 1,
            kl_t=self.t_grid.size,
            nn_bin=self.bins.size - 1,
            uturn_t=self.uturn_t.size,
        )
        self.x_hat = np.empty(
            (len(self.nets), len(self.weights), self.steps.size, *self.test.x0.shape)
        )

    def train_data(self, plan: NetworkPlan) -> np.ndarray:
        """One-hot training sequences of the network's split."""
        return self.model.encode(self.train_tokens[plan.split])

    def _uturn(self, den: Any, split: int) -> np.ndarray:
        """Mean U-turn overlap at each ``uturn_t`` from the first ``uturn_starts`` sequences of
        ``split`` and of the test set (one batch, so one reverse chain per ``t``); shape
        ``(2, n_uturn)``: row 0 training starts, row 1 test starts."""
        from physgen.metrics import uturn_overlap

        train = self.train_tokens[split][: self.cfg.metrics.uturn_starts]
        x0 = self.model.encode(np.concatenate([train, self.uturn_test]))
        out = np.empty((2, self.uturn_t.size))
        for j, t in enumerate(self.uturn_t):
            overlap = uturn_overlap(
                den,
                x0,
                self.schedule,
                int(t),
                self.cfg.metrics.uturn_reps,
                stream(self.sample_seed, "uturn", int(t)),
                self.model.decode,
            )
            out[:, j] = overlap[: len(train)].mean(), overlap[len(train) :].mean()
        return out

    def evaluate(self, net: int, w: int, k: int, den: Any) -> None:
        """All diagnostics of network ``net``, weights ``w`` at checkpoint ``k`` (denoiser
        ``den``)."""
        from physgen.metrics import (
            Precomputed,
            denoising_loss,
            kl_along_time,
            loss_decomposition,
            membership_auc,
            nested_mean_se,
            oracle_ladder,
        )

        c, at = self.curves, (net, w, k)
        split = self.nets[net].split
        tr, te = self.train_inputs[split], self.test
        c["train_loss"][at] = np.mean(denoising_loss(den, tr.x0, tr.loss))
        test = nested_mean_se(denoising_loss(den, te.x0, te.loss))
        c["test_loss"][at], c["test_loss_se"][at] = test.mean, test.se
        # the network's x̂0 on the shared test inputs is kept for S (formed after training)
        self.x_hat[at] = den.denoise(te.crit.x_t, te.crit.alpha_bar)
        model_test = Precomputed(te.crit.x_t, self.x_hat[at])
        c["ladder_test"][at] = oracle_ladder(
            model_test, self.model, te.crit.x_t, te.crit.alpha_bar, oracle=te.bp_crit
        )
        c["ladder_train"][at] = oracle_ladder(
            den, self.model, tr.crit.x_t, tr.crit.alpha_bar, oracle=tr.bp_crit
        )
        parts = {}
        for name, inp in (("train", tr), ("test", te)):
            lp = loss_decomposition(den, self.bp0, inp.x0, inp.decomp.x_t, inp.decomp.alpha_bar)
            parts[name] = lp.total
            c[f"loss_total_{name}"][at] = np.mean(lp.total)
            c[f"loss_exact_{name}"][at] = np.mean(lp.exact)
            c[f"loss_excess_{name}"][at] = np.mean(lp.excess)
        c["membership_auc"][at] = membership_auc(parts["train"], parts["test"])
        if self.sample_mask[k]:
            self._evaluate_samples(at, den)
            c["kl_model_time"][at] = kl_along_time(
                self.bp0, den, self.kl_x0, self.schedule, self.t_grid, self.eval_seed
            )

    def _evaluate_samples(self, at: tuple[int, int, int], den: Any) -> None:
        """The sample-based diagnostics at ``at = (network, weights, checkpoint)``."""
        from physgen.metrics import copy_fraction, hamming_nn, nn_divergence, nn_histogram

        c, model = self.curves, self.model
        net, _, k = at
        split = self.nets[net].split
        train_tokens = self.train_tokens[split]
        samples = np.asarray(model.decode(self.generate(den)))
        d_gen = hamming_nn(samples, train_tokens, k=2)
        d_test = self.fresh_nn[split]
        c["nn_hist_gen"][at] = nn_histogram(d_gen[:, 0], self.bins)
        c["nn_divergence"][at] = nn_divergence(d_gen[:, 0], d_test[:, 0], self.bins)
        c["nn_mean_gen"][at] = np.mean(d_gen[:, 0])
        c["copy_fraction"][at] = copy_fraction(samples, train_tokens)
        frac, se = self.memorisation(samples, train_tokens, k, metric="hamming")
        c["memorised_fraction"][at] = frac
        c["memorised_fraction_se"][at] = se
        validity = np.asarray(model.validity(samples), dtype=np.float64)  # (n, L) per level
        c["validity"][(*at, slice(0, self.L))] = np.mean(validity.reshape(len(samples), -1), axis=0)
        logp = np.asarray(model.log_prob(samples), dtype=np.float64)
        ok = np.isfinite(logp)
        c["valid_fraction"][at] = np.mean(ok)
        c["log_likelihood"][at] = np.mean(logp[ok]) if ok.any() else np.nan
        ratio = self._uturn(den, split) / self.uturn_bp[split]
        c["uturn_ratio_train"][at], c["uturn_ratio_test"][at] = ratio

    def divergence(self, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
        """S and its standard error over checkpoints for networks ``a`` and ``b``, each
        ``(n_weights, n_checkpoint)``: the per-input KL of their stored test outputs
        (:func:`physgen.metrics.item_divergence`, whose mean is
        :func:`~physgen.metrics.denoiser_divergence`) summarised by
        :func:`physgen.metrics.nested_mean_se`."""
        from physgen.metrics import Precomputed, item_divergence, nested_mean_se

        crit = self.test.crit
        shape = (len(self.weights), self.steps.size)
        S, se = np.empty(shape), np.empty(shape)
        for w, k in np.ndindex(shape):
            est = nested_mean_se(
                item_divergence(
                    Precomputed(crit.x_t, self.x_hat[a, w, k]),
                    Precomputed(crit.x_t, self.x_hat[b, w, k]),
                    crit.x_t,
                    crit.alpha_bar,
                )
            )
            S[w, k], se[w, k] = est.mean, est.se
        return S, se

    def options(self) -> dict[str, Any]:
        return {
            **super().options(),
            "bias_rule": self.cfg.metrics.bias_rule,
            "bias_progress": BIAS_PROGRESS,
            "init_weight_max": INIT_WEIGHT_MAX,
            "t_crit": self.t_c,
            "t_loss": self.t_l,
            "root_only_kl": float(self.oracle_ladder[-1]),
        }

    def results(self) -> dict[str, Any]:
        from physgen.data import content_overlaps
        from physgen.metrics import (
            argmin_bracketed,
            count_before,
            learned_beyond_root,
            nn_histogram,
            site_only_kl,
        )

        c, steps, pairs, seed_pairs = self.curves, self.steps, self.pairs, self.seed_pairs
        W, K = len(self.weights), steps.size
        crit = self.test.crit
        d_site = site_only_kl(self.model, crit.x_t, crit.alpha_bar)
        d0 = c["ladder_test"][..., 0]
        # an average's checkpoints are valid once it holds ≤ 1 % of the initial weights
        averaged = init_weights(self.cell) <= INIT_WEIGHT_MAX
        split_floor = {
            s: self.fresh_floor(self.fresh, x, "hamming") for s, x in self.train_tokens.items()
        }
        floors = np.array([split_floor[p.split] for p in self.nets])

        def divergences(plist: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
            out = [self.divergence(a, b) for a, b in plist]
            return tuple(  # type: ignore[return-value]
                np.array([o[i] for o in out]).reshape(len(plist), W, K) for i in (0, 1)
            )

        S, S_se = divergences(pairs)
        S_seed, S_seed_se = divergences(seed_pairs)

        def tau_bias(curves: np.ndarray, plist: list[tuple[int, int]]) -> Any:
            a, b = [p[0] for p in plist], [p[1] for p in plist]
            return bias_onsets(
                self.cfg.metrics.bias_rule,
                steps,
                curves,
                d0[a],
                d0[b],
                d_site,
                float(self.oracle_ladder[-1]),
                averaged,
            )

        bias = tau_bias(S, pairs)
        test = argmin_bracketed(steps, pair_mean(c["test_loss"], pairs))
        counts = np.array(
            [
                count_before(
                    Onset(*(np.asarray(f)[:, w] for f in astuple(bias))),
                    Onset(*(np.asarray(f)[:, w] for f in astuple(test))),
                )
                for w in range(W)
            ],
            dtype=np.int64,
        ).reshape(W, 2)
        overlaps = content_overlaps(self.cell.protocol)
        T = self.schedule.T
        return {
            **c,
            "level": np.arange(self.L + 1, dtype=np.int64),
            "kl_t": self.t_grid,
            "kl_t_frac": self.t_grid / T,
            "nn_bin": np.arange(self.bins.size - 1, dtype=np.int64),
            "uturn_t": self.uturn_t,
            "uturn_t_frac": self.uturn_t / T,
            "learned": learned_beyond_root(d0, self.oracle_ladder[-1]),
            "nn_hist_test": np.array(
                [nn_histogram(self.fresh_nn[p.split][:, 0], self.bins) for p in self.nets]
            ),
            "nn_mean_test": np.array([np.mean(self.fresh_nn[p.split][:, 0]) for p in self.nets]),
            "memorised_floor": floors,
            "oracle_ladder": self.oracle_ladder,
            "site_only_kl": d_site,
            "kl_oracle_time": self.kl_oracle_time,
            "bayes_test_loss": self.bayes_test_loss,
            "overlap_pair": overlaps["pair"],
            "overlap_test": overlaps["test"][[p.split for p in self.nets]],
            "split_divergence": S,
            "split_divergence_se": S_se,
            "seed_divergence": S_seed,
            "seed_divergence_se": S_seed_se,
            **onset_values("tau_bias", bias),
            **onset_values("tau_bias_seed", tau_bias(S_seed, seed_pairs)),
            **onset_values("tau_test", test),
            "n_bias_before_test": counts[:, 0],
            "n_bias_test_measured": counts[:, 1],
            **onset_values("tau_nn", argmin_bracketed(steps, pair_mean(c["nn_divergence"], pairs))),
            **onset_values("tau_test_net", argmin_bracketed(steps, c["test_loss"])),
            **onset_values("tau_nn_net", argmin_bracketed(steps, c["nn_divergence"])),
            **memorisation_onsets(
                steps, pairs, c["memorised_fraction"], c["memorised_fraction_se"], floors
            ),
        }


def bias_onsets(
    rule: str,
    steps: np.ndarray,
    S: np.ndarray,
    d0_a: np.ndarray,
    d0_b: np.ndarray,
    d_site: float,
    root_only: float,
    valid: np.ndarray,
) -> Onset:
    """:math:`\tau_{\rm bias}` with its bracket under ``metrics.bias_rule``: ``"progress"``
    (:func:`physgen.metrics.onsets.bias_onset_bracketed` with threshold ``d_site``, progress
    :data:`BIAS_PROGRESS`), ``"learned"`` (argmin over checkpoints where both :math:`D_0` are
    below ``root_only``) or ``"none"`` (plain argmin), each over the checkpoints where ``valid``
    holds (an average no longer holding the initial weights).

    ``S``, ``d0_a``, ``d0_b``: ``(n_pair, n_weights, n_checkpoint)``; ``valid``:
    ``(n_weights, n_checkpoint)`` bool.
    """
    from physgen.metrics import argmin_bracketed, bias_onset_bracketed

    if rule == "progress":
        return bias_onset_bracketed(
            steps, S, d0_a, d0_b, d_site, valid=valid, progress=BIAS_PROGRESS
        )
    if rule == "learned":
        valid = valid & (d0_a < root_only) & (d0_b < root_only)
    return argmin_bracketed(steps, S, valid)
