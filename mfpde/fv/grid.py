"""Cell-centred uniform tensor grids for the finite-volume backend (MATH §8).

Cells are numbered in C order of their multi-index. The grid provides the quadrature of the
backend: ``points`` (cell centres) and ``weights`` (cell volumes), so that
∫ f dx ≈ Σ_i w_i f(x_i) with second-order accuracy, and the list of interior faces used by the
flux discretisation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from mfpde.domains import Domain
from mfpde.errors import InputError

__all__ = ["Grid", "Faces"]


@dataclass(frozen=True)
class Faces:
    """Interior faces between neighbouring cells ``left[f]`` and ``right[f]``.

    ``inv_h2[f]`` is 1/h_k² for the axis k of the face: on a uniform grid the flux across a
    face divided by the cell volume is (flux density)/h_k, and the two-point gradient is
    (difference)/h_k.
    """

    left: np.ndarray
    right: np.ndarray
    inv_h2: np.ndarray
    axis: np.ndarray


class Grid:
    """A uniform cell-centred grid of a :class:`~mfpde.domains.Domain`.

    Parameters
    ----------
    domain : Domain
        Interval, box, torus or circle.
    cells : int or sequence of int
        Number of cells per axis (an int is used on every axis).
    """

    def __init__(self, domain: Domain, cells: int | tuple[int, ...]):
        if type(cells) is int:  # the common case, without numpy's broadcasting
            shape = (cells,) * domain.dim
        else:
            shape = tuple(np.broadcast_to(np.asarray(cells), (domain.dim,)).tolist())
        if not all(isinstance(n, int) and n >= 3 for n in shape):
            raise InputError(f"grid: need at least 3 cells per axis, got {cells!r}")
        self.domain = domain
        self.shape: tuple[int, ...] = shape
        self.h = domain.lengths / np.asarray(shape)
        dim = len(shape)
        points = np.empty((*shape, dim))
        for k, (lo, n, h) in enumerate(zip(domain.lower, shape, self.h.tolist())):
            points[..., k] = (lo + (np.arange(n) + 0.5) * h).reshape((n,) + (1,) * (dim - 1 - k))
        self.points = points.reshape(-1, dim)
        self.weights = np.full(self.size, math.prod(self.h.tolist()))

    @property
    def size(self) -> int:
        """Number of cells n."""
        return math.prod(self.shape)

    @property
    def dim(self) -> int:
        """Dimension d."""
        return self.domain.dim

    @property
    def periodic(self) -> bool:
        """True when every axis is periodic, so convolutions may use the FFT."""
        return all(self.domain.periodic)

    @cached_property
    def faces(self) -> Faces:
        """The interior faces, axis by axis (built on first use: spectral operators need none)."""
        index = np.arange(self.size).reshape(self.shape)
        left, right, inv_h2, axis = [], [], [], []
        for k in range(self.dim):
            a = index.transpose(k, *(j for j in range(self.dim) if j != k))
            b = np.concatenate([a[1:], a[:1]]) if self.domain.periodic[k] else a[1:]
            a = a if self.domain.periodic[k] else a[:-1]
            left.append(a.ravel())
            right.append(b.ravel())
            inv_h2.append(np.full(a.size, 1.0 / self.h[k] ** 2))
            axis.append(np.full(a.size, k))
        return Faces(*(np.concatenate(v) for v in (left, right, inv_h2, axis)))

    def integrate(self, values: np.ndarray) -> float:
        """Σ_i w_i f_i ≈ ∫ f dx."""
        return float(self.weights @ values)

    def __repr__(self) -> str:
        return f"Grid({self.domain.kind}, cells={self.shape})"
