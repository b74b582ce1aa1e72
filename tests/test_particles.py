"""Particle systems against the mean-field PDE of their own dynamics (MATH §3.2, §6, §7).

One case throughout: the circle, V = cos x, σ = 0.5, μ_0 ∝ exp(sin x + cos(2x)/2), K_h the
periodised Gaussian with h = 0.3; observables ⟨cos x⟩ and ⟨sin 2x⟩ at t = 1 and t = 3. The
criterion is strict: with N = 2·10^4 particles the mean over R = 8 replicas (16 for the
Euler-Maruyama schemes, whose extrapolation doubles the spread) must lie within 4 standard
errors (replica spread / √R) of the mesh solution, nothing added. The mesh solutions
(256 cells, dt = 0.01) are converged to ~1e-5 (second order in space and time,
tests/test_kernelised.py).

Every scheme is first order in its step η, so the replica values are Richardson extrapolations
2P(η/2) − P(η), whose time bias is O(η²). The two runs of replica r share its seed, hence its
initial particles, and the standard error is that of the R per-replica combinations, so the
correlation between P(η/2) and P(η) is accounted for. Measured time biases (N = ∞ limit of the
birth-death scheme on the mesh, all three variants): 1.3e-3 to 2.0e-3 at η = 0.04, exactly
halved at η = 0.02, and ≤ 3.4e-5 after extrapolation, against standard errors ≥ 5e-4; weighted
WFR: 1.0e-3 (≈ 40 SE) at η = 0.04, z ≤ 1.1 after extrapolation. The Euler-Maruyama moves of
``langevin`` and ``wfr_jump`` carry a larger second-order term (extrapolating from η = 0.04 left
≈ 2e-3 over 40 replicas), so they extrapolate from η = 0.02: ≤ 2e-3 → z ≤ 1.2 over 40 replicas.
The self-interaction of K_h*μ_N (each particle sees K_h(0)/N of itself) shifts the rates by
σK_h(0)/(N K_h*μ) ≤ 3e-4 and the observables by much less: the weighted scheme, whose standard
error at t = 3 is 2e-5, shows none.
"""

from __future__ import annotations

import numpy as np
import pytest

import mfpde
from mfpde.kernels import Kernel, solve_kernelised
from mfpde.particles.birth_death import birth_death
from mfpde.particles.langevin import langevin
from mfpde.particles.observables import compare, replica_expectations, rmse
from mfpde.particles.replicas import run_replicas
from mfpde.particles.wfr import weighted_wfr, wfr_jump

PROBLEM = mfpde.OptimisationProblem(mfpde.Circle(), energy=mfpde.Potential("cos(x)"), sigma=0.5)
INITIAL = "exp(sin(x) + 0.5*cos(2*x))"
H = 0.3
N = 20_000
R = 8
DT = 0.01
TIMES = (1.0, 3.0)
OBSERVABLES = (lambda x: np.cos(x[:, 0]), lambda x: np.sin(2 * x[:, 0]))
GRID = mfpde.Grid(PROBLEM.domain, 256)


def mesh_values(solution) -> np.ndarray:
    """⟨φ, μ_t⟩ on the mesh, shape (observables, TIMES)."""
    index = [int(np.argmin(np.abs(solution.times - t))) for t in TIMES]
    w, x = solution.grid.weights, solution.grid.points
    return np.array([[w @ (solution.density[i] * phi(x)) for i in index] for phi in OBSERVABLES])


def particle_values(trajectories) -> np.ndarray:
    """Replica values at TIMES, shape (observables, R, TIMES)."""
    out = []
    for phi in OBSERVABLES:
        values = replica_expectations(trajectories, phi)
        times = trajectories[0].times
        out.append(values[:, [int(np.argmin(np.abs(times - t))) for t in TIMES]])
    return np.array(out)


def extrapolated_values(method, seed: int, step: float, replicas=R, **options) -> np.ndarray:
    """2P(η/2) − P(η) per replica, η = ``step`` (module docstring): (observables, R, TIMES)."""
    values = []
    for dt in (step, step / 2):
        run = {"n": N, "t_end": 3.0, "dt": dt, "save_every": round(1 / dt)}
        values.append(
            particle_values(
                run_replicas(method, replicas, seed, PROBLEM, INITIAL, **run, **options)
            )
        )
    return 2 * values[1] - values[0]


def assert_agrees(values: np.ndarray, solution) -> None:
    """|replica mean − mesh| ≤ 4 standard errors for every observable and time."""
    reference = mesh_values(solution)
    for k in range(len(OBSERVABLES)):
        c = compare(values[k], reference[k])
        assert np.all(np.abs(c.difference) <= 4 * c.standard_error), c


def mesh(flow, variant=None, kernelised_transport=True):
    if variant is None:
        return mfpde.solve(PROBLEM, flow, INITIAL, grid=GRID, t_end=3.0, dt=DT, progress=False)
    return solve_kernelised(
        PROBLEM,
        flow,
        INITIAL,
        Kernel(variant, H),
        grid=GRID,
        t_end=3.0,
        dt=DT,
        kernelised_transport=kernelised_transport,
        progress=False,
    )


