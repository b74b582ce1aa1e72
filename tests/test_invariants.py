"""Invariants of every flow (MATH §3): mass, positivity, energy decay and the dissipation identity.

F^σ(μ_t) − F^σ(μ_0) = −∫_0^t D(μ_s) ds with D = γ∫|∇g|²dμ + α∫(g − ⟨g⟩)²dμ holds exactly for the
semi-discrete flows (for every energy with a symmetric quadrature); the observer
``dissipation_residual`` measures it along the time-discrete run, with the integral by the
trapezoidal rule, so the residual is the time error alone: O(dt²) for the second-order stepper.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from conftest import assert_invariants

import mfpde

TORUS_INTERACTION = mfpde.OptimisationProblem(
    mfpde.Torus(1),
    energy=mfpde.Potential("cos(x)") + mfpde.Interaction("2*cos(x - y)"),
    sigma=0.5,
    reference=mfpde.Reference("exp(0.5*sin(2*x))"),
)
# On [0, π] the data below have ∂_x V = ∂_x ρ0 = 0 at the walls (no-flux compatible), so the
# solution is smooth up to t = 0; incompatible data give a t^{-1/2} layer in D(t) at t = 0 and
# the trapezoidal rule then converges more slowly (measured ratios 3.3-3.4 instead of 4).
INTERVAL_POTENTIAL = mfpde.OptimisationProblem(
    mfpde.Interval(0.0, np.pi), energy=mfpde.Potential("cos(2*x) + 0.5*cos(x)"), sigma=0.5
)

RESIDUAL_CASES = {
    "fisher_rao-torus-interaction": (TORUS_INTERACTION, mfpde.fisher_rao(alpha=1.0)),
    "fokker_planck-interval": (INTERVAL_POTENTIAL, mfpde.fokker_planck(gamma=1.0)),
    "wfr-torus-interaction": (TORUS_INTERACTION, mfpde.wfr(gamma=1.0, alpha=1.0)),
}


@pytest.mark.parametrize("name", RESIDUAL_CASES)
def test_dissipation_residual_is_second_order_in_dt(name):
    """The energy identity's residual at t = 1 shrinks 4× per halving of dt (MATH §3).

    Measured ratios 3.82-4.03 (residuals 1e-2..4e-4 → 2e-4..8e-6 for dt = 0.1 → 0.0125); the band
    [3.6, 4.4] separates order 2 from orders 1 (ratio 2) and 3 (ratio 8). The residual vanishes
    at t = 0 by construction.
    """
    problem, flow = RESIDUAL_CASES[name]
    residuals = []
    for dt in (0.1, 0.05, 0.025, 0.0125):
        sol = mfpde.solve(
            problem, flow, "exp(1.5*cos(x))", cells=64, t_end=1.0, dt=dt, progress=False
        )
        assert_invariants(sol)
        residual = sol.observers["dissipation_residual"]
        assert residual[0] == 0.0
        residuals.append(abs(residual[-1]))
    ratios = np.array(residuals[:-1]) / residuals[1:]
    assert np.all((ratios > 3.6) & (ratios < 4.4)), ratios
    assert residuals[-1] < 1e-3


def test_positivity_and_mass_with_extreme_contrast():
    """μ* ∝ e^{−V/σ} spans 87 orders of magnitude (V = 10 cos x, σ = 0.1): still positive.

    Scharfetter-Gummel fluxes give an M-matrix and the reaction is exponential, so densities of
    6e-87 must survive without clipping; mass and energy decay hold as for every run, and the
    run ends at μ* (measured max |log ρ_T/ρ*| = 6e-14, KL(μ*|μ_T) = 2e-15, its round-off floor).
    """
    problem = mfpde.OptimisationProblem(
        mfpde.Torus(1), energy=mfpde.Potential("10*cos(x)"), sigma=0.1
    )
    sol = mfpde.solve(
        problem,
        mfpde.wfr(gamma=1.0, alpha=5.0),
        "1",
        cells=128,
        t_end=10.0,
        dt=0.05,
        progress=False,
    )
    assert_invariants(sol)
    assert sol.observers["min_density"][-1] < 1e-80
    assert np.abs(np.log(sol.density[-1] / sol.minimiser)).max() < 1e-11
    assert sol.observers["lyapunov"][-1] < 1e-13


def _solution() -> mfpde.Solution:
    return mfpde.solve(
        INTERVAL_POTENTIAL, mfpde.wfr(), "1", cells=16, t_end=0.5, dt=0.1, progress=False
    )


@pytest.mark.parametrize(
    "observer, corrupt",
    [
        ("mass", lambda v: v + np.r_[0.0, 1e-11, np.zeros(len(v) - 2)]),
        ("min_density", lambda v: -v),
        ("energy", lambda v: np.r_[v[:-1], v[-2] + 1e-9]),
    ],
)
def test_assert_invariants_detects_violations(observer, corrupt):
    """The helper every solver test calls must fail on a mass, positivity or energy defect."""
    sol = _solution()
    assert_invariants(sol)
    bad = dataclasses.replace(
        sol, observers={**sol.observers, observer: corrupt(sol.observers[observer])}
    )
    with pytest.raises(AssertionError):
        assert_invariants(bad)


def test_transport_conserves_mass_on_stiff_steps():
    """Long, stiff transport steps keep Σ w_i ρ_i = 1 to round-off (MATH §3, §8).

    e^{τA} conserves mass exactly (zero column sums), but the Taylor series of
    ``expm_multiply`` drifts by ~3e-14 per step for ‖τA‖ ~ 1e3 (256 cells, τ = 0.2): 1e-12 after
    these 30 steps before the transport substep restored the mass it was given. With that, the
    drift is a random walk of ~1e-16 per step, so 1e-14 is the bound.
    """
    problem = mfpde.OptimisationProblem(
        mfpde.Torus(1), energy=mfpde.Potential("3*cos(x)"), sigma=0.5
    )
    sol = mfpde.solve(
        problem,
        mfpde.fokker_planck(gamma=1.0),
        "exp(sin(3*x))",
        cells=256,
        t_end=6.0,
        dt=0.2,
        progress=False,
    )
    assert_invariants(sol)
    assert np.abs(sol.observers["mass"] - 1).max() < 1e-14
