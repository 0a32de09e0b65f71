r"""Hierarchical tree grammar (docs/theory.md §1) with exact belief-propagation denoisers (§3).

**Model.** Alphabet of :math:`q` symbols at every level, a full tree of branching :math:`s` and depth
:math:`L` (level :math:`d = 0` the root … :math:`d = L` the :math:`N = s^L` leaves). The root is
uniform; a node with symbol :math:`a` draws its ordered children :math:`(b_1, \dots, b_s)` with
probability :math:`M[a, b_1, \dots, b_s]` (the rule tensor :attr:`TreeGrammar.transition`),
independently per node. The grammar is *unambiguous*: the :math:`q^s` children tuples are
partitioned among the parents, each parent allowing :math:`q_\mathrm{eff}` of them, so a valid leaf
sequence determines its whole tree bottom-up.

Recipes:

* ``"paper"`` (Garnier-Brun et al.): the :math:`q^s` tuples listed lexicographically (first child
  most significant), shuffled with ``RandomState(seed).shuffle``; parent :math:`a` owns the block at
  positions :math:`a q^{s-1} \dots (a+1) q^{s-1} - 1` and allows its first :math:`q_\mathrm{eff}`
  tuples; each allowed tuple, parent by parent in block order, gets a logit
  :math:`\sigma\,\mathcal N(0,1)` drawn by ``randn``; :math:`M[a] = \mathrm{softmax}`. The legacy
  ``RandomState`` stream is used (not a ``SeedSequence``) because it is the only way to reproduce
  the authors' grammar (``np.random.seed(0)``), see :meth:`TreeGrammar.paper`.
* ``"rhm"`` (Cagnetta et al., the Random Hierarchy Model): :math:`q\,q_\mathrm{eff}` distinct
  tuples drawn uniformly without replacement (a ``default_rng(seed)`` permutation), parent
  :math:`a` gets the :math:`a`-th block of :math:`q_\mathrm{eff}`; logits :math:`\sigma\,\mathcal
  N(0,1)` (uniform rules at :math:`\sigma = 0`, the RHM proper), see :meth:`TreeGrammar.rhm`.

**Filtering** (level :math:`k`): the top :math:`k` levels are replaced by independent channels, the
:math:`s^k` level-:math:`k` nodes being drawn given the root with
:math:`P(x_j = b \mid \text{root} = a) = T_j[a, b]`, :math:`T_j` the product of the single-child
marginal matrices :math:`M_c[a, b] = P(\text{child } c = b \mid a)` along the root → j path
(:meth:`TreeGrammar.channels`). :math:`k = 0` is the exact model, :math:`k = L` keeps only
root-mediated correlations; single-site marginals do not depend on :math:`k`.

**Denoising.** Under :math:`x_t = \sqrt{\bar\alpha} x_0 + \sqrt{1-\bar\alpha}\,\varepsilon` on one-hot
:math:`x_0 \in \{0,1\}^{N\times q}`, the leaf evidence is
:math:`h_i(a) = \sqrt{\bar\alpha}\, x_{t,i}[a] / (1-\bar\alpha)` and
:math:`E[x_0 \mid x_t]` is the vector of leaf posterior marginals, computed exactly by one upward
and one downward BP sweep on the (loop-free) tree, or by BP_k on the :math:`k`-filtered model
(:mod:`physgen.models._tree_kernels`).

**Classes.** The root is the class of a sample (``n_classes = q``), or, with ``root_classes``,
a coarser class: a partition of the root symbols into ``C`` groups. Conditioning on class
:math:`c` replaces the uniform root prior by the uniform prior on the roots of :math:`c`:
:math:`p(x \mid c) = \sum_{a \in c} p(x \mid \text{root} = a) / |c|`. :meth:`TreeGrammar.sample`,
:meth:`TreeGrammar.denoise`, :meth:`TreeGrammar.posterior` and :meth:`TreeGrammar.log_prob` take
``classes``, an ``(n,)`` int array with -1 meaning unconditional (for BP_k too: the class prior
sits at the root, above the filtered channels). The grammar is unambiguous, so a valid sequence
determines its root and its class (:meth:`TreeGrammar.parse_class`).

**Validity.** A sequence has non-zero probability iff every sibling group, parsed bottom-up, is an
allowed rule (levels below :math:`k` only, for a filtered model). :meth:`TreeGrammar.validity`
reports, per level, the fraction of allowed sibling groups.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np

from physgen.errors import ConfigError, PhysgenError
from physgen.models._tree_kernels import bp_leaf_marginals, parse_trees, sample_trees
from physgen.models.base import DataModel, as_alpha_bar
from physgen.models.conditional import check_classes
from physgen.registry import register_model
from physgen.rng import stream_key

__all__ = ["TreeGrammar", "random_hierarchy_model"]

Recipe = Literal["paper", "rhm"]

# Largest tree handled (nodes per sample): keeps per-sample scratch and tuple tables in memory.
_MAX_NODES = 1 << 22
_MAX_TUPLES = 1 << 24


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


@register_model("tree")
class TreeGrammar(DataModel):
    """Random hierarchical grammar over ``q`` symbols, branching ``branching``, depth ``depth``.

    Parameters
    ----------
    q : alphabet size (every level), ≥ 2.
    depth : number of rule levels ``L`` ≥ 1; sequences have ``branching**depth`` tokens.
    q_eff : allowed children tuples per parent, ``1 ≤ q_eff`` and ``q * q_eff ≤ q**branching``.
    sigma : logit scale of the rule probabilities (0: uniform over the allowed rules).
    branching : children per node ``s`` ≥ 2.
    seed : grammar seed (non-negative int).
    recipe : ``"paper"`` or ``"rhm"`` (see the module docstring).
    filtered_levels : the model's own filtering level ``k`` (0 = exact model … ``depth``);
        :meth:`sample`, :meth:`denoise`, :meth:`log_prob` use it unless told otherwise.
    root_classes : optional partition of the root symbols ``0 … q-1`` into classes (a list of
        non-empty lists, class ``c`` = ``root_classes[c]``); default: one class per root symbol.

    Attributes
    ----------
    transition : ndarray, shape ``(q,) * (branching + 1)``, ``transition[a, b1, …, bs]`` =
        P(children = (b1, …, bs) | parent = a); rows sum to 1.
    rules : ndarray (q, q_eff, branching) int64, the allowed children tuples of each parent.
    rule_probs : ndarray (q, q_eff), their probabilities.
    n_classes : number of classes ``C``.
    class_of_root : ndarray (q,) int64, the class of each root symbol.
    """

    def __init__(
        self,
        q: int = 6,
        depth: int = 4,
        q_eff: int = 4,
        sigma: float = 1.0,
        branching: int = 2,
        seed: int = 0,
        recipe: Recipe = "paper",
        filtered_levels: int = 0,
        root_classes: list[list[int]] | None = None,
    ) -> None:
        if not _is_int(q) or q < 2:
            raise ConfigError("model.q", f"alphabet size must be an integer ≥ 2, got {q!r}")
        if not _is_int(depth) or depth < 1:
            raise ConfigError("model.depth", f"must be an integer ≥ 1, got {depth!r}")
        if not _is_int(branching) or branching < 2:
            raise ConfigError("model.branching", f"must be an integer ≥ 2, got {branching!r}")
        if not _is_int(q_eff) or q_eff < 1:
            raise ConfigError("model.q_eff", f"must be an integer ≥ 1, got {q_eff!r}")
        if q**branching > _MAX_TUPLES:
            raise ConfigError(
                "model.q",
                f"q**branching = {q}**{branching} children tuples exceed the supported {_MAX_TUPLES}",
            )
        if q * q_eff > q**branching:
            raise ConfigError(
                "model.q_eff",
                f"an unambiguous grammar needs q * q_eff ≤ q**branching, i.e. q_eff ≤ "
                f"{q ** (branching - 1)} for q = {q}, branching = {branching}; got {q_eff}",
            )
        if (branching ** (depth + 1) - 1) // (branching - 1) > _MAX_NODES:
            raise ConfigError(
                "model.depth",
                f"a tree of branching {branching} and depth {depth} has more than {_MAX_NODES} nodes",
            )
        if not isinstance(sigma, (int, float, np.integer, np.floating)) or isinstance(sigma, bool):
            raise ConfigError("model.sigma", f"must be a number, got {sigma!r}")
        if not (math.isfinite(float(sigma)) and sigma >= 0):
            raise ConfigError("model.sigma", f"must be finite and ≥ 0, got {sigma!r}")
        if not _is_int(seed) or seed < 0:
            raise ConfigError("model.seed", f"must be a non-negative integer, got {seed!r}")
        if recipe not in ("paper", "rhm"):
            raise ConfigError("model.recipe", f"must be 'paper' or 'rhm', got {recipe!r}")
        if not _is_int(filtered_levels) or not 0 <= filtered_levels <= depth:
            raise ConfigError(
                "model.filtered_levels",
                f"must be an integer in [0, depth = {depth}], got {filtered_levels!r}",
            )
        self.q = int(q)
        self.depth = int(depth)
        self.q_eff = int(q_eff)
        self.sigma = float(sigma)
        self.branching = int(branching)
        self.seed = int(seed)
        self.recipe: Recipe = recipe
        self.filtered_levels = int(filtered_levels)
        self.seq_len = self.branching**self.depth
        self.vocab_size = self.q
        self.event_shape = (self.seq_len, self.q)
        self.n_nodes = (self.branching ** (self.depth + 1) - 1) // (self.branching - 1)

        self.rules, logits = self._draw_rules()
        z = np.exp(logits - logits.max(axis=1, keepdims=True))
        self.rule_probs = z / z.sum(axis=1, keepdims=True)
        s = self.branching
        # Sparse form used by the kernels: rule r = a * q_eff + e.
        self._child = np.ascontiguousarray(self.rules.reshape(-1, s), dtype=np.int64)
        self._prob = np.ascontiguousarray(self.rule_probs.reshape(-1))
        self._log_prob = np.log(self._prob)
        self._cum = np.ascontiguousarray(np.cumsum(self.rule_probs, axis=1))
        tuple_index = self._child @ (self.q ** np.arange(s - 1, -1, -1))
        self._table = np.full(self.q**s, -1, dtype=np.int64)
        self._table[tuple_index] = np.arange(self._child.shape[0])
        self._set_classes(root_classes)
        self._channels: dict[int, np.ndarray] = {}

        self.transition = np.zeros((self.q,) * (s + 1))
        parents = np.repeat(np.arange(self.q), self.q_eff)
        self.transition[(parents, *self._child.T)] = self._prob
        # single_child[c, a, b] = P(child c = b | parent a)
        self.single_child = np.zeros((s, self.q, self.q))
        for c in range(s):
            np.add.at(self.single_child[c], (parents, self._child[:, c]), self._prob)

    def _set_classes(self, root_classes: list[list[int]] | None) -> None:
        """Check the partition of the root symbols and build the per-class root tables: the
        priors and log-priors (C + 1, q), row 0 uniform and row c + 1 uniform on class c, and the members
        (C, q) padded with -1, with their counts (C,)."""
        q = self.q
        groups = [[a] for a in range(q)] if root_classes is None else root_classes
        key = "model.root_classes"
        if not isinstance(groups, (list, tuple)) or not groups:
            raise ConfigError(
                key, f"must be a non-empty list of lists of root symbols, got {groups!r}"
            )
        flat: list[int] = []
        for g in groups:
            if not isinstance(g, (list, tuple)) or not g or not all(_is_int(a) for a in g):
                raise ConfigError(
                    key, f"every class must be a non-empty list of integers, got {g!r}"
                )
            flat.extend(int(a) for a in g)
        if sorted(flat) != list(range(q)):
            raise ConfigError(
                key,
                f"must partition the root symbols 0 … {q - 1} (each exactly once), got {groups!r}",
            )
        self.root_classes = None if root_classes is None else [[int(a) for a in g] for g in groups]
        self.n_classes = len(groups)
        self.class_of_root = np.empty(q, dtype=np.int64)
        self._members = np.full((self.n_classes, q), -1, dtype=np.int64)
        self._counts = np.array([len(g) for g in groups], dtype=np.int64)
        self._log_prior = np.full((self.n_classes + 1, q), -np.inf)
        self._log_prior[0] = -math.log(q)
        for c, g in enumerate(groups):
            self.class_of_root[list(g)] = c
            self._members[c, : len(g)] = sorted(g)
            self._log_prior[c + 1, list(g)] = -math.log(len(g))
        self._prior = np.exp(self._log_prior)

    def _prior_rows(self, classes: Any, n: int) -> np.ndarray:
        """Row of the root log-prior table of each of ``n`` samples: 0 unconditional, c + 1."""
        return check_classes(classes, n, self.n_classes) + 1

    def _draw_rules(self) -> tuple[np.ndarray, np.ndarray]:
        """Allowed tuples (q, q_eff, s) and their logits (q, q_eff), by the chosen recipe."""
        q, s, q_eff = self.q, self.branching, self.q_eff
        tuples = np.stack(np.unravel_index(np.arange(q**s), (q,) * s), axis=1)
        if self.recipe == "paper":
            rs = np.random.RandomState(self.seed)
            rs.shuffle(tuples)
            rules = tuples.reshape(q, q ** (s - 1), s)[:, :q_eff]
            logits = self.sigma * rs.standard_normal(q * q_eff).reshape(q, q_eff)
        else:
            rng = np.random.default_rng(self.seed)
            rules = tuples[rng.permutation(q**s)[: q * q_eff]].reshape(q, q_eff, s)
            logits = self.sigma * rng.standard_normal((q, q_eff))
        return np.ascontiguousarray(rules, dtype=np.int64), logits

    # ------------------------------------------------------------------ constructors

    @classmethod
    def paper(cls, filtered_levels: int = 0) -> TreeGrammar:
        """The grammar of Garnier-Brun et al.: q = 6, L = 4, q_eff = 4, σ = 1, seed 0, s = 2.

        Identical to the authors' draw after ``np.random.seed(0)`` (``RandomState(0)`` gives the
        same legacy stream without touching NumPy's global state).
        """
        return cls(
            q=6,
            depth=4,
            q_eff=4,
            sigma=1.0,
            branching=2,
            seed=0,
            recipe="paper",
            filtered_levels=filtered_levels,
        )

    @classmethod
    def rhm(cls, v: int, m: int, branching: int = 2, depth: int = 3, seed: int = 0) -> TreeGrammar:
        """The Random Hierarchy Model (Cagnetta et al.): vocabulary ``v``, ``m`` uniform rules
        per symbol drawn without replacement among the ``v**branching`` tuples."""
        return random_hierarchy_model(v=v, m=m, branching=branching, depth=depth, seed=seed)

    def params(self) -> dict[str, Any]:
        """Constructor parameters (JSON-serialisable): ``TreeGrammar(**g.params())`` rebuilds ``g``."""
        return {
            "q": self.q,
            "depth": self.depth,
            "q_eff": self.q_eff,
            "sigma": self.sigma,
            "branching": self.branching,
            "seed": self.seed,
            "recipe": self.recipe,
            "filtered_levels": self.filtered_levels,
            # only when set, so the parameters (and config hashes) of class-free models stay as
            # they were
            **({"root_classes": self.root_classes} if self.root_classes is not None else {}),
        }

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"TreeGrammar({args})"

    # ------------------------------------------------------------------ structure

    def _level(self, filtered_levels: int | None) -> int:
        if filtered_levels is None:
            return self.filtered_levels
        if not _is_int(filtered_levels) or not 0 <= filtered_levels <= self.depth:
            raise PhysgenError(
                f"filtered_levels must be an integer in [0, {self.depth}], got {filtered_levels!r}"
            )
        return int(filtered_levels)

    def channels(self, filtered_levels: int) -> np.ndarray:
        """The channels :math:`T_j` of the k-filtered model, shape ``(s**k, q, q)``.

        ``T[j, a, b] = P(level-k node j = b | root = a)``, the product of :attr:`single_child`
        matrices along the root → j path (level-k nodes left to right); the identity for k = 0.
        """
        k = self._level(filtered_levels)
        if k not in self._channels:
            t = np.eye(self.q)[None]
            for _ in range(k):
                t = np.einsum("jab,cbd->jcad", t, self.single_child).reshape(-1, self.q, self.q)
            self._channels[k] = np.ascontiguousarray(t)
        return self._channels[k]

    def support_size(self, filtered_levels: int | None = None) -> int:
        r"""Number of distinct leaf sequences of non-zero probability under the k-filtered model
        (an exact Python int; the content-disjoint data of :mod:`physgen.data` need it).

        The grammar is unambiguous, so a valid sequence has exactly one tree below level
        :math:`k` and the count is over trees: :math:`n_0(b) = 1`,
        :math:`n_h(a) = \sum_{(b_1..b_s) \in R(a)} \prod_c n_{h-1}(b_c)` (:math:`R(a)` the allowed
        children tuples of :math:`a`; every allowed rule has positive probability). For
        :math:`k = 0` the support is :math:`\sum_a n_L(a)`, i.e. :math:`q\,q_\mathrm{eff}^{(s^L-1)/(s-1)}`
        (:math:`6 \cdot 4^7 = 98\,304` for the paper grammar at depth 3). For :math:`k > 0` the
        level-:math:`k` configurations are the union over roots :math:`a` of the product sets
        :math:`\prod_j \{b : T_j[a, b] > 0\}`, each weighted by :math:`\prod_j n_{L-k}(b_j)`,
        counted by inclusion–exclusion over sets of roots (:math:`2^q - 1` terms).
        """
        k = self._level(filtered_levels)
        counts = [1] * self.q
        for _ in range(self.depth - k):
            counts = [
                sum(math.prod(counts[b] for b in rule) for rule in self.rules[a].tolist())
                for a in range(self.q)
            ]
        if k == 0:
            return sum(counts)
        if self.q > 20:
            raise PhysgenError(f"support_size of a filtered model needs q ≤ 20, got q = {self.q}")
        allowed = self.channels(k) > 0  # (s**k, q_root, q)
        total = 0
        for subset in range(1, 1 << self.q):
            roots = [a for a in range(self.q) if subset >> a & 1]
            common = allowed[:, roots, :].all(axis=1)  # (s**k, q): symbols allowed under all
            term = math.prod(sum(counts[b] for b in np.flatnonzero(row).tolist()) for row in common)
            total += term if len(roots) % 2 else -term
        return total

    def site_marginals(self) -> np.ndarray:
        """Exact single-site leaf marginals P(x_i = a), shape ``(N, q)`` (independent of k)."""
        return self.channels(self.depth).mean(axis=1)

    # ------------------------------------------------------------------ sampling

    def sample(
        self,
        n: int,
        seed: int,
        filtered_levels: int | None = None,
        return_levels: bool = False,
        start: int = 0,
        classes: Any = None,
        return_classes: bool = False,
    ) -> np.ndarray | tuple[Any, ...]:
        r"""``n`` leaf sequences, int64 array ``(n, seq_len)``, from the k-filtered model.

        Sample ``i`` is row ``start + i`` of the stream of ``seed``: it depends only on
        ``(seed, start + i)`` (and its class), not on ``n``, chunking or the thread count. With
        ``return_levels``, returns ``(leaves, levels)`` where ``levels[d]`` is the int64 array
        ``(n, branching**d)`` of level ``d = 0 … depth`` (``levels[depth]`` are the leaves);
        levels ``0 < d < k`` of a filtered model do not exist and are filled with -1.

        ``classes``: ``None`` (unconditional), an int or an ``(n,)`` int array (-1 =
        unconditional) — sample ``i`` is drawn from :math:`p(x \mid c_i)`. Its root comes from
        the same uniform number as the unconditional root, and the rest of the tree from the same
        stream, so with one root per class, conditioning on the root the unconditional draw had
        gives the unconditional sample. ``return_classes`` appends the class of each drawn root,
        int64 ``(n,)``, to the returned tuple.
        """
        if not _is_int(n) or n < 0:
            raise PhysgenError(f"n must be a non-negative integer, got {n!r}")
        if not _is_int(start) or start < 0:
            raise PhysgenError(f"start must be a non-negative integer, got {start!r}")
        k = self._level(filtered_levels)
        cls = check_classes(classes, int(n), self.n_classes)
        t_cum = np.ascontiguousarray(np.cumsum(self.channels(k), axis=2))
        leaves = np.empty((n, self.seq_len), dtype=np.int64)
        roots = np.empty(n, dtype=np.int64)
        nodes = np.empty((n, self.n_nodes) if return_levels else (0, 0), dtype=np.int64)
        key = np.uint64(stream_key(seed))
        sample_trees(
            key,
            int(start),
            self._child,
            self._cum,
            t_cum,
            k,
            self.depth,
            cls,
            self._members,
            self._counts,
            leaves,
            roots,
            nodes,
            bool(return_levels),
        )
        out: list[Any] = [leaves]
        if return_levels:
            s = self.branching
            out.append(
                [
                    nodes[:, (s**d - 1) // (s - 1) : (s ** (d + 1) - 1) // (s - 1)]
                    for d in range(self.depth + 1)
                ]
            )
        if return_classes:
            out.append(self.class_of_root[roots])
        return leaves if len(out) == 1 else tuple(out)

    # ------------------------------------------------------------------ encodings

    def _check_tokens(self, tokens: Any, mask: np.ndarray | None = None) -> np.ndarray:
        t = np.asarray(tokens)
        if t.ndim != 2 or t.shape[1] != self.seq_len:
            raise PhysgenError(f"tokens must have shape (n, {self.seq_len}), got {t.shape}")
        if t.size and not np.issubdtype(t.dtype, np.integer):
            raise PhysgenError(f"tokens must be integers, got dtype {t.dtype}")
        t = t.astype(np.int64)
        seen = t if mask is None else t[~mask]
        if seen.size and (seen.min() < 0 or seen.max() >= self.q):
            raise PhysgenError(f"tokens must lie in [0, {self.q - 1}]")
        return np.ascontiguousarray(t)

    def encode(self, tokens: np.ndarray) -> np.ndarray:
        """Tokens (n, N) → one-hot float64 (n, N, q)."""
        t = self._check_tokens(tokens)
        return np.eye(self.q)[t]

    def decode(self, x: np.ndarray) -> np.ndarray:
        """Diffusion space (n, N, q) → tokens (n, N) by argmax."""
        return np.asarray(x).argmax(axis=-1)

    # ------------------------------------------------------------------ inference

    def _check_x(self, x: Any, name: str) -> np.ndarray:
        a = np.asarray(x, dtype=np.float64)
        if a.ndim != 3 or a.shape[1:] != self.event_shape:
            raise PhysgenError(
                f"{name} must have shape (n, {self.seq_len}, {self.q}), got {a.shape}"
            )
        return np.ascontiguousarray(a)

    def _bp(
        self, x: np.ndarray, coef: np.ndarray, k: int, classes: Any = None
    ) -> tuple[np.ndarray, np.ndarray, int]:
        """Marginals, log Z and the number of non-finite entries of ``x``."""
        rows = self._prior_rows(classes, x.shape[0])
        out = np.empty_like(x)
        log_z = np.empty(x.shape[0])
        n_bad = bp_leaf_marginals(
            x, coef, self._child, self._prob, self._prior, self._log_prior, rows, self.channels(k),
            k, out, log_z,
        )  # fmt: skip
        return out, log_z, int(n_bad)

    def posterior(
        self, log_evidence: np.ndarray, filtered_levels: int | None = None, classes: Any = None
    ) -> tuple[np.ndarray, np.ndarray]:
        r"""Leaf posterior marginals and log partition function under general leaf evidence.

        ``log_evidence`` (n, N, q): :math:`h_i(a) = \log p(\text{obs}_i \mid x_{0,i} = a)` up to
        a constant per leaf; -inf marks an excluded symbol (each leaf needs one finite entry).
        Returns ``(marginals (n, N, q), log_Z (n,))`` with
        :math:`\log Z = \log \sum_{x_0} p_k(x_0)\, e^{\sum_i h_i(x_{0,i})}`; a row whose evidence
        has zero probability under the model gets NaN marginals and ``log_Z = -inf``.
        ``classes`` (n,) conditions row ``i`` on class ``classes[i]`` (-1: unconditional).
        """
        h = self._check_x(log_evidence, "log_evidence")
        if np.isnan(h).any() or (h == np.inf).any():
            raise PhysgenError("log_evidence must not contain NaN or +inf")
        if h.size and not np.isfinite(h.max(axis=-1)).all():
            raise PhysgenError("log_evidence needs a finite entry at every leaf")
        return self._bp(h, np.ones(h.shape[0]), self._level(filtered_levels), classes)[:2]

    def denoise(
        self,
        x_t: np.ndarray,
        alpha_bar: float | np.ndarray,
        filtered_levels: int | None = None,
        classes: Any = None,
    ) -> np.ndarray:
        r"""Exact :math:`E[x_0 \mid x_t]` of the k-filtered model (BP_k), shape (n, N, q).

        ``x_t`` (n, N, q); ``alpha_bar`` a float or (n,) in (0, 1]. The leaf fields are
        :math:`h = \sqrt{\bar\alpha}\, x_t / (1-\bar\alpha)`; at :math:`\bar\alpha = 1` the
        evidence is a δ on the argmax of ``x_t``. ``classes`` (n,) int: row ``i`` gets
        :math:`E[x_0 \mid x_t, c_i]` (-1 or ``None``: unconditional).
        """
        x = self._check_x(x_t, "x_t")
        cls = check_classes(classes, x.shape[0], self.n_classes)
        ab = as_alpha_bar(alpha_bar, x.shape[0])
        clean = ab == 1.0
        coef = np.sqrt(ab) / np.where(clean, 1.0, 1.0 - ab)
        if clean.any():
            # min/max propagate NaN and see ±inf without a temporary array the size of x_t
            if x.size and not (np.isfinite(x.min()) and np.isfinite(x.max())):
                raise PhysgenError("x_t must be finite")
            x = x.copy()  # never write into the caller's array
            xc = x[clean]
            x[clean] = np.where(xc == xc.max(axis=-1, keepdims=True), 0.0, -np.inf)
            coef[clean] = 1.0
            return self._bp(x, coef, self._level(filtered_levels), cls)[0]
        # the kernel counts the non-finite entries as it reads x_t (no extra pass over it)
        out, _, n_bad = self._bp(x, coef, self._level(filtered_levels), cls)
        if n_bad:
            raise PhysgenError("x_t must be finite")
        return out

    def denoise_masked(
        self,
        tokens: np.ndarray,
        mask: np.ndarray,
        filtered_levels: int | None = None,
        classes: Any = None,
    ) -> np.ndarray:
        """Leaf posterior marginals (n, N, q) given the unmasked tokens (discrete evidence).

        ``tokens`` (n, N) int; ``mask`` bool, broadcastable to (n, N), True = hidden (uniform
        message; the token there is ignored and may be e.g. -1), False = observed (δ message).
        ``classes`` (n,) int conditions row ``i`` on its class (-1: unconditional).
        """
        m = np.asarray(mask)
        if m.dtype != np.bool_:
            raise PhysgenError(f"mask must be boolean, got dtype {m.dtype}")
        t0 = np.asarray(tokens)
        try:
            m = np.broadcast_to(m, t0.shape)
        except ValueError:
            raise PhysgenError(
                f"mask of shape {m.shape} does not broadcast to {t0.shape}"
            ) from None
        t = self._check_tokens(t0, m)
        h = np.where(np.eye(self.q, dtype=bool)[np.where(m, 0, t)], 0.0, -np.inf)
        h[m] = 0.0
        return self._bp(h, np.ones(t.shape[0]), self._level(filtered_levels), classes)[0]

    # ------------------------------------------------------------------ parsing

    def _parse(
        self, tokens: np.ndarray, k: int, classes: Any = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-level validity (n, depth), log p_k(x | class) (n,) and parsed roots (n,)."""
        t = self._check_tokens(tokens)
        rows = self._prior_rows(classes, t.shape[0])
        valid = np.empty((t.shape[0], self.depth))
        logp = np.empty(t.shape[0])
        roots = np.empty(t.shape[0], dtype=np.int64)
        with np.errstate(divide="ignore"):
            log_t = np.log(self.channels(k))
        parse_trees(
            t,
            self._table,
            self.q,
            self.branching,
            self._log_prob,
            self._log_prior,
            rows,
            log_t,
            k,
            valid,
            logp,
            roots,
        )
        return valid, logp, roots

    def log_prob(
        self,
        tokens: np.ndarray,
        alpha_bar: float | np.ndarray = 1.0,
        filtered_levels: int | None = None,
        classes: Any = None,
    ) -> np.ndarray:
        r"""Exact log-probability of clean leaf sequences (n, N) under the k-filtered model,
        shape (n,); -inf for sequences outside the support. ``classes`` (n,) int gives
        :math:`\log p_k(x \mid c_i)` for row ``i`` (-1: unconditional). ``alpha_bar`` is the
        shared signature of :meth:`physgen.models.base.TreeModel.log_prob`: only clean data
        (``alpha_bar = 1``) has an exact likelihood here."""
        if np.any(np.asarray(alpha_bar) != 1.0):
            raise PhysgenError("TreeGrammar.log_prob is exact for clean data only (alpha_bar = 1)")
        return self._parse(tokens, self._level(filtered_levels), classes)[1]

    def entropy(self, cls: int = -1) -> float:
        r"""Exact entropy (nats) of the exact model's sequences, given class ``cls`` (-1:
        unconditional).

        The grammar is unambiguous, so a valid sequence and its tree determine each other and
        :math:`H(x \mid c) = H(\text{root} \mid c) + \sum_{\text{internal } j} \sum_a
        P(x_j = a \mid c)\, H(M[a])`, with :math:`H(M[a])` the entropy of parent :math:`a`'s rule
        choice and :math:`P(x_j = a \mid c) = \sum_r \pi_c(r) T_j[r, a]` through the channels.
        """
        prior = np.exp(self._log_prior[check_classes(cls, 1, self.n_classes)[0] + 1])
        with np.errstate(divide="ignore", invalid="ignore"):
            h_root = -np.sum(np.where(prior > 0, prior * np.log(prior), 0.0))
        p = self.rule_probs
        h_rule = -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0), axis=1)
        total = float(h_root)
        for d in range(self.depth):
            total += float(np.einsum("r,jra,a->", prior, self.channels(d), h_rule))
        return total

    def parse_class(self, tokens: np.ndarray) -> np.ndarray:
        """Class of the root parsed bottom-up from each sequence (n, N), int64 (n,); -1 for a
        sequence that is not valid under the exact grammar (its root is then undetermined)."""
        roots = self._parse(tokens, 0)[2]
        return np.where(roots >= 0, self.class_of_root[np.maximum(roots, 0)], -1)

    def validity(self, tokens: np.ndarray) -> np.ndarray:
        """Per-level grammatical validity, float array (n, depth), by a bottom-up parse.

        Column ``d`` (0 … depth-1) is the fraction of the ``branching**d`` sibling groups whose
        parent sits at level ``d`` that are allowed rules: column 0 is the root's children,
        column ``depth - 1`` the groups of leaves. The parse assigns each allowed group its
        (unique) parent symbol; a disallowed group leaves its parent unparsed, and a group with an
        unparsed child counts as not allowed. So a sequence is valid iff every entry is 1.
        """
        return self._parse(tokens, self.filtered_levels)[0]

    def is_valid(self, tokens: np.ndarray) -> np.ndarray:
        """Whether each sequence (n, N) is in the support of the exact model, bool (n,)."""
        return (self.validity(tokens) == 1.0).all(axis=1)


