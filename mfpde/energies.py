r"""Energies F(μ), their first variations δF/δμ and the gradients ∇_x δF/δμ (MATH §2.1).

An energy is mathematics only: a potential V, a pairwise interaction W, a user functional, a
two-layer network (:mod:`mfpde.network`) or a sum of them. :meth:`Energy.bind` attaches it to a
weighted point set (:class:`~mfpde.quadrature.Quadrature`: the cells of a grid, the nodes of a
P1 space, the particles of μ_N = Σ_j w_j δ_{X_j}, one player of a game) and returns a
:class:`BoundEnergy`, whose three numbers are the *one contract* every mesh solver, particle
method, game, observer and study goes through: for μ = Σ_i w_i ρ_i δ_{x_i},

- :meth:`BoundEnergy.value`: F(μ);
- :meth:`BoundEnergy.first_variation`: δF/δμ(μ, x_i);
- :meth:`BoundEnergy.first_variation_with_gradient`: the same and ∇_x δF/δμ(μ, x_i), which
  transport at particles needs (a mesh's fluxes use differences of the first variation).

Particles bind with ρ ≡ 1. The nonlocal sums of an :class:`Interaction` are chosen once per
domain by the structure of W (:func:`mfpde.sums.pair_kernel`: FFT on grids, NUFFT of Fourier
coefficients or of a separable Fourier-Chebyshev expansion at points, compiled direct sums
otherwise), so that a grid, a mesh and particles evaluate the same formula.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

import numpy as np

from mfpde.errors import InputError
from mfpde.expressions import Expression, parse
from mfpde.quadrature import Quadrature, bounding_box
from mfpde.sums import METHODS, PairKernel, pair_kernel
from mfpde.sums.direct import FD_STEP

__all__ = [
    "Energy",
    "BoundEnergy",
    "Potential",
    "Interaction",
    "Functional",
    "EnergySum",
    "as_function",
    "finite_values",
    "point_gradient",
]

Field = tuple[np.ndarray, np.ndarray | None]


def as_function(f: str | float | Callable, dim: int, letters: Sequence[str] = ("x",)) -> Callable:
    """A vectorised function from an expression, a number or a callable."""
    return f if callable(f) else parse(f, dim, letters)


def finite_values(name: str, values: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Return ``values`` as float array, raising :class:`InputError` where one is not finite."""
    values = np.asarray(values, dtype=float)
    finite = np.isfinite(values)
    if not finite.all():
        i = np.flatnonzero(~finite.ravel())[0]
        where = np.round(points[i % len(points)], 6).tolist()
        raise InputError(f"{name} is not finite at x = {where}")
    return values


def point_gradient(f: Callable, points: np.ndarray, domain, name: str) -> np.ndarray:
    """∇f at points (n, d): exact for an expression, central differences for a callable.

    The step of a callable's differences is ε = 1e-5 × the longest side of the domain's box
    (:mod:`mfpde.sums.direct`: about 1e-10 relative for smooth callables).
    """
    if isinstance(f, Expression):
        return finite_values(f"gradient of the {name}", f.gradient("x")(points), points)
    step = FD_STEP * float(bounding_box(domain, points).lengths.max())
    out = np.empty(points.shape)
    for k in range(points.shape[1]):
        shift = np.zeros(points.shape[1])
        shift[k] = step
        out[:, k] = (np.asarray(f(points + shift)) - np.asarray(f(points - shift))) / (2 * step)
    return finite_values(f"gradient of the {name}", out, points)


