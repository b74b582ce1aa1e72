r"""Direct sums S_i = Σ_j c_j k(x_i, y_j) over all pairs, exact to round-off (MATH §6, §8).

The sums of small point sets and the fallback for kernels with no fast structure:

- on a point set that is summed many times (a mesh solver binds once and sums thousands of
  times), up to :data:`DENSE_ENTRIES` pairs, the rows k(x_i, y_j) are evaluated once with numpy
  and every sum is a matrix product; an expression's gradient rows come from its exact
  derivatives (:meth:`mfpde.expressions.Expression.gradient`);
- otherwise (particles, large sets) an expression is compiled with its exact derivatives into
  a fused numba loop (:func:`mfpde.expressions.compile_pair_sum`: O(nm) work, O(n + m)
  memory);
- a Python callable is evaluated on row blocks of :data:`BLOCK` × m pairs, its gradient by
  central differences (step ε = 1e-5 × the box's longest side: truncation ε²|∂³k|/6 and
  round-off 1e-16|k|/ε give about 1e-10 relative for smooth callables).

With a communicator the rows are split over the ranks (:class:`~mfpde.rows.RowPartition`) and
joined with one ``Allgatherv`` (over_y) or ``Allreduce`` (over_x).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mfpde.errors import InputError
from mfpde.expressions import Expression, compile_pair_sum
from mfpde.rows import RowPartition

__all__ = ["DirectSum", "BLOCK", "DENSE_ENTRIES", "FD_STEP"]

#: Rows of a callable's kernel evaluated at once (a block holds BLOCK × m values).
BLOCK = 256
#: Pairs up to which the rows k(x_i, y_j) are stored and the sums exact (2^22 doubles: 32 MB).
DENSE_ENTRIES = 2**22
#: Finite-difference step of a callable's gradient, relative to the box's longest side.
FD_STEP = 1e-5


def _finite(values: np.ndarray, points: np.ndarray, what: str = "kernel sum") -> np.ndarray:
    bad = ~np.isfinite(values)
    if bad.any():
        i = int(np.flatnonzero(bad.reshape(len(points), -1).any(axis=1))[0])
        raise InputError(f"the {what} is not finite at x = {np.round(points[i], 6).tolist()}")
    return values


class DirectSum:
    """Σ_j c_j k(x_i, y_j) and Σ_i c_i k(x_i, y_j) between fixed point sets (module docstring).

    Parameters
    ----------
    k : Expression or callable
        k(x, y) on broadcasting point arrays (..., d_x), (..., d_y).
    x, y : ndarray
        Target and source points, shapes (n, d_x) and (m, d_y).
    scale : float
        Longest side of the boxes (for the finite-difference step of a callable).
    comm : mpi4py communicator, optional
        Ranks sharing the rows.
    reuse : bool
        Whether the binding is summed many times (store small rows) or a few (particles).
    name : str
        What k is called in error messages.
    """

    method = "direct"

    def __init__(self, k: Expression | Callable, x: np.ndarray, y: np.ndarray, scale: float,
                 comm=None, reuse: bool = True, name: str = "kernel"):  # fmt: skip
        self.k, self.x, self.y, self.name = k, x, y, name
        self.step = FD_STEP * scale
        self.rows = RowPartition(len(x), comm)  # the x_i of this rank
        self.rows_y = RowPartition(len(y), comm)
        self.dense = reuse and (self.rows.stop - self.rows.start) * len(y) <= DENSE_ENTRIES
        self._matrix: np.ndarray | None = None
        self._gradients: dict[str, np.ndarray] = {}

    def _rows(self) -> np.ndarray:
        """k(x_i, y_j) for this rank's rows (evaluated once)."""
        if self._matrix is None:
            xs = self.x[self.rows.start : self.rows.stop]
            values = np.asarray(self.k(xs[:, None, :], self.y[None, :, :]), dtype=float)
            values = np.broadcast_to(values, (len(xs), len(self.y)))
            self._matrix = _finite(np.ascontiguousarray(values), xs, self.name)
        return self._matrix

    def _gradient_rows(self, letter: str) -> np.ndarray:
        """∇_letter k(x_i, y_j), shape (rows, m, d), from the exact derivatives (once)."""
        if letter not in self._gradients:
            xs = self.x[self.rows.start : self.rows.stop]
            grads = self.k.gradient(letter)(xs[:, None, :], self.y[None, :, :])
            d = xs.shape[1] if letter == "x" else self.y.shape[1]
            grads = np.broadcast_to(grads, (len(xs), len(self.y), d))
            self._gradients[letter] = _finite(grads, xs, f"gradient of the {self.name}")
        return self._gradients[letter]

    def _stored(self, gradient: bool) -> bool:
        """Whether this sum uses the stored rows (small point sets; gradients of expressions)."""
        return self.dense and (not gradient or isinstance(self.k, Expression))

    def over_y(self, strengths: np.ndarray, gradient: bool = False):
        """S_i = Σ_j c_j k(x_i, y_j) and ∇_x S_i."""
        return self._sum("x", strengths, gradient)

    def over_x(self, strengths: np.ndarray, gradient: bool = False):
        """T_j = Σ_i c_i k(x_i, y_j) and ∇_y T_j."""
        return self._sum("y", strengths, gradient)

    def _sum(self, target: str, strengths: np.ndarray, gradient: bool):
        """The sum at the points of ``target`` ("x" or "y") over the other set."""
        if self._stored(gradient):
            return self._stored_sum(target, strengths, gradient)
        rows, targets, sources = (
            (self.rows, self.x, self.y) if target == "x" else (self.rows_y, self.y, self.x)
        )
        mine = targets[rows.start : rows.stop]
        if isinstance(self.k, Expression):
            values, grads = compile_pair_sum(self.k, target)(mine, sources, strengths, gradient)
        else:
            values, grads = self._blocked(mine, sources, strengths, gradient, target == "y")
        values = rows.gather(_finite(values, mine, f"{self.name} sum"))
        if gradient:
            grads = np.stack([rows.gather(g) for g in np.asarray(grads).T], axis=-1)
        return values, grads

    def _stored_sum(self, target: str, strengths: np.ndarray, gradient: bool):
        """The sum by the stored rows: a product (over_y) or a reduced column sum (over_x)."""
        rows, grads = self.rows, None
        if target == "x":
            values = rows.gather(self._rows() @ strengths)
            if gradient:
                local = np.einsum("imd,m->id", self._gradient_rows("x"), strengths)
                grads = np.stack([rows.gather(g) for g in local.T], axis=-1)
            return _finite(values, self.x, f"{self.name} sum"), grads
        part = strengths[rows.start : rows.stop]
        values = rows.reduce(part @ self._rows())
        if gradient:
            grads = rows.reduce(np.einsum("imd,i->md", self._gradient_rows("y"), part))
        return _finite(values, self.y, f"{self.name} sum"), grads

    def _blocked(self, targets, sources, strengths, gradient, swap):
        """A callable's sum in row blocks; gradients by central differences."""

        def kernel(t):  # k with the targets as the first or the second argument
            s = sources[None, :, :]
            return np.asarray(self.k(s, t) if swap else self.k(t, s), dtype=float)

        values = np.empty(len(targets))
        grads = np.empty(targets.shape) if gradient else None
        for s in range(0, len(targets), BLOCK):
            t = targets[s : s + BLOCK, None, :]
            values[s : s + BLOCK] = _finite(kernel(t), t[:, 0], self.name) @ strengths
            if gradient:
                for a in range(targets.shape[1]):
                    shift = np.zeros(targets.shape[1])
                    shift[a] = self.step
                    difference = kernel(t + shift) - kernel(t - shift)
                    grads[s : s + BLOCK, a] = (difference @ strengths) / (2 * self.step)
        return values, grads
