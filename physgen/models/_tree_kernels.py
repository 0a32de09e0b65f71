r"""Numba kernels of the tree grammar: belief propagation, ancestral sampling, bottom-up parsing.

Conditioning (a class per sample): the BP and parsing kernels take a table of root log-priors
``log_prior`` (C + 1, q) (BP also the normalised priors ``prior``, so the root needs no
exponential) and a row per sample ``prior_row`` (n,): row 0 is the uniform prior of the
unconditional model, row ``c + 1`` the prior of class ``c`` (uniform over the root symbols of the
class, -inf elsewhere). BP with a class is BP with the uniform root prior replaced by the class's.

Tree layout (heap order, branching :math:`s`, depth :math:`L`): level :math:`d` holds
:math:`s^d` nodes starting at offset :math:`(s^d-1)/(s-1)`; the children of node :math:`p` are
:math:`s p + 1, \dots, s p + s`; the :math:`N = s^L` leaves are the last :math:`N` nodes.

Rules (sparse): :math:`R = q\,q_\mathrm{eff}` allowed rules, sorted by parent, so rule :math:`r`
has parent :math:`a_r = \lfloor r / q_\mathrm{eff} \rfloor`, children ``child[r]`` (``s``
symbols) and probability ``prob[r]`` :math:`= M[a_r, \text{child}[r]]`. A node update therefore
costs :math:`O(q\, q_\mathrm{eff}\, s)` instead of :math:`O(q^{s+1})`.

Belief propagation (docs/theory.md §3), per sample, messages normalised at every node and the log
normalisers accumulated into :math:`\log Z`:

* leaves: :math:`\psi_i(a) \propto e^{h_i(a)}` with the maximum subtracted before the exponential;
* upward: :math:`u_p(a) \propto \sum_{r: a_r = a} M_r \prod_c u_{pc}(\text{child}[r,c])`;
* level :math:`k` (filtered model, :math:`T_j` the root → j channel; :math:`T = I` when
  :math:`k = 0`): :math:`m_j(a) = \sum_b T_j[a,b] u_j(b)`, root belief
  :math:`\propto \pi(a)\prod_j m_j(a)`, cavity :math:`c_j \propto \pi \prod_{i \ne j} m_i`
  (prefix/suffix sums of :math:`\log m_j`, so zeros are exact),
  :math:`v_j(b) \propto \sum_a T_j[a,b]\, c_j(a)`;
* downward: :math:`v_{pc}(b) \propto \sum_{r:\,\text{child}[r,c]=b} v_p(a_r) M_r
  \prod_{c' \ne c} u_{pc'}(\text{child}[r,c'])`;
* leaf marginals :math:`\mu_i \propto \psi_i\, v_i`.

A sample whose evidence has (numerically) zero probability gets NaN marginals and
:math:`\log Z = -\infty`.

Sampling uses a counter-based generator (SplitMix64 finaliser): the uniform number ``c``
of sample ``i`` is ``mix(mix(key ^ mix(i)) + (c + 1) γ)``, so sample ``i`` depends only on
``(key, i)``, never on the batch size, chunking or thread count. Counter ``p`` chooses the rule
of node ``p``; counter ``n_nodes + p`` draws the symbol of node ``p`` (the root, and the level-k
nodes of a filtered model).
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir as llvm_ir
from numba import njit, prange, types
from numba.extending import intrinsic

__all__ = ["bp_leaf_marginals", "parse_trees", "sample_trees"]

# Samples per parallel work item: scratch arrays are allocated once per chunk, not per sample.
_CHUNK = 64
# Samples propagated together by BP, the innermost axis of its messages (SIMD over samples);
# 32 lanes = 8 AVX2 vectors per loop, enough to amortise the runtime alias checks.
_LANES = 32

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_TWO_M53 = 1.0 / 9007199254740992.0


@njit(nogil=True, cache=True, error_model="numpy")
def _mix64(z: np.uint64) -> np.uint64:
    """SplitMix64 finaliser: a bijective avalanche hash of a 64-bit word."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(nogil=True, cache=True, error_model="numpy")
def _uniform(base: np.uint64, counter: int) -> float:
    """Uniform double in [0, 1) number ``counter`` of the stream ``base``."""
    h = _mix64(base + np.uint64(counter + 1) * _GAMMA)
    return np.float64(h >> _S11) * _TWO_M53


