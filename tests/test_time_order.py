"""Orders in time of the stepper (MATH §8) on a fixed grid, so that only the time error remains.

Backward Euler transport is first order; Strang splitting with the midpoint predictor of
:mod:`mfpde.stepper` is second order even for a nonlinear (interaction) energy.
"""

from __future__ import annotations

import numpy as np
from conftest import assert_invariants, fitted_order, l1_error

import mfpde

T = 1.0


def test_implicit_euler_is_first_order():
    """Fokker-Planck heat mode (E2) with ``implicit_euler`` against ``expm`` on the same grid.

    For V = 0 the semi-discrete problem is linear with a constant matrix, so ``expm`` (one step)
    is its exact solution and the difference is the time error of backward Euler alone.
    Measured errors 9.1e-3 → 1.2e-3 for dt = 1/8 → 1/64, fitted order 0.98; |order − 1| < 0.1.
    """
    problem = mfpde.OptimisationProblem(mfpde.Torus(1), sigma=0.5)

    def run(dt: float, scheme: str) -> mfpde.Solution:
        sol = mfpde.solve(
            problem,
            mfpde.fokker_planck(gamma=0.7),
            "1 + 0.5*cos(2*x)",
            cells=64,
            t_end=T,
            dt=dt,
            scheme=scheme,
            progress=False,
        )
        assert_invariants(sol)
        return sol

    exact_in_time = run(T, "expm").density[-1]
    steps = T / np.array([8, 16, 32, 64])
    errors = [l1_error(run(dt, "implicit_euler"), exact_in_time) for dt in steps]
    assert abs(fitted_order(steps, errors) - 1) < 0.1
    assert errors[-1] < 2e-3  # measured 1.19e-3: the O(dt) constant is γσk² T e^{-γσk²T}/π ≈ 0.1


def test_strang_wfr_interaction_is_second_order():
    """WFR with V = cos x, W = 2cos(x − y), π ∝ e^{0.5 sin 2x}: Strang + midpoint predictor.

    The field ∫W dμ_t changes with the state, so without the midpoint predictor each substep
    would be first order. Self-convergence against dt = 1/1280 (whose own error, ~(1/16)² of
    the finest one, is below 0.5 % of it): measured errors 2.3e-4 → 3.4e-6 for dt = 1/10 → 1/80,
    fitted order 2.02; |order − 2| < 0.1 and the finest error is capped at 5e-6.
    """
    problem = mfpde.OptimisationProblem(
        mfpde.Torus(1),
        energy=mfpde.Potential("cos(x)") + mfpde.Interaction("2*cos(x - y)"),
        sigma=0.5,
        reference=mfpde.Reference("exp(0.5*sin(2*x))"),
    )

    def run(dt: float) -> mfpde.Solution:
        sol = mfpde.solve(
            problem,
            mfpde.wfr(gamma=1.0, alpha=1.0),
            "exp(1.5*sin(x))",
            cells=64,
            t_end=T,
            dt=dt,
            save_every=10_000,
            progress=False,
        )
        assert_invariants(sol)
        return sol

    reference = run(T / 1280).density[-1]
    steps = T / np.array([10, 20, 40, 80])
    errors = [l1_error(run(dt), reference) for dt in steps]
    assert abs(fitted_order(steps, errors) - 2) < 0.1
    assert errors[-1] < 5e-6