class BoundEnergy(ABC):
    """An energy on a weighted point set: F, δF/δμ and ∇δF/δμ for a density vector ρ."""

    #: True when δF/δμ does not depend on ρ (F is linear in μ).
    linear: bool = False

    @abstractmethod
    def value(self, rho: np.ndarray) -> float:
        """F(μ) for μ = Σ_i w_i ρ_i δ_{x_i}."""

    @abstractmethod
    def field(self, rho: np.ndarray, gradient: bool) -> Field:
        """δF/δμ(μ, x_i), shape (n,), and (if ``gradient``) ∇_x δF/δμ(μ, x_i), shape (n, d)."""

    def first_variation(self, rho: np.ndarray) -> np.ndarray:
        """δF/δμ(μ, x_i)."""
        return self.field(rho, False)[0]

    def first_variation_with_gradient(self, rho: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """δF/δμ(μ, x_i) and ∇_x δF/δμ(μ, x_i) in one pass."""
        return self.field(rho, True)


class Energy(ABC):
    """An energy F on P(Ω); sums of energies are energies (``V + W``)."""

    @abstractmethod
    def bind(self, quadrature: Quadrature) -> BoundEnergy:
        """Attach to a weighted point set (module docstring)."""

    def __add__(self, other: Energy) -> Energy:
        return EnergySum([self, other])


class _BoundPotential(BoundEnergy):
    linear = True

    def __init__(self, potential: Callable, quadrature: Quadrature, gradient: Callable | None):
        self.V, self.quadrature, self.gradient_of = potential, quadrature, gradient
        q = quadrature
        self.values = finite_values("potential", potential(q.points), q.points)
        self._gradient: np.ndarray | None = None

    def value(self, rho):
        return float(self.quadrature.weights @ (rho * self.values))

    def field(self, rho, gradient):
        if gradient and self._gradient is None:
            q = self.quadrature
            if self.gradient_of is not None:
                grad = finite_values(
                    "gradient of the potential", self.gradient_of(q.points), q.points
                )
                self._gradient = np.broadcast_to(grad, q.points.shape)
            else:
                self._gradient = point_gradient(self.V, q.points, q.domain, "potential")
        return self.values, (self._gradient if gradient else None)


class Potential(Energy):
    r"""Potential energy F(μ) = ∫ V dμ, δF/δμ = V (MATH §2.1).

    Parameters
    ----------
    V : str or callable
        An expression in the coordinates (``"cos(x)"``, ``"x1**2 + x2**2"``) or a vectorised
        callable mapping points of shape ``(n, d)`` to values of shape ``(n,)``.
    gradient : callable, optional
        ∇V for a callable V, points (n, d) → (n, d); without it a callable's gradient is taken
        by central differences (an expression's is exact).
    """

    def __init__(self, V: str | Callable, gradient: Callable | None = None):  # noqa: N803
        self.V = V
        self.gradient = gradient

    def bind(self, quadrature):
        q = Quadrature.of(quadrature)
        return _BoundPotential(as_function(self.V, q.dim), q, self.gradient)


class _BoundInteraction(BoundEnergy):
    def __init__(self, kernel: PairKernel, quadrature: Quadrature):
        self.kernel, self.weights, self.points = kernel, quadrature.weights, quadrature.points
        self.sums = kernel.bind(quadrature, quadrature)

    def value(self, rho):
        return 0.5 * float(self.weights @ (rho * self.first_variation(rho)))

    def field(self, rho, gradient):
        values, grads = self.sums.over_y(self.weights * rho, gradient)
        return finite_values("interaction field", values, self.points), grads


class Interaction(Energy):
    r"""Interaction energy F(μ) = ½ ∫∫ W(x, y) μ(dx) μ(dy), δF/δμ = ∫ W(·, y) μ(dy) (MATH §2.1).

    W must be symmetric (checked on sampled pairs of the domain); positive semi-definite W makes
    F convex. The sums ∫ W(x_i, y) μ(dy) are chosen by the structure of W
    (:func:`mfpde.sums.pair_kernel`): an exact FFT convolution on a grid when W depends on
    x − y only (circular on periodic axes, zero-padded on walled ones), the NUFFT of its
    Fourier coefficients or of a separable expansion at points, a compiled direct sum
    otherwise. The choice is made once per domain and shared by every binding.

    Parameters
    ----------
    W : str or callable
        Expression in ``x`` and ``y`` (``"cos(x - y)"``) or a callable ``W(x, y)`` on point
        arrays of shapes ``(..., d)`` that broadcast.
    method : {"auto", "fourier", "separable", "direct"}
        The sum (:data:`mfpde.sums.METHODS`); "auto" chooses.
    tolerance : float
        Relative accuracy of the fast sums (default 1e-10).
    """

    def __init__(self, W: str | Callable, method: str = "auto", tolerance: float = 1e-10):  # noqa: N803
        if method not in METHODS:
            raise InputError(
                f"unknown interaction sum {method!r} (choose from {', '.join(METHODS)})"
            )
        self.W, self.method, self.tolerance = W, method, tolerance
        self._kernels: dict = {}

    def kernel(self, domain, dim: int) -> PairKernel:
        """The sums of W on a domain (made once per domain, after the symmetry check)."""
        key = _key(domain)
        if key not in self._kernels:
            W = as_function(self.W, dim, ("x", "y"))
            _check_symmetric(W, domain, dim)
            self._kernels[key] = pair_kernel(
                W, domain, method=self.method, tolerance=self.tolerance, name="interaction"
            )
        return self._kernels[key]

    def bind(self, quadrature):
        q = Quadrature.of(quadrature)
        return _BoundInteraction(self.kernel(q.domain, q.dim), q)


def _key(domain) -> object:
    """A dictionary key for a domain (its value if hashable, else its identity)."""
    try:
        hash(domain)
    except TypeError:
        return id(domain)
    return domain


def _check_symmetric(W: Callable, domain, dim: int) -> None:
    """W(x, y) = W(y, x) on seeded random pairs of the domain's box, or InputError.

    The first variation ∫ W(·, y) μ(dy) of ½∫∫ W dμ dμ assumes the symmetry (MATH §2.1): a
    non-symmetric W would silently give the flow of its symmetric part's energy with the wrong
    field.
    """
    box = bounding_box(domain) if domain is not None else None
    if box is None or box.dim != dim:
        return
    rng = np.random.default_rng(1)
    x = np.asarray(box.lower) + box.lengths * rng.random((256, dim))
    y = np.asarray(box.lower) + box.lengths * rng.random((256, dim))
    a, b = np.asarray(W(x, y), dtype=float), np.asarray(W(y, x), dtype=float)
    finite = np.isfinite(a) & np.isfinite(b)
    scale = max(float(np.abs(a[finite]).max(initial=0.0)), np.finfo(float).tiny)
    bad = np.flatnonzero(finite & (np.abs(a - b) > 1e-10 * scale))
    if bad.size:
        i = bad[0]
        raise InputError(
            f"the interaction W(x, y) must be symmetric: W(x, y) = {a[i]:.6g} but "
            f"W(y, x) = {b[i]:.6g} at x = {np.round(x[i], 4).tolist()}, "
            f"y = {np.round(y[i], 4).tolist()}"
        )


class _BoundFunctional(BoundEnergy):
    def __init__(self, functional: Functional, quadrature: Quadrature):
        self.functional, self.q = functional, quadrature

    def value(self, rho):
        return float(self.functional.value(self.q.points, self.q.weights, rho))

    def field(self, rho, gradient):
        f, q = self.functional, self.q
        values = finite_values(
            "first variation", f.first_variation(q.points, q.weights, rho), q.points
        )
        if not gradient:
            return values, None
        if f.gradient is None:
            raise InputError(
                "a Functional energy without gradient= gives no ∇δF/δμ: pass gradient, or use a "
                "method without transport (birth_death)"
            )
        grads = finite_values(
            "gradient of the first variation", f.gradient(q.points, q.weights, rho), q.points
        )
        return values, grads.reshape(q.points.shape)


class Functional(Energy):
    """A user energy given by callables of the points, the weights and the density.

    Parameters
    ----------
    value : callable
        ``value(points, weights, rho) -> float``, F(μ) with μ = Σ_i w_i ρ_i δ_{x_i}.
    first_variation : callable
        ``first_variation(points, weights, rho) -> (n,) array``, δF/δμ(μ, x_i).
    gradient : callable, optional
        ``gradient(points, weights, rho) -> (n, d) array``, ∇_x δF/δμ(μ, x_i) (for transport
        at particles).
    """

    def __init__(
        self, value: Callable, first_variation: Callable, gradient: Callable | None = None
    ):
        self.value = value
        self.first_variation = first_variation
        self.gradient = gradient

    def bind(self, quadrature):
        return _BoundFunctional(self, Quadrature.of(quadrature))


class _BoundSum(BoundEnergy):
    def __init__(self, parts: list[BoundEnergy]):
        self.parts = parts
        self.linear = all(p.linear for p in parts)

    def value(self, rho):
        return sum(p.value(rho) for p in self.parts)

    def field(self, rho, gradient):
        fields = [p.field(rho, gradient) for p in self.parts]
        values = sum(f[0] for f in fields)
        return values, (sum(f[1] for f in fields) if gradient else None)


class EnergySum(Energy):
    """F = Σ_k F_k, δF/δμ = Σ_k δF_k/δμ."""

    def __init__(self, parts: Sequence[Energy]):
        self.parts = [q for p in parts for q in (p.parts if isinstance(p, EnergySum) else [p])]

    def bind(self, quadrature):
        q = Quadrature.of(quadrature)
        return _BoundSum([p.bind(q) for p in self.parts])
