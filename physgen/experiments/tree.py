r"""The token experiment: train networks on disjoint splits of a token model and record every bias
diagnostic of docs/theory.md §4 along training (one sweep cell).

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

**At every checkpoint** :math:`\tau` (the EMA weights when ``train.ema_decay > 0``):
train/test cross-entropy; the ladder
:math:`D_k(\tau) = E\,\mathrm{KL}(\mathrm{BP}_k(x_{t_c}) \| \hat x_0^\theta(x_{t_c}))`, k = 0..L, on
test and training inputs; the network's :math:`\hat x_0` on the shared test inputs at :math:`t_c`
(kept, then :math:`S(\tau) = E\,\mathrm{KL}(\hat x_0^{A} \| \hat x_0^{B})` is formed after
training for every disjoint and seed pair); the decomposition
:math:`\ell = \ell^* + \tilde\ell` at :math:`t_\ell` on training and test data and the
membership-inference AUC of its per-sequence loss.

**At the sample checkpoints** (``metrics.sample_checkpoints`` of them, spread over the last two
decades of training, the last checkpoint included, see :func:`sample_checkpoint_mask`; sampling costs one network call per reverse step): ``n_generate`` coupled samples
(ancestral DDPM on ``metrics.sample_steps`` evenly respaced steps — DDIM with η = 1, the full
T-step chain when ``sample_steps ≥ T`` — with the same seed for every network and checkpoint);
their nearest-neighbour Hamming distances to the network's own training split against those of
as many fresh test sequences, histograms on one bin per distance and the NN divergence
:math:`\mathrm{KL}(P_{\rm gen}\|P_{\rm test})`; exact-copy and memorised (:math:`d_1/d_2 < 1/3`)
fractions; validity per level, valid fraction and exact log-likelihood; the U-turn overlap ratio
model/BP from ``uturn_starts`` training and test starts; and
:math:`\mathrm{KL}(\mathrm{BP}_0\|\theta)(t)` along diffusion time on the first ``n_generate``
test sequences. Elsewhere these are NaN.

**Onsets** (NaN when not reached inside the run, see :mod:`physgen.metrics.onsets`):
``tau_bias`` = argmin of the pair's S under ``metrics.bias_rule``; ``tau_test``, ``tau_nn`` and
``tau_mem`` per network and, per pair, from the average of the pair's two networks' curves
(test loss, NN divergence, memorised fraction against the average of their noise floors).
"""

from __future__ import annotations

from dataclasses import dataclass
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
    plan_networks,
    sample_checkpoint_mask,
    train_networks,
)
from physgen.experiments.schema import build_dataset, global_attrs
from physgen.rng import spawn

__all__ = ["NetworkPlan", "plan_networks", "run", "sample_checkpoint_mask"]


_NETWORK_STEP_CURVES = (
    "train_loss",
    "test_loss",
    "loss_total_train",
    "loss_exact_train",
    "loss_excess_train",
    "loss_total_test",
    "loss_exact_test",
    "loss_excess_test",
    "membership_auc",
    "nn_divergence",
    "nn_mean_gen",
    "copy_fraction",
    "memorised_fraction",
    "memorised_fraction_se",
    "valid_fraction",
    "log_likelihood",
)
"""The per-network curves over checkpoints, shape (network, step)."""


def _step_of(frac: float, T: int) -> int:
    """The diffusion step nearest to ``frac · T``, at least 1."""
    return max(1, min(T, round(frac * T)))


@dataclass
class _Inputs:
    """Frozen evaluation inputs of one item set (test set, or one training split).

    ``tokens``: ``(m, N)``; ``x0``: ``(m, N, q)`` one-hot; ``loss``: frozen noise with random t;
    ``crit``: at ``t_c``; ``decomp``: at ``t_l``; ``bp_crit``: BP_k outputs at ``t_c``,
    ``(L + 1, m, N, q)``.
    """

    tokens: np.ndarray
    x0: np.ndarray
    loss: Any
    crit: Any
    decomp: Any
    bp_crit: np.ndarray


