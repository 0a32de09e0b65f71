"""Training-step cost of :func:`physgen.train.train` against a minimal plain-PyTorch loop.

Both run the same network (``SequenceTransformer``, width 64, 2 layers, 4 heads, ff 128: the
default ``NetConfig``) from the same initial weights on the same data (paper grammar q = 6,
q_eff = 4, depth L = 3, so N = 8 tokens; n = 250 training sequences), batch 64, Adam 1e-3, T = 500,
one torch thread. The plain loop does only what any DDPM training step needs: draw indices, steps
and noise, noise the batch, forward, per-token cross-entropy, backward, Adam step (PyTorch's
default per-tensor Adam, and, as a second reference, the fused Adam that physgen uses). physgen's loop
adds the weight average (decay 0.999), the checkpoint bookkeeping (25 checkpoints, a loss read-out
at each) and the LR hook; it is also measured with the average off. Variants are interleaved and
repeated; the table gives the median time per step (wall clock and process CPU time, the latter
robust to other processes sharing the cores) and the ratio to the plain loop.

Run: ``python benchmarks/bench_train.py [--steps 1500] [--repeats 5]``.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from physgen.config import NetConfig, TrainConfig
from physgen.diffusion import Schedule
from physgen.models import TreeGrammar
from physgen.nets import build_net
from physgen.train import train


def plain_loop(
    net: torch.nn.Module,
    x0: np.ndarray,
    schedule: Schedule,
    steps: int,
    batch: int,
    fused: bool = False,
) -> None:
    """The reference: a minimal DDPM cross-entropy training loop in plain PyTorch."""
    data = torch.as_tensor(x0, dtype=torch.float32)
    target = data.argmax(-1)
    sab = torch.as_tensor(np.sqrt(schedule.alpha_bar), dtype=torch.float32)
    s1ab = torch.as_tensor(np.sqrt(1 - schedule.alpha_bar), dtype=torch.float32)
    gen = torch.Generator().manual_seed(0)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, fused=fused)
    n, (N, q) = data.shape[0], data.shape[1:]
    for _ in range(steps):
        idx = torch.randint(n, (batch,), generator=gen)
        t = torch.randint(1, schedule.T + 1, (batch,), generator=gen)
        eps = torch.randn((batch, N, q), generator=gen)
        x_t = sab[t, None, None] * data[idx] + s1ab[t, None, None] * eps
        loss = F.cross_entropy(net(x_t, t.float()).reshape(-1, q), target[idx].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    model = TreeGrammar(q=6, depth=3, q_eff=4, sigma=1.0, seed=0)
    x0 = model.encode(model.sample(250, seed=1))
    schedule = Schedule.linear(500)
    net0 = build_net(NetConfig(), model, seed=0)

    def physgen_run(ema: float) -> Callable[[int], None]:
        def run(steps: int) -> None:
            cfg = TrainConfig(
                steps=steps,
                batch_size=64,
                lr=1e-3,
                ema_decay=ema,
                n_checkpoints=min(25, steps),
                device="cpu",
                threads=args.threads,
            )
            train(copy.deepcopy(net0), x0, schedule, cfg, seed=0, callback=lambda s, d: None)

        return run

    variants: dict[str, Callable[[int], None]] = {
        "plain PyTorch loop": lambda steps: plain_loop(
            copy.deepcopy(net0), x0, schedule, steps, 64
        ),
        "plain PyTorch loop, fused Adam": lambda steps: plain_loop(
            copy.deepcopy(net0), x0, schedule, steps, 64, fused=True
        ),
        "physgen.train, EMA 0.999 (default)": physgen_run(0.999),
        "physgen.train, EMA off": physgen_run(0.0),
    }
    for run in variants.values():  # warm-up: allocator, kernels, first-call costs
        run(100)
    wall: dict[str, list[float]] = {k: [] for k in variants}
    cpu: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(args.repeats):
        for name, run in variants.items():
            w0, c0 = time.perf_counter(), time.process_time()
            run(args.steps)
            wall[name].append((time.perf_counter() - w0) / args.steps * 1e3)
            cpu[name].append((time.process_time() - c0) / args.steps * 1e3)

    ref_w = statistics.median(wall["plain PyTorch loop"])
    ref_c = statistics.median(cpu["plain PyTorch loop"])
    print(
        f"steps per run {args.steps}, repeats {args.repeats}, threads {args.threads}, "
        f"torch {torch.__version__}, {sum(p.numel() for p in net0.parameters())} parameters\n"
    )
    print("| loop | ms/step (wall) | ms/step (CPU) | ratio (wall) | ratio (CPU) | steps/s (CPU) |")
    print("|---|---|---|---|---|---|")
    for name in variants:
        w, c = statistics.median(wall[name]), statistics.median(cpu[name])
        print(f"| {name} | {w:.2f} | {c:.2f} | {w / ref_w:.3f} | {c / ref_c:.3f} | {1e3 / c:.0f} |")


if __name__ == "__main__":
    main()
