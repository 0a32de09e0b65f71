"""A small exact token model for the metrics tests, defined here so the tests do not depend on
the tree model: a distribution over all q^N sequences (N = 4, q = 3), correlated across sites,
whose posterior mean is computed by enumerating the 81 sequences. ``filtered_levels=1`` gives the
independent-sites model with the same single-site marginals (a one-level "ladder")."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from physgen.diffusion import Schedule


class EnumeratedTokens:
    """Exact denoiser of an explicit distribution over token sequences.

    ``seqs``: ``(K, N)`` int; ``probs``: ``(K,)``. ``denoise(x_t, a, filtered_levels=0)``:
    exact posterior mean; ``filtered_levels=1``: posterior of the product of the marginals.
    """

    depth = 1

    def __init__(self, seqs: np.ndarray, probs: np.ndarray, q: int) -> None:
        self.seqs = np.asarray(seqs)
        self.probs = np.asarray(probs, dtype=np.float64) / np.sum(probs)
        self.q = q
        self.onehot = np.eye(q)[self.seqs]  # (K, N, q)
        self.marginals = np.einsum("k,kia->ia", self.probs, self.onehot)  # (N, q)

    def encode(self, tokens: np.ndarray) -> np.ndarray:
        return np.eye(self.q)[np.asarray(tokens)]

    def decode(self, x: np.ndarray) -> np.ndarray:
        return np.argmax(x, axis=-1)

    def sample(self, n: int, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        return self.seqs[rng.choice(len(self.seqs), size=n, p=self.probs)]

    def denoise(self, x_t: np.ndarray, alpha_bar, filtered_levels: int = 0) -> np.ndarray:
        a = np.broadcast_to(np.asarray(alpha_bar, dtype=np.float64), (x_t.shape[0],))
        field = (np.sqrt(a) / (1.0 - a))[:, None, None] * x_t  # leaf evidence h_i(a)
        if filtered_levels == 0:
            logw = np.log(self.probs)[None, :] + np.einsum("nia,kia->nk", field, self.onehot)
            w = np.exp(logw - logw.max(axis=1, keepdims=True))
            w /= w.sum(axis=1, keepdims=True)
            return np.einsum("nk,kia->nia", w, self.onehot)
        logp = np.log(self.marginals)[None] + field
        p = np.exp(logp - logp.max(axis=-1, keepdims=True))
        return p / p.sum(axis=-1, keepdims=True)


@pytest.fixture(scope="session")
def toy() -> EnumeratedTokens:
    """All 81 sequences of length 4 over 3 symbols, with strongly correlated random weights."""
    seqs = np.array(list(itertools.product(range(3), repeat=4)))
    rng = np.random.default_rng(1)
    # pairwise couplings make the joint far from the product of its marginals
    J = rng.normal(0, 1.5, size=(4, 4, 3, 3))
    energy = sum(J[i, j][seqs[:, i], seqs[:, j]] for i in range(4) for j in range(i + 1, 4))
    return EnumeratedTokens(seqs, np.exp(energy), q=3)


@pytest.fixture(scope="session")
def schedule() -> Schedule:
    return Schedule.linear(50)
