r"""The image experiment: the paper's §5 protocol on a finite image set (one sweep cell).

**Networks.** As for tokens (:func:`physgen.experiments.plan.plan_networks`): disjoint pairs
(A on split ``2p``, B on ``2p + 1``) and optional same-split seed pairs; each network is
``build_net(cfg.net, model)`` (``net.kind = "unet"``: :class:`~physgen.nets.UNet`) trained by
:func:`physgen.train.train` with ``loss = "mse_eps"``.

**Frozen evaluation inputs** (from ``cfg.seed``): up to ``n_eval`` test images and up to
``n_eval`` images of every training split, each with :math:`(t, \varepsilon)`,
:math:`t \sim U\{1..T\}` (the ε-MSE losses), and the same images noised at the steps ``eps_t``
— the paper's :math:`t \in \{50, 100, 150, 200\}` of :math:`T = 1000`, rescaled to
:math:`\mathrm{round}(t\,T/1000)` — for the score-level similarity.

**At every checkpoint**: ε-MSE on the network's split and on the test images; its noise
predictions on the noised test images and on the noised images of its pair's two splits.
**At the sample checkpoints** (``metrics.sample_checkpoints``): ``n_generate`` DDPM samples with
the same seed for every network, so the samples of two networks are coupled (same
:math:`x_T`, same :math:`z_t`); each sample's nearest neighbour in the network's own split and
the memorised fraction (:math:`d_1/d_2 < 1/3`, Euclidean in the diffusion space) against the
noise floor of as many fresh test images.

**Pair diagnostics** (after training; :mod:`physgen.metrics.images`): ``cos_distance`` — the
median over coupled pairs of the cosine distance of the standardised samples of A and B, and its
argmin ``tau_cos`` over the sample checkpoints at which both networks generate images (their
samples' mean NN distance at most ``IMAGE_NN_FACTOR`` times that of test images; see
:func:`image_onsets`; the first of them is ``tau_images``); ``eps_cos_train`` / ``eps_cos_test`` — the mean
cosine similarity of A's and B's noise predictions on noised *training* images (the union of the
two splits: each image is a training image of one of the two models) and on noised *test*
images, per ``eps_t``; the same similarity for the empirical denoisers of the two splits
(``eps_cos_*_emp``, the memorising reference: two perfect memorizers of disjoint sets);
``tau_test`` — the argmin of the pair's mean test ε-MSE; ``tau_mem`` — the first sample
checkpoint where the pair's mean memorised fraction exceeds the floor by two standard errors
(:func:`physgen.metrics.onsets.memorisation_onset`).
Seed pairs give ``cos_distance_seed``,
the seed-noise baseline. The first ``n_show`` coupled samples and their nearest training images
are kept (``sample_show``, ``nn_show``) for :func:`physgen.plots.quadruplets`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from physgen.config import ExperimentConfig
from physgen.experiments import plan
from physgen.rng import stream

__all__ = [
    "IMAGE_NN_FACTOR",
    "N_SHOW",
    "PAPER_EPS_T",
    "ImageRecorder",
    "image_checkpoints",
    "image_onsets",
]

PAPER_EPS_T = (50, 100, 150, 200)
"""Diffusion steps (of T = 1000) of the paper's score-level similarity."""

IMAGE_NN_FACTOR = 2.0
"""Samples count as images (for ``tau_cos``) when their mean NN distance to the training split is
at most this factor times that of fresh test images."""

N_SHOW = 8
"""Coupled samples (and their nearest training images) kept per network and sample checkpoint."""


def _eps_similarity(den_a: Any, den_b: Any, inputs: list[Any]) -> np.ndarray:
    """:func:`physgen.metrics.images.eps_cosine_similarity` of two denoisers on the frozen
    inputs of every ``eps_t``: ``(n_eps_t, n)``."""
    from physgen.metrics.images import eps_cosine_similarity

    return np.stack([eps_cosine_similarity(den_a, den_b, f.x_t, f.alpha_bar) for f in inputs])


