"""Replicas over MPI ranks give the same numbers as a serial run (MATH §7; particles.replicas).

Run with ``mpiexec -n 2 python -m pytest --with-mpi tests/mpi``. Replica r runs with the r-th
child of the root seed whatever the number of ranks, so :func:`mfpde.particles.run_replicas`
over the ranks equals the serial call; ``mpiexec -n 2 mfpde run`` with a ``[particles]`` table
(rank 0 solves the serial mesh PDE and writes one file) equals the serial file bit for bit, and
only rank 0 prints.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from mpi4py import MPI

import mfpde
import mfpde.particles.config
from mfpde.cli import main
from mfpde.kernels import Kernel
from mfpde.particles.birth_death import birth_death
from mfpde.particles.replicas import run_replicas
from mfpde.storage import read_h5

PROBLEM = mfpde.OptimisationProblem(mfpde.Circle(), energy=mfpde.Potential("cos(x)"), sigma=0.5)


@pytest.mark.mpi(min_size=2)
def test_mpi_replicas_equal_serial_replicas():
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


def _fails_on_rank_1(*, seed):
    if MPI.COMM_WORLD.rank == 1:
        raise mfpde.NumericalError("replica failed")
    return seed


@pytest.mark.mpi(min_size=2)
def test_an_error_on_one_rank_is_raised_on_rank_0_without_deadlock():
    comm = MPI.COMM_WORLD
    if comm.rank == 0:
        with pytest.raises(mfpde.NumericalError, match="replica failed"):
            run_replicas(_fails_on_rank_1, 4, 0, comm=comm)
    else:
        assert run_replicas(_fails_on_rank_1, 4, 0, comm=comm) is None


#: 3 replicas over 2 ranks (an uneven split): rank 0 runs replicas 0 and 2, rank 1 replica 1.
CONFIGS = {
    "wfr_da": """\
[domain]
kind = "circle"
cells = 32

[problem]
kind = "game"
payoff = "cos(x - y)"
sigma = 0.0

[initial]
density_mu = "exp(sin(x))"
density_nu = "exp(cos(y))"

[flow]
kind = "wfr_da"

[time]
t_end = 0.2
dt = 0.05
save_every = 2

[particles]
method = "wfr_da"
n = 200
replicas = 3
seed = 3
""",
    "birth_death": """\
[domain]
kind = "circle"
cells = 32

[problem]
sigma = 0.5
potential = "cos(x)"

[initial]
density = "exp(sin(x))"

[time]
t_end = 0.2
dt = 0.05
save_every = 2

[particles]
method = "birth_death"
n = 300
replicas = 3
seed = 5

[kernel]
variant = "blob"
bandwidth = 0.3
""",
}


def _assert_equal(a: dict, b: dict, where: str = "") -> None:
    assert a.keys() == b.keys(), where
    for key, value in a.items():
        if isinstance(value, dict):
            _assert_equal(value, b[key], f"{where}/{key}")
        else:
            np.testing.assert_array_equal(value, b[key], err_msg=f"{where}/{key}")


@pytest.mark.mpi(min_size=2)
@pytest.mark.parametrize("name", CONFIGS)
def test_replicas_over_ranks_give_the_serial_file(name, tmp_path, capsys, monkeypatch):
    world = MPI.COMM_WORLD
    assert mfpde.particles.config.mpi_world().Get_size() == world.size  # the CLI sees the ranks
    folder = Path(world.bcast(str(tmp_path), root=0))
    config = folder / "run.toml"
    if world.rank == 0:
        config.write_text(CONFIGS[name])
    world.Barrier()
    assert main(["run", str(config), "-o", str(folder / "parallel.h5")]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out.startswith("wrote ") if world.rank == 0 else out == ""
    world.Barrier()
    if world.rank == 0:
        monkeypatch.setattr(mfpde.particles.config, "mpi_world", lambda: None)
        assert main(["run", str(config), "-q", "-o", str(folder / "serial.h5")]) == 0
        assert sorted(p.name for p in folder.iterdir()) == ["parallel.h5", "run.toml", "serial.h5"]
        parallel, serial = read_h5(folder / "parallel.h5"), read_h5(folder / "serial.h5")
        _assert_equal(parallel, serial)
        n = 200 if name == "wfr_da" else 300
        for player in ("mu", "nu") if name == "wfr_da" else ("mu",):
            # saved times × replicas × particles × dimension: all three replicas gathered
            assert parallel[player]["particles"]["positions"].shape == (3, 3, n, 1)
    world.Barrier()
