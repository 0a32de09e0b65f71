r"""Reference implementations of the exact tree denoiser, for speed comparisons and cross-checks.

Both run belief propagation on the exact (k = 0) tree with the *dense* rule tensor
:math:`M` of shape ``(q,) * (s + 1)``, level by level and batched over samples and over the
nodes of a level (docs/theory.md §3):

* upward :math:`u_p(a) \propto \sum_{b_1 \dots b_s} M[a, b_1, \dots, b_s] \prod_c u_{pc}(b_c)`,
* downward :math:`v_{pc}(b) \propto \sum_{a, b_{c' \ne c}} v_p(a) M[a, \dots] \prod_{c' \ne c}
  u_{pc'}(b_{c'})`, :math:`v_\text{root} = \pi`,
* leaf marginals :math:`\mu_i \propto \psi_i v_i`, :math:`\psi_i = \mathrm{softmax}(h_i)`.

:func:`bp_numpy` is the plain NumPy version (``einsum`` over the dense tensor, messages
normalised per node); :func:`bp_torch_log` is the log-space torch version (``logsumexp`` over the
dense tensor). Neither exploits the sparsity of the rules, which the Numba kernel of
:mod:`physgen.models._tree_kernels` does.
"""

from __future__ import annotations

import string

import numpy as np
import torch

__all__ = ["bp_numpy", "bp_torch_log"]


def _letters(s: int) -> tuple[str, list[str]]:
    """Einsum letters: ``a`` for the parent, one letter per child."""
    return "a", list(string.ascii_lowercase[1 : s + 1])


def bp_numpy(transition: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Leaf marginals (n, N, q) and log Z (n,) of the exact tree under log-evidence ``h`` (n, N, q).

    ``transition`` (q,)*(s+1) dense rule tensor; uniform root prior.
    """
    q = transition.shape[0]
    s = transition.ndim - 1
    n, N, _ = h.shape
    depth = round(np.log(N) / np.log(s))
    pa, kids = _letters(s)
    top = h.max(axis=-1, keepdims=True)
    psi = np.exp(h - top)
    z = psi.sum(-1, keepdims=True)
    psi /= z
    log_z = (top[..., 0] + np.log(z[..., 0])).sum(1)
    up = [psi]  # up[j] = messages of level depth - j, shape (n, s^(depth-j), q)
    for _ in range(depth):
        child = up[-1].reshape(n, -1, s, q)
        expr = f"{pa}{''.join(kids)}," + ",".join(f"nk{b}" for b in kids) + f"->nk{pa}"
        msg = np.einsum(expr, transition, *(child[:, :, c] for c in range(s)), optimize=True)
        z = msg.sum(-1, keepdims=True)
        up.append(msg / z)
        log_z += np.log(z[..., 0]).sum(1)
    up.reverse()  # up[d] = level d
    log_z += np.log(up[0][:, 0].sum(-1) / q)
    v = np.full((n, 1, q), 1.0 / q)
    for d in range(depth):
        child = up[d + 1].reshape(n, -1, s, q)
        nxt = np.empty_like(child)
        for c in range(s):
            ops = [f"nk{pa}"] + [f"nk{kids[c2]}" for c2 in range(s) if c2 != c]
            expr = f"{pa}{''.join(kids)}," + ",".join(ops) + f"->nk{kids[c]}"
            others = [child[:, :, c2] for c2 in range(s) if c2 != c]
            nxt[:, :, c] = np.einsum(expr, transition, v, *others, optimize=True)
        nxt /= nxt.sum(-1, keepdims=True)
        v = nxt.reshape(n, -1, q)
    marg = up[depth] * v
    return marg / marg.sum(-1, keepdims=True), log_z


def bp_torch_log(transition: np.ndarray, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-space BP in torch: leaf marginals (n, N, q) and log Z (n,) under log-evidence ``h``.

    Messages are unnormalised log-vectors combined by ``logsumexp`` over the dense
    ``log M`` (-inf on forbidden rules), so no rescaling is needed at any field strength.
    """
    log_m = torch.as_tensor(transition, dtype=h.dtype, device=h.device).log()
    q = log_m.shape[0]
    s = log_m.ndim - 1
    n, N, _ = h.shape
    depth = round(np.log(N) / np.log(s))
    up = [h]  # level depth … 0, log-messages (n, s^d, q)
    for _ in range(depth):
        child = up[-1].reshape(n, -1, s, q)
        # joint[n, k, a, b1, …, bs] = log M[a, b…] + Σ_c log u_c(b_c)
        joint = log_m.expand(n, child.shape[1], *log_m.shape)
        for c in range(s):
            shape = [n, child.shape[1], 1] + [1] * s
            shape[3 + c] = q
            joint = joint + child[:, :, c].reshape(shape)
        up.append(torch.logsumexp(joint.reshape(n, -1, q, q**s), dim=-1))
    up.reverse()
    log_prior = torch.full((q,), -float(np.log(q)), dtype=h.dtype, device=h.device)
    log_z = torch.logsumexp(up[0][:, 0] + log_prior, dim=-1)
    v = log_prior.expand(n, 1, q)
    for d in range(depth):
        child = up[d + 1].reshape(n, -1, s, q)
        base = log_m.expand(n, child.shape[1], *log_m.shape) + v.reshape(n, -1, q, *([1] * s))
        nxt = []
        for c in range(s):
            # v_c(b) = logsumexp over a and the siblings' symbols of log v + log M + Σ_{c'≠c} log u
            joint = base
            for c2 in range(s):
                if c2 != c:
                    shape = [n, child.shape[1], 1] + [1] * s
                    shape[3 + c2] = q
                    joint = joint + child[:, :, c2].reshape(shape)
            dims = [2] + [3 + c2 for c2 in range(s) if c2 != c]
            nxt.append(torch.logsumexp(joint, dim=dims))
        v = torch.stack(nxt, dim=2).reshape(n, -1, q)
    log_marg = up[depth] + v
    return torch.softmax(log_marg, dim=-1), log_z
