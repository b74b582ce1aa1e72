"""Replicas over MPI ranks give the same numbers as a serial run (MATH §7; particles.replicas).

Run with ``mpiexec -n 2 python -m pytest --with-mpi tests/mpi``.
"""

from __future__ import annotations

import numpy as np
import pytest

import mfpde
from mfpde.kernels import Kernel
from particles.birth_death import birth_death
from particles.replicas import run_replicas

PROBLEM = mfpde.OptimisationProblem(mfpde.Circle(), energy=mfpde.Potential("cos(x)"), sigma=0.5)


@pytest.mark.mpi(min_size=2)
def test_mpi_replicas_equal_serial_replicas():
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    run = {"kernel": Kernel("blob", 0.3), "n": 400, "t_end": 0.3, "dt": 0.05}
    args = (birth_death, 5, 2024, PROBLEM, "exp(sin(x))")
    distributed = run_replicas(*args, comm=comm, **run)
    if comm.Get_rank() != 0:
        assert distributed is None
        return
    serial = run_replicas(*args, **run)
    assert len(distributed) == 5
    for a, b in zip(distributed, serial):
        # Bitwise equality: each replica's stream depends only on its spawned seed.
        assert np.array_equal(a.positions, b.positions)
        assert np.array_equal(a.weights, b.weights)
    assert not np.array_equal(serial[0].positions, serial[1].positions)
