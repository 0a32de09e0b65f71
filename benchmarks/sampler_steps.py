r"""How many respaced sampler steps the sample-based diagnostics need: the exact denoiser as oracle.

The tree experiment draws its coupled samples by DDPM on ``metrics.sample_steps`` evenly
respaced steps (DDIM with η = 1). A sampler too coarse for the *exact* denoiser (belief
propagation, :class:`physgen.metrics.Bound` with all levels) would make a learned network's
samples look invalid or unlikely for reasons that have nothing to do with the network. This
samples BP of the paper grammar (q = 6, q_eff = 4, σ = 1, grammar seed 0, T = 500, linear
schedule) at each step count and prints, per depth and step count: the valid fraction, the mean
log-likelihood of the valid samples with its standard error, and the fraction of distinct
sequences; the last row is the model's own sampler (i.i.d. draws of the grammar).

    python benchmarks/sampler_steps.py --n 4000 --steps 25 50 500
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from physgen.config import ExperimentConfig
from physgen.diffusion import coupled_sample
from physgen.metrics import Bound


def summary(model: object, tokens: np.ndarray) -> tuple[float, float, float, float]:
    """Valid fraction, mean log-likelihood of the valid sequences and its standard error, and
    the fraction of distinct sequences among ``tokens`` ``(n, N)``."""
    logp = np.asarray(model.log_prob(tokens), dtype=np.float64)  # type: ignore[attr-defined]
    ok = np.isfinite(logp)
    valid = logp[ok]
    distinct = len({row.tobytes() for row in np.ascontiguousarray(tokens)}) / len(tokens)
    return float(ok.mean()), float(valid.mean()), float(valid.std() / np.sqrt(valid.size)), distinct


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4000, help="samples per row")
    parser.add_argument("--steps", type=int, nargs="+", default=[25, 50, 500])
    parser.add_argument("--depths", type=int, nargs="+", default=[3, 4])
    args = parser.parse_args()
    print("| depth | sampler | valid | mean log p (SE) | distinct | seconds |")
    print("|---|---|---|---|---|---|")
    for depth in args.depths:
        grammar = {"name": "tree", "q": 6, "q_eff": 4, "sigma": 1.0, "seed": 0, "depth": depth}
        cfg = ExperimentConfig.from_dict(
            {"model": grammar, "diffusion": {"T": 500, "schedule": "linear"}}
        )
        model, schedule = cfg.model.build(), cfg.diffusion.build()
        exact = Bound(model, filtered_levels=0)
        for steps in args.steps:
            if steps < schedule.T:
                options: dict[str, object] = {"sampler": "ddim", "eta": 1.0, "steps": steps}
                label = f"DDIM η=1, {steps} steps"
            else:
                options, label = {"sampler": "ddpm"}, f"DDPM, all {schedule.T} steps"
            tic = time.perf_counter()
            x = coupled_sample([exact], schedule, args.n, model.event_shape, 123, **options)[0]
            seconds = time.perf_counter() - tic
            valid, mean, se, distinct = summary(model, np.asarray(model.decode(x)))
            print(
                f"| {depth} | {label} | {valid:.4f} | {mean:.3f} ({se:.3f}) | {distinct:.3f} "
                f"| {seconds:.1f} |"
            )
        valid, mean, se, distinct = summary(model, np.asarray(model.sample(args.n, seed=1)))
        print(
            f"| {depth} | grammar (i.i.d.) | {valid:.4f} | {mean:.3f} ({se:.3f}) | {distinct:.3f} | |"
        )


if __name__ == "__main__":
    main()
