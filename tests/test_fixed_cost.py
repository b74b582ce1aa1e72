"""The fixed cost of a solve (issue 13): what is not asked for is not done, the rest is small.

A 1-D solve of 64 cells and one step is dominated by its transport exponential; everything else
(checks, the grid, binding the problem, the initial density, the stepper) must cost about as
much as a few dozen small numpy calls, and observers, the Gibbs minimiser, the descent check
and the progress bar nothing at all when they are not requested.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

import mfpde
from mfpde import solver, stepper
from mfpde.fv.operator import FlowOperator

DOMAIN = mfpde.Domain([-8.0], [8.0], [False])
CENTRES = -8.0 + (np.arange(64) + 0.5) * 0.25


def small_solve(observers=()) -> mfpde.Solution:
    """The case of issue 13: V = x²/2, σ = 1, 64 walled cells, one Fokker-Planck step."""
    problem = mfpde.OptimisationProblem(DOMAIN, mfpde.Potential("x**2/2"), 1.0)
    return mfpde.solve(
        problem, mfpde.fokker_planck(), np.exp(-2 * (CENTRES - 1) ** 2), cells=64,
        t_end=1.0, dt=1.0, progress=False, observers=observers,
    )  # fmt: skip


def refuse(name: str):
    def called(*args, **kwargs):
        raise AssertionError(f"{name} was called but not requested")

    return called


@pytest.mark.parametrize("observers", [(), ("mass", "min_density")])
def test_what_is_not_requested_is_not_done(monkeypatch, observers):
    for name in ("gibbs_minimiser", "FreeEnergy", "EnergyGap", "Lyapunov", "check_descent"):
        monkeypatch.setattr(solver, name, refuse(name))
    monkeypatch.setattr(solver, "DissipationResidual", refuse("DissipationResidual"))
    monkeypatch.setattr(stepper, "tqdm", refuse("a progress bar (progress=False)"))
    solution = small_solve(observers)
    assert sorted(solution.observers) == sorted(observers)
    assert solution.minimiser is None


def test_the_energy_observer_needs_no_minimiser(monkeypatch):
    monkeypatch.setattr(solver, "gibbs_minimiser", refuse("gibbs_minimiser"))
    monkeypatch.setattr(solver, "DissipationResidual", refuse("DissipationResidual"))
    assert small_solve(("energy",)).observers["energy"].shape == (2,)


def test_fixed_cost_of_a_small_solve_is_a_few_dozen_numpy_calls(monkeypatch):
    """The solve with its transport stubbed out against a unit of small numpy work.

    The unit is ``float(w @ np.exp(x))`` on 64 cells (two numpy calls, ~1.2 µs on the project's
    machine); both are measured in the same run, interleaved, as the best of many repeats, so
    that the ratio does not depend on the machine or its load. Measured: 47 units (58 µs; before
    issue 13: 157 units, 195 µs). The bound 80 leaves a factor 1.7 for noise and still fails the
    old fixed cost by a factor 2.
    """
    monkeypatch.setattr(FlowOperator, "transport", lambda self, rho, tau, field: rho)
    weights, x = np.full(64, 0.25), CENTRES.copy()

    def unit() -> None:
        for _ in range(10):
            float(weights @ np.exp(x))

    small_solve()  # first call: imports, caches
    best_solve = best_unit = np.inf
    for _ in range(200):
        start = time.perf_counter()
        small_solve()
        middle = time.perf_counter()
        unit()
        end = time.perf_counter()
        best_solve, best_unit = min(best_solve, middle - start), min(best_unit, (end - middle) / 10)
    assert best_solve < 80 * best_unit, (
        f"{best_solve * 1e6:.0f} us = {best_solve / best_unit:.0f} units"
    )
