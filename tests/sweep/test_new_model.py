"""The README's worked example: a new toy model defined here, registered, and swept by a spec.

Independent Ising spins in a field: :math:`x_0 \\in \\{-1, +1\\}^d` with independent coordinates,
:math:`P(x_{0,i} = +1) = (1 + \\tanh h)/2`. Under VP noising the posterior of each spin is
exact: :math:`E[x_{0,i} \\mid x_t] = \\tanh\\!\\big(h + \\sqrt{\\bar\\alpha}\\, x_{t,i} / (1-\\bar\\alpha)\\big)`
(log-odds :math:`2h` from the prior plus :math:`2\\sqrt{\\bar\\alpha}\\,x_{t,i}/(1-\\bar\\alpha)` from the
Gaussian likelihood).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from physgen.io import missing_cf_attrs, open_results
from physgen.models.base import DataModel, as_alpha_bar
from physgen.registry import register_model
from physgen.rng import sample_generator
from physgen.sweep import run_sweep


@register_model("ising_spins")
class IsingSpins(DataModel):
    """``dim`` independent ±1 spins in the field ``field`` (event shape ``(dim,)``)."""

    def __init__(self, dim: int = 4, field: float = 0.5) -> None:
        if dim < 1:
            raise ValueError(f"dim must be ≥ 1, got {dim}")
        self.dim, self.field = dim, field
        self.event_shape = (dim,)

    def sample(self, n: int, seed: int) -> np.ndarray:
        """``(n, dim)`` spins; sample ``i`` depends only on ``(seed, i)``."""
        p_up = (1.0 + np.tanh(self.field)) / 2.0
        rows = [sample_generator(seed, i).random(self.dim) < p_up for i in range(n)]
        return np.where(np.asarray(rows).reshape(n, self.dim), 1.0, -1.0)

    def denoise(self, x_t: np.ndarray, alpha_bar: float | np.ndarray) -> np.ndarray:
        """Exact posterior mean, shape ``(n, dim)``."""
        a = as_alpha_bar(alpha_bar, x_t.shape[0])[:, None]
        with np.errstate(divide="ignore"):
            return np.tanh(self.field + np.sqrt(a) * x_t / (1.0 - a))

    def params(self) -> dict[str, float]:
        return {"dim": self.dim, "field": self.field}


SPEC = """
[model]
name = "ising_spins"
field = 0.5

[data]
n_test = 64
n_pairs = 1
n_seed_pairs = 0

[diffusion]
T = 100

[net]
kind = "mlp"
width = 16
layers = 1

[train]
steps = 40
batch_size = 16
n_checkpoints = 3
device = "cpu"

[metrics]
n_eval = 32
n_generate = 16
kl_t_points = 3
sample_checkpoints = 1

[sweep]
title = "Ising spins"
plot = false

[grid]
"model.dim" = [2, 5]
"""


def test_denoiser_is_the_posterior_mean() -> None:
    """Against Bayes' rule by brute-force enumeration of the 2^d spin states."""
    import itertools

    model = IsingSpins(dim=3, field=0.3)
    states = np.array(list(itertools.product([-1.0, 1.0], repeat=3)))
    prior = np.exp(model.field * states.sum(1))
    x_t = np.random.default_rng(0).standard_normal((5, 3))
    for a in (0.05, 0.5, 0.95):
        loglik = -((x_t[:, None, :] - np.sqrt(a) * states) ** 2).sum(-1) / (2 * (1 - a))
        w = prior * np.exp(loglik - loglik.max(1, keepdims=True))
        want = (w @ states) / w.sum(1, keepdims=True)
        np.testing.assert_allclose(model.denoise(x_t, a), want, rtol=1e-12, atol=1e-12)
    spins = model.sample(4000, seed=1)
    assert set(np.unique(spins)) == {-1.0, 1.0}
    assert abs(spins.mean() - np.tanh(0.3)) < 0.05


def test_a_new_model_sweeps_by_name(tmp_path: Path) -> None:
    spec = tmp_path / "spins.toml"
    spec.write_text(SPEC)
    result = run_sweep(spec, tmp_path / "out")
    assert result.computed == ["dim=2", "dim=5"]
    ds = open_results(tmp_path / "out")
    assert ds["dim"].values.tolist() == [2, 5]
    assert ds["tau_test"].dims == ("dim", "pair", "weights")
    assert "checkpoint" in ds["eps_test_loss"].dims
    assert missing_cf_attrs(ds) == []