@njit(nogil=True, cache=True, error_model="numpy")
def _categorical(cum: np.ndarray, u: float) -> int:
    """Index of the first cumulative probability above ``u`` (last index if rounding leaves
    ``cum[-1] < 1``)."""
    last = cum.shape[0] - 1
    for e in range(last):
        if u < cum[e]:
            return e
    return last


@njit(parallel=True, cache=True, error_model="numpy")
def sample_trees(
    key: np.uint64,
    start: int,
    child: np.ndarray,
    cum: np.ndarray,
    t_cum: np.ndarray,
    k: int,
    depth: int,
    cls: np.ndarray,
    members: np.ndarray,
    counts: np.ndarray,
    leaves: np.ndarray,
    roots: np.ndarray,
    nodes: np.ndarray,
    keep_nodes: bool,
) -> None:
    """Ancestral sampling of ``leaves.shape[0]`` trees, samples ``start …`` of stream ``key``.

    ``child`` (R, s) int64; ``cum`` (q, q_eff) cumulative rule probabilities per parent;
    ``t_cum`` (s^k, q, q) cumulative rows of the channels T_j (unused when ``k = 0``);
    ``cls`` (n,) int64 class of each sample (-1: unconditional, root uniform on ``q``; class
    ``c``: root uniform on ``members[c, :counts[c]]``, drawn from the same uniform number, so a
    class made of one root symbol only replaces the root of the unconditional draw);
    ``leaves`` (n, s^depth) int64 output; ``roots`` (n,) int64 output (the root symbols);
    ``nodes`` (n, n_nodes) int64 output of every level
    when ``keep_nodes`` (levels strictly between the root and level k are -1 in a filtered
    model, which has no such nodes).
    """
    n, n_leaves = leaves.shape
    q, q_eff = cum.shape
    s = child.shape[1]
    n_nodes = (n_leaves * s - 1) // (s - 1)
    leaf0 = n_nodes - n_leaves
    off_k = (s**k - 1) // (s - 1)
    n_chunks = (n + _CHUNK - 1) // _CHUNK
    for ch in prange(n_chunks):
        tree = np.empty(n_nodes, dtype=np.int64)
        for i in range(ch * _CHUNK, min(n, (ch + 1) * _CHUNK)):
            base = _mix64(key ^ _mix64(np.uint64(start + i)))
            c = cls[i]
            if c < 0:
                tree[0] = min(int(_uniform(base, n_nodes) * q), q - 1)
            else:
                m = counts[c]
                tree[0] = members[c, min(int(_uniform(base, n_nodes) * m), m - 1)]
            roots[i] = tree[0]
            if k > 0:
                for p in range(1, off_k):
                    tree[p] = -1
                for j in range(s**k):
                    p = off_k + j
                    tree[p] = _categorical(t_cum[j, tree[0]], _uniform(base, n_nodes + p))
            for d in range(k, depth):
                first = (s**d - 1) // (s - 1)
                for p in range(first, first + s**d):
                    a = tree[p]
                    r = a * q_eff + _categorical(cum[a], _uniform(base, p))
                    for c in range(s):
                        tree[s * p + 1 + c] = child[r, c]
            for j in range(n_leaves):
                leaves[i, j] = tree[leaf0 + j]
            if keep_nodes:
                for p in range(n_nodes):
                    nodes[i, p] = tree[p]


# exp on x ≤ 0 by Cody-Waite reduction x = k ln2 + r, |r| ≤ ln2/2, and a degree-13 Taylor
# polynomial of e^r (truncation error < 1e-17): unlike the libm call, the loop vectorises.
_LOG2E = 1.4426950408889634
_LN2_HI = 0.6931471803691238
_LN2_LO = 1.9082149292705877e-10
_EXP_SHIFT = 1023.0 + 2.0**52
_EXP_TAYLOR = np.array([1.0 / math.factorial(m) for m in range(13, -1, -1)])


@intrinsic
def _int_bits_to_float(typingctx, bits):
    """The float64 whose IEEE-754 bit pattern is the int64 ``bits`` (a bitcast)."""
    if not isinstance(bits, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], llvm_ir.DoubleType())

    return types.float64(types.int64), codegen


@intrinsic
def _float_to_int_bits(typingctx, val):
    """The IEEE-754 bit pattern of the float64 ``val`` as an int64 (a bitcast)."""
    if not isinstance(val, types.Float):
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], llvm_ir.IntType(64))

    return types.int64(types.float64), codegen


