"""MPI: a verification study's items dealt round-robin over the ranks give the serial numbers.

Run with ``mpiexec -n 2 python -m pytest --with-mpi tests/mpi/test_verify_mpi.py``. Rank 0
gathers the item files, analyses and writes; the finite-volume solves are deterministic
(tests/mpi/test_mpi_fv.py), so the fitted order and every error must be bit-identical to a
serial run of the same study.
"""

from pathlib import Path

import h5py
import numpy as np
import pytest
from mpi4py import MPI

from mfpde.verification.studies import run_study

# Self-convergence in space of the Fokker-Planck flow with a potential, 5 levels: with 2 ranks
# rank 0 solves levels 0, 2, 4 and rank 1 levels 1, 3.
STUDY = """\
[study]
kind = "discretisation_order"
cells = [16, 32, 64, 128, 512]

[domain]
kind = "torus"
cells = 16

[problem]
sigma = 0.5
potential = "cos(x) + 0.5*cos(2*x)"

[flow]
kind = "fokker_planck"

[initial]
density = "exp(sin(x))"

[time]
t_end = 0.5
dt = 0.05
"""


@pytest.mark.mpi(min_size=2)
def test_items_over_ranks_match_the_serial_study(tmp_path):
    comm = MPI.COMM_WORLD
    folder = Path(comm.bcast(str(tmp_path), root=0))
    parallel = run_study(STUDY, folder / "parallel", progress=False, comm=comm)
    if comm.rank != 0:
        assert parallel is None
        return
    serial = run_study(STUDY, folder / "serial", progress=False)
    assert parallel.passed and serial.passed
    for key in ("h", "errors", "order", "order_low", "order_high"):
        np.testing.assert_array_equal(parallel.outcome.data[key], serial.outcome.data[key])
    with h5py.File(folder / "parallel" / "data.h5") as f:
        assert sorted(f["items"]) == [f"level{i}" for i in range(5)]
    assert abs(serial.outcome.data["order"] - 2) < 0.1


SPHERE_STUDY = """\
[study]
kind = "lyapunov_rate"

[domain]
kind = "sphere"
refinement = 2

[problem]
sigma = 0.5
potential = "x3 + 0.5*x1*x2"

[flow]
kind = "fisher_rao"

[initial]
density = "exp(x1)"

[time]
t_end = 30.0
dt = 0.1
save_every = 5
"""


@pytest.mark.mpi(min_size=2)
def test_dolfinx_study_solves_on_the_distributed_mesh(tmp_path):
    """A DOLFINx study's mesh solve is collective (all ranks, rank 0 stores): its Lyapunov
    functional equals a serial (COMM_SELF) solve of the same problem, and the rate check of MATH
    §5.1 passes (for linear F the asymptotic rate is 2ασ = 1)."""
    import mfpde
    from mfpde.fem import P1Space, icosphere
    from mfpde.fem import solve as fem_solve

    comm = MPI.COMM_WORLD
    folder = Path(comm.bcast(str(tmp_path), root=0))
    parallel = run_study(SPHERE_STUDY, folder, progress=False, comm=comm)
    problem = mfpde.OptimisationProblem(
        mfpde.fem.Sphere(), mfpde.Potential("x3 + 0.5*x1*x2"), sigma=0.5
    )
    serial = fem_solve(
        problem,
        mfpde.fisher_rao(),
        "exp(x1)",
        space=P1Space(icosphere(2), MPI.COMM_SELF),
        t_end=30.0,
        dt=0.1,
        save_every=5,
        progress=False,
    )
    if comm.rank != 0:
        assert parallel is None
        return
    assert parallel.passed
    with h5py.File(folder / "data.h5") as f:
        lyapunov = f["items/run/observer_lyapunov"][()]
    reference = serial.observers["lyapunov"]
    assert np.abs(lyapunov - reference).max() < 1e-10 * reference[0]
