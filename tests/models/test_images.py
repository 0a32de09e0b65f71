"""Image data models: loaders round-trip files, sampling is a seeded permutation prefix, the exact
denoiser is the pool's empirical one, and reverse diffusion with it returns pool images."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from physgen.config import DataConfig
from physgen.data import DataProtocol
from physgen.diffusion import Schedule, ddpm_sample
from physgen.errors import ConfigError, PhysgenError
from physgen.metrics import memorised_fraction
from physgen.models import Digits, Empirical, ImageArray, ImageFolder
from physgen.registry import make_model


def _pixels(m: int, h: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(m, h, h), dtype=np.uint8)


def test_digits_scale_centring_and_pool() -> None:
    d = Digits()
    assert d.event_shape == (1, 8, 8) and d.pool_size == 1797
    raw = Digits(center=False).data
    assert raw.min() == -1.0 and raw.max() == 1.0
    np.testing.assert_allclose(d.data.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(d.data + d.mean_image, raw)
    np.testing.assert_allclose(d.to_unit(d.data), (raw + 1) / 2, atol=1e-12)


def test_sample_is_a_seeded_permutation_prefix() -> None:
    d = Digits()
    a, b = d.sample(40, seed=3), d.sample(100, seed=3)
    np.testing.assert_array_equal(a, b[:40])
    flat = d.sample(1797, seed=3).reshape(1797, -1)
    assert len(np.unique(flat, axis=0)) == len(np.unique(d.data.reshape(1797, -1), axis=0))
    assert not np.array_equal(d.sample(40, seed=4), a)
    with pytest.raises(PhysgenError, match="holds 1797"):
        d.sample(1798, seed=0)


def test_disjoint_splits_beyond_the_pool_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"data\.n_train"):
        DataProtocol(Digits(), DataConfig(n_train=500, n_test=200, n_pairs=2), seed=0)
    proto = DataProtocol(Digits(), DataConfig(n_train=300, n_test=100, n_pairs=2), seed=0)
    rows = [proto.split(j).reshape(300, -1) for j in range(4)] + [proto.test_set().reshape(100, -1)]
    all_rows = np.concatenate(rows)
    idx = [np.flatnonzero((Digits().data.reshape(1797, -1) == r).all(1))[0] for r in all_rows[:50]]
    assert len(set(idx)) == 50


def test_image_folder_round_trip(tmp_path) -> None:
    px = _pixels(5, 12)
    for i, p in enumerate(px):
        Image.fromarray(p, mode="L").save(tmp_path / f"img_{i:02d}.png")
    (tmp_path / "notes.txt").write_text("ignored")
    m = ImageFolder(str(tmp_path), size=12, center=False)
    assert m.event_shape == (1, 12, 12) and m.pool_size == 5
    np.testing.assert_allclose(m.data[:, 0], px / 127.5 - 1.0)
    small = make_model("image_folder", path=str(tmp_path), size=6)
    assert small.event_shape == (1, 6, 6)
    np.testing.assert_allclose(small.data.mean(axis=0), 0.0, atol=1e-12)


def test_image_folder_rgb_and_grayscale(tmp_path) -> None:
    rgb = np.random.default_rng(1).integers(0, 256, size=(3, 8, 8, 3), dtype=np.uint8)
    for i, p in enumerate(rgb):
        Image.fromarray(p, mode="RGB").save(tmp_path / f"{i}.png")
    color = ImageFolder(str(tmp_path), size=8, grayscale=False, center=False)
    assert color.event_shape == (3, 8, 8)
    np.testing.assert_allclose(color.data, rgb.transpose(0, 3, 1, 2) / 127.5 - 1.0)
    gray = ImageFolder(str(tmp_path), size=8, center=False)
    luma = np.asarray([np.asarray(Image.fromarray(p).convert("L")) for p in rgb])
    np.testing.assert_allclose(gray.data[:, 0], luma / 127.5 - 1.0)


def test_image_array_npy_and_npz_round_trip(tmp_path) -> None:
    px = _pixels(4, 8, seed=2)
    np.save(tmp_path / "a.npy", px)
    m = ImageArray(str(tmp_path / "a.npy"), center=False)
    np.testing.assert_allclose(m.data[:, 0], px / 127.5 - 1.0)
    unit = px.astype(np.float32)[..., None] / 255.0  # channels-last floats in [0, 1]
    np.savez(tmp_path / "b.npz", images=unit, labels=np.arange(4))
    m2 = ImageArray(str(tmp_path / "b.npz"), center=False)
    np.testing.assert_allclose(m2.data, m.data, atol=1e-6)
    m3 = ImageArray(str(tmp_path / "a.npy"), size=4)
    assert m3.event_shape == (1, 4, 4)
    rgb = np.stack([px, px, px], axis=1)  # channels-first, equal channels: luma = the channel
    np.save(tmp_path / "c.npy", rgb)
    np.testing.assert_allclose(ImageArray(str(tmp_path / "c.npy"), center=False).data, m.data)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda p: ImageFolder(str(p / "missing")), "does not exist"),
        (lambda p: ImageArray(str(p / "missing.npy")), "does not exist"),
        (lambda p: ImageFolder(str(p / "empty")), "no image files"),
        (lambda p: ImageFolder(str(p / "bad")), "cannot read image file"),
        (lambda p: ImageArray(str(p / "bad.npy")), "cannot read array file"),
        (lambda p: ImageArray(str(p / "range.npy")), "outside value_range"),
        (lambda p: ImageArray(str(p / "shape.npy")), "expected an array"),
    ],
)
def test_loader_errors_are_one_line(tmp_path, make, match) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.png").write_bytes(b"not a png")
    (tmp_path / "bad.npy").write_bytes(b"garbage")
    np.save(tmp_path / "range.npy", np.full((2, 4, 4), 2.0))
    np.save(tmp_path / "shape.npy", np.zeros((2, 4)))
    with pytest.raises(PhysgenError, match=match) as info:
        make(tmp_path)
    assert "\n" not in str(info.value)


def test_denoise_is_the_pool_empirical_denoiser() -> None:
    d = Digits()
    x = np.random.default_rng(0).standard_normal((6, 1, 8, 8))
    np.testing.assert_allclose(d.denoise(x, 0.3), Empirical(d.data).denoise(x, 0.3))


def test_reverse_diffusion_with_the_empirical_denoiser_returns_training_images() -> None:
    train = Digits().sample(30, seed=1)
    emp = Empirical(train)
    sched = Schedule.linear(100)
    x = ddpm_sample(emp, sched, 24, (1, 8, 8), seed=5)
    d = np.sqrt(((x[:, None] - train[None]) ** 2).sum(axis=(2, 3, 4))).min(axis=1)
    assert d.max() < 1e-6
    frac, err = memorised_fraction(x, train, metric="euclidean")
    assert frac == 1.0 and err == 0.0