@njit(nogil=True, cache=True, error_model="numpy")
def _exp_nonpositive(flat: np.ndarray) -> None:
    """``flat = exp(flat)`` in place for a 1-d array of values ≤ 0 (or -inf); below -708 the
    result is 0 (a relative weight under 1e-307 next to the leaf's maximum, which is 1). The
    scale :math:`2^k` is built from its exponent bits, so the loop vectorises."""
    for idx in range(flat.shape[0]):
        xv = flat[idx]
        xc = max(xv, -708.0)
        kf = np.floor(xc * _LOG2E + 0.5)
        r = (xc - kf * _LN2_HI) - kf * _LN2_LO
        poly = _EXP_TAYLOR[0]
        for m in range(1, 14):
            poly = poly * r + _EXP_TAYLOR[m]
        # kf + 1023 sits in the low mantissa bits of kf + 1023 + 2^52; << 52 makes it the
        # exponent of 2^kf (no float-to-int conversion, which AVX2 cannot vectorise)
        scale = _int_bits_to_float(_float_to_int_bits(kf + _EXP_SHIFT) << 52)
        val = poly * scale
        flat[idx] = val if xv >= -708.0 else 0.0


@njit(nogil=True, cache=True, error_model="numpy")
def _rescale(lz: np.ndarray, zp: np.ndarray) -> None:
    """Fold the running products of normalisers ``zp`` into ``lz`` before they over/underflow."""
    for lane in range(zp.shape[0]):
        if zp[lane] < 1e-200 or zp[lane] > 1e200:
            lz[lane] += np.log(zp[lane])
            zp[lane] = 1.0


@njit(nogil=True, cache=True, error_model="numpy")
def _normalise(msg: np.ndarray, p: int, zs: np.ndarray, inv: np.ndarray, dead: np.ndarray) -> None:
    """Normalise the message ``msg[p]`` (q, lanes) per lane; its sums go to ``zs`` (``inv`` is
    scratch for their inverses). A zero sum marks the lane dead (zero-probability evidence) and
    leaves its zeros in place."""
    q, n_lanes = msg.shape[1], msg.shape[2]
    for lane in range(n_lanes):
        zs[lane] = 0.0
    for a in range(q):
        for lane in range(n_lanes):
            zs[lane] += msg[p, a, lane]
    for lane in range(n_lanes):
        if zs[lane] == 0.0:
            dead[lane] = True
            zs[lane] = 1.0
        inv[lane] = 1.0 / zs[lane]
    for a in range(q):
        for lane in range(n_lanes):
            msg[p, a, lane] *= inv[lane]


@njit(parallel=True, cache=True, error_model="numpy")
def bp_leaf_marginals(
    x: np.ndarray,
    coef: np.ndarray,
    child: np.ndarray,
    prob: np.ndarray,
    prior: np.ndarray,
    log_prior: np.ndarray,
    prior_row: np.ndarray,
    t_mat: np.ndarray,
    k: int,
    out: np.ndarray,
    log_z: np.ndarray,
) -> int:
    """Leaf posterior marginals of the k-filtered tree under leaf log-evidence ``coef[i] * x[i]``.

    ``x`` (n, N, q) float64 (entries may be -inf when ``coef`` is 1, each leaf needs a finite
    one); ``coef`` (n,); ``child`` (R, s) int64; ``prob`` (R,); ``prior``, ``log_prior`` (C + 1, q)
    root priors (rows sum to 1) and their logs, ``prior_row`` (n,) int64 the row of each sample (module docstring); ``t_mat`` (s^k, q, q) the channels T_j (the identity when ``k = 0``). Writes
    ``out`` (n, N, q) and ``log_z`` (n,) = log Σ_x0 p_k(x0) exp(Σ_i h_i(x0_i)). Returns the
    number of non-finite entries of ``x`` (counted on the way, so a caller that needs finite
    input does not have to scan it first).

    Samples are processed ``_LANES`` at a time with the lane as the innermost (contiguous) axis
    of the messages, so the products of the sweeps run as SIMD over samples; padding lanes of
    the last block carry uniform evidence and are not written out.
    """
    n, n_leaves, q = x.shape
    s = child.shape[1]
    n_nodes = (n_leaves * s - 1) // (s - 1)
    depth = 0
    while s**depth < n_leaves:
        depth += 1
    n_k = s**k
    # fewer lanes for large trees, so that the messages u, v stay within ~512 KiB (L2)
    B = _LANES
    while B > 8 and 2 * n_nodes * q * B * 8 > 1 << 19:
        B //= 2
    n_chunks = (n + _CHUNK - 1) // _CHUNK
    # rules sorted (stably) by their child c, for the downward sweep of a binary tree
    by_child = np.empty((s, child.shape[0]), dtype=np.int64)
    for c in range(s):
        by_child[c] = np.argsort(child[:, c], kind="mergesort")
    n_bad = np.zeros(n_chunks, dtype=np.int64)
    for ch in prange(n_chunks):
        u = np.empty((n_nodes, q, B))
        v = np.empty((n_nodes, q, B))
        log_m = np.empty((n_k, q, B))
        lp = np.empty((q, B))
        prefix = np.empty((n_k + 1, q, B))
        lane_tmp = np.empty((6, B))
        acc = np.empty(((s + 1) * q, B))
        dead = np.empty(B, dtype=np.bool_)
        for i0 in range(ch * _CHUNK, min(n, (ch + 1) * _CHUNK), B):
            n_bad[ch] += _bp_block(x, coef, child, prob, prior, log_prior, prior_row, t_mat, k, out,
                                   log_z, i0, depth, u, v, log_m, prefix, lane_tmp, acc, dead,
                                   by_child, lp)  # fmt: skip
    return n_bad.sum()


