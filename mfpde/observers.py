"""Observers of a run (MATH §3, §5): conservation, positivity, free energy and Lyapunov functionals.

Each observer reads the densities at save times and returns one number; the dissipation check
also watches every step. They know nothing of the time stepper (py-pde's trackers are the model).
"""

from __future__ import annotations

import numpy as np

from mfpde.problem import BoundProblem, kl_divergence
from mfpde.stepper import Observer

__all__ = [
    "Mass",
    "MinDensity",
    "FreeEnergy",
    "EnergyGap",
    "Lyapunov",
    "DissipationResidual",
]


class Mass(Observer):
    """Σ_i w_i ρ_i: exactly 1 up to round-off for every flow (MATH §3)."""

    def __init__(self, weights: np.ndarray, index: int = 0, name: str = "mass"):
        self.weights, self.index, self.name = weights, index, name

    def __call__(self, t, rhos):
        return float(self.weights @ rhos[self.index])


class MinDensity(Observer):
    """min_i ρ_i > 0 (positivity)."""

    def __init__(self, index: int = 0, name: str = "min_density"):
        self.index, self.name = index, name

    def __call__(self, t, rhos):
        return float(rhos[self.index].min())


class FreeEnergy(Observer):
    """F^σ(μ_t) = F(μ_t) + σ KL(μ_t|π) (MATH §2.1), non-increasing along every flow."""

    name = "energy"

    def __init__(self, problem: BoundProblem):
        self.problem = problem

    def __call__(self, t, rhos):
        return self.problem.free_energy(rhos[0])


class EnergyGap(Observer):
    """F^σ(μ_t) − F^σ(μ*) ≥ 0 (MATH §5.1, §5.3)."""

    name = "energy_gap"

    def __init__(self, problem: BoundProblem, rho_star: np.ndarray):
        self.problem, self.minimum = problem, problem.free_energy(rho_star)

    def __call__(self, t, rhos):
        return self.problem.free_energy(rhos[0]) - self.minimum


class Lyapunov(Observer):
    """Σ_k KL(μ*_k | μ_{k,t}): the Lyapunov functional of MATH §5.1 (one measure) and §5.2."""

    name = "lyapunov"

    def __init__(self, weights: list[np.ndarray], stars: list[np.ndarray]):
        self.weights, self.stars = weights, stars

    def __call__(self, t, rhos):
        return sum(kl_divergence(s, r, w) for w, s, r in zip(self.weights, self.stars, rhos))


class DissipationResidual(Observer):
    r"""Residual of the energy identity F^σ(μ_t) − F^σ(μ_0) = −∫_0^t D(μ_s) ds (MATH §3).

    D(μ) = −Σ_i w_i g_i ∂_tρ_i = γ∫|∇g|² dμ + α∫(g − ⟨g⟩)² dμ in its semi-discrete form; the
    integral is accumulated by the trapezoidal rule over the steps, so the residual is O(τ²).
    """

    name = "dissipation_residual"

    def __init__(self, problem: BoundProblem, operator):
        self.problem, self.operator = problem, operator
        self._last: tuple[float, float] | None = None
        self._integral, self._energy0 = 0.0, 0.0

    def dissipation(self, rho: np.ndarray) -> float:
        field = self.problem.energy.first_variation(rho)
        g = self.operator.g(rho, field)
        return -float(self.operator.weights @ (g * self.operator.rhs(rho, field)))

    def step(self, t, rhos):
        d = self.dissipation(rhos[0])
        if self._last is None:
            self._energy0 = self.problem.free_energy(rhos[0])
        else:
            t0, d0 = self._last
            self._integral += 0.5 * (t - t0) * (d0 + d)
        self._last = (t, d)

    def __call__(self, t, rhos):
        return self.problem.free_energy(rhos[0]) - self._energy0 + self._integral