def _frozen_inputs(
    model: Any, tokens: np.ndarray, schedule: Any, seed: int, t_c: int, t_l: int
) -> _Inputs:
    from physgen.metrics import frozen_noise

    x0 = model.encode(tokens)
    loss = frozen_noise(x0, schedule, seed)
    crit = frozen_noise(x0, schedule, seed, t_c)
    decomp = frozen_noise(x0, schedule, seed, t_l)
    bp = np.stack(
        [model.denoise(crit.x_t, crit.alpha_bar, filtered_levels=k) for k in range(model.depth + 1)]
    )
    return _Inputs(tokens, x0, loss, crit, decomp, bp)


class _Recorder(CellRecorder):
    """Holds the frozen inputs and fills the per-network curves at each checkpoint."""

    def __init__(self, cfg: ExperimentConfig, cell: CellPlan) -> None:
        from physgen.metrics import Bound, hamming_bins, hamming_nn, kl_along_time

        m = cfg.metrics
        super().__init__(cfg, cell)
        model, schedule, protocol, nets = cell.model, cell.schedule, cell.protocol, cell.nets
        T, L, N = schedule.T, model.depth, model.event_shape[0]
        self.L, self.N = L, N
        self.t_c, self.t_l = _step_of(m.t_frac, T), _step_of(m.loss_t_frac, T)
        self.t_grid = np.unique(
            np.rint(np.linspace(0, T, m.kl_t_points + 1)[1:]).astype(np.int64).clip(1, T)
        )
        self.uturn_t = np.unique([_step_of(f, T) for f in m.uturn_t_fracs]).astype(np.int64)
        self.bins = hamming_bins(N)

        test = np.asarray(protocol.test_set())
        n_eval = min(m.n_eval, test.shape[0])
        self.test = _frozen_inputs(
            model, test[:n_eval], schedule, self.eval_seed, self.t_c, self.t_l
        )
        self.fresh = test[: min(m.n_generate, test.shape[0])]
        self.kl_x0 = self.test.x0[: m.n_generate]
        self.uturn_test = test[: min(m.uturn_starts, test.shape[0])]
        self.train_tokens: dict[int, np.ndarray] = {}
        self.train_inputs: dict[int, _Inputs] = {}
        for split in sorted({p.split for p in nets}):
            tokens = np.asarray(protocol.split(split))
            self.train_tokens[split] = tokens
            self.train_inputs[split] = _frozen_inputs(
                model,
                tokens[:n_eval],
                schedule,
                spawn(self.eval_seed, 1 + split),
                self.t_c,
                self.t_l,
            )

        bp0 = Bound(model, filtered_levels=0)
        self.bp0 = bp0
        self.oracle_ladder = np.array(
            [_mean_kl(self.test.bp_crit[0], self.test.bp_crit[k]) for k in range(L + 1)]
        )
        self.kl_oracle_time = np.stack(
            [
                kl_along_time(
                    bp0,
                    Bound(model, filtered_levels=k),
                    self.kl_x0,
                    schedule,
                    self.t_grid,
                    self.eval_seed,
                )
                for k in range(L + 1)
            ]
        )
        from physgen.metrics import denoising_loss

        self.bayes_test_loss = float(np.mean(denoising_loss(bp0, self.test.x0, self.test.loss)))
        # Chance levels against each split: fresh true samples, and BP U-turns (checkpoint-free).
        self.fresh_nn = {
            s: hamming_nn(self.fresh, tok, k=2) for s, tok in self.train_tokens.items()
        }
        self.uturn_bp = {s: self._uturn(bp0, s) for s in self.train_tokens}
        self._allocate()

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
                spawn(self.sample_seed, 1 + int(t)),
                self.model.decode,
            )
            out[:, j] = overlap[: len(train)].mean(), overlap[len(train) :].mean()
        return out

    def _allocate(self) -> None:
        n_net, n_step, L1 = len(self.nets), self.steps.size, self.L + 1
        nan = np.nan

        def full(*shape: int) -> np.ndarray:
            return np.full(shape, nan)

        self.curves: dict[str, np.ndarray] = {
            name: full(n_net, n_step) for name in _NETWORK_STEP_CURVES
        }
        self.curves["ladder_test"] = full(n_net, n_step, L1)
        self.curves["ladder_train"] = full(n_net, n_step, L1)
        self.curves["validity"] = full(n_net, n_step, L1)
        self.curves["kl_model_time"] = full(n_net, n_step, self.t_grid.size)
        self.curves["nn_hist_gen"] = full(n_net, n_step, self.bins.size - 1)
        self.curves["uturn_ratio_train"] = full(n_net, n_step, self.uturn_t.size)
        self.curves["uturn_ratio_test"] = full(n_net, n_step, self.uturn_t.size)
        self.x_hat = np.empty((n_net, n_step, *self.test.x0.shape))

    def evaluate(self, net_index: int, k: int, den: Any) -> None:
        """All diagnostics of network ``net_index`` at checkpoint ``k`` (denoiser ``den``)."""
        from physgen.metrics import (
            denoising_loss,
            kl_along_time,
            loss_decomposition,
            membership_auc,
        )

        c = self.curves
        split = self.nets[net_index].split
        tr, te = self.train_inputs[split], self.test
        c["train_loss"][net_index, k] = np.mean(denoising_loss(den, tr.x0, tr.loss))
        c["test_loss"][net_index, k] = np.mean(denoising_loss(den, te.x0, te.loss))
        x_hat_test = den.denoise(te.crit.x_t, te.crit.alpha_bar)
        self.x_hat[net_index, k] = x_hat_test
        c["ladder_test"][net_index, k] = [_mean_kl(bp, x_hat_test) for bp in te.bp_crit]
        x_hat_train = den.denoise(tr.crit.x_t, tr.crit.alpha_bar)
        c["ladder_train"][net_index, k] = [_mean_kl(bp, x_hat_train) for bp in tr.bp_crit]
        parts = {}
        for name, inp in (("train", tr), ("test", te)):
            lp = loss_decomposition(den, self.bp0, inp.x0, inp.decomp.x_t, inp.decomp.alpha_bar)
            parts[name] = lp.total
            c[f"loss_total_{name}"][net_index, k] = np.mean(lp.total)
            c[f"loss_exact_{name}"][net_index, k] = np.mean(lp.exact)
            c[f"loss_excess_{name}"][net_index, k] = np.mean(lp.excess)
        c["membership_auc"][net_index, k] = membership_auc(parts["train"], parts["test"])
        if self.sample_mask[k]:
            self._evaluate_samples(net_index, k, den)
            c["kl_model_time"][net_index, k] = kl_along_time(
                self.bp0, den, self.kl_x0, self.schedule, self.t_grid, self.eval_seed
            )

    def _evaluate_samples(self, net_index: int, k: int, den: Any) -> None:
        from physgen.diffusion import ddim_sample, ddpm_sample
        from physgen.metrics import (
            copy_fraction,
            hamming_nn,
            memorised_fraction,
            nn_divergence,
            nn_histogram,
        )

        c, m, model = self.curves, self.cfg.metrics, self.model
        split = self.nets[net_index].split
        train_tokens = self.train_tokens[split]
        if m.sample_steps >= self.schedule.T:
            x = ddpm_sample(den, self.schedule, m.n_generate, model.event_shape, self.sample_seed)
        else:
            x = ddim_sample(
                den,
                self.schedule,
                m.n_generate,
                model.event_shape,
                self.sample_seed,
                eta=1.0,
                steps=m.sample_steps,
            )
        samples = np.asarray(model.decode(x))
        d_gen = hamming_nn(samples, train_tokens, k=2)
        d_test = self.fresh_nn[split]
        c["nn_hist_gen"][net_index, k] = nn_histogram(d_gen[:, 0], self.bins)
        c["nn_divergence"][net_index, k] = nn_divergence(d_gen[:, 0], d_test[:, 0], self.bins)
        c["nn_mean_gen"][net_index, k] = np.mean(d_gen[:, 0])
        c["copy_fraction"][net_index, k] = copy_fraction(samples, train_tokens)
        frac, se = memorised_fraction(samples, train_tokens, seed=spawn(self.sample_seed, 7919 + k))
        c["memorised_fraction"][net_index, k] = frac
        c["memorised_fraction_se"][net_index, k] = se
        validity = np.asarray(model.validity(samples), dtype=np.float64)  # (n, L) per level
        c["validity"][net_index, k, : self.L] = np.mean(validity.reshape(len(samples), -1), axis=0)
        logp = np.asarray(model.log_prob(samples), dtype=np.float64)
        ok = np.isfinite(logp)
        c["valid_fraction"][net_index, k] = np.mean(ok)
        c["log_likelihood"][net_index, k] = np.mean(logp[ok]) if ok.any() else np.nan
        ratio = self._uturn(den, split) / self.uturn_bp[split]
        c["uturn_ratio_train"][net_index, k], c["uturn_ratio_test"][net_index, k] = ratio

    def memorisation_floors(self) -> np.ndarray:
        """Per network: the memorised fraction of fresh true samples against its training split
        plus two bootstrap standard errors (:func:`physgen.metrics.memorisation_floor`)."""
        floors = {s: self.fresh_floor(self.fresh, x) for s, x in self.train_tokens.items()}
        return np.array([floors[p.split] for p in self.nets])


