r"""What content-disjoint data do to the distribution, at the sizes the experiments use.

For the paper grammar at depth 3 and 4, ``n_pairs = 3`` disjoint pairs and ``n_test = 1000``, and
each ``n_train``, over ``--seeds`` data seeds (docs/data.md):

* ``shared``: sequences the index-disjoint i.i.d. blocks would share (between the two splits of
  each pair, plus between each split and the test set), summed over the cell; what the
  content-disjoint draws remove (their own count is 0, checked);
* ``p(U)``: the model probability of all kept sequences but the last, i.e. the total variation
  between the law of the last kept draw and the model (an upper bound for every draw);
* ``TV_leaf``: the largest single-site leaf-marginal total variation between the law of the last
  kept draw, :math:`p(\cdot \mid x \notin U)`, and the model (exact, from ``log_prob``);
* ``chi2/dof``: the leaf-marginal :math:`\chi^2` of the test set against the exact marginals,
  divided by its degrees of freedom :math:`N (q-1)`, for content-disjoint and for i.i.d. test
  sets (≈ 1 for i.i.d. draws; a deviation of the content-disjoint law would show as a larger
  value).

    PYTHONPATH=. python benchmarks/disjoint_data.py --seeds 5
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from physgen.config import DataConfig
from physgen.data import DataProtocol, content_overlaps, excluded_mass
from physgen.models import TreeGrammar


def _chi2_per_dof(tokens: np.ndarray, marginals: np.ndarray) -> float:
    """Leaf-marginal χ² of ``tokens`` (n, N) against ``marginals`` (N, q), per degree of freedom."""
    n, N = tokens.shape
    q = marginals.shape[1]
    counts = np.stack([np.bincount(tokens[:, i], minlength=q) for i in range(N)])
    expected = n * marginals
    return float(np.sum((counts - expected) ** 2 / expected) / (N * (q - 1)))


def _leaf_tv(model: TreeGrammar, kept: np.ndarray, marginals: np.ndarray) -> float:
    """Largest site TV between the model's leaf marginals and those of p(· | x ∉ U), U = all
    kept sequences but the last."""
    used = kept[:-1]
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
        cfg = DataConfig(n_train=n_train, n_test=1000, n_pairs=3, n_seed_pairs=0)
        disjoint = DataProtocol(model, cfg, seed)
        iid = DataProtocol(
            model,
            DataConfig(
                n_train=n_train, n_test=1000, n_pairs=3, n_seed_pairs=0, content_disjoint=False
            ),
            seed,
        )
        own = content_overlaps(disjoint)
        assert own["pair"].sum() == 0 and own["test"].sum() == 0
        shared = content_overlaps(iid)
        kept = np.concatenate(
            [disjoint.split(j) for j in range(disjoint.n_splits)] + [disjoint.test_set()]
        )
        rows.append(
            [
                shared["pair"].sum() + shared["test"].sum(),
                excluded_mass(model, kept)[-1],
                _leaf_tv(model, kept, marginals),
                _chi2_per_dof(disjoint.test_set(), marginals),
                _chi2_per_dof(iid.test_set(), marginals),
            ]
        )
    m = np.mean(rows, axis=0)
    return dict(zip(["shared", "p(U)", "TV_leaf", "chi2_disjoint", "chi2_iid"], m, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    start = time.perf_counter()
    print(
        "| depth | n_train | shared (i.i.d.) | p(U) | TV_leaf | chi2/dof disjoint | chi2/dof i.i.d. |"
    )
    print("|---|---|---|---|---|---|---|")
    for depth in (3, 4):
        for n_train in (32, 64, 128, 256, 512, 1000):
            r = measure(depth, n_train, args.seeds)
            print(
                f"| {depth} | {n_train} | {r['shared']:.1f} | {r['p(U)']:.2e} | {r['TV_leaf']:.2e} "
                f"| {r['chi2_disjoint']:.2f} | {r['chi2_iid']:.2f} |"
            )
    print(f"\n{time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
