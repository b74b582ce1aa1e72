"""The DOLFINx backend distributed over MPI ranks gives the serial result (MATH §8).

Run with ``mpiexec -n 2 python -m pytest --with-mpi tests/mpi/test_fem_mpi.py``. Each rank also
solves the same problem alone (``COMM_SELF``); the global vectors must agree to 1e-10 (the LU
solves differ only in the order of floating-point operations: measured ~1e-15).
"""

from __future__ import annotations

import numpy as np
import pytest
from mpi4py import MPI

import mfpde
from mfpde.fem import P1FlowOperator, P1Space, Sphere, disk_mesh, icosphere
from mfpde.fem import solve as fem_solve
from mfpde.storage import read_h5

TOL = 1e-10


def _serial_and_parallel(problem, flow, initial, mesh, **options):
    world = P1Space(mesh, MPI.COMM_WORLD)
    # the mesh really is distributed: no rank owns every dof
    assert world.n_owned < mesh.size
    assert MPI.COMM_WORLD.allreduce(world.n_owned) == mesh.size
    return [
        fem_solve(problem, flow, initial, space=space, progress=False, **options)
        for space in (P1Space(mesh, MPI.COMM_SELF), world)
    ]


@pytest.mark.mpi(min_size=2)
def test_wfr_with_interaction_on_the_sphere_is_rank_independent():
    energy = mfpde.Potential("x3") + mfpde.Interaction("x1*y1 + x2*y2 + x3*y3")
    problem = mfpde.OptimisationProblem(Sphere(), energy, sigma=0.5)
    serial, parallel = _serial_and_parallel(
        problem, mfpde.wfr(), "exp(2*x1)", icosphere(3), t_end=1.0, dt=0.05
    )
    np.testing.assert_array_equal(serial.grid.points, parallel.grid.points)
    assert np.abs(serial.grid.weights - parallel.grid.weights).max() < 1e-15
    assert np.abs(serial.density - parallel.density).max() < TOL * serial.density.max()
    for name, values in serial.observers.items():
        assert np.abs(values - parallel.observers[name]).max() < TOL, name


@pytest.mark.mpi(min_size=2)
def test_fokker_planck_on_a_disk_is_rank_independent_and_rank_0_writes_one_file(tmp_path):
    mesh = disk_mesh(radius=1.0, h=0.1)
    problem = mfpde.OptimisationProblem(mesh, mfpde.Potential("x1**2 + x2"), sigma=0.3)
    serial, parallel = _serial_and_parallel(
        problem, mfpde.fokker_planck(), "1 + x1", mesh, t_end=0.5, dt=0.01
    )
    assert np.abs(serial.density - parallel.density).max() < TOL * serial.density.max()
    path = MPI.COMM_WORLD.bcast(str(tmp_path / "out.h5"), root=0)
    parallel.save(path, "config")
    data = read_h5(path)
    np.testing.assert_array_equal(data["mu"]["density"], parallel.density)
    np.testing.assert_array_equal(data["mu"]["points"], mesh.points)


@pytest.mark.mpi(min_size=2)
def test_gathered_generator_and_spectral_gap_are_rank_independent():
    """The distributed K[π_g], gathered into the global order, is the serial one."""
    mesh = disk_mesh(radius=1.0, h=0.2)
    problem = mfpde.OptimisationProblem(mesh, mfpde.Potential("x1**2 + x2"), sigma=0.3)
    results = []
    for comm in (MPI.COMM_SELF, MPI.COMM_WORLD):
        space = P1Space(mesh, comm)
        bound = problem.bind(space)
        operator = P1FlowOperator(space, bound.log_pi, 0.3, 1.0, 0.0)
        field = bound.energy.first_variation(None)
        results.append((operator.transport_matrix(field), operator.spectral_gap(field)))
    (serial, gap_serial), (parallel, gap_parallel) = results
    assert abs(serial - parallel).max() < 1e-13 * abs(serial).max()
    assert abs(gap_serial - gap_parallel) < TOL * gap_serial


CONFIG = """
[domain]
kind = "sphere"
refinement = 3

[problem]
sigma = 0.5
potential = "x3"

[flow]
kind = "wfr"

[initial]
density = "exp(2*x1)"

[time]
t_end = 0.5
dt = 0.05
"""


