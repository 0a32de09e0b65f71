"""NetDenoiser: the network behind the common ``denoise(x_t, alpha_bar)`` signature."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from physgen.diffusion import Schedule
from physgen.errors import PhysgenError
from physgen.nets import NetDenoiser, SequenceTransformer, resolve_device

torch.set_num_threads(1)
SCHEDULE = Schedule.linear(500)


class _Recorder(nn.Module):
    """Returns a fixed linear map of x_t and records the steps it was called with."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(2.0))
        self.seen: list[torch.Tensor] = []

    def forward(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        self.seen.append(t.clone())
        return self.scale * x_t


def _tiny(device: str) -> SequenceTransformer:
    torch.manual_seed(0)
    return SequenceTransformer(4, 3, width=16, layers=1, heads=2, ff=32).to(device)


def test_logits_denoiser_is_softmax_of_forward(device):
    net = _tiny(device)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((9, 4, 3))
    t_grid = np.array([1, 3, 50, 75, 100, 200, 300, 400, 500])
    a = SCHEDULE.alpha_bar[t_grid]
    den = NetDenoiser(net, SCHEDULE, "logits", device=device, batch_size=4)
    got = den.denoise(x, a)
    assert got.dtype == np.float64 and got.shape == x.shape
    with torch.no_grad():
        logits = net(
            torch.tensor(x, dtype=torch.float32, device=device),
            torch.tensor(t_grid, dtype=torch.float32, device=device),
        )
    manual = torch.softmax(logits.double(), dim=-1).cpu().numpy()
    np.testing.assert_allclose(got, manual, atol=1e-5)
    np.testing.assert_allclose(got.sum(-1), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.exp(den.log_denoise(x, a)), got, atol=1e-12)


def test_chunking_and_scalar_alpha_bar(device):
    net = _tiny(device)
    x = np.random.default_rng(1).standard_normal((10, 4, 3))
    a = float(SCHEDULE.alpha_bar[75])
    one = NetDenoiser(net, SCHEDULE, device=device, batch_size=1).denoise(x, a)
    many = NetDenoiser(net, SCHEDULE, device=device).denoise(x, np.full(10, a))
    np.testing.assert_allclose(one, many, atol=1e-5)


def test_step_fed_to_the_network_matches_the_grid():
    net = _Recorder()
    den = NetDenoiser(net, SCHEDULE, "x0", device="cpu")
    t = np.array([0, 1, 77, 500])
    den.denoise(np.zeros((4, 2)), SCHEDULE.alpha_bar[t])
    np.testing.assert_allclose(net.seen[0].numpy(), t, atol=1e-3)


def test_x0_and_eps_outputs():
    net = _Recorder()
    x = np.random.default_rng(2).standard_normal((3, 5))
    a = np.array([0.9, 0.5, 0.1])
    np.testing.assert_allclose(NetDenoiser(net, SCHEDULE, "x0").denoise(x, a), 2 * x, rtol=1e-6)
    eps_hat = 2 * x
    tweedie = (x - np.sqrt(1 - a)[:, None] * eps_hat) / np.sqrt(a)[:, None]
    den = NetDenoiser(net, SCHEDULE, "eps")
    np.testing.assert_allclose(den.denoise(x, a), tweedie, rtol=1e-6)
    score = (np.sqrt(a)[:, None] * tweedie - x) / (1 - a)[:, None]
    np.testing.assert_allclose(den.score(x, a), score, rtol=1e-6)
    with pytest.raises(PhysgenError, match="log_denoise"):
        den.log_denoise(x, a)


def test_training_flag_restored():
    net = _tiny("cpu").train()
    NetDenoiser(net, SCHEDULE).denoise(np.zeros((2, 4, 3)), 0.5)
    assert net.training
    net.eval()
    NetDenoiser(net, SCHEDULE).denoise(np.zeros((2, 4, 3)), 0.5)
    assert not net.training


def test_bad_arguments():
    with pytest.raises(PhysgenError, match="output"):
        NetDenoiser(_Recorder(), SCHEDULE, "probs")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="alpha_bar"):
        NetDenoiser(_Recorder(), SCHEDULE, "x0").denoise(np.zeros((2, 3)), np.ones(3))


def test_resolve_device():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(PhysgenError, match="CUDA is not available"):
            resolve_device("cuda")
    with pytest.raises(PhysgenError, match="invalid torch device"):
        resolve_device("abacus")