def _mean_kl(p: np.ndarray, q: np.ndarray) -> float:
    from physgen.metrics import kl_divergence

    return float(np.mean(kl_divergence(p, q)))


def run(cfg: ExperimentConfig, *, progress: ProgressFn | None = None) -> xr.Dataset:
    """Train every network of ``cfg`` and return the cell's Dataset.

    The model is a token model with the tree interface: ``depth``, ``denoise(x_t, alpha_bar,
    filtered_levels=k)`` (BP_k), ``validity`` and ``log_prob`` (:class:`~physgen.models.TreeGrammar`,
    the RHM).

    ``progress(done, total, message)`` is called after each checkpoint evaluation
    (``total`` = networks × checkpoints). See the module docstring for what is computed and
    :mod:`physgen.experiments.schema` for the variables.
    """
    cell = plan_cell(cfg)
    rec = _Recorder(cfg, cell)
    train_networks(
        cfg,
        cell,
        data_of=lambda plan: cell.model.encode(rec.train_tokens[plan.split]),
        loss="ce",
        evaluate=rec.evaluate,
        progress=progress,
    )
    return _assemble(cfg, rec, cell.nets, cell.pairs, cell.seed_pairs)


def _pair_divergence(x_hat: np.ndarray, a: int, b: int) -> np.ndarray:
    """S over checkpoints for networks ``a`` and ``b``: ``(n_steps,)``."""
    return np.array([_mean_kl(x_hat[a, k], x_hat[b, k]) for k in range(x_hat.shape[1])])


