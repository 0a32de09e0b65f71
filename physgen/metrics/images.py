r"""Image diagnostics of the paper's §5: paired samples, score-level similarity, nearest neighbours.

**Sample level.** Two models A and B sample from the same noise (coupled sampling,
:func:`physgen.diffusion.coupled_sample`), giving pairs :math:`(x_A^i, x_B^i)`. Each image is
standardised to zero mean and unit variance over its pixels,
:math:`z = (x - \bar x)/\mathrm{sd}(x)`, and compared by the cosine similarity
:math:`\cos(z_A, z_B) = z_A\cdot z_B / (\lVert z_A\rVert \lVert z_B\rVert)` (the Pearson
correlation of the pixels). The paper's curve is the median over pairs of the cosine *distance*
:math:`1 - \cos` along training (:func:`median_cosine_distance`); its argmin is
:math:`\tau_{\rm cos}`.

**Score level.** At a fixed diffusion step :math:`t` (the paper: 50, 100, 150, 200 of
:math:`T = 1000`) the two models' noise predictions
:math:`\hat\varepsilon = (x_t - \sqrt{\bar\alpha}\,\hat x_0)/\sqrt{1-\bar\alpha}` on the same
noised images are compared by their cosine similarity (:func:`eps_cosine_similarity`), on
noised *training* and on noised *test* images: a bias towards the training sets shows up as a
lower similarity on training images than on test images.

**Nearest neighbours.** :func:`physgen.metrics.euclidean_nn` (``return_index=True``) gives, for
each sample, the index of its nearest image in a reference set (Euclidean, in the diffusion
space) and the distances :math:`d_1 \le d_2` to the nearest and second-nearest; the memorised
fraction is the share of
samples with :math:`d_1/d_2 < 1/3` (:func:`physgen.metrics.memorised_fraction` with
``metric="euclidean"``). The memorising reference is the empirical denoiser of the training set
(:class:`~physgen.models.empirical.Empirical`): its samples are training images.

:func:`quadruplet_figure` draws, along training, quadruplets (NN_A, x_A, x_B, NN_B): each coupled
pair flanked by its samples' nearest training images in the model's own training set.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from physgen.errors import PhysgenError
from physgen.metrics._common import denoise_batched, noise_prediction
from physgen.models.base import as_alpha_bar

__all__ = [
    "cosine_similarity",
    "eps_cosine_similarity",
    "median_cosine_distance",
    "quadruplet_figure",
    "standardise",
]


def standardise(x: np.ndarray) -> np.ndarray:
    """Per-image standardisation: ``(n, *event)`` → ``(n, D)`` rows of zero mean and unit
    variance (a constant image maps to zeros)."""
    f = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    f = f - f.mean(axis=1, keepdims=True)
    sd = f.std(axis=1, keepdims=True)
    return np.divide(f, sd, out=np.zeros_like(f), where=sd > 0)


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    na = np.linalg.norm(a, axis=1)
    nb = np.linalg.norm(b, axis=1)
    den = na * nb
    return np.divide(np.sum(a * b, axis=1), den, out=np.zeros_like(den), where=den > 0)


def cosine_similarity(x_a: np.ndarray, x_b: np.ndarray) -> np.ndarray:
    """Cosine similarity of paired images after per-image standardisation: ``(n,)`` in [-1, 1]."""
    if np.shape(x_a) != np.shape(x_b):
        raise PhysgenError(f"paired samples differ in shape: {np.shape(x_a)} vs {np.shape(x_b)}")
    return _cosine(standardise(x_a), standardise(x_b))


def median_cosine_distance(x_a: np.ndarray, x_b: np.ndarray) -> float:
    """Median over pairs of ``1 - cosine_similarity`` (0 = identical up to contrast)."""
    return float(np.median(1.0 - cosine_similarity(x_a, x_b)))


def eps_cosine_similarity(
    den_a: Any, den_b: Any, x_t: np.ndarray, alpha_bar: float | np.ndarray
) -> np.ndarray:
    """Cosine similarity of the two denoisers' noise predictions on the same ``x_t``
    ``(n, *event)`` at ``alpha_bar`` (float or ``(n,)``); returns ``(n,)``."""
    x = np.asarray(x_t, dtype=np.float64)
    a = as_alpha_bar(alpha_bar, x.shape[0])

    def eps(den: Any) -> np.ndarray:
        return noise_prediction(x, a, denoise_batched(den, x, a, None)).reshape(len(x), -1)

    return _cosine(eps(den_a), eps(den_b))


def quadruplet_figure(
    path: str | Path,
    steps: Sequence[int],
    nn_a: np.ndarray,
    x_a: np.ndarray,
    x_b: np.ndarray,
    nn_b: np.ndarray,
    *,
    to_unit: Callable[[np.ndarray], np.ndarray] | None = None,
    title: str = "coupled samples along training: NN_A | x_A | x_B | NN_B",
) -> Path:
    """Write a PNG grid: one row per checkpoint, one quadruplet (NN_A, x_A, x_B, NN_B) per pair.

    ``nn_a``, ``x_a``, ``x_b``, ``nn_b``: ``(n_steps, n_pairs, C, H, W)``; ``to_unit`` maps
    images to display values in ``[0, 1]`` (default: ``(x + 1) / 2`` clipped). Returns the path.
    """
    import matplotlib.pyplot as plt

    quads = [np.asarray(v, dtype=np.float64) for v in (nn_a, x_a, x_b, nn_b)]
    if len({q.shape for q in quads}) != 1 or quads[0].ndim != 5:
        raise PhysgenError("nn_a, x_a, x_b, nn_b must share one shape (n_steps, n_pairs, C, H, W)")
    n_steps, n_pairs = quads[0].shape[:2]
    if len(steps) != n_steps:
        raise PhysgenError(f"{len(steps)} steps for {n_steps} rows of images")
    unit = to_unit or (lambda v: np.clip((v + 1.0) / 2.0, 0.0, 1.0))
    fig, axes = plt.subplots(
        n_steps,
        4 * n_pairs,
        figsize=(0.6 * 4 * n_pairs + 0.8, 0.65 * n_steps + 0.6),
        squeeze=False,
        gridspec_kw={"wspace": 0.05, "hspace": 0.08},
    )
    for i in range(n_steps):
        for p in range(n_pairs):
            for j, q in enumerate(quads):
                ax = axes[i, 4 * p + j]
                img = unit(q[i, p]).transpose(1, 2, 0)
                ax.imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray", vmin=0, vmax=1)
                ax.set_xticks([])
                ax.set_yticks([])
                if j in (0, 3):
                    for side in ax.spines.values():
                        side.set_edgecolor("tab:orange")
        axes[i, 0].set_ylabel(f"{int(steps[i])}", rotation=0, ha="right", va="center", fontsize=7)
    fig.suptitle(title, fontsize=8)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return out
