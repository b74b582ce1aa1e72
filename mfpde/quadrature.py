"""Weighted point sets: what every energy, payoff and kernel sum binds to (MATH §2, §8).

A :class:`Quadrature` is points x_i, weights w_i and the geometry they live on, with
∫ f dμ ≈ Σ_i w_i ρ_i f(x_i) for a density vector ρ. The same class describes

- the cells of a finite-volume grid (w_i the cell volumes; ``grid`` the tensor grid, which lets
  translation-invariant sums use exact FFTs),
- the nodes of a P1 space (w_i the lumped masses; ``comm`` the ranks sharing direct sums),
- a weighted particle measure μ_N = Σ_j w_j δ_{X_j} (ρ ≡ 1),
- one player of a game.

:meth:`Quadrature.of` builds one from a grid or a P1 space.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mfpde.domains import Domain, Sphere
from mfpde.errors import InputError

__all__ = ["Quadrature", "bounding_box"]


@dataclass(frozen=True, eq=False)
class Quadrature:
    """Points x_i (n, d), weights w_i (n,) on a domain: ∫ f dμ ≈ Σ_i w_i ρ_i f(x_i).

    Parameters
    ----------
    points : ndarray, shape (n, d)
    weights : ndarray, shape (n,)
    domain : Domain, Sphere or mesh
        The geometry (a :class:`~mfpde.fem.meshes.SimplexMesh` for an unstructured mesh).
    grid : Grid, optional
        The finite-volume grid whose cell centres (in C order) the points are.
    comm : mpi4py communicator, optional
        The ranks that share the direct sums (each computes a block of rows).
    reuse : bool
        Whether sums bound to these points are used many times (a mesh: True) or a few times
        before the points move (particles: False); small direct sums store their rows only in
        the first case.
    """

    points: np.ndarray
    weights: np.ndarray
    domain: Any = None
    grid: Any = None
    comm: Any = None
    reuse: bool = True

    def __post_init__(self) -> None:
        points = np.ascontiguousarray(self.points, dtype=float)
        weights = np.ascontiguousarray(self.weights, dtype=float)
        if points.ndim != 2 or weights.shape != (len(points),):
            raise InputError(
                f"a quadrature needs points (n, d) and weights (n,), got {points.shape} and "
                f"{weights.shape}"
            )
        object.__setattr__(self, "points", points)
        object.__setattr__(self, "weights", weights)

    @classmethod
    def of(cls, discretisation, domain=None) -> Quadrature:
        """The quadrature of a :class:`~mfpde.fv.grid.Grid` or a P1 space (or a Quadrature).

        A grid brings its own domain; a P1 space (whose ``domain`` is DOLFINx's mesh) needs the
        problem's ``domain``, and brings its communicator; a quadrature without a domain gets
        ``domain``.
        """
        if isinstance(discretisation, Quadrature):
            if discretisation.domain is None and domain is not None:
                q = discretisation
                return cls(q.points, q.weights, domain, q.grid, q.comm, q.reuse)
            return discretisation
        from mfpde.fv.grid import Grid

        if isinstance(discretisation, Grid):
            return cls(
                discretisation.points, discretisation.weights, discretisation.domain, discretisation
            )
        return cls(
            discretisation.points,
            discretisation.weights,
            domain,
            comm=getattr(discretisation, "comm", None),
        )

    def same_grid(self, other: Quadrature) -> bool:
        """Whether both are the cells of equal finite-volume grids (for exact FFT sums)."""
        a, b = self.grid, other.grid
        return a is not None and b is not None and a.shape == b.shape and a.domain == b.domain

    @property
    def size(self) -> int:
        """Number of points n."""
        return len(self.points)

    @property
    def dim(self) -> int:
        """Dimension d of the points."""
        return self.points.shape[1]


def bounding_box(domain, points: np.ndarray | None = None) -> Domain | Sphere:
    """The tensor box the sums of a domain are built on (periodic axes stay periodic).

    A :class:`~mfpde.domains.Domain` is its own box; the sphere S^{d−1} ⊂ R^d lies in [−1, 1]^d
    (for d > 3, beyond the boxes of :class:`~mfpde.domains.Domain`, the sphere is its own
    "box": its sums are features or direct, :func:`mfpde.sums.pair_kernel`); an unstructured
    mesh (or no domain) in the bounding box of its points.
    """
    if isinstance(domain, Domain):
        return domain
    if isinstance(domain, Sphere):
        if domain.dim > 3:
            return domain
        d = domain.dim
        return Domain((-1.0,) * d, (1.0,) * d, (False,) * d, kind="box")
    source = getattr(domain, "points", points)
    if source is None:
        raise InputError("a sum on an unknown domain needs its points")
    lower, upper = np.min(source, axis=0), np.max(source, axis=0)
    pad = 1e-9 * np.maximum(upper - lower, 1.0)
    return Domain(tuple(lower - pad), tuple(upper + pad), (False,) * len(lower), kind="box")
