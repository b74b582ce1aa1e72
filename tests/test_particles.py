"""Particle systems against the mean-field PDE of their own dynamics (MATH §3.2, §6, §7).

One case throughout: the circle, V = cos x, σ = 0.5, μ_0 ∝ exp(sin x + cos(2x)/2), K_h the
periodised Gaussian with h = 0.3; observables ⟨cos x⟩ and ⟨sin 2x⟩ at t = 1 and t = 3.
Replica means at N = 2·10^4 must lie within 4 standard errors (replica spread / √R) of the mesh
solution, plus the deterministic O(1/N) bias bound B_N = σK_h(0)/(N min K_h*μ): every particle
sees itself in K_h*μ_N, which shifts g by at most B_N (≈ 3e-4 here, below the standard errors of
the jump processes but not of the deterministic weighted scheme). The mesh solutions (256 cells,
dt = 0.01) are converged to ~1e-5 (second order in space and time, tests/test_kernelised.py).
"""

from __future__ import annotations

import numpy as np
import pytest

import mfpde
from mfpde.kernels import Kernel, axis_kernel, solve_kernelised
from particles.birth_death import birth_death
from particles.langevin import langevin
from particles.observables import compare, replica_expectations, rmse
from particles.replicas import run_replicas
from particles.wfr import weighted_wfr, wfr_jump

PROBLEM = mfpde.OptimisationProblem(mfpde.Circle(), energy=mfpde.Potential("cos(x)"), sigma=0.5)
INITIAL = "exp(sin(x) + 0.5*cos(2*x))"
H = 0.3
N = 20_000
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


def self_interaction_bound(solution) -> float:
    """B_N = σ K_h(0) / (N min K_h*μ) over the saved states (module docstring)."""
    smoothing = Kernel("density", H).bind(GRID, np.zeros(GRID.size), PROBLEM.sigma)
    low = min(smoothing.convolve(rho).min() for rho in solution.density)
    return PROBLEM.sigma * float(axis_kernel(0.0, H, 2 * np.pi)) / (N * low)


def assert_agrees(values: np.ndarray, solution) -> None:
    reference, bound = mesh_values(solution), self_interaction_bound(solution)
    for k in range(len(OBSERVABLES)):
        c = compare(values[k], reference[k])
        assert np.all(np.abs(c.difference) <= 4 * c.standard_error + bound), (c, bound)


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


RUN = {"n": N, "t_end": 3.0, "dt": DT, "save_every": 100}


@pytest.mark.parametrize("variant", ["density", "blob", "smoothed_kl"])
def test_birth_death_follows_kernelised_fisher_rao(variant):
    # Time bias of the kill/duplicate probabilities at η = 0.01: ≤ 6e-4 (the scheme's own
    # mean-field map on the mesh against the PDE), below the standard errors (≈ 1e-3).
    kernel = Kernel(variant, H)
    trajectories = run_replicas(
        birth_death, 6, 1, PROBLEM, INITIAL, kernel=kernel, grid=GRID, **RUN
    )
    assert_agrees(particle_values(trajectories), mesh(mfpde.fisher_rao(1.0), variant))


def test_langevin_follows_fokker_planck():
    trajectories = run_replicas(langevin, 6, 2, PROBLEM, INITIAL, **RUN)
    assert_agrees(particle_values(trajectories), mesh(mfpde.fokker_planck(1.0)))


def test_wfr_jump_follows_plain_transport_kernelised_reaction():
    kernel = Kernel("smoothed_kl", H)
    trajectories = run_replicas(wfr_jump, 6, 3, PROBLEM, INITIAL, kernel=kernel, grid=GRID, **RUN)
    solution = mesh(mfpde.wfr(1.0, 1.0), "smoothed_kl", kernelised_transport=False)
    assert_agrees(particle_values(trajectories), solution)


def test_weighted_wfr_follows_kernelised_wfr():
    # The weighted scheme is deterministic after the initial draw, so its replica spread is small
    # (≈ 3e-5 at t = 3) and the O(η) bias of explicit Euler (≈ 1.3e-3 at t = 1, η = 0.01) is
    # not: compare the Richardson extrapolation 2P(η/2) − P(η) (same seeds, same initial
    # particles), whose time bias is O(η²).
    kernel = Kernel("density", H)
    values = []
    for dt in (2 * DT, DT):
        run = {**RUN, "dt": dt, "save_every": round(1 / dt)}
        values.append(
            particle_values(
                run_replicas(weighted_wfr, 4, 4, PROBLEM, INITIAL, kernel=kernel, grid=GRID, **run)
            )
        )
    assert_agrees(2 * values[1] - values[0], mesh(mfpde.wfr(1.0, 1.0), "density"))


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