def _assemble(
    cfg: ExperimentConfig,
    rec: _Recorder,
    nets: list[NetworkPlan],
    pairs: list[tuple[int, int]],
    seed_pairs: list[tuple[int, int]],
) -> xr.Dataset:
    from physgen.metrics import argmin_onset, bias_onset, first_exceed_onset

    c, steps = rec.curves, rec.steps
    root_only = rec.oracle_ladder[-1]
    rule = cfg.metrics.bias_rule
    d0 = c["ladder_test"][..., 0]
    floors = rec.memorisation_floors()

    def pair_mean(name: str, plist: list[tuple[int, int]]) -> np.ndarray:
        return np.array([(c[name][a] + c[name][b]) / 2 for a, b in plist])

    S = np.array([_pair_divergence(rec.x_hat, a, b) for a, b in pairs])
    S_seed = np.array([_pair_divergence(rec.x_hat, a, b) for a, b in seed_pairs]).reshape(
        len(seed_pairs), steps.size
    )
    tau_bias = np.array(
        [bias_onset(steps, S[i], d0[a], d0[b], root_only, rule) for i, (a, b) in enumerate(pairs)]
    )
    tau_bias_seed = np.array(
        [
            bias_onset(steps, S_seed[i], d0[a], d0[b], root_only, rule)
            for i, (a, b) in enumerate(seed_pairs)
        ]
    )
    pair_floor = np.array([(floors[a] + floors[b]) / 2 for a, b in pairs])
    data_vars: dict[str, tuple[tuple[str, ...], Any]] = {
        name: (("network", "step"), c[name]) for name in _NETWORK_STEP_CURVES
    }
    data_vars.update(
        {
            "ladder_test": (("network", "step", "level"), c["ladder_test"]),
            "ladder_train": (("network", "step", "level"), c["ladder_train"]),
            "validity": (("network", "step", "level"), c["validity"]),
            "learned": (("network", "step"), (d0 < root_only).astype(np.int8)),
            "kl_model_time": (("network", "step", "t"), c["kl_model_time"]),
            "nn_hist_gen": (("network", "step", "nn_bin"), c["nn_hist_gen"]),
            "uturn_ratio_train": (("network", "step", "uturn_t"), c["uturn_ratio_train"]),
            "uturn_ratio_test": (("network", "step", "uturn_t"), c["uturn_ratio_test"]),
            "nn_hist_test": (
                ("network", "nn_bin"),
                np.array([_hist(rec, p.split) for p in nets]),
            ),
            "nn_mean_test": (
                ("network",),
                np.array([np.mean(rec.fresh_nn[p.split][:, 0]) for p in nets]),
            ),
            "memorised_floor": (("network",), floors),
            "oracle_ladder": (("level",), rec.oracle_ladder),
            "kl_oracle_time": (("level", "t"), rec.kl_oracle_time),
            "bayes_test_loss": ((), rec.bayes_test_loss),
            "split_divergence": (("pair", "step"), S),
            "seed_divergence": (("seed_pair", "step"), S_seed),
            "tau_bias": (("pair",), tau_bias),
            "tau_bias_seed": (("seed_pair",), tau_bias_seed),
            "tau_test": (("pair",), argmin_onset(steps, pair_mean("test_loss", pairs))),
            "tau_nn": (("pair",), argmin_onset(steps, pair_mean("nn_divergence", pairs))),
            "tau_mem": (
                ("pair",),
                first_exceed_onset(
                    steps, pair_mean("memorised_fraction", pairs), pair_floor[:, None]
                ),
            ),
            "tau_test_net": (("network",), argmin_onset(steps, c["test_loss"])),
            "tau_nn_net": (("network",), argmin_onset(steps, c["nn_divergence"])),
            "tau_mem_net": (
                ("network",),
                first_exceed_onset(steps, c["memorised_fraction"], floors[:, None]),
            ),
        }
    )
    T = rec.schedule.T
    coords = {
        **network_coords(steps, nets, pairs, seed_pairs),
        "level": (("level",), np.arange(rec.L + 1, dtype=np.int64)),
        "t": (("t",), rec.t_grid),
        "t_frac": (("t",), rec.t_grid / T),
        "nn_bin": (("nn_bin",), np.arange(rec.bins.size - 1, dtype=np.int64)),
        "uturn_t": (("uturn_t",), rec.uturn_t),
        "uturn_t_frac": (("uturn_t",), rec.uturn_t / T),
    }
    attrs = global_attrs(
        cfg,
        "physgen token experiment (biased generalisation along training)",
        {
            "ema_decay": cfg.train.ema_decay,
            "bias_rule": cfg.metrics.bias_rule,
            "sample_checkpoints": int(rec.sample_mask.sum()),
            "t_crit": rec.t_c,
            "t_loss": rec.t_l,
            "root_only_kl": float(root_only),
        },
    )
    return build_dataset(data_vars, coords, attrs)


def _hist(rec: _Recorder, split: int) -> np.ndarray:
    from physgen.metrics import nn_histogram

    return nn_histogram(rec.fresh_nn[split][:, 0], rec.bins)
