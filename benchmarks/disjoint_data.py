r"""What content-disjoint data do to the distribution, at the sizes the experiments use.

For the paper grammar at depth 3 and 4, ``n_pairs = 3`` disjoint pairs and ``n_test = 1000``, and
each ``n_train``, over ``--seeds`` data seeds, means of (docs/data.md):

* ``shared``: sequences the index-disjoint i.i.d. blocks would share (between the two splits of
  each pair, plus between each split and the test set), summed over the cell: what the
  content-disjoint draws remove (their own count is 0, checked);
* ``p(U) split 1`` and ``p(U) test``: the model probability of the sequences of the earlier
  blocks, i.e. the exact total variation between the law of the block and the model, for split 1
  (partner of split 0 in pair 0) and for the test set (the last block, the most affected);
* ``TV_leaf test``: the largest single-site leaf-marginal total variation between the law of the
  test set, :math:`p(\cdot \mid x \notin U)`, and the model (exact, from ``log_prob``);
* ``chi2 disjoint`` / ``chi2 iid``: the leaf-marginal :math:`\chi^2` of the test set against the
  exact marginals per degree of freedom :math:`N (q-1)`, for content-disjoint and for i.i.d. test
  sets (≈ 1 for i.i.d. draws; the content-disjoint law shows as a larger value).

    PYTHONPATH=. python benchmarks/disjoint_data.py --seeds 5
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from physgen.config import DataConfig
from physgen.data import DataProtocol, content_overlaps, excluded_mass
from physgen.models import TreeGrammar

COLUMNS = ["shared", "p(U) split 1", "p(U) test", "TV_leaf test", "chi2 disjoint", "chi2 iid"]


def _chi2_per_dof(tokens: np.ndarray, marginals: np.ndarray) -> float:
    """Leaf-marginal χ² of ``tokens`` (n, N) against ``marginals`` (N, q), per degree of freedom."""
    n, N = tokens.shape
    q = marginals.shape[1]
    counts = np.stack([np.bincount(tokens[:, i], minlength=q) for i in range(N)])
    expected = n * marginals
    return float(np.sum((counts - expected) ** 2 / expected) / (N * (q - 1)))


def _leaf_tv(model: TreeGrammar, earlier: np.ndarray, marginals: np.ndarray) -> float:
    """Largest site TV between the model's leaf marginals and those of p(· | x ∉ U), U the
    distinct sequences of ``earlier`` (n, N)."""
    used = np.unique(earlier, axis=0)
    p = np.exp(model.log_prob(used))
    removed = np.einsum("s,sia->ia", p, np.eye(model.q)[used])  # Σ_{x∈U} p(x) 1[x_i = a]
    restricted = (marginals - removed) / (1.0 - p.sum())
    return float(0.5 * np.abs(restricted - marginals).sum(axis=1).max())


def measure(depth: int, n_train: int, seeds: int) -> dict[str, float]:
    """The row of one (depth, n_train) over ``seeds`` data seeds (means)."""
    model = TreeGrammar(depth=depth)
    marginals = model.site_marginals()
    rows = []
    for seed in range(seeds):
        sizes = {"n_train": n_train, "n_test": 1000, "n_pairs": 3, "n_seed_pairs": 0}
        disjoint = DataProtocol(model, DataConfig(**sizes), seed)
        iid = DataProtocol(model, DataConfig(**sizes, content_disjoint=False), seed)
        own = content_overlaps(disjoint)
        assert own["pair"].sum() == 0 and own["test"].sum() == 0
        shared = content_overlaps(iid)
        blocks = [disjoint.split(j) for j in range(disjoint.n_splits)] + [disjoint.test_set()]
        mass = excluded_mass(model, blocks)
        rows.append(
            [
                shared["pair"].sum() + shared["test"].sum(),
                mass[1],
                mass[-1],
                _leaf_tv(model, np.concatenate(blocks[:-1]), marginals),
                _chi2_per_dof(disjoint.test_set(), marginals),
                _chi2_per_dof(iid.test_set(), marginals),
            ]
        )
    return dict(zip(COLUMNS, np.mean(rows, axis=0), strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    start = time.perf_counter()
    print("| depth | n_train | " + " | ".join(COLUMNS) + " |")
    print("|---" * (2 + len(COLUMNS)) + "|")
    for depth in (3, 4):
        for n_train in (32, 64, 128, 256, 512, 1000):
            r = measure(depth, n_train, args.seeds)
            cells = [f"{r['shared']:.1f}"] + [f"{r[c]:.2e}" for c in COLUMNS[1:4]]
            cells += [f"{r[c]:.2f}" for c in COLUMNS[4:]]
            print(f"| {depth} | {n_train} | " + " | ".join(cells) + " |")
    print(f"\n{time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
