"""The U-Net ε-predictor: shapes for several sizes, the paper preset's size, the config builder,
time conditioning and errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from physgen.config import NetConfig
from physgen.diffusion import Schedule
from physgen.errors import ConfigError
from physgen.models import Digits, GaussianMixture
from physgen.nets import NetDenoiser, UNet, build_net

torch.set_num_threads(1)


@pytest.mark.parametrize(
    ("kwargs", "size"),
    [
        ({}, 8),
        ({}, 16),
        ({"channels": 3, "mults": (1, 2, 2), "attn_resolutions": (4,)}, 8),
        ({"base": 8, "mults": (1,), "num_res_blocks": 2}, 5),
        (
            {
                "base": 8,
                "mults": (1, 2, 4),
                "attn_resolutions": (8, 4),
                "heads": 2,
                "image_size": 16,
            },
            32,
        ),
    ],
)
def test_unet_maps_shapes(kwargs, size) -> None:
    net = UNet(**kwargs)
    c = kwargs.get("channels", 1)
    x = torch.randn(3, c, size, size)
    assert net(x, torch.tensor([0.0, 10.0, 999.0])).shape == x.shape


def test_paper_preset_has_about_4m_parameters_and_attention() -> None:
    net = UNet.paper()
    n = sum(p.numel() for p in net.parameters())
    assert 3.5e6 < n < 4.5e6
    n_attn = sum(type(m).__name__ == "AttnBlock" for m in net.modules())
    assert n_attn == 2 * 2 + 3 * 2 + 1  # down (16², 8²), up (3 blocks at each), middle


def test_output_depends_on_time_and_input() -> None:
    torch.manual_seed(0)
    net = UNet()
    x = torch.randn(2, 1, 8, 8)
    a = net(x, torch.tensor([5.0, 5.0]))
    assert not torch.allclose(a, net(x, torch.tensor([500.0, 500.0])))
    assert not torch.allclose(a[0], a[1])


def test_builder_and_eps_denoiser() -> None:
    cfg = NetConfig(kind="unet", width=8, layers=1, heads=1, time_dim=16, mults=(1, 2))
    net = build_net(cfg, Digits(), seed=0)
    assert isinstance(net, UNet)
    w0 = [p.detach().clone() for p in build_net(cfg, Digits(), seed=0).parameters()]
    assert all(torch.equal(a, b) for a, b in zip(w0, net.parameters(), strict=True))
    sched = Schedule.linear(1000)
    assert sched.betas[0] == pytest.approx(1e-4) and sched.betas[-1] == pytest.approx(0.02)
    den = NetDenoiser(net, sched, output="eps", device="cpu")
    x = np.random.default_rng(0).standard_normal((4, 1, 8, 8))
    ab = 0.4
    eps = net(
        torch.as_tensor(x, dtype=torch.float32), torch.full((4,), float(sched.t_of_alpha_bar(ab)))
    )
    expected = (x - np.sqrt(1 - ab) * eps.detach().double().numpy()) / np.sqrt(ab)
    np.testing.assert_allclose(den.denoise(x, ab), expected, rtol=1e-5, atol=1e-5)


def test_builder_errors_name_the_key() -> None:
    with pytest.raises(ConfigError, match=r"net\.kind"):
        build_net(NetConfig(kind="unet"), GaussianMixture.symmetric(4))
    with pytest.raises(ConfigError, match=r"net\.mults"):
        build_net(dataclasses.replace(NetConfig(kind="unet"), mults=(1, 2, 2, 2, 2)), Digits())
    with pytest.raises(ValueError, match="divisible"):
        UNet(mults=(1, 2))(torch.randn(1, 1, 7, 7), torch.zeros(1))
