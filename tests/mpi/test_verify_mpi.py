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

from verification.studies import run_study

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
