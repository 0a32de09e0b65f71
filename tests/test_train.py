"""Training loop: checkpoints, LR schedule, weight average, determinism, checkpoint files."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from physgen.config import TrainConfig
from physgen.diffusion import Schedule
from physgen.errors import PhysgenError
from physgen.nets import MLPDenoiser, NetDenoiser, SequenceTransformer
from physgen.train import checkpoint_steps, load_checkpoint, lr_factors, save_checkpoint, train

torch.set_num_threads(1)
SCHEDULE = Schedule.linear(100)


def _tokens(n: int, N: int = 4, q: int = 3, seed: int = 0) -> np.ndarray:
    return np.eye(q)[np.random.default_rng(seed).integers(0, q, (n, N))]


def _net(seed: int = 0) -> SequenceTransformer:
    torch.manual_seed(seed)
    return SequenceTransformer(4, 3, width=16, layers=1, heads=2, ff=32, time_dim=8)


def _cfg(**kw) -> TrainConfig:
    base = dict(steps=20, batch_size=8, lr=3e-3, n_checkpoints=4, device="cpu", ema_decay=0.0)
    return TrainConfig(**{**base, **kw})


def _state(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


@pytest.mark.parametrize(("steps", "n"), [(24_000, 25), (30, 25), (5, 5), (1000, 2), (7, 20)])
def test_checkpoint_steps(steps, n):
    c = checkpoint_steps(steps, n)
    assert c.size == min(n, steps)
    assert c[0] == 1 and c[-1] == steps
    assert np.all(np.diff(c) > 0)


def test_checkpoint_steps_are_log_spaced():
    c = checkpoint_steps(24_000, 25)
    ratios = np.diff(np.log(c[8:]))  # past the dense integer start
    np.testing.assert_allclose(ratios, np.log(24_000) / 24, rtol=0.05)


def test_lr_factors_key_values():
    np.testing.assert_array_equal(lr_factors(50, "constant"), np.ones(50))
    f = lr_factors(4000, "paper")  # warm-down over w = 10 updates
    assert f.shape == (4000,)
    assert f[0] == 1.0
    assert f[5] == pytest.approx(0.75)
    assert f[10] == pytest.approx(0.5)
    assert f[10 + 1995] == pytest.approx(0.3)  # cosine midpoint between 0.5 and 0.1
    assert f[-1] == pytest.approx(0.1, abs=1e-6)
    assert np.all(np.diff(f) < 0)
    with pytest.raises(PhysgenError, match="lr_schedule"):
        lr_factors(10, "step")


def test_callback_steps_and_loss_record():
    seen: list[int] = []
    res = train(
        _net(),
        _tokens(16),
        SCHEDULE,
        _cfg(n_checkpoints=6),
        seed=0,
        callback=lambda s, d: seen.append(s),
    )
    np.testing.assert_array_equal(seen, checkpoint_steps(20, 6))
    np.testing.assert_array_equal(res.steps, seen)
    assert res.train_loss.shape == (6,) and np.all(np.isfinite(res.train_loss))
    assert res.ema is None and res.denoiser.net is res.net


def test_deterministic_on_cpu():
    a = train(_net(1), _tokens(16), SCHEDULE, _cfg(lr_schedule="paper", ema_decay=0.9), seed=5)
    b = train(_net(1), _tokens(16), SCHEDULE, _cfg(lr_schedule="paper", ema_decay=0.9), seed=5)
    c = train(_net(1), _tokens(16), SCHEDULE, _cfg(lr_schedule="paper", ema_decay=0.9), seed=6)
    for k, v in a.net.state_dict().items():
        assert torch.equal(v, b.net.state_dict()[k])
    for k, v in a.ema.state_dict().items():
        assert torch.equal(v, b.ema.state_dict()[k])
    assert not all(torch.equal(v, c.net.state_dict()[k]) for k, v in a.net.state_dict().items())


def test_ema_equals_manual_average():
    steps, decay = 6, 0.8
    raw = []
    init = _state(_net(2))
    train(
        _net(2),
        _tokens(16),
        SCHEDULE,
        _cfg(steps=steps, n_checkpoints=steps),
        seed=3,
        callback=lambda s, d: raw.append(_state(d.net)),
    )
    res = train(_net(2), _tokens(16), SCHEDULE, _cfg(steps=steps, ema_decay=decay), seed=3)
    for k in init:
        avg = init[k].double()
        for w in raw:
            avg = decay * avg + (1 - decay) * w[k].double()
        torch.testing.assert_close(res.ema.state_dict()[k].double(), avg, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(res.net.state_dict()[k], raw[-1][k])
    assert res.denoiser.net is res.ema


def test_paper_schedule_changes_the_trajectory():
    a = train(_net(), _tokens(16), SCHEDULE, _cfg(), seed=0)
    b = train(_net(), _tokens(16), SCHEDULE, _cfg(lr_schedule="paper"), seed=0)
    assert not torch.equal(a.net.output.weight, b.net.output.weight)


def test_training_reduces_cross_entropy():
    x0 = _tokens(2, seed=4)  # two sequences: learnable to near-zero loss at small noise
    res = train(
        _net(), x0, SCHEDULE, _cfg(steps=150, batch_size=32, lr=1e-2, n_checkpoints=3), seed=0
    )
    assert res.train_loss[-1] < 0.6 * res.train_loss[0]
    den = res.denoiser
    probs = den.denoise(np.sqrt(SCHEDULE.alpha_bar[2]) * x0, SCHEDULE.alpha_bar[2])
    assert np.all(probs.argmax(-1) == x0.argmax(-1))


@pytest.mark.parametrize("loss", ["mse_x0", "mse_eps"])
def test_training_reduces_mse(loss):
    torch.manual_seed(0)
    net = MLPDenoiser(2, hidden=16, layers=1, time_dim=8)
    x0 = np.array([[1.0, -1.0], [-1.0, 1.0]])
    res = train(
        net,
        x0,
        SCHEDULE,
        _cfg(steps=150, batch_size=32, lr=1e-2, n_checkpoints=3),
        loss=loss,
        seed=0,
    )
    assert res.train_loss[-1] < 0.7 * res.train_loss[0]
    assert isinstance(res.denoiser, NetDenoiser) and res.denoiser.output == loss[4:]


def test_runs_on_the_requested_device(device):
    res = train(_net(), _tokens(16), SCHEDULE, _cfg(steps=10, ema_decay=0.9, device=device), seed=0)
    assert next(res.ema.parameters()).device.type == torch.device(device).type
    assert np.all(np.isfinite(res.train_loss))
    assert res.denoiser.denoise(np.zeros((2, 4, 3)), 0.5).shape == (2, 4, 3)


def test_thread_count_restored():
    torch.set_num_threads(1)
    train(_net(), _tokens(8), SCHEDULE, _cfg(steps=2, n_checkpoints=2, threads=2), seed=0)
    assert torch.get_num_threads() == 1


def test_bad_inputs():
    with pytest.raises(PhysgenError, match="one-hot"):
        train(_net(), np.full((4, 4, 3), 0.5), SCHEDULE, _cfg(), seed=0)
    with pytest.raises(PhysgenError, match="loss"):
        train(_net(), _tokens(4), SCHEDULE, _cfg(), loss="l1", seed=0)  # type: ignore[arg-type]


def test_checkpoint_round_trip(tmp_path):
    net = _net(3)
    meta = {"step": 12, "split": 1, "config": {"lr": 0.001}}
    path = save_checkpoint(tmp_path / "sub" / "net.pt", net, meta)
    other = _net(4)
    state, got = load_checkpoint(path, other)
    assert got == meta
    for k, v in net.state_dict().items():
        assert torch.equal(state[k], v) and torch.equal(other.state_dict()[k], v)
    # the file opens under the safe loader and nothing else is left in the folder
    assert set(torch.load(path, weights_only=True)) == {"state_dict", "meta_json"}
    assert [p.name for p in path.parent.iterdir()] == ["net.pt"]


def test_checkpoint_errors(tmp_path):
    with pytest.raises(PhysgenError, match="JSON"):
        save_checkpoint(tmp_path / "a.pt", _net(), {"bad": object()})
    torch.save({"x": torch.zeros(1)}, tmp_path / "b.pt")
    with pytest.raises(PhysgenError, match="not a physgen checkpoint"):
        load_checkpoint(tmp_path / "b.pt")
    (tmp_path / "c.pt").write_bytes(b"garbage")
    with pytest.raises(PhysgenError, match="not a physgen checkpoint"):
        load_checkpoint(tmp_path / "c.pt")


def test_callback_may_snapshot_the_denoiser():
    snaps: list[NetDenoiser] = []
    train(
        _net(),
        _tokens(8),
        SCHEDULE,
        _cfg(ema_decay=0.5),
        seed=0,
        callback=lambda s, d: snaps.append(copy.deepcopy(d)),
    )
    x = np.zeros((1, 4, 3))
    assert not np.allclose(snaps[0].denoise(x, 0.5), snaps[-1].denoise(x, 0.5))


@pytest.mark.slow
def test_transformer_learns_the_tree_beyond_the_root_only_oracle():
    """≈1 min: on the depth-2 paper grammar the trained x̂0 at t = 0.15 T gets closer to the exact
    posterior BP_0 than the root-only oracle BP_L is (it has learned correlations below the root)."""
    from physgen.config import NetConfig
    from physgen.models import TreeGrammar
    from physgen.nets import build_net

    model, sched = TreeGrammar(q=6, depth=2), Schedule.linear(500)
    x0 = model.encode(model.sample(4000, seed=1))
    a = sched.alpha_bar[75]
    clean = model.encode(model.sample(500, seed=2))
    x_t = np.sqrt(a) * clean + np.sqrt(1 - a) * np.random.default_rng(3).standard_normal(
        clean.shape
    )
    exact = model.denoise(x_t, a)

    def kl(log_q: np.ndarray) -> float:
        return float((exact * (np.log(np.clip(exact, 1e-8, None)) - log_q)).sum((1, 2)).mean())

    root_only = kl(np.log(np.clip(model.denoise(x_t, a, filtered_levels=2), 1e-8, None)))
    curve: list[float] = []
    net = build_net(NetConfig(width=32, heads=4, ff=64), model, seed=0)
    cfg = TrainConfig(steps=2000, lr=2e-3, n_checkpoints=3, device="cpu", ema_decay=0.99)
    train(
        net, x0, sched, cfg, seed=0, callback=lambda s, d: curve.append(kl(d.log_denoise(x_t, a)))
    )
    assert curve[0] > 5 * root_only
    assert curve[-1] < 0.9 * root_only
