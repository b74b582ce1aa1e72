"""Energies F(μ) and their first variations δF/δμ (MATH §2.1).

An energy is mathematics only: a potential V, a pairwise interaction W or a user functional.
:meth:`Energy.bind` attaches it to a quadrature (points x_i, weights w_i with
∫ f dμ ≈ Σ_i w_i ρ_i f(x_i)) and returns a :class:`BoundEnergy` that evaluates F and δF/δμ for a
density vector ρ. The finite-volume grid and, later, the DOLFINx dofs and the particle systems
bind the same objects, so they can never disagree about what is being minimised.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

import numpy as np

from mfpde.errors import InputError
from mfpde.expressions import parse
from mfpde.rows import RowPartition

__all__ = [
    "Energy",
    "BoundEnergy",
    "Potential",
    "Interaction",
    "Functional",
    "EnergySum",
    "as_function",
]

#: Above this many rows (per rank) a non-periodic interaction is summed in row blocks instead of
#: storing the rows of the matrix W(x_i, x_j).
DENSE_LIMIT = 4096
_BLOCK = 512


def as_function(f: str | float | Callable, dim: int, letters: Sequence[str] = ("x",)) -> Callable:
    """A vectorised function from an expression, a number or a callable."""
    return f if callable(f) else parse(f, dim, letters)


def finite_values(name: str, values: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Return ``values`` as float array, raising :class:`InputError` where one is not finite."""
    values = np.asarray(values, dtype=float)
    bad = ~np.isfinite(values)
    if bad.any():
        i = np.flatnonzero(bad.ravel())[0]
        where = np.round(points[i % len(points)], 6).tolist()
        raise InputError(f"{name} is not finite at x = {where}")
    return values


class BoundEnergy(ABC):
    """An energy attached to a quadrature: F(ρ) and δF/δμ(ρ) as vectors on the points."""

    #: True when δF/δμ does not depend on ρ (F is linear in μ).
    linear: bool = False

    @abstractmethod
    def value(self, rho: np.ndarray) -> float:
        """F(μ) for the density vector ρ."""

    @abstractmethod
    def first_variation(self, rho: np.ndarray) -> np.ndarray:
        """δF/δμ(μ, x_i)."""


class Energy(ABC):
    """An energy F on P(Ω); sums of energies are energies (``V + W``)."""

    @abstractmethod
    def bind(self, points: np.ndarray, weights: np.ndarray, grid=None) -> BoundEnergy:
        """Attach to the quadrature ``(points, weights)``; ``grid`` enables FFT convolutions."""

    def __add__(self, other: Energy) -> Energy:
        return EnergySum([self, other])


class _BoundPotential(BoundEnergy):
    linear = True

    def __init__(self, values: np.ndarray, weights: np.ndarray):
        self.values, self.weights = values, weights

    def value(self, rho):
        return float(self.weights @ (rho * self.values))

    def first_variation(self, rho):
        return self.values


class Potential(Energy):
    r"""Potential energy F(μ) = ∫ V dμ, δF/δμ = V (MATH §2.1).

    Parameters
    ----------
    V : str or callable
        An expression in the coordinates (``"cos(x)"``, ``"x1**2 + x2**2"``) or a vectorised
        callable mapping points of shape ``(n, d)`` to values of shape ``(n,)``.
    """

    def __init__(self, V: str | Callable):  # noqa: N803 (the mathematics' name)
        self.V = V

    def bind(self, points, weights, grid=None):
        f = as_function(self.V, points.shape[1])
        return _BoundPotential(finite_values("potential", f(points), points), weights)


