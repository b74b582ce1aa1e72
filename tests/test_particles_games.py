"""Particle game algorithms against the game PDEs of the mesh solver (MATH §4, §6.3–6.4; [003]).

Both players on the circle, ℓ(x, y) = cos(x − y) + sin(x)/2 + cos(2y), μ_0 ∝ e^{sin x},
ν_0 ∝ e^{cos y}; observables ⟨cos x⟩_μ and ⟨sin y⟩_ν. Replica means over R = 8 replicas at
N = 2·10^4 per player must lie within 4 standard errors of the mesh solution (256 cells; for
σ = 0 transport, which is first-order upwinding, the Richardson extrapolation 2ρ_512 − ρ_256),
nothing added. The schemes are first order in η, so, as in tests/test_particles.py, the
replica values are the per-replica extrapolations 2P(η/2) − P(η) (same seed, same initial
particles; the standard error is that of the combinations): from η = 0.04 for the deterministic
weight updates of mirror descent, from η = 0.02 for Euler-Maruyama (Langevin-DA) and WFR-DA.
"""

from __future__ import annotations

import numpy as np
import pytest

import mfpde
from mfpde.fv.operator import FlowOperator
from mfpde.games import Bilinear, GameProblem, game_flow, solve_game
from mfpde.particles.games import langevin_da, mirror_descent, payoff_fields, wfr_da
from mfpde.particles.observables import compare, time_average
from mfpde.particles.replicas import run_replicas
from mfpde.solver import initial_density
from mfpde.stepper import System, integrate

ELL = "cos(x - y) + 0.5*sin(x) + cos(2*y)"
INITIAL = ("exp(sin(x))", "exp(cos(y))")
N = 20_000
R = 8


def game(sigma):
    return GameProblem(mfpde.Circle(), mfpde.Circle(), Bilinear(ELL), sigma=sigma)


def particle_values(trajectories, index) -> np.ndarray:
    """(R, 2, saved) values of ⟨cos x⟩_μ, ⟨sin y⟩_ν; ``index`` picks saved times."""
    out = []
    for t in trajectories:
        mu = np.sum(t.weights_mu * np.cos(t.positions_mu[..., 0]), axis=1)
        nu = np.sum(t.weights_nu * np.sin(t.positions_nu[..., 0]), axis=1)
        out.append(np.array([mu, nu])[:, index])
    return np.array(out)


def mesh_values(points, density_mu, density_nu, weights, index) -> np.ndarray:
    x = points[:, 0]
    values = [density_mu @ (weights * np.cos(x)), density_nu @ (weights * np.sin(x))]
    return np.array(values)[:, index]


def extrapolated_values(method, problem, seed, step, index) -> np.ndarray:
    """2P(η/2) − P(η) per replica (module docstring), shape (R, 2, len(index))."""
    values = []
    for dt in (step, step / 2):
        trajectories = run_replicas(
            method, R, seed, problem, *INITIAL, n=N, t_end=3.0, dt=dt, save_every=round(1 / dt)
        )
        values.append(particle_values(trajectories, index))
    return 2 * values[1] - values[0]


def assert_within(values, reference):
    for k in range(2):
        c = compare(values[:, k], reference[k])
        assert np.all(np.abs(c.difference) <= 4 * c.standard_error), c


def test_particle_payoff_sums_match_the_direct_sum(rng):
    # The separable expansion of this trigonometric ℓ is exact (its coefficients vanish past
    # mode 2), so the fast sums carry only the NUFFT error, ε = 1e-11 relative to Σ|c|; the
    # direct sums are compiled with exact derivatives. 1e-9 relative leaves a factor 100.
    X, Y = rng.uniform(0, 7, (300, 1)), rng.uniform(0, 7, (200, 1))
    u, v = rng.random(300), rng.random(200)
    fast, direct = (
        payoff_fields(
            GameProblem(mfpde.Circle(), mfpde.Circle(), Bilinear(ELL, method=m), 0.5),
            X, u, Y, v, gradient=True,
        )
        for m in ("auto", "direct")
    )  # fmt: skip
    for a, b in zip(fast, direct):
        for p, q in zip(a, b):
            assert np.abs(p - q).max() <= 1e-9 * np.abs(q).max()


def test_langevin_da_follows_the_langevin_da_game_pde():
    problem = game(0.5)
    solution = solve_game(
        problem,
        game_flow("langevin_da"),
        *INITIAL,
        cells_mu=256,
        t_end=3.0,
        dt=0.01,
        save_every=100,
        progress=False,
    )
    values = extrapolated_values(langevin_da, problem, 5, 0.02, [1, 3])
    g = solution.grid_mu
    reference = mesh_values(g.points, solution.density_mu, solution.density_nu, g.weights, [1, 3])
    assert_within(values, reference)


def test_mirror_descent_follows_the_sigma_zero_fisher_rao_game():
    problem = game(0.0)
    solution = solve_game(
        problem,
        game_flow("mirror_descent"),
        *INITIAL,
        cells_mu=256,
        t_end=3.0,
        dt=0.01,
        save_every=100,
        progress=False,
    )
    values = extrapolated_values(mirror_descent, problem, 6, 0.04, [1, 3])
    g = solution.grid_mu
    reference = mesh_values(g.points, solution.density_mu, solution.density_nu, g.weights, [1, 3])
    assert_within(values, reference)


def sigma_zero_wfr_game(cells, t_end, dt):
    """The WFR-DA game PDE with σ = 0 on the mesh: two FlowOperators with σ = 0 (upwinding)."""
    problem = game(0.0)
    grid = mfpde.Grid(problem.domain_mu, cells)
    bound = problem.bind(grid, grid)
    operators = [FlowOperator(grid, bound.log_pi, 0.0, 1.0, 1.0) for _ in range(2)]
    rhos = [
        initial_density(mfpde.expressions.parse(f, 1, (letter,)), grid.points, grid.weights)
        for f, letter in zip(INITIAL, "xy")
    ]
    times, states, _ = integrate(
        System(operators, lambda r: bound.fields(*r), False), rhos, t_end, dt, progress=False
    )
    mu, nu = (np.array([s[k] for s in states]) for k in range(2))
    return times, mesh_values(grid.points, mu, nu, grid.weights, slice(None))


def test_wfr_da_time_averages_follow_the_sigma_zero_wfr_game():
    # Time averages (1/t)∫⟨φ, μ_s⟩ds at t = 1 (trapezoid over every step, the same rule for
    # particles and mesh). Explicit Euler's O(η) bias is removed by Richardson in η as for
    # weighted_wfr (tests/test_particles.py), the mesh's O(h) upwinding error by Richardson in h.
    times, coarse = sigma_zero_wfr_game(256, 1.0, 0.01)
    fine = sigma_zero_wfr_game(512, 1.0, 0.01)[1]
    reference = time_average(times, 2 * fine - coarse)[:, -1]
    values = []
    for dt in (0.02, 0.01):
        trajectories = run_replicas(wfr_da, R, 8, game(0.0), *INITIAL, n=N, t_end=1.0, dt=dt)
        raw = particle_values(trajectories, slice(None))
        values.append(time_average(trajectories[0].times, raw)[..., -1])
    assert_within(2 * values[1] - values[0], reference)


def test_game_algorithms_reject_the_wrong_sigma():
    with pytest.raises(mfpde.InputError, match="sigma = 0"):
        wfr_da(game(0.5), *INITIAL, n=10, t_end=1.0, dt=0.1)
    with pytest.raises(mfpde.InputError, match="sigma > 0"):
        langevin_da(game(0.0), *INITIAL, n=10, t_end=1.0, dt=0.1)
