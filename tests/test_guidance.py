"""Classifier-free guidance with exact models: limits, linearity, parametrisations, interval."""

from __future__ import annotations

import numpy as np
import pytest

from physgen.diffusion import Schedule, coupled_sample, ddim_sample, ddpm_sample
from physgen.errors import ConfigError, PhysgenError
from physgen.guidance import GuidedDenoiser
from physgen.models import Empirical, GaussianMixture, TreeGrammar
from physgen.models.base import tweedie_score


@pytest.fixture(scope="module")
def tree() -> TreeGrammar:
    return TreeGrammar(q=3, depth=3, q_eff=2, sigma=1.0, seed=2)


@pytest.fixture(scope="module")
def gmm() -> GaussianMixture:
    return GaussianMixture([[1.0, 0.5], [-1.0, 0.0], [0.0, -2.0]], [0.5, 0.8, 0.3])


def _inputs(model, n: int = 12) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, *model.event_shape))
    return x, rng.integers(-1, model.n_classes, size=n)


@pytest.mark.parametrize("name", ["tree", "gmm"])
def test_limits_and_linearity(name: str, request: pytest.FixtureRequest) -> None:
    model = request.getfixturevalue(name)
    x, cls = _inputs(model)
    ab = 0.35
    cond = model.denoise(x, ab, classes=cls)
    uncond = model.denoise(x, ab)
    np.testing.assert_array_equal(GuidedDenoiser(model, 0.0).denoise(x, ab, cls), cond)
    np.testing.assert_array_equal(GuidedDenoiser(model, -1).denoise(x, ab, cls), uncond)
    for w in (0.5, 2.0, -3.0):
        got = GuidedDenoiser(model, w).denoise(x, ab, cls)
        np.testing.assert_allclose(got, cond + w * (cond - uncond), atol=1e-12)
        # the same guidance in score form: s_w = (1 + w) s(·|c) - w s(·|∅)
        s_w = (1 + w) * tweedie_score(x, cond, ab) - w * tweedie_score(x, uncond, ab)
        np.testing.assert_allclose(tweedie_score(x, got, ab), s_w, atol=1e-9)
        # a separate unconditional denoiser gives the same result
        sep = GuidedDenoiser(model, w, unconditional=model).denoise(x, ab, cls)
        np.testing.assert_allclose(sep, got, atol=1e-12)
    # unconditional rows are left alone whatever w
    free = cls == -1
    np.testing.assert_array_equal(
        GuidedDenoiser(model, 4.0).denoise(x, ab, cls)[free], uncond[free]
    )


def test_tokens_leave_the_simplex(tree: TreeGrammar) -> None:
    x, _ = _inputs(tree, 64)
    cls = np.zeros(64, dtype=np.int64)
    out = GuidedDenoiser(tree, 4.0).denoise(3 * x, 0.5, cls)
    np.testing.assert_allclose(out.sum(-1), 1.0, atol=1e-12)
    assert out.min() < 0.0


def test_interval(tree: TreeGrammar) -> None:
    sched = Schedule.linear(T=50)
    x, cls = _inputs(tree)
    g = GuidedDenoiser(tree, 2.0, interval=(10, 20), schedule=sched)
    full = GuidedDenoiser(tree, 2.0)
    for t in (9, 10, 15, 20, 21):
        ab = sched.alpha_bar[t]
        ref = full if 10 <= t <= 20 else tree
        want = ref.denoise(x, ab, classes=cls)
        np.testing.assert_allclose(g.denoise(x, ab, cls), want, atol=1e-12)
    cls0 = np.abs(cls)
    # with the whole range the interval changes nothing; outside it, sampling is conditional
    a = ddpm_sample(GuidedDenoiser(tree, 2.0, interval=(0, 50), schedule=sched), sched, 16,
                    tree.event_shape, seed=3, classes=cls0[:12].tolist() + [0] * 4)  # fmt: skip
    b = ddpm_sample(full, sched, 16, tree.event_shape, seed=3, classes=cls0[:12].tolist() + [0] * 4)
    np.testing.assert_allclose(a, b, atol=1e-12)


def test_every_sampler_uses_guidance(tree: TreeGrammar) -> None:
    sched = Schedule.linear(T=30)
    cls = np.arange(20) % tree.q
    g = GuidedDenoiser(tree, 1.5)
    one = ddpm_sample(g, sched, 20, tree.event_shape, seed=1, classes=cls)
    chunked = ddpm_sample(g, sched, 20, tree.event_shape, seed=1, classes=cls, chunk_size=7)
    np.testing.assert_array_equal(one, chunked)
    # sample i depends only on (seed, i, class i)
    tail = ddpm_sample(g, sched, 5, tree.event_shape, seed=1, classes=cls[15:], start=15)
    np.testing.assert_array_equal(tail, one[15:])
    d = ddim_sample(g, sched, 20, tree.event_shape, seed=1, classes=cls, steps=10)
    pair = coupled_sample([g, GuidedDenoiser(tree, 0.0)], sched, 20, tree.event_shape, seed=1,
                          classes=cls)  # fmt: skip
    np.testing.assert_array_equal(pair[0], one)
    np.testing.assert_array_equal(pair[1], ddpm_sample(tree, sched, 20, tree.event_shape, 1,
                                                       classes=cls))  # fmt: skip
    assert d.shape == one.shape and np.isfinite(d).all()
    # guided samples of a valid class parse to it more often than w = 0 can be told apart from
    assert (tree.parse_class(tree.decode(one)) == cls).mean() > 0.9


@pytest.mark.parametrize("w", [float("nan"), float("inf"), -float("inf"), "2", None])
def test_bad_weight(tree: TreeGrammar, w: object) -> None:
    with pytest.raises(ConfigError, match=r"^w: the guidance weight"):
        GuidedDenoiser(tree, w)  # type: ignore[arg-type]


def test_bad_input(tree: TreeGrammar) -> None:
    with pytest.raises(PhysgenError, match="no classes"):
        GuidedDenoiser(Empirical(np.zeros((3, 2))), 1.0)
    sched = Schedule.linear(T=30)
    with pytest.raises(ConfigError, match=r"^classes: class 3 out of range"):
        ddpm_sample(GuidedDenoiser(tree, 1.0), sched, 2, tree.event_shape, 0, classes=[0, 3])
    with pytest.raises(ConfigError, match=r"^interval"):
        GuidedDenoiser(tree, 1.0, interval=(1, 2))
    with pytest.raises(ConfigError, match=r"^interval"):
        GuidedDenoiser(tree, 1.0, interval=(5, 2), schedule=sched)
    with pytest.raises(PhysgenError, match="no classes"):
        ddpm_sample(Empirical(np.zeros((3, 2))), sched, 2, (2,), 0, classes=[0, 1])
