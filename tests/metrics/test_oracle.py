"""The model–oracle ladder: exact identities of the oracles against themselves."""

from __future__ import annotations

import numpy as np
import pytest

from physgen.errors import PhysgenError
from physgen.metrics import Bound, denoiser_divergence, frozen_noise, oracle_ladder, root_only_kl


@pytest.fixture(scope="module")
def inputs(toy, schedule):
    x0 = toy.encode(toy.sample(200, 11))
    fz = frozen_noise(x0, schedule, seed=12, t=int(0.15 * schedule.T))
    return fz.x_t, fz.alpha_bar


def test_exact_oracle_as_model_gives_zero_d0(toy, inputs) -> None:
    ladder = oracle_ladder(toy, toy, *inputs)
    assert ladder.shape == (toy.depth + 1,)
    assert ladder[0] == 0.0
    assert ladder[1] > 0.01


def test_filtered_oracle_as_model_gives_zero_dk(toy, inputs) -> None:
    bp1 = Bound(toy, filtered_levels=1)
    ladder = oracle_ladder(bp1, toy, *inputs, batch_size=64)
    assert ladder[1] == 0.0
    assert ladder[0] == pytest.approx(root_only_kl(toy, *inputs), rel=1e-12)
    assert ladder[0] == pytest.approx(denoiser_divergence(toy, bp1, *inputs), rel=1e-12)


def test_levels_option_and_missing_depth(toy, inputs) -> None:
    np.testing.assert_array_equal(
        oracle_ladder(toy, toy, *inputs, levels=[1]), oracle_ladder(toy, toy, *inputs)[1:]
    )

    class NoDepth:
        def denoise(self, x_t, alpha_bar, filtered_levels=0):
            return toy.denoise(x_t, alpha_bar, filtered_levels)

    with pytest.raises(PhysgenError, match="no 'depth'"):
        oracle_ladder(toy, NoDepth(), *inputs)
