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

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import version

import numpy as np

from mfpde import checks
from mfpde.energies import as_function, finite_values
from mfpde.equilibrium import gibbs_minimiser
from mfpde.errors import InputError, NumericalError
from mfpde.flows import Flow
from mfpde.fv.grid import Grid
from mfpde.fv.operator import FlowOperator
from mfpde.fv.spectral import LobattoGrid, SpectralFlowOperator
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
from mfpde.resources import check_grid_size, check_run
from mfpde.stepper import System, check_time, integrate
from mfpde.storage import MeasureData, write_h5

__all__ = [
    "solve",
    "Solution",
    "initial_density",
    "resolve_grid",
    "run_to_solution",
    "OBSERVERS",
    "SPACES",
]

#: The observers :func:`solve` can record, all by default (``observers=`` selects).
OBSERVERS = ("mass", "min_density", "energy", "energy_gap", "lyapunov", "dissipation_residual")
#: Spatial discretisations of :func:`solve` on a grid, as (grid type, operator type): the positive
#: second-order finite volumes (default), the Fourier pseudo-spectral operator on the cells of a
#: periodic grid and the Legendre-Gauss-Lobatto one on walled axes (:mod:`mfpde.fv.spectral`).
SPACES: dict[str, tuple[type, Callable[..., FlowOperatorBase]]] = {
    "fv": (Grid, FlowOperator),
    "fourier": (Grid, SpectralFlowOperator),
    "legendre": (LobattoGrid, SpectralFlowOperator),
}
#: Floor of the zero cells of an initial density that diffusion makes positive at once.
ZERO_FLOOR = 1e-300


def initial_density(
    initial,
    points: np.ndarray,
    weights: np.ndarray,
    name: str = "initial density",
    diffusion: bool = False,
) -> np.ndarray:
    """Evaluate and normalise an unnormalised initial density (expression, callable or array).

    Raises :class:`~mfpde.errors.InputError` if it is not finite, negative somewhere, or zero
    somewhere while the flow has no diffusion (γσ = 0: under Fisher-Rao a zero cell stays zero
    and log ρ is undefined). With ``diffusion`` (γσ > 0) the density is positive at any t > 0
    (MATH §3: e^{τA} has positive entries), so zero cells, e.g. a bump that underflows to 0 far
    away, are accepted and floored at :data:`ZERO_FLOOR` after normalisation (an L¹ change below
    10⁻²⁹⁰).
    """
    if isinstance(initial, np.ndarray):
        if initial.shape != (len(points),):
            raise InputError(f"{name}: array of shape {initial.shape}, need ({len(points)},)")
        values = initial.astype(float)
    else:
        values = as_function(initial, points.shape[1])(points)
    values = finite_values(name, values, points)
    i = int(values.argmin())

    def where() -> str:  # formatted only for an error
        return f"at x = {points[i].round(6).tolist()}"

    if values[i] < 0 or values.max() <= 0:
        raise InputError(f"{name} must be positive, got {values[i]:.3g} {where()}")
    if values[i] == 0 and not diffusion:
        raise InputError(
            f"{name} must be positive, got 0 {where()}: without diffusion (gamma*sigma = 0) a "
            "zero cell stays zero"
        )
    return np.maximum(values / (weights @ values), ZERO_FLOOR)


def resolve_grid(domain, cells, grid, caller: str, suffix: str = "", grid_type: type = Grid):
    """``grid`` if given, else a ``grid_type`` (a :class:`~mfpde.fv.grid.Grid` or a
    :class:`~mfpde.fv.spectral.LobattoGrid`) of ``domain`` with ``cells``.

    ``cells`` is a positive integer or a sequence of them; the grid's working set is bounded
    before it is built (:func:`mfpde.resources.check_grid_size`).
    """
    if grid is not None:
        return grid
    if cells is None:
        raise InputError(f"{caller}: give either cells{suffix} or grid{suffix}")
    many = isinstance(cells, (tuple, list))
    shape = tuple(checks.integer(f"cells{suffix}", n) for n in (cells if many else (cells,)))
    check_grid_size(float(np.prod(np.asarray(shape, dtype=float))), f"cells{suffix} = {cells}")
    return grid_type(domain, shape if many else shape[0])


