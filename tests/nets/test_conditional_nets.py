"""Class-conditional networks: null class = unconditional path, shapes, label dropout, training."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from physgen.config import NetConfig, TrainConfig
from physgen.diffusion import Schedule
from physgen.errors import ConfigError, PhysgenError
from physgen.models import GaussianMixture
from physgen.nets import MLPDenoiser, NetDenoiser, SequenceTransformer, UNet, build_net
from physgen.train import label_dropout, train

torch.set_num_threads(1)

NETS = {
    "mlp": (lambda c: MLPDenoiser(5, hidden=16, layers=2, time_dim=8, n_classes=c), (5,)),
    "transformer": (
        lambda c: SequenceTransformer(4, 3, width=16, layers=1, heads=2, ff=16, n_classes=c),
        (4, 3),
    ),
    "unet": (lambda c: UNet(channels=1, base=8, mults=(1, 2), time_dim=8, n_classes=c), (1, 4, 4)),
}


@pytest.mark.parametrize("kind", list(NETS))
def test_null_class_is_the_unconditional_path(kind: str) -> None:
    make, shape = NETS[kind]
    torch.manual_seed(0)
    net = make(3).eval()
    torch.manual_seed(0)
    plain = make(0)
    # the class embedding is created last: every other initial weight is the unconditional one
    for name, p in plain.state_dict().items():
        torch.testing.assert_close(net.state_dict()[name], p)
    x, t = torch.randn(6, *shape), torch.rand(6) * 50
    none = net(x, t)
    null = net(x, t, torch.full((6,), -1))
    assert none.shape == (6, *shape)
    torch.testing.assert_close(none, null)
    labelled = net(x, t, torch.tensor([0, 1, 2, 0, 1, 2]))
    assert not torch.allclose(labelled, none)
    # rows are independent: a mixed batch equals per-class batches
    mixed = net(x, t, torch.tensor([0, -1, 2, 0, -1, 2]))
    torch.testing.assert_close(mixed[1], none[1])
    torch.testing.assert_close(mixed[2], labelled[2])
    with pytest.raises(ValueError, match="no classes"):
        plain(x, t, torch.zeros(6, dtype=torch.long))


def test_wrapped_conditional_and_unconditional_through_one_call() -> None:
    sched = Schedule.linear(T=50)
    den = NetDenoiser(NETS["transformer"][0](3), sched, "logits", device="cpu")
    assert den.n_classes == 3
    x = np.random.default_rng(0).standard_normal((5, 4, 3))
    np.testing.assert_array_equal(den.denoise(x, 0.5), den.denoise(x, 0.5, np.full(5, -1)))
    cls = np.array([0, 1, -1, 2, 0])
    mixed = den.denoise(x, 0.5, cls)
    np.testing.assert_allclose(mixed[3:4], den.denoise(x[3:4], 0.5, np.array([2])), atol=1e-6)
    np.testing.assert_allclose(mixed.sum(-1), 1.0, atol=1e-12)
    with pytest.raises(ConfigError, match=r"^classes: class 3"):
        den.denoise(x, 0.5, np.full(5, 3))
    plain = NetDenoiser(NETS["mlp"][0](0), sched, "x0", device="cpu")
    with pytest.raises(PhysgenError, match="no classes"):
        plain.denoise(np.zeros((2, 5)), 0.5, np.array([0, 1]))


def test_build_net_with_classes() -> None:
    class Tokens:
        event_shape = (4, 3)
        vocab_size = 3

    net = build_net(NetConfig(kind="transformer", width=16, heads=2), Tokens(), seed=0, n_classes=3)
    assert net.n_classes == 3
    assert build_net(NetConfig(kind="transformer", width=16, heads=2), Tokens()).label is None


def test_label_dropout_rate() -> None:
    gen = torch.Generator().manual_seed(0)
    labels = torch.arange(40_000) % 5
    out = label_dropout(labels, 0.3, gen)
    dropped = out == -1
    assert stats.binomtest(int(dropped.sum()), labels.numel(), 0.3).pvalue > 1e-3
    torch.testing.assert_close(out[~dropped], labels[~dropped])
    assert (label_dropout(labels, 0.0, gen) == labels).all()
    assert (label_dropout(labels, 1.0, gen) == -1).all()


def test_conditional_mlp_learns_class_means() -> None:
    gmm = GaussianMixture.symmetric(2, mean=2.0, std=0.3)
    x0, comp = gmm.sample(512, seed=0, return_classes=True)
    sched = Schedule.linear(T=50)
    torch.manual_seed(0)
    net = MLPDenoiser(2, hidden=32, layers=2, time_dim=16, n_classes=2)
    cfg = TrainConfig(steps=600, batch_size=128, lr=3e-3, ema_decay=0.0, n_checkpoints=2,
                      device="cpu")  # fmt: skip
    res = train(net, x0, sched, cfg, loss="mse_x0", seed=1, classes=comp, p_uncond=0.2)
    x_t = np.random.default_rng(1).standard_normal((256, 2))
    ab = sched.alpha_bar[-1]
    for c in (0, 1):
        got = res.denoiser.denoise(x_t, ab, np.full(256, c)).mean(0)
        np.testing.assert_allclose(got, gmm.means[c], atol=0.4)
    np.testing.assert_allclose(res.denoiser.denoise(x_t, ab).mean(0), 0.0, atol=0.4)
    with pytest.raises(ConfigError, match=r"^train.p_uncond"):
        train(net, x0, sched, cfg, loss="mse_x0", seed=1, classes=comp, p_uncond=1.5)
    with pytest.raises(ConfigError, match=r"^classes"):
        train(net, x0, sched, cfg, loss="mse_x0", seed=1, classes=comp + 2)


def test_guided_network_and_token_training_step() -> None:
    from physgen.guidance import GuidedDenoiser

    sched = Schedule.linear(T=50)
    torch.manual_seed(0)
    net = SequenceTransformer(4, 3, width=16, layers=1, heads=2, ff=16, n_classes=3)
    x0 = np.eye(3)[np.random.default_rng(0).integers(3, size=(32, 4))]
    cfg = TrainConfig(steps=3, batch_size=8, ema_decay=0.0, n_checkpoints=2, device="cpu")
    res = train(net, x0, sched, cfg, loss="ce", seed=0, classes=np.arange(32) % 3, p_uncond=0.5)
    den = res.denoiser
    x = np.random.default_rng(1).standard_normal((6, 4, 3))
    cls = np.array([0, 1, 2, -1, 0, 1])
    cond, uncond = den.denoise(x, 0.3, cls), den.denoise(x, 0.3)
    guided = GuidedDenoiser(den, 2.0).denoise(x, 0.3, cls)
    np.testing.assert_allclose(guided, 3 * cond - 2 * uncond, atol=1e-6)
