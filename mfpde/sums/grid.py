r"""Exact convolutions on finite-volume grids by FFT (MATH §8, "Nonlocal terms").

For a translation-invariant kernel k(x, y) = w(x − y) and the cell centres x_i of a uniform
tensor grid, S_i = Σ_j c_j w(x_i − x_j) is a discrete convolution: circular along a periodic
axis (offsets j·h, j = 0 … n − 1, w periodic) and linear along a walled one, computed as a
circular convolution of length 2n with zero padding (offsets j·h for j < n, (j − 2n)·h for
j > n; the entry j = n is never used). Equal to the direct sum up to round-off, O(n log n) work
and O(2^{#walled} n) memory: a WFR run with an interaction on a 256 × 256 box needs a few MB
where the dense matrix needed 32 GB.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mfpde.errors import InputError

__all__ = ["GridConvolution"]


class GridConvolution:
    """S_i = Σ_j c_j w(x_i − x_j) and T_j = Σ_i c_i w(x_i − x_j) on a grid (module docstring).

    Parameters
    ----------
    k : callable
        k(x, y) = w(x − y) on point arrays that broadcast (checked translation-invariant by the
        caller); evaluated once, at pairs of cell centres realising every offset.
    grid : Grid
        The uniform grid (its ``domain`` says which axes are periodic).
    name : str
        What k is called in error messages.
    """

    method = "fft"

    def __init__(self, k: Callable, grid, name: str = "kernel"):
        self.grid = grid
        self.shape = tuple(grid.shape)
        periodic = grid.domain.periodic
        self.padded = tuple(n if p else 2 * n for n, p in zip(self.shape, periodic))
        first, second = [], []
        for n, h, p, x0 in zip(self.shape, grid.h, periodic, grid.points[0]):
            j = np.arange(n if p else 2 * n)
            s = j * h if p else np.where(j < n, j, j - 2 * n) * h
            s = np.where(j == n, 0.0, s) if not p else s
            first.append(x0 + (s if p else np.maximum(s, 0.0)))
            second.append(np.full_like(s, x0) if p else x0 + np.maximum(-s, 0.0))
        a = np.stack(np.meshgrid(*first, indexing="ij"), axis=-1)
        b = np.stack(np.meshgrid(*second, indexing="ij"), axis=-1)
        unused = np.zeros(self.padded, dtype=bool)
        for axis, (n, p) in enumerate(zip(self.shape, periodic)):
            if not p:
                index = [slice(None)] * len(self.shape)
                index[axis] = n
                unused[tuple(index)] = True
        self._hat = []
        for x, y in ((a, b), (b, a)):  # w(s) for over_y, w(−s) for over_x
            values = np.broadcast_to(np.asarray(k(x, y), dtype=float), self.padded).copy()
            if not np.all(np.isfinite(values)):
                where = np.round(x[~np.isfinite(values)][0], 6).tolist()
                raise InputError(f"the {name} is not finite at x = {where}")
            values[unused] = 0.0
            self._hat.append(np.fft.rfftn(values))

    def _convolve(self, hat: np.ndarray, strengths: np.ndarray) -> np.ndarray:
        c = np.zeros(self.padded)
        c[tuple(slice(0, n) for n in self.shape)] = strengths.reshape(self.shape)
        axes = tuple(range(len(self.shape)))  # NumPy 2 wants axes with s
        out = np.fft.irfftn(hat * np.fft.rfftn(c), s=self.padded, axes=axes)
        return out[tuple(slice(0, n) for n in self.shape)].ravel()

    def over_y(self, strengths: np.ndarray, gradient: bool = False):
        """S_i = Σ_j c_j w(x_i − x_j) at the cells (no gradient: finite volumes take none)."""
        if gradient:
            raise InputError("grid convolutions give no gradient: bind the sum to points")
        return self._convolve(self._hat[0], strengths), None

    def over_x(self, strengths: np.ndarray, gradient: bool = False):
        """T_j = Σ_i c_i w(x_i − x_j) at the cells."""
        if gradient:
            raise InputError("grid convolutions give no gradient: bind the sum to points")
        return self._convolve(self._hat[1], strengths), None