@njit(nogil=True, cache=True, error_model="numpy")
def _bp_block(
    x: np.ndarray,
    coef: np.ndarray,
    child: np.ndarray,
    prob: np.ndarray,
    prior: np.ndarray,
    log_prior: np.ndarray,
    prior_row: np.ndarray,
    t_mat: np.ndarray,
    k: int,
    out: np.ndarray,
    log_z: np.ndarray,
    i0: int,
    depth: int,
    u: np.ndarray,
    v: np.ndarray,
    log_m: np.ndarray,
    prefix: np.ndarray,
    lane_tmp: np.ndarray,
    acc: np.ndarray,
    dead: np.ndarray,
    by_child: np.ndarray,
    lp: np.ndarray,
) -> int:
    """BP for the ``lanes`` samples from ``i0`` (see :func:`bp_leaf_marginals`); the other
    arguments are scratch: messages ``u``, ``v`` (n_nodes, q, lanes), ``log_m``, ``prefix``
    (s^k [+1], q, lanes), ``lane_tmp`` (6, lanes), ``acc`` ((s + 1) q, lanes), ``dead``
    (lanes,) bool; ``by_child`` (s, R) the rules stably sorted by child c; ``lp`` (q, lanes) the
    root log-prior of each lane, gathered from ``log_prior[prior_row]`` (filtered models). Returns the number
    of non-finite entries of ``x`` in the block.

    The number of lanes is read from ``u`` (not a compile-time constant), so LLVM keeps the
    lane loops as loops and vectorises them behind runtime alias checks instead of unrolling
    them into scalar code."""
    n, n_leaves, q = x.shape
    n_rules, s = child.shape
    q_eff = n_rules // q
    n_nodes = (n_leaves * s - 1) // (s - 1)
    leaf0 = n_nodes - n_leaves
    n_k = 1
    for _ in range(k):
        n_k *= s
    off_k = (n_k - 1) // (s - 1)
    B = u.shape[2]
    nb = min(B, n - i0)
    tmp = lane_tmp[0]
    zs = lane_tmp[1]
    zinv = lane_tmp[4]
    lz = lane_tmp[2]
    zp = lane_tmp[3]
    hmax = lane_tmp[5]
    suffix = acc[s * q :]
    for lane in range(B):
        lz[lane] = 0.0
        zp[lane] = 1.0
        dead[lane] = False
        for a in range(q):
            suffix[a, lane] = 0.0
    # the root prior of each lane (padding lanes: the unconditional row 0), straight into the
    # root's downward message for the unfiltered model, in log space for a filtered one
    for lane in range(B):
        row = prior_row[i0 + lane] if lane < nb else 0
        if k == 0:
            for a in range(q):
                v[0, a, lane] = prior[row, a]
        else:
            for a in range(q):
                lp[a, lane] = log_prior[row, a]

    # Leaves: ψ = softmax(h) per sample; the log normaliser is split into lz (the maxima) and
    # zp (running product of the sums, each in [1, q]). The fields go straight into the leaf
    # rows of u (lane innermost), so the maxima, the exponential and the sums run over lanes.
    n_bad = 0
    for lane in range(nb):
        i = i0 + lane
        ci = coef[i]
        for j in range(n_leaves):
            for a in range(q):
                xv = x[i, j, a]
                if not np.isfinite(xv):
                    n_bad += 1
                u[leaf0 + j, a, lane] = ci * xv
    for lane in range(nb, B):
        for p in range(leaf0, n_nodes):
            for a in range(q):
                u[p, a, lane] = 0.0
    for p in range(leaf0, n_nodes):
        for lane in range(B):
            hmax[lane] = -np.inf
        for a in range(q):
            for lane in range(B):
                hmax[lane] = max(hmax[lane], u[p, a, lane])
        for a in range(q):
            for lane in range(B):
                u[p, a, lane] -= hmax[lane]
        for lane in range(B):
            lz[lane] += hmax[lane]
    _exp_nonpositive(u[leaf0:].reshape(-1))
    for p in range(leaf0, n_nodes):
        _normalise(u, p, zs, zinv, dead)
        for lane in range(B):
            zp[lane] *= zs[lane]
        _rescale(lz, zp)

    # Upward sweep to level k; level d holds n_lvl = s^d nodes from ``first``.
    n_lvl = n_leaves // s
    first = (n_lvl - 1) // (s - 1)
    for _ in range(depth - 1, k - 1, -1):
        for p in range(first, first + n_lvl):
            c0 = s * p + 1
            for a in range(q):
                if s == 2:
                    # the first rule initialises the sum (0 + x = x), sparing a memset call
                    r = a * q_eff
                    pr = prob[r]
                    b0 = child[r, 0]
                    b1 = child[r, 1]
                    for lane in range(B):
                        u[p, a, lane] = pr * u[c0, b0, lane] * u[c0 + 1, b1, lane]
                    for r in range(a * q_eff + 1, (a + 1) * q_eff):
                        pr = prob[r]
                        b0 = child[r, 0]
                        b1 = child[r, 1]
                        for lane in range(B):
                            u[p, a, lane] += pr * u[c0, b0, lane] * u[c0 + 1, b1, lane]
                    continue
                for lane in range(B):
                    u[p, a, lane] = 0.0
                for r in range(a * q_eff, (a + 1) * q_eff):
                    pr = prob[r]
                    b0 = child[r, 0]
                    b1 = child[r, 1]
                    for lane in range(B):
                        tmp[lane] = pr * u[c0, b0, lane] * u[c0 + 1, b1, lane]
                    for c in range(2, s):
                        b = child[r, c]
                        for lane in range(B):
                            tmp[lane] *= u[c0 + c, b, lane]
                    for lane in range(B):
                        u[p, a, lane] += tmp[lane]
            _normalise(u, p, zs, zinv, dead)
            for lane in range(B):
                zp[lane] *= zs[lane]
            _rescale(lz, zp)
        n_lvl //= s
        first -= n_lvl

    if k == 0:
        # Root of the unfiltered model: Z_root = Σ_a π(a) u_0(a), and the downward message
        # of the root is the lane's (normalised) prior itself, already in v[0] (exact zeros
        # stay zeros).
        for lane in range(B):
            tmp[lane] = 0.0
        for a in range(q):
            for lane in range(B):
                tmp[lane] += v[0, a, lane] * u[0, a, lane]
        for lane in range(B):
            if tmp[lane] == 0.0:
                dead[lane] = True
            else:
                lz[lane] += np.log(tmp[lane])
    else:
        _level_k(u, v, log_m, prefix, suffix, tmp, zs, zinv, lz, dead, lp, t_mat, off_k)

    # Downward sweep below level k.
    first = off_k
    n_lvl = n_k
    for _ in range(k, depth):
        for p in range(first, first + n_lvl):
            c0 = s * p + 1
            if s == 2:
                # the binary tree of the paper: child c sums M_r v_p(a_r) u_{other}(child[r, 1-c])
                # over the rules with child[r, c] = b, visited in rule order (``by_child``), the
                # first one assigning, so no row has to be zeroed first
                for c in range(2):
                    co = c0 + 1 - c
                    idx = 0
                    for b in range(q):
                        first_rule = True
                        while idx < n_rules and child[by_child[c, idx], c] == b:
                            r = by_child[c, idx]
                            pr = prob[r]
                            a = r // q_eff
                            bo = child[r, 1 - c]
                            if first_rule:
                                for lane in range(B):
                                    v[c0 + c, b, lane] = pr * v[p, a, lane] * u[co, bo, lane]
                                first_rule = False
                            else:
                                for lane in range(B):
                                    v[c0 + c, b, lane] += pr * v[p, a, lane] * u[co, bo, lane]
                            idx += 1
                        if first_rule:
                            for lane in range(B):
                                v[c0 + c, b, lane] = 0.0
                    _normalise(v, c0 + c, zs, zinv, dead)
                continue
            # Child c collects M_r v_p(a_r) Π_{c'≠c} u_{c'} in acc rows c q … c q + q - 1.
            for b in range(s * q):
                for lane in range(B):
                    acc[b, lane] = 0.0
            for r in range(n_rules):
                pr = prob[r]
                a = r // q_eff
                for c in range(s):
                    for lane in range(B):
                        tmp[lane] = pr * v[p, a, lane]
                    for c2 in range(s):
                        if c2 != c:
                            b2 = child[r, c2]
                            for lane in range(B):
                                tmp[lane] *= u[c0 + c2, b2, lane]
                    b = c * q + child[r, c]
                    for lane in range(B):
                        acc[b, lane] += tmp[lane]
            for c in range(s):
                for b in range(q):
                    for lane in range(B):
                        v[c0 + c, b, lane] = acc[c * q + b, lane]
                _normalise(v, c0 + c, zs, zinv, dead)
        first += n_lvl
        n_lvl *= s

    # Leaf marginals μ ∝ ψ v.
    for lane in range(nb):
        i = i0 + lane
        if not dead[lane]:
            for j in range(n_leaves):
                p = leaf0 + j
                z = 0.0
                for a in range(q):
                    w = u[p, a, lane] * v[p, a, lane]
                    out[i, j, a] = w
                    z += w
                if z == 0.0:
                    dead[lane] = True
                    break
                inv = 1.0 / z
                for a in range(q):
                    out[i, j, a] *= inv
        if dead[lane]:
            log_z[i] = -np.inf
            for j in range(n_leaves):
                for a in range(q):
                    out[i, j, a] = np.nan
        else:
            log_z[i] = lz[lane] + np.log(zp[lane])
    return n_bad


