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
checkpoint where the pair's mean memorised fraction exceeds the floor by two standard errors.
Seed pairs give ``cos_distance_seed``,
the seed-noise baseline. The first ``n_show`` coupled samples and their nearest training images
are kept (``sample_show``, ``nn_show``) for :func:`physgen.plots.quadruplets`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

import physgen.experiments.vectors  # noqa: F401  (registers the ε-MSE and shared variables)
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

__all__ = [
    "IMAGE_NN_FACTOR",
    "N_SHOW",
    "PAPER_EPS_T",
    "image_checkpoints",
    "image_onsets",
    "run",
]

PAPER_EPS_T = (50, 100, 150, 200)
"""Diffusion steps (of T = 1000) of the paper's score-level similarity."""

IMAGE_NN_FACTOR = 2.0
"""Samples count as images (for ``tau_cos``) when their mean NN distance to the training split is
at most this factor times that of fresh test images."""

N_SHOW = 8
"""Coupled samples (and their nearest training images) kept per network and sample checkpoint."""

register_variables(
    {
        "eps_t": VarSpec(
            "diffusion step of the score-level similarity",
            "1",
            "round(t T / 1000) for the paper's t in {50, 100, 150, 200} of T = 1000.",
        ),
        "eps_t_frac": VarSpec("score-level similarity time fraction", "1", "eps_t / T."),
        "show": VarSpec("shown sample index", "1", "Index of a kept coupled sample."),
        "cos_distance": VarSpec(
            "median cosine distance of coupled samples",
            "1",
            "Median over coupled sample pairs (same x_T and noise) of 1 - cosine similarity of "
            "the per-image standardised samples of networks A and B (sample checkpoints only). "
            "Its argmin is tau_cos.",
        ),
        "cos_distance_seed": VarSpec(
            "median cosine distance of a seed pair",
            "1",
            "cos_distance for two seeds trained on one split: the seed-noise baseline.",
        ),
        "eps_cos_train": VarSpec(
            "ε-prediction similarity on training images",
            "1",
            "Mean cosine similarity of the noise predictions of A and B on the noised images of "
            "their two training splits, at each eps_t.",
        ),
        "eps_cos_test": VarSpec(
            "ε-prediction similarity on test images",
            "1",
            "Mean cosine similarity of the noise predictions of A and B on noised test images.",
        ),
        "eps_cos_train_emp": VarSpec(
            "empirical-denoiser ε similarity on training images",
            "1",
            "eps_cos_train for the exact empirical denoisers of the two splits (perfect "
            "memorizers): the memorising reference.",
        ),
        "eps_cos_test_emp": VarSpec(
            "empirical-denoiser ε similarity on test images",
            "1",
            "eps_cos_test for the exact empirical denoisers of the two splits.",
        ),
        "nn_distance": VarSpec(
            "mean nearest-neighbour distance of samples",
            "1",
            "Mean Euclidean distance (diffusion space) of generated samples to the nearest image "
            "of the network's training split (sample checkpoints only).",
        ),
        "nn_distance_test": VarSpec(
            "mean nearest-neighbour distance of test images",
            "1",
            "The same distance for fresh test images: the generalising reference.",
        ),
        "sample_show": VarSpec(
            "kept coupled samples",
            "1",
            "The first coupled samples of each network (diffusion space, centred; add mean_image "
            "for pixel values in [-1, 1]); NaN outside sample checkpoints.",
        ),
        "nn_show": VarSpec(
            "nearest training images of the kept samples",
            "1",
            "Nearest image of the network's training split to each kept sample.",
        ),
        "mean_image": VarSpec(
            "mean image", "1", "The centring image subtracted from every image of the data set."
        ),
        "tau_cos": VarSpec(
            "cosine-distance minimum",
            "step",
            "Sample checkpoint step of the minimum of cos_distance over the checkpoints where both "
            "networks generate images (mean NN distance at most physgen_image_nn_factor times that "
            "of test images); NaN when not inside the run.",
        ),
        "tau_images": VarSpec(
            "first image-generating checkpoint",
            "step",
            "First sample checkpoint at which both networks of the pair generate images (mean NN "
            "distance at most physgen_image_nn_factor times that of test images): the earliest "
            "possible tau_cos; NaN when never.",
        ),
    }
)


