"""Cost of the evaluation at every checkpoint against the training time of the default cell.

The issue's budget: evaluating all checkpoints costs ≤ 25 % of the training time of the default
configuration (``ExperimentConfig()``). This trains network 0 of the default cell as
:func:`physgen.experiments.run_experiment` does (same recorder, same callback) and splits the wall
time into training and evaluation with :class:`physgen.train.TrainResult`'s ``callback_time``;
it also times the one-off set-up of the cell (frozen inputs, oracle curves, BP U-turn
references, shared by all networks) and the pairwise S of one pair after training.

With ``--rate-steps M`` the network trains only ``M`` steps (evaluated at the checkpoints that
fall inside them) to measure the training rate; the training time of the full run is that rate
times ``train.steps``, and the evaluation is then timed at *all* checkpoints of the default run
on the trained network (its cost does not depend on the weights). On a loaded machine this
gives the same ratio in a fraction of the time.

Run (one thread)::

    python benchmarks/bench_eval_cost.py                    # full default run of network 0
    python benchmarks/bench_eval_cost.py --rate-steps 600   # rate from 600 steps
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time

import numpy as np


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate-steps", type=int, default=None, help="train only this many steps")
    args = parser.parse_args(argv)

    from physgen.config import ExperimentConfig
    from physgen.experiments.plan import plan_cell
    from physgen.experiments.tree import TreeRecorder
    from physgen.nets import build_net
    from physgen.threads import pin_threads
    from physgen.train import train

    cfg = ExperimentConfig()
    pin_threads(cfg.train.threads)  # as a sweep worker pins them
    cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, device="cpu"))
    cell = plan_cell(cfg, cfg.model.build())
    model, schedule, nets, pairs, steps = (
        cell.model,
        cell.schedule,
        cell.nets,
        cell.pairs,
        cell.steps,
    )

    tic = time.perf_counter()
    rec = TreeRecorder(cfg, cell)
    setup = time.perf_counter() - tic

    index = {int(s): k for k, s in enumerate(steps)}
    per_checkpoint = np.zeros(steps.size)

    def callback(step: int, den: object) -> None:
        if int(step) not in index:  # a checkpoint of the shortened run only
            return
        k = index[int(step)]
        t0 = time.perf_counter()
        rec.evaluate(0, k, den)
        per_checkpoint[k] = time.perf_counter() - t0

    plan = nets[0]
    net = build_net(cfg.net, model, seed=plan.seed)
    x0 = model.encode(rec.train_tokens[plan.split])
    run_cfg = cfg.train
    if args.rate_steps is not None:
        run_cfg = dataclasses.replace(run_cfg, steps=args.rate_steps)
    result = train(net, x0, schedule, run_cfg, loss="ce", seed=plan.seed, callback=callback)
    training = (result.wall_time - result.callback_time) * cfg.train.steps / run_cfg.steps
    for k in range(steps.size):
        if per_checkpoint[k] == 0.0:  # not reached by the shortened run: time it now
            t0 = time.perf_counter()
            rec.evaluate(0, k, result.denoiser)
            per_checkpoint[k] = time.perf_counter() - t0
    evaluation = float(per_checkpoint.sum())

    rec.x_hat[1] = rec.x_hat[0]  # S needs two networks' outputs; its cost does not depend on them
    tic = time.perf_counter()
    rec.divergence(0, 1)
    pair_s = time.perf_counter() - tic

    n_net = len(nets)
    cell_training = n_net * training
    cell_eval = n_net * evaluation + setup + len(pairs) * pair_s
    mask = rec.sample_mask
    print(f"default cell: {n_net} networks × {cfg.train.steps} steps, {steps.size} checkpoints")
    if args.rate_steps is not None:
        print(f"training time extrapolated from {args.rate_steps} steps")
    print()
    print("| quantity | seconds | share of training |")
    print("|---|---|---|")
    print(
        f"| training, one network ({cfg.train.steps / training:.0f} steps/s) | {training:.1f} | |"
    )
    print(
        f"| evaluation at all {steps.size} checkpoints, one network | {evaluation:.1f} | "
        f"{evaluation / training:.1%} |"
    )
    print(f"| – mean per light checkpoint | {per_checkpoint[~mask].mean():.2f} | |")
    print(f"| – mean per sample checkpoint ({mask.sum()}) | {per_checkpoint[mask].mean():.2f} | |")
    print(f"| cell set-up (once per cell) | {setup:.1f} | |")
    print(f"| S of one pair after training | {pair_s:.2f} | |")
    print(
        f"| **whole cell: evaluation / training** | {cell_eval:.0f} / {cell_training:.0f} | "
        f"**{cell_eval / cell_training:.1%}** |"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