@njit(nogil=True, cache=True, error_model="numpy")
def _level_k(
    u: np.ndarray,
    v: np.ndarray,
    log_m: np.ndarray,
    prefix: np.ndarray,
    suffix: np.ndarray,
    tmp: np.ndarray,
    zs: np.ndarray,
    zinv: np.ndarray,
    lz: np.ndarray,
    dead: np.ndarray,
    lp: np.ndarray,
    t_mat: np.ndarray,
    off_k: int,
) -> None:
    """Level k > 0 of a filtered model: channels to the root, root belief and cavities, in log
    space (exact zeros), with the root log-prior ``lp`` (q, lanes) of each lane; writes the level-k downward messages ``v`` and adds log Z_root to
    ``lz``."""
    n_k, q = t_mat.shape[0], t_mat.shape[1]
    B = u.shape[2]
    for a in range(q):
        for lane in range(B):
            prefix[0, a, lane] = 0.0
    for j in range(n_k):
        p = off_k + j
        for a in range(q):
            for lane in range(B):
                tmp[lane] = 0.0
            for b in range(q):
                t = t_mat[j, a, b]
                if t != 0.0:
                    for lane in range(B):
                        tmp[lane] += t * u[p, b, lane]
            for lane in range(B):
                lm = np.log(tmp[lane])
                log_m[j, a, lane] = lm
                prefix[j + 1, a, lane] = prefix[j, a, lane] + lm
    for lane in range(B):
        top = -np.inf
        for a in range(q):
            top = max(top, lp[a, lane] + prefix[n_k, a, lane])
        if top == -np.inf:
            dead[lane] = True
        else:
            z = 0.0
            for a in range(q):
                z += np.exp(lp[a, lane] + prefix[n_k, a, lane] - top)
            lz[lane] += top + np.log(z)
    for j in range(n_k - 1, -1, -1):
        p = off_k + j
        for b in range(q):
            for lane in range(B):
                v[p, b, lane] = 0.0
        for a in range(q):
            # log c_j(a) = log π(a) + Σ_{i<j} log m_i(a) + Σ_{i>j} log m_i(a), into tmp
            for lane in range(B):
                tmp[lane] = lp[a, lane] + prefix[j, a, lane] + suffix[a, lane]
                suffix[a, lane] += log_m[j, a, lane]
            # the prefix row j is free now: it keeps the cavity logits of symbol a
            for lane in range(B):
                prefix[j, a, lane] = tmp[lane]
        for lane in range(B):
            cmax = -np.inf
            for a in range(q):
                cmax = max(cmax, prefix[j, a, lane])
            if cmax == -np.inf:
                dead[lane] = True
                cmax = 0.0
            for a in range(q):
                prefix[j, a, lane] = np.exp(prefix[j, a, lane] - cmax)
        for a in range(q):
            for b in range(q):
                t = t_mat[j, a, b]
                if t != 0.0:
                    for lane in range(B):
                        v[p, b, lane] += t * prefix[j, a, lane]
        _normalise(v, p, zs, zinv, dead)


