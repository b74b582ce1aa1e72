"""Strong scaling of the DOLFINx backend: the same run on 1 and 2 MPI ranks (MATH §8).

    .venv/bin/python benchmarks/fem_scaling.py [--refinement 6] [--steps 20]

launches ``mpiexec -n 1`` and ``mpiexec -n 2`` workers (this script with ``--worker``), each of
which distributes the icosphere ("setup") and solves Fokker-Planck on it twice: with a linear
energy (the LU factorisation is reused: the steps are triangular solves, gathers and the
redundant O(n) vector work of every rank) and with a nonlinear one, F = ⟨x3⟩ + ½⟨x3⟩² (the
stiffness matrix is reassembled and refactorised at every substep). Wall times are the maximum
over ranks, after a short warm-up run; the ratio T(1 rank)/T(2 ranks) is printed. The machine
has 2 cores, so more ranks cannot be measured here.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def _worker(refinement: int, steps: int) -> None:
    from mpi4py import MPI

    import mfpde
    from mfpde.fem import P1Space, Sphere, icosphere
    from mfpde.fem import solve as fem_solve

    comm = MPI.COMM_WORLD
    mesh = icosphere(refinement)
    comm.Barrier()
    start = time.perf_counter()
    space = P1Space(mesh, comm)
    timings = {"setup": time.perf_counter() - start}
    # F(μ) = ½⟨x3⟩_μ²: convex, nonlinear, δF/δμ = ⟨x3⟩_μ x3 (the field changes every substep)
    moment = mfpde.Functional(
        lambda x, w, rho: 0.5 * (w @ (rho * x[:, 2])) ** 2,
        lambda x, w, rho: (w @ (rho * x[:, 2])) * x[:, 2],
    )
    for name, energy in (
        ("linear", mfpde.Potential("x3")),
        ("nonlinear", mfpde.Potential("x3") + moment),
    ):
        problem = mfpde.OptimisationProblem(Sphere(), energy, sigma=0.5)
        for n in (2, steps):  # the first, short run warms up JIT caches and MUMPS
            comm.Barrier()
            start = time.perf_counter()
            sol = fem_solve(
                problem,
                mfpde.fokker_planck(),
                "exp(x1)",
                space=space,
                t_end=n * 0.01,
                dt=0.01,
                save_every=n,
                progress=False,
            )
            timings[name] = time.perf_counter() - start
        checksum = float(sol.density[-1] @ sol.grid.weights)
    timings = {k: comm.allreduce(v, op=MPI.MAX) for k, v in timings.items()}
    if comm.rank == 0:
        print(json.dumps({"ranks": comm.size, "dofs": space.size, "mass": checksum, **timings}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--refinement", type=int, default=6)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(args.refinement, args.steps)
        return
    mpiexec = Path(sys.executable).with_name("mpiexec")
    # one thread per rank: threaded BLAS under MPI oversubscribes the two cores
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    results = []
    for ranks in (1, 2):
        command = [
            str(mpiexec),
            "-n",
            str(ranks),
            sys.executable,
            __file__,
            "--worker",
            "--refinement",
            str(args.refinement),
            "--steps",
            str(args.steps),
        ]
        out = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
    print(f"icosphere r = {args.refinement}: {results[0]['dofs']} dofs, {args.steps} steps")
    print(f"{'phase':<10} {'1 rank [s]':>11} {'2 ranks [s]':>12} {'speed-up':>9}")
    for phase in ("setup", "linear", "nonlinear"):
        t1, t2 = results[0][phase], results[1][phase]
        print(f"{phase:<10} {t1:11.3f} {t2:12.3f} {t1 / t2:9.2f}")
    assert np.isclose(results[0]["mass"], results[1]["mass"], atol=1e-12)


if __name__ == "__main__":
    main()