class ImageRecorder(plan.CellRecorder):
    """Frozen inputs and per-network records of one image cell."""

    experiment = "images"
    title = "physgen image experiment (coupled samples and score similarity along training)"
    summary = (
        "Networks trained on disjoint splits of a finite image set, evaluated along training: "
        "epsilon losses, cosine distance of coupled samples, similarity of the noise "
        "predictions on training and test images, nearest neighbours and memorisation, and "
        "the onsets tau_cos, tau_images, tau_test and tau_mem."
    )
    loss = "mse_eps"

    def __init__(self, cfg: ExperimentConfig, cell: plan.CellPlan) -> None:
        from physgen.metrics import euclidean_nn, frozen_noise

        m = cfg.metrics
        super().__init__(cfg, cell)
        model, schedule, protocol, nets = cell.model, cell.schedule, cell.protocol, cell.nets
        T = schedule.T
        self.eps_t = np.unique([max(1, min(T, round(t * T / 1000))) for t in PAPER_EPS_T]).astype(
            np.int64
        )
        self.n_show = min(N_SHOW, m.n_generate)
        test = np.asarray(protocol.test_set(), dtype=np.float64)
        self.splits = sorted(
            {p.split for p in nets} | {2 * (p.split // 2) + r for p in nets for r in (0, 1)}
        )
        self.train = {s: np.asarray(protocol.train_data(s), dtype=np.float64) for s in self.splits}
        sets = {"test": test[: m.n_eval]} | {s: x[: m.n_eval] for s, x in self.train.items()}
        # item set j (0 = test, then the splits) is noised from stream (evaluation, j)
        seeds = {key: stream(self.eval_seed, "eval_split", j - 1) for j, key in enumerate(sets)}
        self.loss_inputs = {key: frozen_noise(x, schedule, seeds[key]) for key, x in sets.items()}
        self.eps_inputs = {
            key: [frozen_noise(x, schedule, seeds[key], int(t)) for t in self.eps_t]
            for key, x in sets.items()
        }
        self.sets = sets
        self.fresh = test[: min(m.n_generate, len(test))]
        self.floor = {}
        self.nn_test = {}
        for s in {p.split for p in nets}:
            self.floor[s] = self.fresh_floor(self.fresh, self.train[s])
            self.nn_test[s] = float(np.mean(euclidean_nn(self.fresh, self.train[s])[:, 0]))
        self.curves = self.allocate(
            "eps_train_loss",
            "eps_test_loss",
            "memorised_fraction",
            "memorised_fraction_se",
            "nn_distance",
            "sample_show",
            "nn_show",
            show=self.n_show,
            image_channel=model.event_shape[0],
            image_height=model.event_shape[1],
            image_width=model.event_shape[2],
        )
        self.samples: dict[tuple[int, int, int], np.ndarray] = {}
        self.x0_hat: dict[tuple[int, int, int], dict[Any, np.ndarray]] = {}

    def train_data(self, net: plan.NetworkPlan) -> np.ndarray:
        """The network's training split."""
        return self.train[net.split]

    def _pair_splits(self, split: int) -> list[Any]:
        return ["test", 2 * (split // 2), 2 * (split // 2) + 1]

    def evaluate(self, net: int, w: int, k: int, den: Any) -> None:
        """Every diagnostic of network ``net``, weights ``w`` at checkpoint ``k``."""
        from physgen.metrics import denoising_loss, euclidean_nn

        c, split, at = self.curves, self.nets[net].split, (net, w, k)
        c["eps_train_loss"][at] = np.mean(
            denoising_loss(den, self.sets[split], self.loss_inputs[split], "eps_mse")
        )
        c["eps_test_loss"][at] = np.mean(
            denoising_loss(den, self.sets["test"], self.loss_inputs["test"], "eps_mse")
        )
        # outputs on the noised images of the pair's splits, compared after training
        self.x0_hat[at] = {
            key: np.stack([den.denoise(f.x_t, f.alpha_bar) for f in self.eps_inputs[key]])
            for key in self._pair_splits(split)
        }
        if not self.sample_mask[k]:
            return
        x = self.generate(den)
        self.samples[at] = x
        train = self.train[split]
        idx, d = euclidean_nn(x, train, 2, return_index=True)
        frac, se = self.memorisation(x, train, k)
        c["memorised_fraction"][at] = frac
        c["memorised_fraction_se"][at] = se
        c["nn_distance"][at] = np.mean(d[:, 0])
        c["sample_show"][at] = x[: self.n_show]
        c["nn_show"][at] = train[idx[: self.n_show]]

    def eps_similarity(self, a: int, b: int, w: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Mean ε cosine similarity of networks ``a`` and ``b`` (weights ``w``) at checkpoint
        ``k`` on training (both splits of the pair) and test inputs, each ``(n_eps_t,)``."""
        from physgen.metrics import Precomputed

        def sim(key: Any) -> np.ndarray:
            inputs = self.eps_inputs[key]
            return np.stack(
                [
                    _eps_similarity(
                        Precomputed(f.x_t, self.x0_hat[a, w, k][key][j]),
                        Precomputed(f.x_t, self.x0_hat[b, w, k][key][j]),
                        [f],
                    )[0]
                    for j, f in enumerate(inputs)
                ]
            )

        keys = self._pair_splits(self.nets[a].split)
        train = np.concatenate([sim(s) for s in keys[1:]], axis=1)
        return train.mean(axis=1), sim("test").mean(axis=1)

    def empirical_reference(self, split_a: int, split_b: int) -> tuple[np.ndarray, np.ndarray]:
        """``eps_similarity`` of the empirical denoisers of two splits: ``(n_eps_t,)`` twice."""
        from physgen.models import Empirical

        emp_a, emp_b = Empirical(self.train[split_a]), Empirical(self.train[split_b])
        train = np.concatenate(
            [_eps_similarity(emp_a, emp_b, self.eps_inputs[s]) for s in (split_a, split_b)],
            axis=1,
        ).mean(axis=1)
        return train, _eps_similarity(emp_a, emp_b, self.eps_inputs["test"]).mean(axis=1)

    def cos_distance(self, a: int, b: int) -> np.ndarray:
        """Median cosine distance of the coupled samples of ``a`` and ``b`` at each sample
        checkpoint (:func:`physgen.metrics.images.median_cosine_distance`), NaN elsewhere:
        ``(n_weights, n_checkpoint)``."""
        from physgen.metrics.images import median_cosine_distance

        shape = (len(self.weights), self.steps.size)
        return np.array(
            [
                median_cosine_distance(self.samples[a, w, k], self.samples[b, w, k])
                if self.sample_mask[k]
                else np.nan
                for w, k in np.ndindex(shape)
            ]
        ).reshape(shape)

    def options(self) -> dict[str, Any]:
        return {**super().options(), "image_nn_factor": IMAGE_NN_FACTOR}

    def results(self) -> dict[str, Any]:
        c, steps, nets, pairs = self.curves, self.steps, self.nets, self.pairs
        floors = np.array([self.floor[p.split] for p in nets])
        nn_test = np.array([self.nn_test[p.split] for p in nets])
        W = len(self.weights)
        cos_d = np.array([self.cos_distance(a, b) for a, b in pairs]).reshape(
            len(pairs), W, steps.size
        )
        cos_seed = np.array([self.cos_distance(a, b) for a, b in self.seed_pairs]).reshape(
            len(self.seed_pairs), W, steps.size
        )
        sims = np.array(
            [
                [[self.eps_similarity(a, b, w, k) for k in range(steps.size)] for w in range(W)]
                for a, b in pairs
            ]
        ).reshape(len(pairs), W, steps.size, 2, self.eps_t.size)
        emp = np.array([self.empirical_reference(nets[a].split, nets[b].split) for a, b in pairs])
        T = self.schedule.T
        return {
            **c,
            "sample_show": c["sample_show"].astype(np.float32),
            "nn_show": c["nn_show"].astype(np.float32),
            "eps_t": self.eps_t,
            "eps_t_frac": self.eps_t / T,
            "show": np.arange(self.n_show, dtype=np.int64),
            "memorised_floor": floors,
            "nn_distance_test": nn_test,
            "cos_distance": cos_d,
            "cos_distance_seed": cos_seed,
            "eps_cos_train": sims[:, :, :, 0],
            "eps_cos_test": sims[:, :, :, 1],
            "eps_cos_train_emp": emp[:, 0],
            "eps_cos_test_emp": emp[:, 1],
            "mean_image": np.asarray(self.model.mean_image),
            **image_onsets(
                steps,
                pairs,
                cos_d,
                c["eps_test_loss"],
                c["memorised_fraction"],
                c["memorised_fraction_se"],
                floors,
                c["nn_distance"],
                nn_test,
            ),
        }


def image_checkpoints(
    pairs: list[tuple[int, int]], nn_distance: np.ndarray, nn_distance_test: np.ndarray
) -> np.ndarray:
    """``(n_pair, n_weights, n_checkpoint)`` bool: both networks of the pair generate images —
    their samples' mean NN distance to their split (``nn_distance``, ``(n_network, n_weights,
    n_checkpoint)``, NaN off the sample checkpoints) is at most :data:`IMAGE_NN_FACTOR` times
    that of fresh test images (``nn_distance_test``, ``(n_network,)``)."""
    nn = np.asarray(nn_distance, dtype=np.float64)
    ref = np.asarray(nn_distance_test, dtype=np.float64).reshape(-1, *[1] * (nn.ndim - 1))
    images = nn <= IMAGE_NN_FACTOR * ref
    return np.array([images[a] & images[b] for a, b in pairs]).reshape(len(pairs), *nn.shape[1:])


def image_onsets(
    steps: np.ndarray,
    pairs: list[tuple[int, int]],
    cos_distance: np.ndarray,
    eps_test_loss: np.ndarray,
    memorised_fraction: np.ndarray,
    memorised_fraction_se: np.ndarray,
    memorised_floor: np.ndarray,
    nn_distance: np.ndarray,
    nn_distance_test: np.ndarray,
) -> dict[str, np.ndarray]:
    """The onsets of one image cell from its stored curves (recomputable from a file).

    ``cos_distance``: ``(n_pair, n_weights, n_checkpoint)``; per-network curves ``(n_network,
    n_weights, n_checkpoint)``; ``memorised_floor`` and ``nn_distance_test``: ``(n_network,)``.
    ``tau_cos`` is the argmin of the cosine distance over the sample checkpoints where **both**
    networks generate images: their samples' mean nearest-neighbour distance to their training
    split is at most ``IMAGE_NN_FACTOR`` (2) times that of fresh test images. Before that, two
    networks sample noise-dominated garbage from the same noise, whose coupled samples are
    trivially alike (the analogue of the tree experiment's ``learned`` rule); ``tau_images`` is
    the first such checkpoint. ``tau_mem`` follows
    :func:`physgen.metrics.onsets.memorisation_onset`; ``tau_test`` is the argmin of the test
    ε-MSE.
    """
    from physgen.metrics import argmin_bracketed, exceed_bracketed

    valid = image_checkpoints(pairs, nn_distance, nn_distance_test)
    # "generates images" is checked at the sample checkpoints only (NaN elsewhere)
    checked = np.isfinite(np.asarray(nn_distance, dtype=np.float64)).any(axis=0)
    images = np.where(checked, valid, np.nan)
    return {
        **plan.onset_values("tau_cos", argmin_bracketed(steps, cos_distance, valid)),
        **plan.onset_values("tau_images", exceed_bracketed(steps, images, 0.5)),
        **plan.onset_values(
            "tau_test", argmin_bracketed(steps, plan.pair_mean(eps_test_loss, pairs))
        ),
        **plan.onset_values("tau_test_net", argmin_bracketed(steps, eps_test_loss)),
        **plan.memorisation_onsets(
            steps, pairs, memorised_fraction, memorised_fraction_se, memorised_floor
        ),
    }
