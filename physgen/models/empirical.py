r"""The empirical distribution of a finite training set and its exact denoiser (the memorizer).

For training points :math:`y_1, \dots, y_m` (vectors, one-hot sequences or images, flattened to
:math:`D` coordinates) the empirical measure :math:`\hat p_0 = \frac1m\sum_\mu \delta_{y_\mu}`
noised by :math:`x_t = \sqrt{\bar\alpha}\,x_0 + \sqrt{1-\bar\alpha}\,\varepsilon` has the posterior
mean (docs/theory.md §3, §6)

.. math:: \hat x_0(x_t) = \sum_\mu w_\mu\, y_\mu, \qquad
          w = \operatorname{softmax}_\mu\Big(-\frac{\lVert x_t - \sqrt{\bar\alpha}\,y_\mu\rVert^2}
          {2(1-\bar\alpha)}\Big).

Dropping the :math:`\mu`-independent :math:`\lVert x_t\rVert^2`, the logits are
:math:`\ell_\mu = (\sqrt{\bar\alpha}\, x_t\cdot y_\mu - \tfrac12\bar\alpha\lVert y_\mu\rVert^2)
/(1-\bar\alpha)`: one matrix product per block, of the rows
:math:`[\sqrt{\bar\alpha}\,x_t, -\bar\alpha/2]/(1-\bar\alpha)` with the stored rows
:math:`[y_\mu, \lVert y_\mu\rVert^2]` (the bias folded into the product saves passes over the
logits). The sum runs over blocks of the
``m`` points with a running log-sum-exp (running maximum :math:`M`, normaliser :math:`S` and
numerator :math:`N`, rescaled by :math:`e^{M_{\rm old}-M_{\rm new}}` when the maximum grows), and
over blocks of the batch, so memory stays :math:`O(b\,c + b\,D)` for batch block ``b`` and point
block ``c``: an ``n × m × D`` (or even ``n × m``) array is never formed. Shifted logits below
:math:`\log(\epsilon/m)` (machine epsilon :math:`\epsilon`) are raised to it before the exponential:
it changes no sum beyond rounding and keeps subnormal numbers, on which every later operation is
orders of magnitude slower, out of the arithmetic. Float32 data runs in float32 (twice the BLAS
rate). At :math:`\bar\alpha = 1` the softmax becomes an argmax: the nearest training point.
:meth:`Empirical.same_point_probability` streams :math:`\sum_\mu w_\mu^2` the same way (the
collapse measurement, :mod:`physgen.metrics.regimes`).

Reverse diffusion driven by this denoiser returns training points: it is the perfectly memorising
model that a diffusion model trained too long on ``m`` points converges to.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from physgen.errors import PhysgenError
from physgen.models._memory import check_fits_in_memory
from physgen.models.base import DataModel, as_alpha_bar
from physgen.rng import sample_generator

__all__ = ["Empirical"]

_BLOCK_ELEMENTS = 1 << 21
"""Target size (elements) of one ``batch block × point block`` logit array (16 MiB in float64)."""


class Empirical(DataModel):
    """The empirical distribution of ``data`` with its exact (streaming) denoiser.

    Parameters
    ----------
    data:
        Training points in the diffusion space, shape ``(m, *event_shape)`` (float; integers are
        converted to float64). Float32 data is kept in float32, everything else in float64.
    vocab_size:
        For one-hot token data of shape ``(m, N, q)``: ``q``. Then the native encoding is int
        tokens: :meth:`sample` returns ``(n, N)`` ints, :meth:`encode` is one-hot and
        :meth:`decode` is argmax. ``None`` (default): native = diffusion space.
    chunk_size:
        Training points per block of the streaming log-sum-exp (``None``: chosen from the batch
        size so one block of logits holds about 2^21 numbers).
    """

    def __init__(
        self, data: Any, *, vocab_size: int | None = None, chunk_size: int | None = None
    ) -> None:
        y = np.asarray(data)
        if y.dtype != np.float32:
            y = y.astype(np.float64)
        if y.ndim < 2 or y.shape[0] < 1 or y.size < 1:
            raise PhysgenError(
                f"data must have shape (m, *event_shape) with m ≥ 1 and d ≥ 1, got {y.shape}"
            )
        if not np.all(np.isfinite(y)):
            raise PhysgenError("data must be finite")
        if vocab_size is not None and (y.ndim != 3 or y.shape[2] != vocab_size):
            raise PhysgenError(
                f"one-hot data with vocab_size={vocab_size} must have shape (m, N, {vocab_size}), "
                f"got {y.shape}"
            )
        if chunk_size is not None and int(chunk_size) < 1:
            raise PhysgenError(f"chunk_size must be ≥ 1, got {chunk_size}")
        m, d = y.shape[0], int(np.prod(y.shape[1:]))
        # rows [y_μ, ‖y_μ‖²]: one product with [c x, -c ᾱ/2] gives the logits with their bias
        self._aug = np.empty((m, d + 1), dtype=y.dtype)
        self._aug[:, :d] = y.reshape(m, d)
        self._aug[:, d] = np.einsum("md,md->m", self._aug[:, :d], self._aug[:, :d])
        self.data = self._aug[:, :d].reshape(y.shape)
        self.event_shape = tuple(y.shape[1:])
        self.vocab_size = vocab_size
        self.chunk_size = None if chunk_size is None else int(chunk_size)

    @classmethod
    def from_tokens(cls, tokens: Any, vocab_size: int, **kwargs: Any) -> Empirical:
        """The empirical model of int token sequences ``tokens`` (m, N) with ``q = vocab_size``,
        stored one-hot (m, N, q) in float64."""
        tok = np.asarray(tokens)
        if tok.ndim != 2 or not np.issubdtype(tok.dtype, np.integer):
            raise PhysgenError(f"tokens must be an int array of shape (m, N), got {tok.shape}")
        if tok.size and (tok.min() < 0 or tok.max() >= vocab_size):
            raise PhysgenError(f"tokens must lie in 0..{vocab_size - 1}")
        return cls(np.eye(vocab_size)[tok], vocab_size=vocab_size, **kwargs)

    def __len__(self) -> int:
        return self.data.shape[0]

    def encode(self, native: np.ndarray) -> np.ndarray:
        """Native data → diffusion space (one-hot when ``vocab_size`` is set)."""
        if self.vocab_size is None:
            return np.asarray(native, dtype=self.data.dtype)
        return np.eye(self.vocab_size, dtype=self.data.dtype)[np.asarray(native)]

    def decode(self, x: np.ndarray) -> np.ndarray:
        """Diffusion space → native data (argmax over the last axis when ``vocab_size`` is set)."""
        if self.vocab_size is None:
            return np.asarray(x)
        return np.argmax(x, axis=-1)

    def sample(self, n: int, seed: int) -> np.ndarray:
        """``n`` training points drawn uniformly with replacement, native encoding; the index of
        sample ``i`` comes from the stream ``(seed, i)``."""
        check_fits_in_memory("n", int(n), self.data[0].nbytes)
        idx = np.array(
            [sample_generator(seed, i).integers(len(self)) for i in range(int(n))], dtype=np.int64
        )
        return self.decode(self.data[idx])

    def denoise(self, x_t: np.ndarray, alpha_bar: float | np.ndarray) -> np.ndarray:
        r"""Exact :math:`E[x_0 \mid x_t]` under the empirical measure.

        ``x_t``: shape ``(n, *event_shape)``; ``alpha_bar``: float or ``(n,)`` in ``(0, 1]``.
        Returns the shape of ``x_t`` in the data's float dtype.
        """
        x = np.asarray(x_t, dtype=self.data.dtype)
        if x.shape[1:] != self.event_shape:
            raise PhysgenError(f"x_t must have shape (n, *{self.event_shape}), got {x.shape}")
        n = x.shape[0]
        a = as_alpha_bar(alpha_bar, n)
        xf = x.reshape(n, -1)
        out = np.empty_like(xf)
        b, c = self._blocks(n)
        hard = a >= 1.0
        for lo in range(0, n, b):
            sl = slice(lo, min(lo + b, n))
            if not np.any(hard[sl]):
                out[sl] = self._posterior_mean(xf[sl], a[sl], c)
                continue
            soft = np.flatnonzero(~hard[sl]) + lo
            sharp = np.flatnonzero(hard[sl]) + lo
            if soft.size:
                out[soft] = self._posterior_mean(xf[soft], a[soft], c)
            out[sharp] = self._aug[self._nearest(xf[sharp], c), :-1]
        return out.reshape(x.shape)

    def same_point_probability(self, x_t: np.ndarray, alpha_bar: float | np.ndarray) -> np.ndarray:
        r""":math:`\sum_\mu w_\mu(x_t)^2`: the probability that two independent draws from the
        posterior :math:`P(x_0 \mid x_t)` (two reverse chains cloned at :math:`x_t`, both driven
        by this exact denoiser) end on the same training point.

        ``x_t``: ``(n, *event_shape)``; ``alpha_bar``: float or ``(n,)`` in ``(0, 1]``. Returns
        ``(n,)`` in float64: 1 when one point holds all the weight (collapse), :math:`1/m` when
        the weights are uniform. Streams like :meth:`denoise` with one product per block (the
        weighted sum of the points is not needed).
        """
        x = np.asarray(x_t, dtype=self.data.dtype)
        if x.shape[1:] != self.event_shape:
            raise PhysgenError(f"x_t must have shape (n, *{self.event_shape}), got {x.shape}")
        n = x.shape[0]
        a = as_alpha_bar(alpha_bar, n)
        xf = x.reshape(n, -1)
        out = np.ones(n)  # alpha_bar = 1: all the weight on the nearest point
        b, c = self._blocks(n)
        soft = np.flatnonzero(a < 1.0)
        for lo in range(0, soft.size, b):
            rows = soft[lo : lo + b]
            _, total, square = self._softmax_stats(xf[rows], a[rows], c, weighted_sum=False)
            out[rows] = (square / total**2)[:, 0]
        return out

    def _blocks(self, n: int) -> tuple[int, int]:
        """Batch block ``b`` and point block ``c`` so one logit block holds about 2^21 numbers."""
        if self.chunk_size is not None:
            c = self.chunk_size
            b = max(1, _BLOCK_ELEMENTS // c)
        else:
            b = min(max(n, 1), 4096)
            c = max(1, _BLOCK_ELEMENTS // b)
        return b, min(c, len(self))

    def _posterior_mean(self, x: np.ndarray, a: np.ndarray, c: int) -> np.ndarray:
        """Streaming softmax-weighted mean for a batch block ``x`` (b, D) with ``a`` (b,) < 1."""
        num, total, _ = self._softmax_stats(x, a, c, weighted_sum=True)
        return num[:, :-1] / total

    def _softmax_stats(
        self, x: np.ndarray, a: np.ndarray, c: int, *, weighted_sum: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r"""One streaming pass over the points for a batch block ``x`` (b, D), ``a`` (b,) < 1.

        With the running maximum :math:`M` of the logits, returns the weighted sum
        :math:`\sum_\mu e^{\ell_\mu - M} [y_\mu, \lVert y_\mu\rVert^2]` ``(b, D + 1)`` (``None``
        unless ``weighted_sum``), :math:`S = \sum_\mu e^{\ell_\mu - M}` and
        :math:`Q = \sum_\mu e^{2(\ell_\mu - M)}` (both ``(b, 1)``; :math:`Q` is only accumulated,
        else zero, without ``weighted_sum``), so that :math:`w = e^{\ell-M}/S` and
        :math:`\sum w^2 = Q/S^2`.
        """
        dt = self.data.dtype
        xa = np.empty((x.shape[0], x.shape[1] + 1), dtype=dt)
        xa[:, :-1] = x * (np.sqrt(a) / (1.0 - a)).astype(dt)[:, None]
        xa[:, -1] = -0.5 * a / (1.0 - a)
        run_max = np.full((x.shape[0], 1), -np.inf, dtype=dt)
        run_sum = np.zeros((x.shape[0], 1), dtype=dt)
        run_sq = np.zeros((x.shape[0], 1), dtype=dt)
        # its last column, Σ w ‖y‖², is a by-product left unused
        num = np.zeros_like(xa) if weighted_sum else None
        cut = dt.type(np.log(np.finfo(dt).eps / len(self)))
        for lo in range(0, len(self), c):
            y = self._aug[lo : lo + c]
            logits = xa @ y.T
            new_max = np.maximum(run_max, logits.max(axis=1, keepdims=True))
            rescale = np.exp(run_max - new_max)
            np.subtract(logits, new_max, out=logits)
            # raising every weight below e^cut = eps/m to e^cut changes S, Q and the mean by at
            # most eps relative (rounding), and keeps subnormal numbers (e^{ℓ-M} or their
            # products with y), which slow every later operation by orders of magnitude, out
            # of the arithmetic
            np.maximum(logits, cut, out=logits)
            np.exp(logits, out=logits)
            run_sum = run_sum * rescale + logits.sum(axis=1, keepdims=True)
            if num is None:
                run_sq = run_sq * rescale**2 + np.einsum("bc,bc->b", logits, logits)[:, None]
            else:
                num *= rescale
                num += logits @ y
            run_max = new_max
        return num, run_sum, run_sq

    def _nearest(self, x: np.ndarray, c: int) -> np.ndarray:
        """Index of the nearest training point of each row of ``x`` (b, D), streaming."""
        best = np.full(x.shape[0], -np.inf)
        arg = np.zeros(x.shape[0], dtype=np.int64)
        xa = np.empty((x.shape[0], x.shape[1] + 1), dtype=self.data.dtype)
        xa[:, :-1] = x
        xa[:, -1] = -0.5
        for lo in range(0, len(self), c):
            # argmin ‖x - y‖² = argmax (x·y - ‖y‖²/2)
            s = xa @ self._aug[lo : lo + c].T
            j = np.argmax(s, axis=1)
            v = s[np.arange(x.shape[0]), j]
            better = v > best
            best[better] = v[better]
            arg[better] = j[better] + lo
        return arg

    def params(self) -> dict[str, Any]:
        """Size and shape of the training set (the points themselves are not recorded)."""
        return {
            "n_points": len(self),
            "event_shape": list(self.event_shape),
            "vocab_size": self.vocab_size,
        }
