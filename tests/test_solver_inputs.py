"""Python API of :func:`mfpde.solve`: one clear InputError line per bad argument, checked before
any work; non-finite observers are a NumericalError; non-negative initial densities (issue 11)."""

from __future__ import annotations

import time

import numpy as np
import pytest

import mfpde
from mfpde.errors import InputError, NumericalError
from mfpde.stepper import Observer, System, integrate

TORUS = mfpde.Torus(1)
PROBLEM = mfpde.OptimisationProblem(TORUS, mfpde.Potential("cos(x)"), 0.5)
SOLVE = {"cells": 16, "t_end": 0.2, "dt": 0.1, "progress": False}


def _solve(flow=None, initial="1", **changes):
    return mfpde.solve(PROBLEM, flow or mfpde.wfr(), initial, **{**SOLVE, **changes})


#: name → (call, fragment of the one-line message)
BAD = {
    "flow as a string": (lambda: _solve(flow="wfr"), "flow must be a Flow (mfpde.fisher_rao()"),
    "t_end as a string": (lambda: _solve(t_end="1"), "t_end must be a number"),
    "dt zero": (lambda: _solve(dt=0.0), "dt must be > 0"),
    "dt = 1e-300": (lambda: _solve(dt=1e-300), "above the limit"),
    "neither dt nor tolerance": (lambda: _solve(dt=None), "give dt"),
    "cells negative": (lambda: _solve(cells=-4), "cells must be an integer >= 1"),
    "cells = 1e9": (lambda: _solve(cells=10**9), "of memory"),
    "cells as a float in a tuple": (lambda: _solve(cells=(16.0,)), "cells must be an integer"),
    "save_every as a float": (lambda: _solve(save_every=1.5), "save_every must be a positive"),
    "energy as a string": (
        lambda: mfpde.OptimisationProblem(TORUS, "cos(x)", 0.5),
        "energy must be an Energy",
    ),
    "problem as a string": (
        lambda: mfpde.solve("torus", mfpde.wfr(), "1", **SOLVE),
        "problem must be an OptimisationProblem",
    ),
    "unknown observer": (lambda: _solve(observers=("mass", "kl")), "observers must be a list"),
    "unknown space": (lambda: _solve(space="chebyshev"), "unknown space"),
    "fourier on an interval": (
        lambda: mfpde.solve(
            mfpde.OptimisationProblem(mfpde.Interval(0, 1), mfpde.Potential("x"), 0.5),
            mfpde.fokker_planck(), "1", space="fourier", **SOLVE,
        ),
        "needs a periodic grid",
    ),
    "negative initial density": (lambda: _solve(initial="sin(x)"), "must be positive"),
    "zero cell under pure Fisher-Rao": (
        lambda: _solve(flow=mfpde.fisher_rao(), initial="exp(-1e4*(x - 3)**2)"),
        "a zero cell stays zero",
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", BAD)
def test_bad_argument_is_one_input_error_line(name):
    call, fragment = BAD[name]
    start = time.perf_counter()
    with pytest.raises(InputError) as info:
        call()
    message = str(info.value)
    assert fragment in message and "\n" not in message and len(message) < 300, message
    assert time.perf_counter() - start < 2.0  # refused before any work (dt = 1e-300, 1e9 cells)


@pytest.mark.parametrize("flow", [mfpde.fokker_planck(), mfpde.wfr()])
def test_initial_density_that_underflows_to_zero_is_accepted_under_diffusion(flow):
    initial = "exp(-1e4*(x - 3)**2)"  # 0.0 in double precision more than ~0.27 from x = 3
    values = mfpde.expressions.parse(initial, 1).__call__(mfpde.Grid(TORUS, 64).points)
    assert values.min() == 0.0
    runs = {
        scheme: mfpde.solve(
            PROBLEM, flow, initial, cells=64, t_end=0.5, dt=0.05, progress=False, scheme=scheme
        )
        for scheme in ("expm", "expm_multiply")
    }
    solution = runs["expm"]
    # Diffusion makes every cell positive at once; mass is kept to round-off, and the automatic
    # (eigen) path agrees with expm_multiply to round-off (measured 1e-15 in L1).
    assert abs(solution.observers["mass"][-1] - 1) < 1e-13
    assert solution.density.min() > 0 and solution.observers["lyapunov"][-1] > 0
    difference = np.abs(solution.density[-1] - runs["expm_multiply"].density[-1]).sum()
    assert difference * 2 * np.pi / 64 < 1e-12


class _Broken(Observer):
    name = "broken"

    def __call__(self, t, rhos):
        return np.nan if t > 0 else 0.0


def test_a_nan_observer_is_a_numerical_error():
    grid = mfpde.Grid(TORUS, 16)
    operator = mfpde.FlowOperator(grid, np.full(16, -np.log(2 * np.pi)), 0.5, 0.0, 1.0)
    system = System([operator], lambda rhos: [np.cos(grid.points[:, 0])], linear=True)
    rho = np.full(16, 1 / (2 * np.pi))
    with pytest.raises(NumericalError, match="observer 'broken' became nan at t = 0.1"):
        integrate(system, [rho], 0.3, 0.1, observers=[_Broken()], progress=False)
