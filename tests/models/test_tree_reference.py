"""The benchmark references (plain NumPy BP, log-space torch BP) agree with the Numba kernel."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from physgen.models import TreeGrammar

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "_reference_bp.py"
_spec = importlib.util.spec_from_file_location("_reference_bp", _PATH)
ref = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ref)


@pytest.mark.parametrize(
    "grammar",
    [
        TreeGrammar.paper(),
        TreeGrammar(q=3, depth=2, q_eff=3, branching=3, seed=1),
        TreeGrammar.rhm(v=4, m=2, branching=2, depth=3, seed=2),
    ],
    ids=["paper", "s3", "rhm"],
)
def test_references_match_kernel(grammar):
    torch.set_num_threads(1)
    h = 3.0 * np.random.default_rng(0).standard_normal((9, grammar.seq_len, grammar.q))
    marg, log_z = grammar.posterior(h)
    m_np, z_np = ref.bp_numpy(grammar.transition, h)
    m_t, z_t = ref.bp_torch_log(grammar.transition, torch.from_numpy(h))
    np.testing.assert_allclose(m_np, marg, atol=1e-12)
    np.testing.assert_allclose(z_np, log_z, rtol=1e-12)
    np.testing.assert_allclose(m_t.numpy(), marg, atol=1e-12)
    np.testing.assert_allclose(z_t.numpy(), log_z, rtol=1e-12)
