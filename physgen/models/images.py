r"""Finite image data sets as data models: scikit-learn's digits and a user's own images.

An image data set is a finite pool of :math:`m` images :math:`\{a_\mu\}_{\mu=1}^m`, each of
shape ``(C, H, W)`` (``event_shape``), with pixel values mapped linearly to :math:`[-1, 1]` and
then **centred by the mean image of the whole pool**,

.. math:: a_\mu = 2\,\frac{\text{raw}_\mu - v_{\min}}{v_{\max} - v_{\min}} - 1 - \bar a,
          \qquad \bar a = \frac1m \sum_\nu \Big(2\,\frac{\text{raw}_\nu - v_{\min}}
          {v_{\max} - v_{\min}} - 1\Big).

Where the centring happens, honestly: the paper centres CelebA by the mean of its training images.
Here the data *model* is fixed before any split exists, so the mean is the one of the full pool
(all 1 797 digits, or every file of a folder); each training split of ``n`` images is then
centred by a mean that differs from its own by :math:`O(1/\sqrt n)` per pixel. ``center=False``
keeps the uncentred :math:`[-1, 1]` images; :meth:`ImageDataset.to_unit` undoes both maps for
display.

The data distribution is the uniform measure on the pool, so the exact denoiser is the empirical
one of the full pool (:class:`physgen.models.empirical.Empirical`),

.. math:: E[x_0 \mid x_t] = \sum_\mu w_\mu a_\mu, \qquad
          w = \operatorname{softmax}_\mu\!\Big(-\frac{\lVert x_t - \sqrt{\bar\alpha}\,a_\mu
          \rVert^2}{2(1-\bar\alpha)}\Big).

Sampling is without replacement: ``sample(n, seed)`` is the length-``n`` prefix of one seeded
permutation of the pool (``numpy.random.default_rng(seed).permutation(m)``), so sample ``i``
depends only on ``(seed, i)`` and ``n > m`` is an error. ``pool_size`` = ``m`` lets the data
protocol reject disjoint splits the pool cannot hold.

Classes: a pool with labels (:class:`Digits`: the digit, ``n_classes = 10``) is also a conditional
model. :math:`p(x \mid c)` is the uniform measure on the images of label :math:`c`, its exact
denoiser the empirical one of those images; ``sample(n, seed, classes)`` walks the same seeded
permutation and gives row ``i`` the next unused image of its class (so row ``i`` depends on the
classes of the rows before it: the pool is sampled without replacement); ``log_prob`` is the log of
the fraction of the pool (of the class) equal to ``x``, -inf off the pool.

Models: :class:`Digits` (registered ``"digits"``; 1 797 real 8×8 images bundled with
scikit-learn, no download), :class:`ImageFolder` (``"image_folder"``; a folder of image files
read with Pillow, resized and converted to grayscale) and :class:`ImageArray` (``"image_array"``;
an ``.npy`` / ``.npz`` array, e.g. a locally prepared CelebA at 32×32 grayscale).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np

from physgen.errors import PhysgenError
from physgen.models.base import DataModel
from physgen.models.conditional import check_classes
from physgen.registry import register_model

__all__ = ["IMAGE_SUFFIXES", "Digits", "ImageArray", "ImageDataset", "ImageFolder"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm")

# ITU-R 601-2 luma, the weights Pillow's "L" conversion uses: arrays and files agree.
_LUMA = np.array([0.299, 0.587, 0.114])


class ImageDataset(DataModel):
    """A finite pool of images in ``[-1, 1]``, optionally centred by the pool's mean image.

    Parameters
    ----------
    images:
        ``(m, C, H, W)`` floats already mapped to ``[-1, 1]``.
    center:
        Subtract the pool's mean image (see the module docstring).
    labels:
        Optional class of each image, ints ``0 … C-1`` of shape ``(m,)``: the model is then
        conditional with ``n_classes = C`` (every class must hold an image).
    """

    def __init__(
        self, images: np.ndarray, *, center: bool = True, labels: np.ndarray | None = None
    ) -> None:
        x = np.asarray(images, dtype=np.float64)
        if x.ndim != 4 or x.shape[0] < 1:
            raise PhysgenError(f"images must have shape (m, C, H, W) with m ≥ 1, got {x.shape}")
        self.center = bool(center)
        self.mean_image = x.mean(axis=0) if self.center else np.zeros(x.shape[1:])
        self.data = x - self.mean_image
        self.event_shape = tuple(int(s) for s in x.shape[1:])
        self.pool_size = int(x.shape[0])
        self.labels = None if labels is None else np.asarray(labels, dtype=np.int64)
        self.n_classes = 0
        if self.labels is not None:
            if self.labels.shape != (self.pool_size,) or self.labels.min() < 0:
                raise PhysgenError(f"labels must be {self.pool_size} non-negative ints")
            self.n_classes = int(self.labels.max()) + 1
            if np.bincount(self.labels).min() == 0:
                raise PhysgenError(f"every class 0 … {self.n_classes - 1} needs an image")
        # exact denoisers: key -1 the whole pool, c the images of class c (built on first use)
        self._empirical: dict[int, Any] = {}

    def sample(
        self, n: int, seed: int, classes: Any = None, return_classes: bool = False
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """The first ``n`` images of a seeded permutation of the pool, ``(n, C, H, W)``.

        ``classes`` (int or ``(n,)``, -1 = any class): row ``i`` is the next image of class
        ``classes[i]`` along the same permutation not taken by an earlier row.
        ``return_classes`` also returns the labels of the images, int64 ``(n,)``."""
        n = int(n)
        if not 0 <= n <= self.pool_size:
            raise PhysgenError(
                f"asked for {n} images but this data set holds {self.pool_size}; "
                "a finite data set is sampled without replacement"
            )
        cls = check_classes(classes, n, self.n_classes)
        perm = np.random.default_rng(np.random.SeedSequence(int(seed))).permutation(self.pool_size)
        if (cls < 0).all():
            pick = perm[:n]
        else:
            pick = self._pick(perm, cls)
        images = self.data[pick].copy()
        if not return_classes:
            return images
        if self.labels is None:
            raise PhysgenError("this data set has no labels: return_classes needs a labelled pool")
        return images, self.labels[pick]

    def _pick(self, perm: np.ndarray, cls: np.ndarray) -> np.ndarray:
        """Pool indices of rows with classes ``cls`` (-1: any) taken along ``perm`` without
        replacement (module docstring)."""
        assert self.labels is not None  # classes ≥ 0 passed check_classes
        queues = {c: list(perm[self.labels[perm] == c][::-1]) for c in np.unique(cls[cls >= 0])}
        queues[-1] = list(perm[::-1])
        used = np.zeros(self.pool_size, dtype=bool)
        pick = np.empty(cls.size, dtype=np.int64)
        for i, c in enumerate(cls.tolist()):
            queue = queues[c]
            while queue and used[queue[-1]]:
                queue.pop()
            if not queue:
                raise PhysgenError(f"class {c} has no image left for row {i} (without replacement)")
            pick[i] = queue.pop()
            used[pick[i]] = True
        return pick

    def _exact(self, c: int) -> Any:
        """The empirical denoiser of the pool (``c = -1``) or of the images of class ``c``."""
        if c not in self._empirical:
            from physgen.models.empirical import Empirical

            assert c < 0 or self.labels is not None
            pool = self.data if c < 0 else self.data[self.labels == c]
            self._empirical[c] = Empirical(pool)
        return self._empirical[c]

    def denoise(
        self, x_t: np.ndarray, alpha_bar: float | np.ndarray, classes: Any = None
    ) -> np.ndarray:
        """Exact :math:`E[x_0 \\mid x_t]` of the uniform measure on the pool, shape of ``x_t``;
        ``classes`` (n,) int: row ``i`` conditioned on the images of class ``classes[i]`` (-1 or
        ``None``: the whole pool)."""
        x = np.asarray(x_t, dtype=np.float64)
        cls = check_classes(classes, x.shape[0], self.n_classes)
        a = np.broadcast_to(np.asarray(alpha_bar, dtype=np.float64), cls.shape)
        if (cls == cls[:1]).all():
            return self._exact(int(cls[0]) if cls.size else -1).denoise(x, alpha_bar)
        out = np.empty_like(x)
        for c in np.unique(cls).tolist():
            rows = cls == c
            out[rows] = self._exact(c).denoise(x[rows], a[rows])
        return out

    def log_prob(self, x: np.ndarray, classes: Any = None) -> np.ndarray:
        """Log-probability of images ``x`` ``(n, C, H, W)`` under the uniform measure on the pool
        (or on class ``classes[i]``): log of the fraction of (class) images equal to ``x``, -inf
        for an image off the pool; shape ``(n,)``."""
        xx = np.asarray(x, dtype=np.float64)
        if xx.ndim != 4 or xx.shape[1:] != self.event_shape:
            raise PhysgenError(f"x must have shape (n, {', '.join(map(str, self.event_shape))})")
        cls = check_classes(classes, xx.shape[0], self.n_classes)
        flat = self.data.reshape(self.pool_size, -1)
        out = np.empty(xx.shape[0])
        with np.errstate(divide="ignore"):
            for i, row in enumerate(xx.reshape(xx.shape[0], -1)):
                same = (flat == row).all(axis=1)
                if cls[i] >= 0:
                    assert self.labels is not None
                    member = self.labels == cls[i]
                    out[i] = np.log(same[member].sum() / member.sum())
                else:
                    out[i] = np.log(same.sum() / self.pool_size)
        return out

    def to_unit(self, x: np.ndarray) -> np.ndarray:
        """Diffusion-space images ``(…, C, H, W)`` → display values in ``[0, 1]`` (clipped)."""
        return np.clip((np.asarray(x) + self.mean_image + 1.0) / 2.0, 0.0, 1.0)

    def params(self) -> dict[str, Any]:
        return {"center": self.center}


@register_model("digits")
class Digits(ImageDataset):
    """scikit-learn's handwritten digits: 1 797 grayscale 8×8 images (16 gray levels), no download.

    Pixel values ``0 … 16`` map to ``[-1, 1]``; ``event_shape = (1, 8, 8)``; ``pool_size = 1797``.
    ``labels`` holds the digit classes, the ``n_classes = 10`` classes of the conditional model.
    """

    def __init__(self, center: bool = True) -> None:
        images, labels = _load_digits()
        super().__init__(images / 8.0 - 1.0, center=center, labels=labels.copy())


@functools.cache
def _load_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as ``(1797, 1, 8, 8)`` floats ``0 … 16`` and labels (read once)."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.asarray(bunch.images, dtype=np.float64)[:, None]
    images.flags.writeable = False
    return images, np.asarray(bunch.target, dtype=np.int64)


def _missing(path: Path) -> PhysgenError:
    return PhysgenError(f"image data path {str(path)!r} does not exist")


def _resize(img: np.ndarray, size: int | None) -> np.ndarray:
    """Resize one ``(H, W)`` float image to ``size × size`` (Pillow, bicubic in float mode)."""
    if size is None or img.shape == (size, size):
        return img
    from PIL import Image

    pil = Image.fromarray(np.ascontiguousarray(img, dtype=np.float32), mode="F")
    return np.asarray(pil.resize((size, size), Image.Resampling.BICUBIC), dtype=np.float64)


@register_model("image_folder")
class ImageFolder(ImageDataset):
    """Every image file of a folder (sorted by name), resized to ``size × size``.

    ``grayscale=True`` converts with Pillow's ``"L"`` (ITU-R 601 luma), else ``"RGB"`` (3
    channels). 8-bit values ``0 … 255`` map to ``[-1, 1]``. Files whose suffix is not one of
    :data:`IMAGE_SUFFIXES` are ignored; a missing folder, a folder without images or an
    unreadable file is a :class:`~physgen.errors.PhysgenError`.
    """

    def __init__(
        self, path: str, size: int = 32, grayscale: bool = True, center: bool = True
    ) -> None:
        from PIL import Image, UnidentifiedImageError

        folder = Path(path)
        if not folder.exists():
            raise _missing(folder)
        if not folder.is_dir():
            raise PhysgenError(f"image folder {str(folder)!r} is not a directory")
        if int(size) < 1:
            raise PhysgenError(f"size must be ≥ 1, got {size}")
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise PhysgenError(f"no image files ({', '.join(IMAGE_SUFFIXES)}) in {str(folder)!r}")
        mode = "L" if grayscale else "RGB"
        images = []
        for f in files:
            try:
                with Image.open(f) as im:
                    im = im.convert(mode).resize((int(size), int(size)), Image.Resampling.BICUBIC)
                    a = np.asarray(im, dtype=np.float64)
            except (UnidentifiedImageError, OSError) as exc:
                raise PhysgenError(f"cannot read image file {str(f)!r}: {exc}") from None
            images.append(a[None] if grayscale else a.transpose(2, 0, 1))
        self.path = str(folder)
        self.size = int(size)
        self.grayscale = bool(grayscale)
        self.files = [f.name for f in files]
        super().__init__(np.stack(images) / 127.5 - 1.0, center=center)

    def params(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "size": self.size,
            "grayscale": self.grayscale,
            "center": self.center,
        }


@register_model("image_array")
class ImageArray(ImageDataset):
    """Images stored as one array in an ``.npy`` or ``.npz`` file (``key`` names the ``.npz``
    member; default: its only one, or ``"images"``).

    Accepted layouts: ``(m, H, W)``, ``(m, H, W, C)`` and ``(m, C, H, W)`` with ``C ∈ {1, 3}``
    (channels-last when the last axis is 1 or 3). Values are mapped from ``value_range`` to
    ``[-1, 1]``; by default ``(0, 255)`` for integer arrays and ``(0, 1)`` for float arrays, and a
    value outside the range is an error. ``grayscale=True`` turns 3 channels into one with the
    luma weights of Pillow's ``"L"``; ``size`` resizes (bicubic) when given.
    """

    def __init__(
        self,
        path: str,
        key: str | None = None,
        size: int | None = None,
        grayscale: bool = True,
        value_range: tuple[float, float] | None = None,
        center: bool = True,
    ) -> None:
        file = Path(path)
        if not file.exists():
            raise _missing(file)
        raw = _load_array(file, key)
        if raw.ndim == 3:
            raw = raw[:, None]
        elif raw.ndim == 4 and raw.shape[-1] in (1, 3):
            raw = raw.transpose(0, 3, 1, 2)
        elif not (raw.ndim == 4 and raw.shape[1] in (1, 3)):
            raise PhysgenError(
                f"{str(file)!r}: expected an array (m, H, W), (m, H, W, C) or (m, C, H, W) "
                f"with C in {{1, 3}}, got shape {raw.shape}"
            )
        if value_range is None:
            value_range = (0.0, 255.0) if np.issubdtype(raw.dtype, np.integer) else (0.0, 1.0)
        lo, hi = (float(v) for v in value_range)
        x = np.asarray(raw, dtype=np.float64)
        if not hi > lo:
            raise PhysgenError(f"value_range must be increasing, got {value_range}")
        if x.min() < lo or x.max() > hi:
            raise PhysgenError(
                f"{str(file)!r}: values span [{x.min():g}, {x.max():g}], outside value_range "
                f"({lo:g}, {hi:g}); pass value_range explicitly"
            )
        x = 2.0 * (x - lo) / (hi - lo) - 1.0
        if grayscale and x.shape[1] == 3:
            x = np.einsum("nchw,c->nhw", x, _LUMA)[:, None]
        if size is not None:
            if int(size) < 1:
                raise PhysgenError(f"size must be ≥ 1, got {size}")
            x = np.stack([[_resize(ch, int(size)) for ch in img] for img in x])
        self.path = str(file)
        self.key = key
        self.size = None if size is None else int(size)
        self.grayscale = bool(grayscale)
        self.value_range = (lo, hi)
        super().__init__(x, center=center)

    def params(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": self.path,
            "grayscale": self.grayscale,
            "value_range": list(self.value_range),
            "center": self.center,
        }
        if self.key is not None:
            out["key"] = self.key
        if self.size is not None:
            out["size"] = self.size
        return out


def _load_array(file: Path, key: str | None) -> np.ndarray:
    """The image array of an ``.npy`` / ``.npz`` file (no pickles), with one-line errors."""
    try:
        loaded = np.load(file, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise PhysgenError(f"cannot read array file {str(file)!r}: {exc}") from None
    if isinstance(loaded, np.ndarray):
        return loaded
    with loaded:
        names = list(loaded.files)
        if key is None:
            key = names[0] if len(names) == 1 else "images"
        if key not in names:
            raise PhysgenError(f"{str(file)!r} has no array {key!r}; it holds {names}")
        return loaded[key]
