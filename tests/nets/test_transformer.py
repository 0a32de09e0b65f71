"""SequenceTransformer and the sinusoidal time embedding."""

from __future__ import annotations

import math

import pytest
import torch

from physgen.nets import SequenceTransformer, SinusoidalEmbedding, sinusoidal_embedding

torch.set_num_threads(1)


def _count(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def _expected_count(N: int, q: int, w: int, layers: int, f: int, d_tau: int) -> int:
    per_layer = (4 * w * w + 4 * w) + (2 * w * f + f + w) + 4 * w
    return (q + 1) * w + N * w + (d_tau + 1) * w + layers * per_layer + (w + 1) * q


@pytest.mark.parametrize(
    ("B", "N", "q", "width", "layers", "heads", "norm_first"),
    [(1, 4, 3, 16, 1, 2, False), (5, 8, 6, 32, 2, 4, True), (3, 16, 6, 64, 3, 8, False)],
)
def test_shapes(B, N, q, width, layers, heads, norm_first, device):
    net = SequenceTransformer(
        N, q, width=width, layers=layers, heads=heads, ff=2 * width, norm_first=norm_first
    ).to(device)
    out = net(torch.randn(B, N, q, device=device), torch.rand(B, device=device) * 500)
    assert out.shape == (B, N, q)
    assert torch.isfinite(out).all()


def test_paper_parameter_count():
    net = SequenceTransformer.paper(16, 6)
    assert _count(net) == _expected_count(16, 6, 512, 8, 1024, 32) == 16_854_022
    assert abs(_count(net) - 16.9e6) < 0.1e6


@pytest.mark.parametrize(("N", "q", "w", "layers", "f"), [(8, 6, 64, 2, 128), (4, 3, 16, 3, 40)])
def test_parameter_count_formula(N, q, w, layers, f):
    net = SequenceTransformer(N, q, width=w, layers=layers, heads=4, ff=f, time_dim=32)
    assert _count(net) == _expected_count(N, q, w, layers, f, 32)


def test_every_parameter_gets_a_gradient():
    torch.manual_seed(0)
    net = SequenceTransformer(4, 3, width=16, layers=2, heads=2, ff=32)
    net(torch.randn(6, 4, 3), torch.rand(6) * 100).square().sum().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_output_depends_on_time_and_position():
    torch.manual_seed(0)
    net = SequenceTransformer(4, 3, width=16, layers=1, heads=2, ff=32).eval()
    x = torch.randn(1, 4, 3).expand(2, 4, 3)
    with torch.no_grad():
        out = net(x, torch.tensor([10.0, 400.0]))
        assert not torch.allclose(out[0], out[1])
        # the same token at every position: only the positional embedding tells them apart
        same = net(torch.ones(1, 4, 3), torch.tensor([5.0]))
        assert not torch.allclose(same[0, 0], same[0, 1])


def test_heads_must_divide_width():
    with pytest.raises(ValueError, match="divisible"):
        SequenceTransformer(4, 3, width=10, heads=4)


def test_time_embedding_closed_form():
    t = torch.tensor([0.0, 1.0, 37.5, 499.0])
    e = sinusoidal_embedding(t, 8)
    h = 4
    for j, tj in enumerate(t.tolist()):
        for k in range(h):
            omega = 10_000.0 ** (-k / h)
            assert e[j, k].item() == pytest.approx(math.sin(omega * tj), abs=1e-5)
            assert e[j, h + k].item() == pytest.approx(math.cos(omega * tj), abs=1e-5)


def test_time_embedding_properties():
    t = torch.arange(0, 501, dtype=torch.float32)
    e = SinusoidalEmbedding(32)(t)
    assert e.shape == (501, 32)
    assert e.abs().max() <= 1.0
    torch.testing.assert_close(e.square().sum(-1), torch.full((501,), 16.0))
    torch.testing.assert_close(e[0], torch.cat([torch.zeros(16), torch.ones(16)]))
    # distinct integer steps have distinct embeddings, well separated
    d = torch.cdist(e, e) + torch.eye(501) * 10
    assert d.min() > 0.1


def test_time_embedding_rejects_odd_dim():
    with pytest.raises(ValueError, match="even"):
        SinusoidalEmbedding(7)
