"""Entropic mean-field optimisation problems F^σ(μ) = F(μ) + σ KL(μ|π) (MATH §2.1).

A problem is backend-free: a domain, an energy, σ and a reference measure π. A backend binds
it to a quadrature (:meth:`OptimisationProblem.bind`), which gives the vectors the flow operators
and observers work with.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from mfpde import checks
from mfpde.domains import Domain
from mfpde.energies import (
    BoundEnergy,
    Energy,
    Potential,
    as_function,
    finite_values,
    point_gradient,
)
from mfpde.errors import InputError
from mfpde.expressions import Expression
from mfpde.quadrature import Quadrature

__all__ = ["Reference", "OptimisationProblem", "BoundProblem", "log_normalise", "kl_divergence"]


def log_normalise(log_rho: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Shift log ρ so that Σ_i w_i ρ_i = 1 (a stable log-sum-exp)."""
    m = log_rho.max()
    return log_rho - (m + np.log(weights @ np.exp(log_rho - m)))


def kl_divergence(rho: np.ndarray, eta: np.ndarray, weights: np.ndarray) -> float:
    r"""KL(ρ|η) = Σ_i w_i ρ_i log(ρ_i/η_i) for normalised positive density vectors (MATH §1)."""
    return float(weights @ (rho * (np.log(rho) - np.log(eta))))


@dataclass(frozen=True)
class Reference:
    """A reference measure π: ``"uniform"`` or an unnormalised positive density.

    Parameters
    ----------
    density : "uniform", str or callable
        ``"uniform"`` (π ≡ 1/|Ω|), an expression in the coordinates or a vectorised callable.
    """

    density: str | Callable = "uniform"

    def log_density(self, points: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """log π_i, normalised so that Σ_i w_i π_i = 1."""
        if isinstance(self.density, str) and self.density == "uniform":
            # π ≡ 1: log_normalise(log 1) in closed form, 0 − log Σ_j w_j (the same float
            # operations, bit for bit; a constant needs no check)
            return np.full(len(points), 0.0 - np.log(weights @ np.ones(len(points))))
        values = finite_values(
            "reference density", as_function(self.density, points.shape[1])(points), points
        )
        if np.any(values <= 0):
            raise InputError("reference density must be positive everywhere on the domain")
        return log_normalise(np.log(values), weights)

    def log_gradient(self, points: np.ndarray, domain=None) -> np.ndarray:
        """∇ log π at points (n, d): 0 for "uniform", ∇π/π exact for an expression, central
        differences of log π for a callable (:func:`mfpde.energies.point_gradient`)."""
        if isinstance(self.density, str) and self.density == "uniform":
            return np.zeros(points.shape)
        density = as_function(self.density, points.shape[1])
        values = finite_values("reference density", density(points), points)
        if np.any(values <= 0):
            raise InputError("reference density must be positive everywhere on the domain")
        if isinstance(density, Expression):
            return point_gradient(density, points, domain, "reference density") / values[:, None]
        return point_gradient(
            lambda x: np.log(np.asarray(density(x), dtype=float)), points, domain, "reference"
        )


@dataclass(frozen=True)
class OptimisationProblem:
    r"""Minimise F^σ(μ) = F(μ) + σ KL(μ|π) over P(Ω) (MATH §2.1).

    Parameters
    ----------
    domain : Domain
        Ω.
    energy : Energy
        F; a :class:`~mfpde.energies.Potential` makes the problem linear and its minimiser
        μ* ∝ π e^{-V/σ} explicit.
    sigma : float
        Entropy weight σ ≥ 0.
    reference : Reference
        π (uniform by default).
    """

    domain: Domain
    energy: Energy = field(default_factory=lambda: Potential("0"))
    sigma: float = 1.0
    reference: Reference = field(default_factory=Reference)

    def __post_init__(self) -> None:
        if not hasattr(self.domain, "dim") or isinstance(self.domain, str):
            raise InputError(
                f"domain must be a Domain (Interval, Box, Torus, Circle, ...), a Sphere or a "
                f"mesh, got {self.domain!r:.60}"
            )
        checks.instance("energy", self.energy, Energy, "an Energy (Potential, Interaction, ...)")
        checks.instance("reference", self.reference, Reference, "a Reference")
        object.__setattr__(self, "sigma", checks.number("sigma", self.sigma, minimum=0.0))

    def bind(self, discretisation) -> BoundProblem:
        """Attach the problem to a weighted point set: a :class:`~mfpde.fv.grid.Grid`, a P1
        space or a :class:`~mfpde.quadrature.Quadrature` (on this problem's domain)."""
        q = Quadrature.of(discretisation, self.domain)
        return BoundProblem(
            sigma=float(self.sigma),
            weights=q.weights,
            log_pi=self.reference.log_density(q.points, q.weights),
            energy=self.energy.bind(q),
        )


@dataclass
class BoundProblem:
    """A problem on a quadrature: the vectors F^σ, δF^σ/δμ and μ* are computed from."""

    sigma: float
    weights: np.ndarray
    log_pi: np.ndarray
    energy: BoundEnergy

    def free_energy(self, rho: np.ndarray) -> float:
        """F^σ(μ) = F(μ) + σ KL(μ|π) (MATH §2.1)."""
        return self.energy.value(rho) + self.sigma * kl_divergence(
            rho, np.exp(self.log_pi), self.weights
        )

    def gibbs(self, field: np.ndarray) -> np.ndarray:
        """The Gibbs density π e^{-h/σ}/Z for a frozen first variation h (MATH §2.1)."""
        return np.exp(log_normalise(self.log_pi - field / self.sigma, self.weights))
