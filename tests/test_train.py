"""Training loop: checkpoints, LR schedule, weight average, determinism, checkpoint files."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

from physgen.config import TrainConfig
from physgen.diffusion import Schedule
from physgen.errors import PhysgenError
from physgen.nets import MLPDenoiser, NetDenoiser, SequenceTransformer
from physgen.train import (
    ExponentialMovingAverage,
    checkpoint_steps,
    checkpoints_of,
    init_weight,
    load_checkpoint,
    lr_factors,
    ratio_subset,
    save_checkpoint,
    train,
)

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
    res = train(
        _net(2), _tokens(16), SCHEDULE, _cfg(steps=steps, ema_decay=decay, ema_warmup=False), seed=3
    )
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


class _Scalar(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.theta = torch.nn.Parameter(torch.zeros((), dtype=torch.float64))


def _averaged(thetas: np.ndarray, decay: float, warmup: bool) -> float:
    """Feed θ_0, θ_1, …, θ_S to the average; returns θ̄_S."""
    net = _Scalar()
    with torch.no_grad():
        net.theta.fill_(thetas[0])
    ema = ExponentialMovingAverage(net, decay, warmup)
    for value in thetas[1:]:
        with torch.no_grad():
            net.theta.fill_(value)
        ema.update()
    return float(ema.module.theta)


def test_ema_warmup_equals_telescoped_closed_form():
    # cap inactive (S = 60 < (10γ-1)/(1-γ)): w_0 = 10!(S+1)!/(S+10)!,
    # w_k = 9 (k+2)…(k+9) / ((S+2)…(S+10)) for k ≥ 1
    S = 60
    thetas = np.random.default_rng(0).standard_normal(S + 1)
    k = np.arange(1, S + 1)
    w = 9 * np.prod([k + i for i in range(2, 10)], axis=0) / np.prod([S + i for i in range(2, 11)])
    w0 = math.factorial(10) * math.factorial(S + 1) / math.factorial(S + 10)
    assert w0 + w.sum() == pytest.approx(1.0, rel=1e-12)
    expected = w0 * thetas[0] + w @ thetas[1:]
    assert _averaged(thetas, 0.9999, True) == pytest.approx(expected, rel=1e-12, abs=1e-14)
    assert init_weight(np.array([S]), 0.9999)[0] == pytest.approx(w0, rel=1e-9)
    np.testing.assert_array_equal(init_weight(np.array([0, 5]), 0.0), [1.0, 0.0])


@pytest.mark.parametrize("warmup", [True, False])
def test_ema_equals_weighted_sum_with_cap(warmup):
    # γ = 0.9: the warm-up reaches the cap at s = 81, so S = 200 covers both regimes
    S, decay = 200, 0.9
    thetas = np.random.default_rng(1).standard_normal(S + 1)
    s = np.arange(1, S + 1)
    g = np.minimum(decay, (1 + s) / (10 + s)) if warmup else np.full(S, decay)
    # w_k = (1 - γ_k) Π_{j>k} γ_j, with γ_0 ≡ 0 for the initial weights
    w = np.array([(1 - (g[k - 1] if k else 0.0)) * np.prod(g[k:]) for k in range(S + 1)])
    assert _averaged(thetas, decay, warmup) == pytest.approx(w @ thetas, rel=1e-12)
    assert init_weight(np.array([0, S]), decay, warmup) == pytest.approx([1.0, w[0]], rel=1e-9)
    # the warm-up removes the initialisation: Π γ_s ≈ 10!·81!/90! · 0.9^120 ≈ 1e-14
    assert w[0] < 1e-13 if warmup else w[0] == pytest.approx(decay**S)


def test_on_checkpoint_gets_raw_and_average():
    seen: dict[str, list] = {"ema": [], "raw": []}

    def record(step, dens):
        assert set(dens) == {"ema", "raw"}
        for name, den in dens.items():
            seen[name].append(_state(den.net))

    cfg = _cfg(ema_decay=0.9, eval_weights=("raw", "ema"), n_checkpoints=3)
    res = train(_net(4), _tokens(16), SCHEDULE, cfg, seed=0, on_checkpoint=record)
    assert res.denoisers["raw"].net is res.net and res.denoisers["ema"].net is res.ema
    assert len(seen["raw"]) == len(seen["ema"]) == res.steps.size
    for k, v in res.net.state_dict().items():
        torch.testing.assert_close(seen["raw"][-1][k], v)
        torch.testing.assert_close(seen["ema"][-1][k], res.ema.state_dict()[k])
    assert not torch.equal(res.net.output.weight, res.ema.output.weight)
    # no average: the "ema" weights are the raw ones (the average of horizon 0), kept once
    res0 = train(_net(4), _tokens(16), SCHEDULE, _cfg(eval_weights=("ema", "raw")), seed=0)
    assert list(res0.denoisers) == ["raw"] and res0.denoisers["raw"].net is res0.net


def test_checkpoint_nets_are_evaluated_without_mode_switches():
    """At a checkpoint every network is already in eval mode (a denoiser call then switches no
    modes), the averages stay there, and training resumes in training mode."""
    modes: list[tuple[bool, ...]] = []
    switches = []

    def record(step, dens):
        modes.append(tuple(den.net.training for den in dens.values()))
        before = [m.training for d in dens.values() for m in d.net.modules()]
        dens["raw"].denoise(np.full((2, 4, 3), 1 / 3), 0.5)
        switches.append(before != [m.training for d in dens.values() for m in d.net.modules()])

    cfg = _cfg(ema_decay=0.9, extra_ema_decays=(0.5,), eval_weights=("raw", "ema"))
    res = train(_net(4), _tokens(16), SCHEDULE, cfg, seed=0, on_checkpoint=record)
    assert modes == [(False, False, False)] * res.steps.size and not any(switches)
    assert res.net.training and not res.ema.training


def test_extra_averages_equal_runs_with_that_decay():
    """Several horizons in one run: the extra average of decay 0.5 equals the average of a run
    with ``ema_decay = 0.5`` (averaging does not touch the optimiser's trajectory)."""
    from physgen.train import weight_decays

    cfg = _cfg(ema_decay=0.9, extra_ema_decays=(0.5,), eval_weights=("raw", "ema"))
    assert weight_decays(cfg) == {"raw": 0.0, "ema": 0.9, "ema_0.5": 0.5}
    res = train(_net(4), _tokens(16), SCHEDULE, cfg, seed=0)
    assert list(res.denoisers) == ["raw", "ema", "ema_0.5"]
    ref = train(_net(4), _tokens(16), SCHEDULE, _cfg(ema_decay=0.5), seed=0)
    for k, v in ref.ema.state_dict().items():
        torch.testing.assert_close(res.denoisers["ema_0.5"].net.state_dict()[k], v)
    torch.testing.assert_close(res.net.state_dict(), ref.net.state_dict())


@pytest.mark.parametrize(
    ("steps", "n", "ratio", "window"),
    [
        (6000, 25, 1.3, None),
        (6000, 25, 1.3, (300, 6000)),
        (3000, 5, 1.2, (100, 1000)),
        (10, 2, 1.3, None),
    ],
)
def test_checkpoint_ratio_cap(steps, n, ratio, window):
    c = checkpoint_steps(steps, n, ratio, window)
    base = checkpoint_steps(steps, n)
    assert c[0] == 1 and c[-1] == steps and np.all(np.diff(c) > 0)
    lo, hi = window or (1, steps)
    assert set(base[(base <= lo) | (base >= hi)]) <= set(c)  # outside the window: untouched
    assert lo in c and hi in c
    gaps = (c[:-1] >= lo) & (c[1:] <= hi)  # every gap inside the window
    assert np.all((c[1:][gaps] / c[:-1][gaps] <= ratio) | (np.diff(c)[gaps] == 1))
    # a plain geometric grid at the cap would need about this many; the fill is not wasteful
    assert c.size <= base.size + np.log(hi / max(lo, 1)) / np.log(ratio) + 3


def test_checkpoints_of_config():
    cfg = TrainConfig(
        steps=6000, n_checkpoints=10, checkpoint_ratio=1.3, checkpoint_window=(500, 6000)
    )
    np.testing.assert_array_equal(checkpoints_of(cfg), checkpoint_steps(6000, 10, 1.3, (500, 6000)))
    np.testing.assert_array_equal(checkpoints_of(TrainConfig()), checkpoint_steps(6000, 25))
    with pytest.raises(PhysgenError, match="max_ratio"):
        checkpoint_steps(100, 5, 0.9)


@pytest.mark.parametrize(
    ("train_cfg", "key"),
    [
        ({"eval_weights": ["ema", "ema"]}, "train.eval_weights"),
        ({"eval_weights": []}, "train.eval_weights"),
        ({"eval_weights": ["best"]}, "train.eval_weights"),
        ({"checkpoint_ratio": 0.5}, "train.checkpoint_ratio"),
        ({"checkpoint_window": [100]}, "train.checkpoint_window"),
        ({"steps": 500, "checkpoint_window": [100, 600]}, "train.checkpoint_window"),
        ({"ema_warmup": 1}, "train.ema_warmup"),
    ],
)
def test_averaging_and_checkpoint_keys_validated(train_cfg, key):
    from physgen.config import ExperimentConfig
    from physgen.errors import ConfigError

    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        ExperimentConfig.from_dict({"train": train_cfg})


@pytest.mark.parametrize("ratio", [1.3, 2.0, 4.0])
def test_ratio_subset_brackets_within_the_ratio(ratio):
    steps = checkpoint_steps(6000, 25, 1.3)
    mask = ratio_subset(steps, ratio, start=60)
    chosen = steps[mask]
    assert chosen[-1] == 6000 and chosen[0] <= 60
    gaps = chosen[1:] / chosen[:-1]
    # within the ratio, or the two are neighbours on the grid
    idx = np.flatnonzero(mask)
    assert np.all((gaps <= ratio) | (np.diff(idx) == 1))
    # sparsest: dropping any inner member breaks the cap
    for k in range(1, chosen.size - 1):
        assert chosen[k + 1] / chosen[k - 1] > ratio
    with pytest.raises(PhysgenError, match="max_ratio"):
        ratio_subset(steps, 1.0)


def test_sample_ratio_key_validated():
    from physgen.config import ExperimentConfig
    from physgen.errors import ConfigError

    with pytest.raises(ConfigError, match=r"metrics\.sample_ratio"):
        ExperimentConfig.from_dict({"metrics": {"sample_ratio": 0.5}})
    assert (
        ExperimentConfig.from_dict({"metrics": {"sample_ratio": 2.0}}).metrics.sample_ratio == 2.0
    )