def require_finite_volumes(grid, caller: str) -> None:
    """Games and kernelised flows run on finite volumes (or P1 spaces), not on Lobatto nodes."""
    if isinstance(grid, LobattoGrid):
        raise InputError(
            f"{caller}: the 'legendre' space solves optimisation flows only (use a Grid)"
        )


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
    operator_type: Callable[..., FlowOperatorBase] | None = None,
    space: str = "fv",
    observers: Sequence[str] = OBSERVERS,
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
    scheme : {"expm", "eigen", "rational", "expm_multiply", "implicit_euler"}
        Transport substep (see :mod:`mfpde.fv.operator`); ``"expm"`` chooses the exact path.
    operator_type : callable, optional
        ``operator_type(grid, log_pi, sigma, gamma, alpha, scheme)`` builds the flow operator;
        another backend passes its own (e.g. :class:`mfpde.fem.operator.P1FlowOperator` with a
        :class:`mfpde.fem.space.P1Space` as ``grid``). Default: the one of ``space``.
    space : {"fv", "fourier", "legendre"}
        On a grid: the positive second-order Scharfetter-Gummel finite volumes (default), or the
        pseudo-spectral transport of :mod:`mfpde.fv.spectral` for smooth problems (spectral
        accuracy, mass-conserving, positivity not guaranteed): ``"fourier"`` on the cells of a
        periodic grid, ``"legendre"`` on Legendre-Gauss-Lobatto nodes of walled axes (Fourier on
        periodic ones; ``cells`` counts nodes per axis).
    observers : sequence of str
        The observers to record, a subset of :data:`OBSERVERS` (all by default). Those not asked
        for cost nothing: no Gibbs minimiser without ``energy_gap`` or ``lyapunov``, no
        dissipation integral without ``dissipation_residual``.

    Returns
    -------
    Solution
        Saved times and densities, and the observers asked for: ``mass``, ``min_density``,
        ``energy`` (F^σ), ``energy_gap``, ``lyapunov`` (KL(μ*|μ_t)), ``dissipation_residual``.
    """
    checks.instance("problem", problem, OptimisationProblem, "an OptimisationProblem")
    checks.instance("flow", flow, Flow, "a Flow (mfpde.fisher_rao(), fokker_planck() or wfr())")
    if space not in SPACES:
        raise InputError(f"unknown space {space!r} (choose from {', '.join(SPACES)})")
    if isinstance(observers, str) or not set(observers) <= set(OBSERVERS):
        raise InputError(
            f"observers must be a list of names from {', '.join(OBSERVERS)}, got {observers!r:.60}"
        )
    t_end, dt, tolerance, save_every = check_time(t_end, dt, tolerance, save_every)
    grid_type, space_operator = SPACES[space]
    grid = resolve_grid(problem.domain, cells, grid, "solve", grid_type=grid_type)
    check_run(grid.size, {"t_end": t_end, "dt": dt, "save_every": save_every})
    check_transport(flow, problem.sigma)
    bound = problem.bind(grid)
    operator = (operator_type or space_operator)(
        grid, bound.log_pi, bound.sigma, flow.gamma, flow.alpha, scheme
    )
    operator.linear = bound.energy.linear
    rho0 = initial_density(
        initial, grid.points, grid.weights, diffusion=flow.gamma * bound.sigma > 0
    )
    system = System(
        [operator], lambda rhos: [bound.energy.first_variation(rhos[0])], bound.energy.linear
    )
    wanted = set(observers)
    needs_star = bound.sigma > 0 and wanted & {"energy_gap", "lyapunov"}
    rho_star = gibbs_minimiser(bound) if needs_star else None
    makers = {
        "mass": lambda: Mass(grid.weights),
        "min_density": MinDensity,
        "energy": lambda: FreeEnergy(bound),
        "dissipation_residual": lambda: DissipationResidual(bound, operator),
        "energy_gap": lambda: EnergyGap(bound, rho_star),
        "lyapunov": lambda: Lyapunov([grid.weights], [rho_star]),
    }
    chosen = [
        makers[name]()
        for name in OBSERVERS
        if name in wanted and (rho_star is not None or name not in ("energy_gap", "lyapunov"))
    ]
    solution = run_to_solution(
        system, rho0, grid, flow, problem, rho_star, chosen,
        t_end=t_end, dt=dt, tolerance=tolerance, save_every=save_every, progress=progress,
    )  # fmt: skip
    if "energy" in solution.observers:
        check_descent(solution.times, solution.observers["energy"])
    return solution


#: Relative rise of F^σ between saved states above which a run is unstable (see check_descent).
DESCENT_TOLERANCE = 1e-6


def check_descent(times: np.ndarray, energy: np.ndarray) -> None:
    """Raise NumericalError if the free energy F^σ rose: the time steps were unstable.

    Every flow of MATH §3 is a gradient flow of F^σ, so dF^σ/dt = −(dissipation) ≤ 0; the
    second-order splitting keeps F^σ(ρ_n) within O(dt²) of the exact, decreasing values, far
    below a rise of ``DESCENT_TOLERANCE`` × (1 + max |F^σ|). A larger rise (a stiff
    interaction stepped with too large a dt: F^σ went from 100 to 500) is no answer at all.
    """
    rise = np.diff(energy)
    scale = 1.0 + np.abs(energy).max()
    if rise.size and rise.max() > DESCENT_TOLERANCE * scale:
        k = int(np.argmax(rise))
        raise NumericalError(
            f"the free energy rose by {rise[k]:.3g} at t = {times[k + 1]:.6g} (a gradient flow "
            "decreases it): the time steps are unstable, reduce dt"
        )


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
