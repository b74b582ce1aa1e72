"""Solve flows and games with the DOLFINx backend; write HDF5 (rank 0) and VTX (MATH §3, §4, §8).

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
from mfpde.fem.upwind import UpwindFlowOperator
from mfpde.flows import Flow
from mfpde.games import GameFlow, GameProblem, GameSolution
from mfpde.games import solve_game as solve_flow_game
from mfpde.kernels import Kernel
from mfpde.kernels import solve_kernelised as solve_kernelised_flow
from mfpde.problem import OptimisationProblem
from mfpde.solver import Solution
from mfpde.solver import solve as solve_flow

__all__ = [
    "solve",
    "solve_game",
    "solve_kernelised",
    "FemSolution",
    "FemGameSolution",
    "write_vtx",
    "write_on_rank_0",
    "GAME_OPERATORS",
]

#: The P1 transport operators of :func:`solve_game` by name, with their time scheme.
GAME_OPERATORS = {
    "slotboom": (P1FlowOperator, "implicit_euler"),
    "upwind": (UpwindFlowOperator, "upwind"),
}


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


def write_on_rank_0(comm: MPI.Comm, write: Callable[[], object]) -> None:
    """Run ``write`` on rank 0 only; an error there is raised on every rank (no deadlock)."""
    error = None
    if comm.rank == 0:
        try:
            write()
        except OSError as exc:
            error = exc
    if comm.bcast(error is not None, root=0):
        raise error or OSError("rank 0 could not write the output file")


class FemSolution(Solution):
    """A :class:`~mfpde.solver.Solution` whose ``grid`` is a :class:`P1Space`."""

    def save(self, path, config: str = "", vtx: bool = True) -> None:
        """Write the HDF5 file on rank 0 and (``vtx``) ``PATH.bp`` for ParaView, collectively."""
        write_on_rank_0(self.grid.comm, lambda: super(FemSolution, self).save(path, config))
        if vtx:
            write_vtx(Path(path).with_suffix(".bp"), self.grid, self.times, self.density)
        self.grid.comm.Barrier()


class FemGameSolution(GameSolution):
    """A :class:`~mfpde.games.GameSolution` on :class:`P1Space` grids."""

    def save(self, path, config: str = "", vtx: bool = True) -> None:
        """HDF5 on rank 0; (``vtx``) ``PATH_mu.bp`` and ``PATH_nu.bp`` for ParaView."""
        write_on_rank_0(self.grid_mu.comm, lambda: super(FemGameSolution, self).save(path, config))
        if vtx:
            path = Path(path)
            for name, space, density in (
                ("mu", self.grid_mu, self.density_mu),
                ("nu", self.grid_nu, self.density_nu),
            ):
                write_vtx(path.with_name(f"{path.stem}_{name}.bp"), space, self.times, density)
        self.grid_mu.comm.Barrier()


def solve_game(
    problem: GameProblem,
    flow: GameFlow,
    initial_mu: str | Callable | np.ndarray,
    initial_nu: str | Callable | np.ndarray,
    *,
    space_mu: P1Space,
    space_nu: P1Space,
    progress: bool = True,
    operator_type: str = "auto",
    **options,
) -> FemGameSolution:
    """Solve a game flow (MATH §4) with P1 operators for both players (MATH §8).

    :func:`mfpde.games.solve_game` with the operator ``operator_type``: ``"slotboom"``
    (:class:`P1FlowOperator`, fitted transport-diffusion, σ > 0), ``"upwind"``
    (:class:`~mfpde.fem.upwind.UpwindFlowOperator`, the σ = 0 transport of WFR-DA, [003]
    eq. (8), on the barycentric dual cells: first order, positive, mass-conserving) or
    ``"auto"`` (upwind when σ = 0, else Slotboom). ``options`` are its ``t_end``, ``dt``,
    ``tolerance``, ``save_every``. The result is the same on every rank.
    """
    if operator_type == "auto":
        operator_type = "upwind" if problem.sigma == 0 else "slotboom"
    if operator_type not in GAME_OPERATORS:
        raise InputError(
            f"solve_game: operator_type must be 'auto' or one of {', '.join(GAME_OPERATORS)}, "
            f"got {operator_type!r}"
        )
    operator, scheme = GAME_OPERATORS[operator_type]
    solution = solve_flow_game(
        problem,
        flow,
        initial_mu,
        initial_nu,
        grid_mu=space_mu,
        grid_nu=space_nu,
        scheme=scheme,
        operator_type=operator,
        progress=progress and space_mu.comm.rank == 0,
        **options,
    )
    return FemGameSolution(**vars(solution))


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


def solve_kernelised(
    problem: OptimisationProblem,
    flow: Flow,
    initial: str | Callable | np.ndarray,
    kernel: Kernel,
    *,
    space: P1Space,
    progress: bool = True,
    **options,
) -> FemSolution:
    r"""Solve the kernelised flow ∂_t μ = γ∇·(μ∇g_h) − αμ(g_h − ⟨g_h⟩), g_h = δF/δμ + σe_h
    (MATH §3.2), the mean-field limit of the particle methods, with P1 elements (MATH §8).

    :func:`mfpde.kernels.solve_kernelised` with :class:`P1FlowOperator`; the convolutions
    K_h*f are sums over the nodes with the lumped masses (:mod:`mfpde.sums.gaussian`: on S² the
    von Mises-Fisher kernel as a Gaussian of R³ summed by NUFFT, O(n) memory; with
    ``Kernel(method="direct")`` fused direct loops). ``options`` are its ``t_end``, ``dt``,
    ``tolerance``, ``save_every`` and ``kernelised_transport``. The result is the same on every
    rank.
    """
    solution = solve_kernelised_flow(
        problem,
        flow,
        initial,
        kernel,
        grid=space,
        progress=progress and space.comm.rank == 0,
        operator_type=P1FlowOperator,
        **options,
    )
    return FemSolution(**vars(solution))
