"""Solve an optimisation flow with the DOLFINx backend; write HDF5 (rank 0) and VTX (MATH §3, §8).

The run itself is :func:`mfpde.solver.solve` with the P1 operator: the same stepper, observers
and Gibbs minimiser as the finite volumes, on the global vectors of a :class:`P1Space`. Every
rank holds the same global result; :meth:`FemSolution.save` writes the HDF5 file of the CLI
contract from rank 0 only (``/mu/points`` are the mesh nodes, ``/mu/weights`` the lumped masses,
in the rank-independent global order) and, collectively, a VTX (ADIOS2) folder for ParaView.

Example
-------
>>> import mfpde
>>> from mfpde.fem import Sphere, icosphere, solve
>>> problem = mfpde.OptimisationProblem(Sphere(), mfpde.Potential("x3"), sigma=0.5)
>>> sol = solve(problem, mfpde.wfr(), "1", mesh=icosphere(2), t_end=0.5, dt=0.05,
...             progress=False)
>>> round(float(sol.observers["mass"][-1]), 12)  # mass is conserved up to round-off
1.0
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
from mpi4py import MPI

from mfpde.errors import InputError
from mfpde.fem.meshes import SimplexMesh
from mfpde.fem.operator import P1FlowOperator
from mfpde.fem.space import P1Space
from mfpde.flows import Flow
from mfpde.problem import OptimisationProblem
from mfpde.solver import Solution
from mfpde.solver import solve as solve_flow

__all__ = ["solve", "FemSolution", "write_vtx"]


def write_vtx(path: str | os.PathLike, space: P1Space, times, density: np.ndarray) -> Path:
    """Write the saved densities as a P1 function ``rho`` over time to a VTX (``.bp``) folder."""
    from dolfinx.io import VTXWriter

    path = Path(path)
    rho = space.function(name="rho")
    with VTXWriter(space.comm, path, [rho], engine="BP4") as writer:
        for t, values in zip(times, density):
            rho.x.array[:] = space.to_local(values)
            writer.write(float(t))
    return path


class FemSolution(Solution):
    """A :class:`~mfpde.solver.Solution` whose ``grid`` is a :class:`P1Space`."""

    def save(self, path, config: str = "", vtx: bool = True) -> None:
        """Write the HDF5 file on rank 0 and (``vtx``) ``PATH.bp`` for ParaView, collectively."""
        comm = self.grid.comm
        error = None
        if comm.rank == 0:
            try:
                super().save(path, config)
            except OSError as exc:  # re-raised after telling the other ranks (no deadlock)
                error = exc
        if comm.bcast(error is not None, root=0):
            raise error or OSError(f"rank 0 could not write {path}")
        if vtx:
            write_vtx(Path(path).with_suffix(".bp"), self.grid, self.times, self.density)
        comm.Barrier()


def solve(
    problem: OptimisationProblem,
    flow: Flow,
    initial: str | Callable | np.ndarray,
    *,
    mesh: SimplexMesh | None = None,
    space: P1Space | None = None,
    comm: MPI.Comm = MPI.COMM_WORLD,
    t_end: float,
    dt: float | None = None,
    tolerance: float | None = None,
    save_every: int = 1,
    progress: bool = True,
) -> FemSolution:
    r"""Solve ∂_t μ = γ∇·(μ∇g) − αμ(g − ⟨g⟩_μ) (MATH §3) with P1 elements (MATH §8).

    Transport: backward Euler in the Slotboom variable (first order in time, second in space);
    reaction: exact in log-variables; Strang splitting between them
    (:mod:`mfpde.fem.operator`, :func:`mfpde.stepper.integrate`).

    Parameters
    ----------
    problem, flow, initial
        As for :func:`mfpde.solve`; the problem's domain is not used, the mesh is.
    mesh, space
        The mesh (distributed over ``comm``), or an already built :class:`P1Space`.
    comm : MPI communicator
        Ranks over which the linear solves are distributed.
    t_end, dt, tolerance, save_every, progress
        Passed to :func:`mfpde.stepper.integrate` (``progress`` on rank 0 only).

    Returns
    -------
    FemSolution
        The same on every rank.
    """
    if space is None:
        if mesh is None:
            raise InputError("solve: give either mesh or space")
        space = P1Space(mesh, comm)
    solution = solve_flow(
        problem,
        flow,
        initial,
        grid=space,
        t_end=t_end,
        dt=dt,
        tolerance=tolerance,
        save_every=save_every,
        scheme="implicit_euler",
        progress=progress and space.comm.rank == 0,
        operator_type=P1FlowOperator,
    )
    return FemSolution(**vars(solution))
