"""The exact transport paths and the Fourier option (issue 13; :mod:`mfpde.fv.exponential`).

Each path of e^{τA}ρ is compared with SciPy's ``expm_multiply`` (the reference path) on the
frozen Scharfetter-Gummel generator of an Ornstein-Uhlenbeck well with walls, a double well on
the circle and a 2-D box; the automatic choice, the speed at long τ, the refusal of a too stiff
step and the measured order of the Fourier pseudo-spectral option are asserted.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

import mfpde
from mfpde.errors import NumericalError
from mfpde.fv.exponential import cf_exponential
from mfpde.fv.grid import Grid
from mfpde.fv.operator import FlowOperator

CASES = {
    "OU interval, walls": (mfpde.Interval(-6.5, 6.5), 200, "x**2/2", 1.0, 2.0),
    "double well, circle": (mfpde.Torus(1), 128, "cos(x) + 0.5*cos(2*x)", 0.5, 5.0),
    "2-D box": (mfpde.Box((-5, -5), (5, 5)), 24, "x1**2/2 + x2**2", 1.0, 1.0),
}


def _frozen(case: str, scheme: str):
    domain, cells, potential, sigma, tau = CASES[case]
    grid = Grid(domain, cells)
    bound = mfpde.OptimisationProblem(domain, mfpde.Potential(potential), sigma).bind(grid)
    field = bound.energy.first_variation(np.ones(grid.size))
    centre = domain.lower + 0.3 * domain.lengths  # a bump away from the well: far from equilibrium
    rho = np.exp(-4 * ((grid.points - centre) ** 2).sum(axis=1))
    rho /= grid.weights @ rho
    return FlowOperator(grid, bound.log_pi, sigma, 1.0, 0.0, scheme), rho, tau, field


def test_rational_approximation_of_the_exponential_on_the_negative_axis():
    r_inf, poles, residues = cf_exponential()
    z = -np.concatenate([np.linspace(0, 60, 30001), np.logspace(np.log10(60), 12, 3000)])
    r = r_inf + 2 * np.real((residues / (z[:, None] - poles)).sum(axis=1))
    # Type (14, 14) CF: the minimax error is 9.3^-14 ≈ 1e-14 (Trefethen-Weideman-Schmelzer);
    # least-squares residues on the poles reach 3e-14, so 1e-13 leaves a margin of 3.
    assert len(poles) == 7 and np.abs(r - np.exp(z)).max() < 1e-13


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("path", ["eigen", "rational"])
def test_each_path_agrees_with_expm_multiply(case, path):
    reference, rho, tau, field = _frozen(case, "expm_multiply")
    operator = _frozen(case, path)[0]
    expected = reference.transport(rho, tau, field)
    for _ in range(2):  # the second step reuses the cached factorisation
        out = operator.transport(rho, tau, field)
        # Both are exact to round-off: measured 3e-15 to 4e-13 (relative L1); 1e-12 allows for
        # expm_multiply's own truncation (tol 2^-53 per Taylor segment).
        assert np.abs(out - expected).sum() / np.abs(expected).sum() < 1e-12
        assert abs(operator.weights @ out - 1) < 1e-14 and out.min() > 0


def test_automatic_choice_of_the_path():
    operator, rho, tau, field = _frozen("double well, circle", "expm")
    frozen = operator.frozen(field)
    frozen.uses = 1  # the first step: the field may still change, no factorisation yet
    assert operator.exponential_path(frozen, 0.001) == "expm_multiply"
    assert operator.exponential_path(frozen, 100.0) == "rational"
    frozen.uses = 2  # the same field array again: a linear energy, frozen
    assert operator.exponential_path(frozen, 0.001) == "eigen"
    grid = Grid(mfpde.Interval(-6.5, 6.5), 4000)  # beyond EIGEN_CELLS
    large = FlowOperator(grid, np.full(4000, -np.log(13.0)), 1.0, 1.0, 0.0)
    x = grid.points[:, 0]
    frozen = large.frozen(x**2 / 2)
    frozen.uses = 2
    assert large.exponential_path(frozen, 1.0) == "rational"
    steep = large.frozen(1e3 * x**2)  # a Gibbs state spanning e^{4e4}, too stiff at τ = 1
    with pytest.raises(NumericalError, match="too stiff"):
        large.exponential_path(steep, 1.0)


def test_cost_does_not_grow_with_time_step():
    """At long τ (‖τA‖₁ = 7e3) the eigen path is far faster than expm_multiply."""
    timings = {}
    for scheme in ("eigen", "expm_multiply"):
        operator, rho, _, field = _frozen("OU interval, walls", scheme)
        operator.transport(rho, 10.0, field)  # factorisation out of the timing
        start = time.perf_counter()
        for _ in range(3):
            operator.transport(rho, 10.0, field)
        timings[scheme] = time.perf_counter() - start
    # Measured ratio ≈ 1e3 (two dense 200² mat-vecs against ~7e3 sparse ones); 30 is far below
    # it, so a loaded machine cannot make the test fail.
    assert timings["expm_multiply"] / timings["eigen"] > 30


def test_a_too_stiff_interaction_stops_at_once_with_one_line():
    problem = mfpde.OptimisationProblem(mfpde.Torus(1), mfpde.Interaction("1e5*cos(x - y)"), 0.1)
    start = time.perf_counter()
    with pytest.raises(NumericalError, match="too stiff"):
        mfpde.solve(
            problem, mfpde.fokker_planck(), "exp(sin(x))", cells=64, t_end=1.0, dt=0.1,
            progress=False,
        )  # fmt: skip
    assert time.perf_counter() - start < 5.0  # measured 0.01 s; expm_multiply ran for minutes


def test_an_unstable_stiff_run_is_a_numerical_error_and_a_stable_one_descends():
    """W = 1e3 cos(x − y) at dt = 0.1 finishes but the splitting is unstable: F^σ rises from
    99.7 by 399 in the first step (measured), a NumericalError, not exit 0; at dt = 5e-4 F^σ
    decreases at every saved step (largest change −1.3e-7, measured) to 2.9e-4."""
    problem = mfpde.OptimisationProblem(mfpde.Torus(1), mfpde.Interaction("1e3*cos(x - y)"), 0.1)
    options = {"cells": 64, "t_end": 1.0, "progress": False}
    with pytest.raises(NumericalError, match="free energy rose"):
        mfpde.solve(problem, mfpde.fokker_planck(), "exp(sin(x))", dt=0.1, **options)
    energy = mfpde.solve(
        problem, mfpde.fokker_planck(), "exp(sin(x))", dt=5e-4, **options
    ).observers["energy"]
    assert np.diff(energy).max() < 0 and energy[-1] < 1e-3 * energy[0]


def _mean_cos(cells: int, space: str) -> float:
    problem = mfpde.OptimisationProblem(mfpde.Torus(1), mfpde.Potential("cos(x)"), 1.0)
    solution = mfpde.solve(
        problem, mfpde.fokker_planck(), "exp(2*sin(x))", cells=cells, t_end=0.5, dt=0.5,
        progress=False, space=space, observers=("mass",),
    )  # fmt: skip
    assert abs(solution.observers["mass"][-1] - 1) < 1e-13
    x = Grid(mfpde.Torus(1), cells).points[:, 0]
    return float(np.mean(solution.density[-1] * np.cos(x)) * 2 * np.pi)


def test_fourier_option_is_spectral_and_finite_volumes_second_order():
    """⟨cos x⟩ at t = 1/2 of a Fokker-Planck flow (one exact step: no time error)."""
    reference = _mean_cos(64, "fourier")
    cells = np.array([8, 10, 12, 14])
    errors = {s: np.array([abs(_mean_cos(n, s) - reference) for n in cells]) for s in SPACES}
    slopes = {s: np.polyfit(np.log(cells), np.log(e), 1)[0] for s, e in errors.items()}
    # Measured: finite volumes -2.0 (second order); Fourier about -30 (spectral: the error
    # falls from 1e-4 at 8 cells to 1e-10 at 14). The bounds leave room on both sides.
    assert -2.3 < slopes["fv"] < -1.7
    assert slopes["fourier"] < -15 and errors["fourier"][-1] < 1e-9


SPACES = ("fv", "fourier")