@pytest.mark.mpi(min_size=2)
def test_cli_on_two_ranks_writes_one_file_with_the_serial_result(tmp_path):
    from mfpde.cli import main

    folder = MPI.COMM_WORLD.bcast(tmp_path, root=0)
    if MPI.COMM_WORLD.rank == 0:
        (folder / "sphere.toml").write_text(CONFIG)
    MPI.COMM_WORLD.Barrier()
    assert main(["run", str(folder / "sphere.toml"), "-q"]) == 0
    assert sorted(p.name for p in folder.iterdir()) == ["sphere.bp", "sphere.h5", "sphere.toml"]
    data = read_h5(folder / "sphere.h5")
    problem = mfpde.OptimisationProblem(Sphere(), mfpde.Potential("x3"), sigma=0.5)
    serial = fem_solve(
        problem,
        mfpde.wfr(),
        "exp(2*x1)",
        mesh=icosphere(3),
        comm=MPI.COMM_SELF,
        t_end=0.5,
        dt=0.05,
        progress=False,
    )
    assert np.abs(data["mu"]["density"] - serial.density).max() < TOL * serial.density.max()


@pytest.mark.mpi(min_size=2)
def test_sphere_game_with_split_payoff_rows_is_rank_independent():
    """ℓ_b of [003] §5.1 on S² × S²: each rank sums its rows of ℓ(x_i, y_j) (MATH §8)."""
    from mfpde.games import GameProblem, game_flow, solve_game, sphere_game

    mesh = icosphere(2)
    problem = GameProblem(Sphere(), Sphere(), sphere_game("ell_b", seed=1), sigma=0.5)
    solutions = []
    for comm in (MPI.COMM_SELF, MPI.COMM_WORLD):
        space = P1Space(mesh, comm)
        sol = solve_game(
            problem,
            game_flow("wfr_da", gamma=1.0, alpha=1.0),
            "exp(x1)",
            "1 + 0.5*y3",
            grid_mu=space,
            grid_nu=space,
            t_end=0.5,
            dt=0.05,
            scheme="implicit_euler",
            operator_type=P1FlowOperator,
            progress=False,
        )
        solutions.append(sol)
    serial, parallel = solutions
    for name in ("density_mu", "density_nu"):
        a, b = getattr(serial, name), getattr(parallel, name)
        assert np.abs(a - b).max() < TOL * a.max(), name
    for name in ("ni_error", "lyapunov"):
        assert np.abs(serial.observers[name] - parallel.observers[name]).max() < TOL, name


@pytest.mark.mpi(min_size=2)
def test_cli_game_on_two_ranks_writes_one_file_with_the_serial_result(tmp_path):
    """``mpiexec -n 2 mfpde run`` of the built-in sphere game ℓ_a equals the serial run."""
    from mfpde.cli import main
    from mfpde.games import GameProblem, game_flow, solve_game, sphere_game

    config = """\
[problem]
kind = "game"
payoff = "builtin:ell_a"
sigma = 0.5

[domain]
kind = "sphere"
refinement = 2

[flow]
kind = "fisher_rao"

[time]
t_end = 1.0
dt = 0.05
"""
    folder = MPI.COMM_WORLD.bcast(tmp_path, root=0)
    if MPI.COMM_WORLD.rank == 0:
        (folder / "game.toml").write_text(config)
    MPI.COMM_WORLD.Barrier()
    assert main(["run", str(folder / "game.toml"), "-q"]) == 0
    data = read_h5(folder / "game.h5")
    space = P1Space(icosphere(2), MPI.COMM_SELF)
    serial = solve_game(
        GameProblem(Sphere(), Sphere(), sphere_game("ell_a", seed=0), sigma=0.5),
        game_flow("fisher_rao"),
        "1",
        "1",
        grid_mu=space,
        grid_nu=space,
        t_end=1.0,
        dt=0.05,
        progress=False,
    )
    for name in ("mu", "nu"):
        reference = getattr(serial, f"density_{name}")
        assert np.abs(data[name]["density"] - reference).max() < TOL * reference.max()


@pytest.mark.mpi(min_size=2)
@pytest.mark.parametrize("variant", ["density", "blob", "smoothed_kl"])
def test_kernelised_fisher_rao_on_the_sphere_with_split_kernel_rows(variant):
    """K_h*ρ (von Mises-Fisher on S²) summed by rows split over the ranks (MATH §3.2, §8)."""
    from mfpde.fem import solve_kernelised
    from mfpde.kernels import Kernel

    problem = mfpde.OptimisationProblem(Sphere(), mfpde.Potential("x3"), sigma=0.5)
    serial, parallel = (
        solve_kernelised(
            problem,
            mfpde.fisher_rao(),
            "exp(x1)",
            Kernel(variant, 0.4),
            space=P1Space(icosphere(3), comm),
            t_end=0.5,
            dt=0.05,
            progress=False,
        )
        for comm in (MPI.COMM_SELF, MPI.COMM_WORLD)
    )
    assert np.abs(serial.density - parallel.density).max() < TOL * serial.density.max()
