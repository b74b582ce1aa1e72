"""The Python API the CLI is a thin layer over: :func:`solve` an optimisation flow on a grid.

Example
-------
>>> import mfpde
>>> problem = mfpde.OptimisationProblem(
...     mfpde.Torus(1), energy=mfpde.Potential("cos(x)"), sigma=0.5)
>>> sol = mfpde.solve(problem, mfpde.fisher_rao(alpha=1.0), initial="exp(sin(x))",
...                   cells=64, t_end=2.0, dt=0.05, progress=False)
>>> round(float(sol.observers["mass"][-1]), 12)  # mass is conserved up to round-off
1.0
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import version

import numpy as np

from mfpde.energies import as_function, finite_values
from mfpde.equilibrium import gibbs_minimiser
from mfpde.errors import InputError
from mfpde.flows import Flow
from mfpde.fv.grid import Grid
from mfpde.fv.operator import FlowOperator
from mfpde.observers import (
    DissipationResidual,
    EnergyGap,
    FreeEnergy,
    Lyapunov,
    Mass,
    MinDensity,
)
from mfpde.operator import FlowOperatorBase
from mfpde.problem import OptimisationProblem
from mfpde.stepper import System, integrate
from mfpde.storage import MeasureData, write_h5

__all__ = ["solve", "Solution", "initial_density", "resolve_grid", "run_to_solution"]


def initial_density(
    initial, points: np.ndarray, weights: np.ndarray, name: str = "initial density"
) -> np.ndarray:
    """Evaluate and normalise an unnormalised initial density (expression, callable or array).

    Raises :class:`~mfpde.errors.InputError` if it is not finite or not positive everywhere.
    """
    if isinstance(initial, np.ndarray):
        if initial.shape != (len(points),):
            raise InputError(f"{name}: array of shape {initial.shape}, need ({len(points)},)")
        values = initial.astype(float)
    else:
        values = as_function(initial, points.shape[1])(points)
    values = finite_values(name, values, points)
    if values.min() <= 0:
        i = int(values.argmin())
        raise InputError(
            f"{name} must be positive, got {values[i]:.3g} at x = {points[i].round(6).tolist()}"
        )
    return values / (weights @ values)


def resolve_grid(domain, cells, grid, caller: str, suffix: str = ""):
    """``grid`` if given, else a :class:`~mfpde.fv.grid.Grid` of ``domain`` with ``cells``."""
    if grid is not None:
        return grid
    if cells is None:
        raise InputError(f"{caller}: give either cells{suffix} or grid{suffix}")
    return Grid(domain, cells)


def check_transport(flow: Flow, sigma: float) -> None:
    """Transport on a finite-volume grid needs diffusion: γ > 0 requires σ > 0."""
    if flow.gamma and sigma == 0:
        raise InputError(
            "a flow with transport (gamma > 0) needs sigma > 0 on a finite-volume grid"
        )


@dataclass
class Solution:
    """Saved states of a run, its observers and the minimiser it was measured against."""

    times: np.ndarray
    density: np.ndarray
    grid: Grid
    flow: Flow
    problem: OptimisationProblem
    minimiser: np.ndarray
    observers: dict[str, np.ndarray]
    rates: dict[str, float] = field(default_factory=dict)

    def save(self, path, config: str = "") -> None:
        """Write the HDF5 file of the CLI contract (atomically)."""
        write_h5(
            path,
            self.times,
            {"mu": MeasureData(self.grid.points, self.grid.weights, self.density)},
            self.observers,
            {
                "config": config,
                "flow": self.flow.name,
                "mfpde_version": version("mfpde"),
                **{f"rate_{k}": v for k, v in self.rates.items()},
            },
        )


def solve(
    problem: OptimisationProblem,
    flow: Flow,
    initial: str | Callable | np.ndarray,
    *,
    cells: int | tuple[int, ...] | None = None,
    grid: Grid | None = None,
    t_end: float,
    dt: float | None = None,
    tolerance: float | None = None,
    save_every: int = 1,
    scheme: str = "expm",
    progress: bool = True,
    operator_type: Callable[..., FlowOperatorBase] = FlowOperator,
) -> Solution:
    r"""Solve ∂_t μ = γ∇·(μ∇g) − αμ(g − ⟨g⟩_μ), g = δF^σ/δμ (MATH §3), by finite volumes.

    Space: Scharfetter-Gummel fluxes on a cell-centred grid (second order); reaction in
    log-variables (exact for linear F); time: Strang splitting (second order), fixed ``dt`` or
    adaptive to ``tolerance`` (see :func:`mfpde.stepper.integrate`).

    Parameters
    ----------
    problem : OptimisationProblem
    flow : Flow
        Rates (γ, α); :func:`~mfpde.flows.fisher_rao`, :func:`~mfpde.flows.fokker_planck` or
        :func:`~mfpde.flows.wfr`.
    initial : str, callable or ndarray
        Unnormalised positive initial density.
    cells, grid
        The grid, or the number of cells per axis to build one on ``problem.domain``.
    t_end, dt, tolerance, save_every, progress
        Passed to :func:`mfpde.stepper.integrate`.
    scheme : {"expm", "implicit_euler"}
        Transport substep (see :mod:`mfpde.fv.operator`).
    operator_type : callable
        ``operator_type(grid, log_pi, sigma, gamma, alpha, scheme)`` builds the flow operator;
        another backend passes its own (e.g. :class:`mfpde.fem.operator.P1FlowOperator` with a
        :class:`mfpde.fem.space.P1Space` as ``grid``).

    Returns
    -------
    Solution
        Saved times and densities, and the observers ``mass``, ``min_density``, ``energy``
        (F^σ), ``energy_gap``, ``lyapunov`` (KL(μ*|μ_t)) and ``dissipation_residual``.
    """
    grid = resolve_grid(problem.domain, cells, grid, "solve")
    check_transport(flow, problem.sigma)
    bound = problem.bind(grid)
    operator = operator_type(grid, bound.log_pi, bound.sigma, flow.gamma, flow.alpha, scheme)
    rho0 = initial_density(initial, grid.points, grid.weights)
    system = System(
        [operator], lambda rhos: [bound.energy.first_variation(rhos[0])], bound.energy.linear
    )
    rho_star = gibbs_minimiser(bound) if bound.sigma > 0 else None
    observers = [
        Mass(grid.weights),
        MinDensity(),
        FreeEnergy(bound),
        DissipationResidual(bound, operator),
    ]
    if rho_star is not None:
        observers += [EnergyGap(bound, rho_star), Lyapunov([grid.weights], [rho_star])]
    return run_to_solution(
        system, rho0, grid, flow, problem, rho_star, observers,
        t_end=t_end, dt=dt, tolerance=tolerance, save_every=save_every, progress=progress,
    )  # fmt: skip


def run_to_solution(
    system: System,
    rho0: np.ndarray,
    grid,
    flow: Flow,
    problem: OptimisationProblem,
    minimiser: np.ndarray | None,
    observers: list,
    **options,
) -> Solution:
    """Integrate one measure's ``system`` from ρ₀ (:func:`~mfpde.stepper.integrate` ``options``)
    and collect the saved states and observers into a :class:`Solution`."""
    times, states, observed = integrate(system, [rho0], observers=observers, **options)
    return Solution(
        times=times,
        density=np.array([s[0] for s in states]),
        grid=grid,
        flow=flow,
        problem=problem,
        minimiser=minimiser,
        observers=observed,
    )