@register_model("rhm")
def random_hierarchy_model(
    v: int = 8,
    m: int = 2,
    branching: int = 2,
    depth: int = 3,
    seed: int = 0,
    filtered_levels: int = 0,
) -> TreeGrammar:
    """The Random Hierarchy Model (Cagnetta et al., PRX 2024) as a :class:`TreeGrammar`.

    Vocabulary ``v`` at every level, ``m`` rules per symbol drawn uniformly without replacement
    among the ``v**branching`` tuples (so ``v * m ≤ v**branching``), uniform rule probabilities;
    the ``"rhm"`` recipe with ``sigma = 0``.
    """
    if not _is_int(v) or v < 2:
        raise ConfigError("model.v", f"vocabulary size must be an integer ≥ 2, got {v!r}")
    if not _is_int(m) or m < 1:
        raise ConfigError("model.m", f"rules per symbol must be an integer ≥ 1, got {m!r}")
    if _is_int(branching) and branching >= 2 and v * m > v**branching:
        raise ConfigError(
            "model.m", f"needs v * m ≤ v**branching, i.e. m ≤ {v ** (branching - 1)}; got {m}"
        )
    return TreeGrammar(
        q=v,
        depth=depth,
        q_eff=m,
        sigma=0.0,
        branching=branching,
        seed=seed,
        recipe="rhm",
        filtered_levels=filtered_levels,
    )
