"""MLPDenoiser and the network builders."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from physgen.config import NetConfig
from physgen.errors import ConfigError
from physgen.nets import NET_BUILDERS, MLPDenoiser, SequenceTransformer, build_net

torch.set_num_threads(1)


@pytest.mark.parametrize(
    ("B", "d", "hidden", "layers"), [(1, 2, 8, 1), (7, 10, 32, 3), (4, 64, 16, 0)]
)
def test_shapes(B, d, hidden, layers, device):
    net = MLPDenoiser(d, hidden=hidden, layers=layers, time_dim=8).to(device)
    out = net(torch.randn(B, d, device=device), torch.rand(B, device=device) * 100)
    assert out.shape == (B, d)


def test_gradients_and_time_dependence():
    torch.manual_seed(0)
    net = MLPDenoiser(3, hidden=16, layers=2, time_dim=8)
    x = torch.randn(1, 3).expand(2, 3)
    out = net(x, torch.tensor([1.0, 300.0]))
    assert not torch.allclose(out[0], out[1])
    out.square().sum().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


class _Tokens:
    event_shape = (8, 6)
    vocab_size = 6


class _Vectors:
    event_shape = (5,)
    vocab_size = None


def test_build_net_dispatch():
    tr = build_net(NetConfig(kind="transformer", width=32, heads=4), _Tokens())
    assert isinstance(tr, SequenceTransformer)
    assert tr(torch.zeros(2, 8, 6), torch.ones(2)).shape == (2, 8, 6)
    mlp = build_net(NetConfig(kind="mlp", width=16, layers=2), _Vectors())
    assert isinstance(mlp, MLPDenoiser)
    assert mlp(torch.zeros(2, 5), torch.ones(2)).shape == (2, 5)
    assert {"transformer", "mlp"} <= set(NET_BUILDERS)


def test_build_net_seed_fixes_initial_weights_and_spares_global_stream():
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a = build_net(NetConfig(), _Tokens(), seed=7)
    assert torch.equal(torch.random.get_rng_state(), before)
    b = build_net(NetConfig(), _Tokens(), seed=7)
    c = build_net(NetConfig(), _Tokens(), seed=8)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


def test_build_net_errors():
    with pytest.raises(ConfigError, match=r"net\.kind"):
        build_net(NetConfig(kind="transformer"), _Vectors())
    with pytest.raises(ConfigError, match=r"net\.kind"):
        build_net(NetConfig(kind="mlp"), _Tokens())
    with pytest.raises(ConfigError, match="unknown network"):
        build_net(dataclasses.replace(NetConfig(), kind="nope"), _Vectors())


def test_mlp_param_count():
    net = MLPDenoiser(4, hidden=8, layers=2, time_dim=6)
    per_block = 2 * 8 + (8 * 8 + 8) + 6 * 8 + (8 * 8 + 8)
    expected = (4 * 8 + 8) + 2 * per_block + 2 * 8 + (8 * 4 + 4)
    assert sum(p.numel() for p in net.parameters()) == expected
