"""Shared helpers of the solver tests: invariants every run must satisfy, errors and fitted orders.

``assert_invariants`` is called on every :class:`mfpde.Solution` the solver tests produce: mass is
conserved, the density stays positive and the free energy F^σ never increases (MATH §3).
"""

from __future__ import annotations

import numpy as np
import pytest

import mfpde

#: Mass Σ w_i ρ_i is renormalised after every reaction substep and preserved by the column sums
#: of the transport matrix; a few hundred steps accumulate ~1e-14, so 1e-12 leaves room.
MASS_TOL = 1e-12
#: F^σ(μ_t) is evaluated with sums of O(n) terms of size O(1 + |F^σ|): round-off ~1e-15 per term.
ENERGY_ROUND_OFF = 1e-12


def assert_invariants(solution: mfpde.Solution) -> None:
    """Mass 1 to 1e-12, positive density and non-increasing F^σ at every saved time (MATH §3)."""
    obs = solution.observers
    assert np.abs(obs["mass"] - 1).max() < MASS_TOL
    assert np.abs(solution.density @ solution.grid.weights - 1).max() < MASS_TOL
    assert obs["min_density"].min() > 0
    assert np.all(solution.density > 0)
    energy = obs["energy"]
    assert np.diff(energy).max(initial=0.0) <= ENERGY_ROUND_OFF * (1 + np.abs(energy).max())


def l1_error(solution: mfpde.Solution, exact: np.ndarray, index: int = -1) -> float:
    """Σ_i w_i |ρ_i − ρ_exact(x_i)| at the saved state ``index`` (an L¹ error of densities)."""
    return float(solution.grid.weights @ np.abs(solution.density[index] - exact))


def normalised(log_density: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """exp(log_density) normalised on the quadrature, Σ w_i ρ_i = 1 (written here, not mfpde's)."""
    rho = np.exp(log_density - log_density.max())
    return rho / (weights @ rho)


def fitted_order(steps, errors) -> float:
    """Slope of log(error) against log(step) by least squares (the order of convergence)."""
    return float(np.polyfit(np.log(steps), np.log(errors), 1)[0])


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded random generator (every random test is reproducible)."""
    return np.random.default_rng(20241123)
