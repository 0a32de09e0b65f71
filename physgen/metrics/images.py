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

The quadruplet figure of coupled samples and their nearest training images is drawn by
:func:`physgen.plots.quadruplets` from a results file.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from physgen.errors import PhysgenError
from physgen.metrics._common import denoise_batched, noise_prediction
from physgen.models.base import as_alpha_bar

__all__ = [
    "cosine_similarity",
    "eps_cosine_similarity",
    "median_cosine_distance",
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