class _BoundInteraction(BoundEnergy):
    def __init__(self, W: Callable, points, weights, grid):  # noqa: N803
        self.weights = weights
        self._convolve = self._fft(W, points, grid) or self._quadrature(W, points, weights, grid)

    def _fft(self, W, points, grid):  # noqa: N803
        """FFT convolution on a periodic grid if W(x, y) depends on x - y only (checked)."""
        if grid is None or not grid.periodic:
            return None
        kernel = finite_values("interaction", W(points, points[:1]), points)
        idx = np.unravel_index(np.arange(grid.size), grid.shape)
        rng = np.random.default_rng(0)
        i, j = rng.integers(grid.size, size=(2, min(4096, grid.size**2)))
        offset = np.ravel_multi_index(
            tuple((a[i] - a[j]) % n for a, n in zip(idx, grid.shape)), grid.shape
        )
        direct = W(points[i], points[j])
        if not np.allclose(direct, kernel[offset], rtol=1e-12, atol=1e-12 * np.abs(kernel).max()):
            return None
        kernel_hat = np.fft.rfftn(kernel.reshape(grid.shape) * grid.weights[0])
        shape, axes = grid.shape, tuple(range(grid.dim))  # NumPy 2 wants axes with s
        return lambda rho: np.fft.irfftn(
            kernel_hat * np.fft.rfftn(rho.reshape(shape)), s=shape, axes=axes
        ).ravel()

    @staticmethod
    def _quadrature(W, points, weights, grid=None):  # noqa: N803
        """Σ_j w_j W(x_i, x_j) ρ_j, rows split over the ranks of ``grid.comm`` if it has one."""
        rows = RowPartition(len(points), getattr(grid, "comm", None))
        mine = points[rows.start : rows.stop]
        if rows.stop - rows.start <= DENSE_LIMIT:
            matrix = finite_values("interaction", W(mine[:, None], points[None, :]), points)
            matrix *= weights[None, :]
            return lambda rho: rows.gather(matrix @ rho)

        def blocked(rho):
            out = np.empty(len(mine))
            for s in range(0, len(mine), _BLOCK):
                block = W(mine[s : s + _BLOCK, None], points[None, :])
                out[s : s + _BLOCK] = finite_values("interaction", block, points) @ (weights * rho)
            return rows.gather(out)

        blocked(np.ones(len(points)))  # checks finiteness once, at bind time
        return blocked

    def value(self, rho):
        return 0.5 * float(self.weights @ (rho * self._convolve(rho)))

    def first_variation(self, rho):
        return self._convolve(rho)


class Interaction(Energy):
    r"""Interaction energy F(μ) = ½ ∫∫ W(x, y) μ(dx) μ(dy), δF/δμ = ∫ W(·, y) μ(dy) (MATH §2.1).

    W must be symmetric; positive semi-definite W makes F convex. On a periodic grid a
    translation-invariant W (checked on sampled pairs) is convolved by FFT in O(n log n);
    otherwise by quadrature Σ_j w_j W(x_i, x_j) ρ_j.

    Parameters
    ----------
    W : str or callable
        Expression in ``x`` and ``y`` (``"cos(x - y)"``) or a callable ``W(x, y)`` on point
        arrays of shapes ``(..., d)`` that broadcast.
    """

    def __init__(self, W: str | Callable):  # noqa: N803
        self.W = W

    def bind(self, points, weights, grid=None):
        return _BoundInteraction(
            as_function(self.W, points.shape[1], ("x", "y")), points, weights, grid
        )


class _BoundFunctional(BoundEnergy):
    def __init__(self, functional, points, weights):
        self.functional, self.points, self.weights = functional, points, weights

    def value(self, rho):
        return float(self.functional.value(self.points, self.weights, rho))

    def first_variation(self, rho):
        return finite_values(
            "first variation",
            self.functional.first_variation(self.points, self.weights, rho),
            self.points,
        )


class Functional(Energy):
    """A user energy given by two callables of the quadrature and the density.

    Parameters
    ----------
    value : callable
        ``value(points, weights, rho) -> float``, F(μ) with μ = Σ_i w_i ρ_i δ_{x_i}.
    first_variation : callable
        ``first_variation(points, weights, rho) -> (n,) array``, δF/δμ(μ, x_i).
    """

    def __init__(self, value: Callable, first_variation: Callable):
        self.value = value
        self.first_variation = first_variation

    def bind(self, points, weights, grid=None):
        return _BoundFunctional(self, points, weights)


class _BoundSum(BoundEnergy):
    def __init__(self, parts: list[BoundEnergy]):
        self.parts = parts
        self.linear = all(p.linear for p in parts)

    def value(self, rho):
        return sum(p.value(rho) for p in self.parts)

    def first_variation(self, rho):
        return sum(p.first_variation(rho) for p in self.parts)


class EnergySum(Energy):
    """F = Σ_k F_k, δF/δμ = Σ_k δF_k/δμ."""

    def __init__(self, parts: Sequence[Energy]):
        self.parts = [q for p in parts for q in (p.parts if isinstance(p, EnergySum) else [p])]

    def bind(self, points, weights, grid=None):
        return _BoundSum([p.bind(points, weights, grid) for p in self.parts])