@njit(parallel=True, cache=True, error_model="numpy")
def parse_trees(
    tokens: np.ndarray,
    table: np.ndarray,
    q: int,
    s: int,
    log_prob: np.ndarray,
    log_prior: np.ndarray,
    prior_row: np.ndarray,
    log_t: np.ndarray,
    k: int,
    valid: np.ndarray,
    logp: np.ndarray,
    roots: np.ndarray,
) -> None:
    """Bottom-up parse: per-level fraction of allowed sibling groups and the exact log-probability.

    ``tokens`` (n, N) int64 leaves; ``table`` (q^s,) rule index of each children tuple (base-q
    number, first child most significant) or -1; ``log_prob`` (R,); ``log_prior`` (C + 1, q) and
    ``prior_row`` (n,) the root log-prior of each sample (module docstring); ``log_t``
    (s^k, q, q) log channels of the k-filtered model. Writes ``valid`` (n, depth), column ``d``
    = fraction of allowed groups among the ``s^d`` sibling groups whose parent is at level ``d``
    (a group with an unparsed child, i.e. one below an invalid group, counts as not allowed and
    leaves its parent unparsed), ``logp`` (n,) = log p_k(tokens | class) (-inf when invalid) and
    ``roots`` (n,) the root symbol of the exact grammar's parse (-1 when some group is not an
    allowed rule).
    """
    n, n_leaves = tokens.shape
    depth = valid.shape[1]
    n_rules = log_prob.shape[0]
    q_eff = n_rules // q
    n_k = s**k
    n_chunks = (n + _CHUNK - 1) // _CHUNK
    for ch in prange(n_chunks):
        cur = np.empty(n_leaves, dtype=np.int64)
        nxt = np.empty(n_leaves, dtype=np.int64)
        for i in range(ch * _CHUNK, min(n, (ch + 1) * _CHUNK)):
            for j in range(n_leaves):
                cur[j] = tokens[i, j]
            lp = 0.0
            row = prior_row[i]
            width = n_leaves
            for d in range(depth, -1, -1):
                if d == k:
                    # Top of the exact part: root prior (k = 0) or the filtered channels.
                    top = -np.inf
                    for a in range(q):
                        t = log_prior[row, a]
                        for j in range(n_k):
                            if cur[j] < 0:
                                t = -np.inf
                                break
                            t += log_t[j, a, cur[j]]
                        if t > top:
                            top = t
                    if top == -np.inf:
                        lp = -np.inf
                    else:
                        z = 0.0
                        for a in range(q):
                            t = log_prior[row, a]
                            for j in range(n_k):
                                t += log_t[j, a, cur[j]]
                            z += np.exp(t - top)
                        lp += top + np.log(z)
                if d == 0:
                    break
                width //= s
                ok = 0
                for g in range(width):
                    idx = 0
                    for c in range(s):
                        sym = cur[s * g + c]
                        if sym < 0:
                            idx = -1
                            break
                        idx = idx * q + sym
                    r = table[idx] if idx >= 0 else -1
                    if r < 0:
                        nxt[g] = -1
                        if d - 1 >= k:
                            lp = -np.inf
                    else:
                        nxt[g] = r // q_eff
                        ok += 1
                        if d - 1 >= k:
                            lp += log_prob[r]
                valid[i, d - 1] = ok / width
                for g in range(width):
                    cur[g] = nxt[g]
            logp[i] = lp
            roots[i] = cur[0]