@pytest.mark.parametrize("variant", ["density", "blob", "smoothed_kl"])
def test_birth_death_follows_kernelised_fisher_rao(variant):
    kernel = Kernel(variant, H)
    values = extrapolated_values(birth_death, 1, 0.04, kernel=kernel, grid=GRID)
    assert_agrees(values, mesh(mfpde.fisher_rao(1.0), variant))


def test_langevin_follows_fokker_planck():
    values = extrapolated_values(langevin, 2, 0.02, replicas=2 * R)
    assert_agrees(values, mesh(mfpde.fokker_planck(1.0)))


def test_wfr_jump_follows_plain_transport_kernelised_reaction():
    values = extrapolated_values(wfr_jump, 3, 0.02, 2 * R, kernel=Kernel("density", H), grid=GRID)
    solution = mesh(mfpde.wfr(1.0, 1.0), "density", kernelised_transport=False)
    assert_agrees(values, solution)


def test_weighted_wfr_follows_kernelised_wfr():
    # Deterministic after the initial draw: the replica spread at t = 3 is ≈ 7e-5, so only the
    # extrapolation (module docstring) makes the comparison possible.
    values = extrapolated_values(weighted_wfr, 4, 0.04, kernel=Kernel("density", H), grid=GRID)
    assert_agrees(values, mesh(mfpde.wfr(1.0, 1.0), "density"))


def test_propagation_of_chaos_rate():
    # RMSE of ⟨cos x⟩ at t = 1 over 20 replicas, N = 500 … 32000 (MATH §7: slope −1/2). The
    # RMSE of 20 replicas has a relative sampling error of ≈ 1/√40 = 16% per point, i.e. a slope
    # error of ≈ 0.05 over log(64) = 4.2; the time bias (6e-4) is 10% of the RMSE at 32000.
    kernel = Kernel("density", H)
    solution = solve_kernelised(
        PROBLEM,
        mfpde.fisher_rao(1.0),
        INITIAL,
        kernel,
        grid=GRID,
        t_end=1.0,
        dt=DT,
        progress=False,
    )
    phi = OBSERVABLES[0]
    reference = GRID.weights @ (solution.density[-1] * phi(GRID.points))
    sizes = [500, 2000, 8000, 32000]
    errors = []
    for n in sizes:
        trajectories = run_replicas(
            birth_death,
            20,
            7,
            PROBLEM,
            INITIAL,
            kernel=kernel,
            n=n,
            t_end=1.0,
            dt=DT,
            save_every=100,
        )
        errors.append(rmse(replica_expectations(trajectories, phi)[:, -1], reference))
    slope = np.polyfit(np.log(sizes), np.log(errors), 1)[0]
    assert -0.6 <= slope <= -0.4, (slope, errors)


@pytest.mark.parametrize("method", [birth_death, weighted_wfr, wfr_jump])
def test_same_seed_same_trajectory(method):
    run = {"kernel": Kernel("blob", H), "n": 300, "t_end": 0.2, "dt": 0.05, "grid": GRID}
    a = method(PROBLEM, INITIAL, seed=11, **run)
    b = method(PROBLEM, INITIAL, seed=11, **run)
    c = method(PROBLEM, INITIAL, seed=12, **run)
    assert np.array_equal(a.positions, b.positions) and np.array_equal(a.weights, b.weights)
    assert not np.array_equal(a.positions, c.positions)


def test_langevin_reflects_at_walls_and_keeps_weights():
    problem = mfpde.OptimisationProblem(mfpde.Interval(0.0, 1.0), mfpde.Potential("x"), 0.2)
    trajectory = langevin(problem, "1", n=2000, t_end=0.5, dt=0.05, seed=0)
    assert trajectory.positions.min() >= 0 and trajectory.positions.max() <= 1
    assert np.all(trajectory.weights == 1 / 2000)


def test_weighted_wfr_keeps_weights_normalised():
    trajectory = weighted_wfr(
        PROBLEM, INITIAL, kernel=Kernel("density", H), n=500, t_end=0.5, dt=0.05, seed=0
    )
    assert np.abs(trajectory.weights.sum(axis=1) - 1).max() < 1e-13


def test_bad_input_is_rejected():
    with pytest.raises(mfpde.InputError, match="number of particles"):
        langevin(PROBLEM, INITIAL, n=1, t_end=1.0, dt=0.1, seed=0)
    with pytest.raises(mfpde.InputError, match="needs a grid"):
        birth_death(PROBLEM, INITIAL, kernel=Kernel("smoothed_kl", H), n=10, t_end=1, dt=0.1)
    with pytest.raises(mfpde.InputError, match="kernel variant"):
        Kernel("gauss", H)
    with pytest.raises(mfpde.InputError, match="bandwidth"):
        Kernel("blob", -1.0)
    with pytest.raises(mfpde.InputError, match="shape"):
        langevin(PROBLEM, np.zeros((3, 2)), n=3, t_end=1.0, dt=0.1, seed=0)