class _Recorder(CellRecorder):
    """Frozen inputs and per-network records of one image cell."""

    def __init__(self, cfg: ExperimentConfig, cell: CellPlan) -> None:
        from physgen.metrics import frozen_noise

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
        self.loss_inputs = {
            key: frozen_noise(x, schedule, spawn(self.eval_seed, j))
            for j, (key, x) in enumerate(sets.items())
        }
        self.eps_inputs = {
            key: [frozen_noise(x, schedule, spawn(self.eval_seed, j), int(t)) for t in self.eps_t]
            for j, (key, x) in enumerate(sets.items())
        }
        self.sets = sets
        fresh = test[: min(m.n_generate, len(test))]
        self.fresh = fresh
        self.floor = {}
        self.nn_test = {}
        from physgen.metrics.images import nearest_neighbours

        for s in {p.split for p in nets}:
            self.floor[s] = self.fresh_floor(fresh, self.train[s], metric="euclidean")
            self.nn_test[s] = float(np.mean(nearest_neighbours(fresh, self.train[s])[1][:, 0]))

        n_net, n_step = len(nets), steps.size
        self.curves = {
            name: np.full((n_net, n_step), np.nan)
            for name in (
                "eps_train_loss",
                "eps_test_loss",
                "memorised_fraction",
                "memorised_fraction_se",
                "nn_distance",
            )
        }
        self.samples: dict[tuple[int, int], np.ndarray] = {}
        self.eps_hat: dict[tuple[int, int], dict[Any, np.ndarray]] = {}
        shape = (n_net, n_step, self.n_show, *model.event_shape)
        self.sample_show = np.full(shape, np.nan)
        self.nn_show = np.full(shape, np.nan)

    def _pair_splits(self, split: int) -> list[Any]:
        return ["test", 2 * (split // 2), 2 * (split // 2) + 1]

    def evaluate(self, i: int, k: int, den: Any) -> None:
        """Every diagnostic of network ``i`` at checkpoint ``k``."""
        from physgen.diffusion import ddpm_sample
        from physgen.metrics import denoising_loss, memorised_fraction
        from physgen.metrics.images import nearest_neighbours

        c, split = self.curves, self.nets[i].split
        c["eps_train_loss"][i, k] = np.mean(
            denoising_loss(den, self.sets[split], self.loss_inputs[split], "eps_mse")
        )
        c["eps_test_loss"][i, k] = np.mean(
            denoising_loss(den, self.sets["test"], self.loss_inputs["test"], "eps_mse")
        )
        self.eps_hat[i, k] = {
            key: np.stack([_eps(f, den.denoise(f.x_t, f.alpha_bar)) for f in self.eps_inputs[key]])
            for key in self._pair_splits(split)
        }
        if not self.sample_mask[k]:
            return
        m = self.cfg.metrics
        x = ddpm_sample(den, self.schedule, m.n_generate, self.model.event_shape, self.sample_seed)
        self.samples[i, k] = x
        train = self.train[split]
        idx, d = nearest_neighbours(x, train)
        frac, se = memorised_fraction(
            x, train, seed=spawn(self.sample_seed, 7919 + k), metric="euclidean"
        )
        c["memorised_fraction"][i, k] = frac
        c["memorised_fraction_se"][i, k] = se
        c["nn_distance"][i, k] = np.mean(d[:, 0])
        self.sample_show[i, k] = x[: self.n_show]
        self.nn_show[i, k] = train[idx[: self.n_show]]

    def eps_similarity(self, a: int, b: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Mean ε cosine similarity of networks ``a`` and ``b`` at checkpoint ``k`` on training
        (both splits of the pair) and test inputs, each ``(n_eps_t,)``."""
        ea, eb = self.eps_hat[a, k], self.eps_hat[b, k]
        keys = self._pair_splits(self.nets[a].split)
        train = np.concatenate([_cos(ea[s], eb[s]) for s in keys[1:]], axis=1)
        return train.mean(axis=1), _cos(ea["test"], eb["test"]).mean(axis=1)

    def empirical_reference(self, split_a: int, split_b: int) -> tuple[np.ndarray, np.ndarray]:
        """``eps_similarity`` of the empirical denoisers of two splits: ``(n_eps_t,)`` twice."""
        from physgen.models import Empirical

        emp_a, emp_b = Empirical(self.train[split_a]), Empirical(self.train[split_b])

        def eps(emp: Any, key: Any) -> np.ndarray:
            return np.stack(
                [_eps(f, emp.denoise(f.x_t, f.alpha_bar)) for f in self.eps_inputs[key]]
            )

        train = np.concatenate(
            [_cos(eps(emp_a, s), eps(emp_b, s)) for s in (split_a, split_b)], axis=1
        ).mean(axis=1)
        return train, _cos(eps(emp_a, "test"), eps(emp_b, "test")).mean(axis=1)


def _eps(frozen: Any, x0_hat: np.ndarray) -> np.ndarray:
    """Noise prediction implied by a posterior mean at the frozen inputs, ``(n, *event)``."""
    a = frozen.alpha_bar.reshape((-1,) + (1,) * (x0_hat.ndim - 1))
    return (frozen.x_t - np.sqrt(a) * x0_hat) / np.sqrt(1.0 - a)


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity over the image axes of ``(n_t, n, *event)`` arrays → ``(n_t, n)``."""
    fa, fb = a.reshape(*a.shape[:2], -1), b.reshape(*b.shape[:2], -1)
    den = np.linalg.norm(fa, axis=-1) * np.linalg.norm(fb, axis=-1)
    return np.divide(np.sum(fa * fb, axis=-1), den, out=np.zeros_like(den), where=den > 0)


def run(cfg: ExperimentConfig, *, progress: ProgressFn | None = None) -> xr.Dataset:
    """Train every network of ``cfg`` (an image model) and return the cell's Dataset.

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
    return _assemble(cfg, rec, cell.nets, cell.pairs, cell.seed_pairs)


def _cos_distance_curve(rec: _Recorder, a: int, b: int) -> np.ndarray:
    from physgen.metrics.images import median_cosine_distance

    return np.array(
        [
            median_cosine_distance(rec.samples[a, k], rec.samples[b, k])
            if rec.sample_mask[k]
            else np.nan
            for k in range(rec.steps.size)
        ]
    )


def image_checkpoints(
    pairs: list[tuple[int, int]], nn_distance: np.ndarray, nn_distance_test: np.ndarray
) -> np.ndarray:
    """``(n_pair, n_step)`` bool: both networks of the pair generate images — their samples'
    mean NN distance to their split (``nn_distance``, ``(n_network, n_step)``, NaN off the sample
    checkpoints) is at most :data:`IMAGE_NN_FACTOR` times that of fresh test images
    (``nn_distance_test``, ``(n_network,)``)."""
    nn = np.asarray(nn_distance, dtype=np.float64)
    images = nn <= IMAGE_NN_FACTOR * np.asarray(nn_distance_test, dtype=np.float64)[:, None]
    return np.array([images[a] & images[b] for a, b in pairs]).reshape(len(pairs), -1)


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
) -> dict[str, tuple[tuple[str, ...], np.ndarray]]:
    """The onsets of one image cell from its stored curves (recomputable from a file).

    ``cos_distance``: ``(n_pair, n_step)``; per-network curves ``(n_network, n_step)``;
    ``memorised_floor`` and ``nn_distance_test``: ``(n_network,)``. ``tau_cos`` is the argmin of
    the cosine distance over the sample checkpoints where **both** networks generate images:
    their samples' mean nearest-neighbour distance to their training split is at most
    ``IMAGE_NN_FACTOR`` (2) times that of fresh test images. Before that, two networks sample
    noise-dominated garbage from the same noise, whose coupled samples are trivially alike (the
    analogue of the token experiment's ``learned`` rule); ``tau_images`` is the first such
    checkpoint. ``tau_mem`` needs the memorised fraction two standard errors above the floor;
    ``tau_test`` is the argmin of the test ε-MSE.
    """
    from physgen.metrics import argmin_onset, first_exceed_onset

    def pair_mean(x: np.ndarray) -> np.ndarray:
        return np.array([(x[a] + x[b]) / 2 for a, b in pairs]).reshape(len(pairs), *x.shape[1:])

    valid = image_checkpoints(pairs, nn_distance, nn_distance_test)
    se = np.asarray(memorised_fraction_se)
    pair_se = np.array([np.sqrt(se[a] ** 2 + se[b] ** 2) / 2 for a, b in pairs]).reshape(
        len(pairs), -1
    )
    floor = np.asarray(memorised_floor, dtype=np.float64)
    frac = np.asarray(memorised_fraction)
    return {
        "tau_cos": (("pair",), np.atleast_1d(argmin_onset(steps, cos_distance, valid))),
        "tau_images": (("pair",), np.atleast_1d(first_exceed_onset(steps, valid, 0.5))),
        "tau_test": (("pair",), np.atleast_1d(argmin_onset(steps, pair_mean(eps_test_loss)))),
        "tau_mem": (
            ("pair",),
            np.atleast_1d(
                first_exceed_onset(steps, pair_mean(frac) - 2 * pair_se, pair_mean(floor)[:, None])
            ),
        ),
        "tau_test_net": (("network",), np.atleast_1d(argmin_onset(steps, eps_test_loss))),
        "tau_mem_net": (
            ("network",),
            np.atleast_1d(first_exceed_onset(steps, frac - 2 * se, floor[:, None])),
        ),
    }


def _assemble(
    cfg: ExperimentConfig,
    rec: _Recorder,
    nets: list[NetworkPlan],
    pairs: list[tuple[int, int]],
    seed_pairs: list[tuple[int, int]],
) -> xr.Dataset:
    c, steps = rec.curves, rec.steps
    floors = np.array([rec.floor[p.split] for p in nets])
    nn_test = np.array([rec.nn_test[p.split] for p in nets])
    cos_d = np.array([_cos_distance_curve(rec, a, b) for a, b in pairs])
    cos_seed = np.array([_cos_distance_curve(rec, a, b) for a, b in seed_pairs]).reshape(
        len(seed_pairs), steps.size
    )
    sims = np.array([[rec.eps_similarity(a, b, k) for k in range(steps.size)] for a, b in pairs])
    emp = np.array([rec.empirical_reference(nets[a].split, nets[b].split) for a, b in pairs])
    sample_dims = ("network", "step", "show", "channel", "height", "width")
    data_vars: dict[str, tuple[tuple[str, ...], Any]] = {
        name: (("network", "step"), c[name])
        for name in (
            "eps_train_loss",
            "eps_test_loss",
            "memorised_fraction",
            "memorised_fraction_se",
            "nn_distance",
        )
    }
    data_vars.update(
        {
            "memorised_floor": (("network",), floors),
            "nn_distance_test": (("network",), np.array([rec.nn_test[p.split] for p in nets])),
            "cos_distance": (("pair", "step"), cos_d),
            "cos_distance_seed": (("seed_pair", "step"), cos_seed),
            "eps_cos_train": (("pair", "step", "eps_t"), sims[:, :, 0]),
            "eps_cos_test": (("pair", "step", "eps_t"), sims[:, :, 1]),
            "eps_cos_train_emp": (("pair", "eps_t"), emp[:, 0]),
            "eps_cos_test_emp": (("pair", "eps_t"), emp[:, 1]),
            "sample_show": (sample_dims, rec.sample_show.astype(np.float32)),
            "nn_show": (sample_dims, rec.nn_show.astype(np.float32)),
            "mean_image": (
                ("channel", "height", "width"),
                np.asarray(getattr(rec.model, "mean_image", np.zeros(rec.model.event_shape))),
            ),
        }
    )
    data_vars.update(
        image_onsets(
            steps,
            pairs,
            cos_d,
            c["eps_test_loss"],
            c["memorised_fraction"],
            c["memorised_fraction_se"],
            floors,
            c["nn_distance"],
            nn_test,
        )
    )
    T = rec.schedule.T
    coords = {
        **network_coords(steps, nets, pairs, seed_pairs),
        "eps_t": (("eps_t",), rec.eps_t),
        "eps_t_frac": (("eps_t",), rec.eps_t / T),
        "show": (("show",), np.arange(rec.n_show, dtype=np.int64)),
    }
    attrs = global_attrs(
        cfg,
        "physgen image experiment (coupled samples and score similarity along training)",
        {
            "ema_decay": cfg.train.ema_decay,
            "sample_checkpoints": int(rec.sample_mask.sum()),
            "image_nn_factor": IMAGE_NN_FACTOR,
        },
    )
    return build_dataset(data_vars, coords, attrs)
