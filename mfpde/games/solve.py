r"""Solve a game flow (MATH §4) by finite volumes: two coupled :class:`~mfpde.fv.FlowOperator`.

μ follows the operator with field h_μ = δF/δμ = V_x[ν] and ν the *same* operator with
h_ν = −δF/δν = −V_y[μ] (:meth:`~mfpde.games.problem.BoundGame.fields`), each with its own
rates; :class:`~mfpde.stepper.System` couples them (state-dependent fields: midpoint predictor,
Strang splitting, second order) and :func:`~mfpde.stepper.integrate` advances them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import version

import numpy as np

from mfpde.expressions import parse
from mfpde.fv.grid import Grid
from mfpde.fv.operator import FlowOperator
from mfpde.games.equilibrium import Equilibrium, TimeAverage, game_equilibrium, ni_error
from mfpde.games.flows import GameFlow
from mfpde.games.problem import BoundGame, GameProblem
from mfpde.lyapunov import fit_rate, game_rate_bound
from mfpde.observers import Lyapunov, Mass, MinDensity
from mfpde.operator import FlowOperatorBase
from mfpde.solver import initial_density, require_finite_volumes, resolve_grid
from mfpde.stepper import Observer, System, integrate
from mfpde.storage import MeasureData, write_h5

__all__ = [
    "solve_game",
    "GameSolution",
    "NIError",
    "AveragedNIError",
    "GameValue",
    "weighted_lyapunov",
]


class NIError(Observer):
    """NI^σ(μ_t, ν_t) ≥ 0, zero exactly at the MNE (MATH §2.2)."""

    name = "ni_error"

    def __init__(self, game: BoundGame):
        self.game = game

    def __call__(self, t, rhos):
        return ni_error(self.game, *rhos)


class AveragedNIError(Observer):
    """NI^σ of the time averages (μ̄_t, ν̄_t) ([003] Thm 2, MATH §5.5)."""

    name = "ni_error_average"

    def __init__(self, game: BoundGame):
        self.game, self.average = game, TimeAverage()

    def step(self, t, rhos):
        self.average.add(t, rhos)

    def __call__(self, t, rhos):
        return ni_error(self.game, *self.average.densities)


class GameValue(Observer):
    """F^σ(μ_t, ν_t) = F + σ KL(μ_t|π) − σ KL(ν_t|ρ) (MATH §2.2)."""

    name = "game_value"

    def __init__(self, game: BoundGame):
        self.game = game

    def __call__(self, t, rhos):
        return self.game.free_energy(*rhos)


@dataclass
class GameSolution:
    """Saved states of both players, the observers and the MNE they were measured against.

    ``time_average`` is [μ̄_T, ν̄_T], the time averages over [0, T] ([003] Thm 2).

    ``rates`` holds ``mne_residual`` (the sup-norm residual of log-densities the MNE was solved
    to), ``rate_lyapunov`` and ``rate_lyapunov_weighted`` (fitted decay rates of L_t and
    L^w_t, MATH §5) and, for γ = 0 flows, ``rate_theorem`` = σ min(α_μ, α_ν) (MATH §5.2; for
    α_μ ≠ α_ν the bound holds for the weighted L^w_t = KL(μ*|μ_t)/α_μ + KL(ν*|ν_t)/α_ν, hence
    asymptotically for L_t).
    """

    times: np.ndarray
    density_mu: np.ndarray
    density_nu: np.ndarray
    grid_mu: Grid
    grid_nu: Grid
    flow: GameFlow
    problem: GameProblem
    equilibrium: Equilibrium | None
    observers: dict[str, np.ndarray]
    time_average: list[np.ndarray]
    rates: dict[str, float] = field(default_factory=dict)

    def save(self, path, config: str = "") -> None:
        """Write the HDF5 file of the CLI contract (atomically).

        Groups ``/mu`` and ``/nu``, the observers; root attributes ``config``, ``flow``,
        ``mfpde_version``, ``sigma``, the rates per player (``gamma_mu``, ``alpha_nu``, ...) and
        :attr:`rates`.
        """
        measures = {
            name: MeasureData(g.points, g.weights, d)
            for name, g, d in (
                ("mu", self.grid_mu, self.density_mu),
                ("nu", self.grid_nu, self.density_nu),
            )
        }
        write_h5(
            path,
            self.times,
            measures,
            self.observers,
            {
                "config": config,
                "flow": self.flow.name,
                "mfpde_version": version("mfpde"),
                "sigma": float(self.problem.sigma),
                **{
                    f"{k}_{p}": getattr(getattr(self.flow, p), k)
                    for p in ("mu", "nu")
                    for k in ("gamma", "alpha")
                },
                **self.rates,
            },
        )


def weighted_lyapunov(weights: list[np.ndarray], stars: list[np.ndarray], flow: GameFlow):
    """The observer ``lyapunov_weighted``: L^w_t = KL(μ*|μ_t)/α_μ + KL(ν*|ν_t)/α_ν (MATH §5.2).

    The Lyapunov function of two time scales (α_μ ≠ α_ν), L_t/α for one: the quadrature
    weights of each player's KL divided by its rate.
    """
    scaled = [w / f.alpha for w, f in zip(weights, (flow.mu, flow.nu))]
    observer = Lyapunov(scaled, stars)
    observer.name = "lyapunov_weighted"
    return observer


def solve_game(
    problem: GameProblem,
    flow: GameFlow,
    initial_mu: str | Callable | np.ndarray,
    initial_nu: str | Callable | np.ndarray,
    *,
    cells_mu: int | tuple[int, ...] | None = None,
    cells_nu: int | tuple[int, ...] | None = None,
    grid_mu: Grid | None = None,
    grid_nu: Grid | None = None,
    t_end: float,
    dt: float | None = None,
    tolerance: float | None = None,
    save_every: int = 1,
    scheme: str = "expm",
    progress: bool = True,
    operator_type: Callable[..., FlowOperatorBase] = FlowOperator,
) -> GameSolution:
    r"""Solve the game flow of MATH §4 for (μ, ν) by finite volumes.

    ∂_t μ = γ_x∇·(μ∇a) − α_x μ(a − ⟨a⟩_μ),  ∂_t ν = −γ_y∇·(ν∇b) + α_y ν(b − ⟨b⟩_ν), with
    a = δF/δμ + σ log(μ/π), b = δF/δν − σ log(ν/ρ). Space: Scharfetter-Gummel fluxes (second
    order; for ``wfr_da`` with σ = 0, [003] eq. (8), their σ → 0 limit, upwinding: first order,
    positive, mass-conserving); reaction in log variables; time: Strang splitting with a midpoint
    predictor for the coupled fields (second order), fixed ``dt`` or adaptive to ``tolerance``.

    Parameters
    ----------
    problem : GameProblem
    flow : GameFlow
        From :func:`~mfpde.games.game_flow` (``fisher_rao``, ``mirror_descent``,
        ``langevin_da``, ``wfr_da``; rates per player).
    initial_mu, initial_nu : str, callable or ndarray
        Unnormalised positive initial densities; an expression for ν is in ν's coordinates
        ``y``/``y1, y2, y3``.
    cells_mu, cells_nu, grid_mu, grid_nu
        The grids of X and Y (``cells_nu`` defaults to ``cells_mu``); a grid of another
        backend (e.g. a :class:`mfpde.fem.P1Space`) with a matching ``operator_type``.
    t_end, dt, tolerance, save_every, progress, scheme, operator_type
        As in :func:`mfpde.solve` (``operator_type`` builds each player's flow operator).

    Returns
    -------
    GameSolution
        Observers: ``mass_mu``, ``mass_nu``, ``min_density_mu``, ``min_density_nu``,
        ``ni_error`` (NI^σ(μ_t, ν_t); for σ = 0 the unregularised sup_y V_y[μ] − inf_x V_x[ν],
        MATH §2.2), ``ni_error_average`` (the same of the time averages), ``game_value``
        (F^σ(μ_t, ν_t)); for σ > 0 also ``lyapunov`` (L_t = KL(μ*|μ_t) + KL(ν*|ν_t), MATH §5.2)
        against the MNE of :func:`~mfpde.games.game_equilibrium` (no MNE exists for σ = 0) and,
        when both α > 0, ``lyapunov_weighted`` (L^w_t = KL(μ*|μ_t)/α_μ + KL(ν*|ν_t)/α_ν, the
        Lyapunov function of two time scales, MATH §5.2; :func:`weighted_lyapunov`).
    """
    flow.check(problem.sigma)
    grid_mu = resolve_grid(problem.domain_mu, cells_mu, grid_mu, "solve_game", "_mu")
    cells_nu = cells_mu if cells_nu is None else cells_nu
    grid_nu = resolve_grid(problem.domain_nu, cells_nu, grid_nu, "solve_game", "_nu")
    for grid in (grid_mu, grid_nu):
        require_finite_volumes(grid, "solve_game")
    game = problem.bind(grid_mu, grid_nu)
    operators = [
        operator_type(grid, log_ref, game.sigma, f.gamma, f.alpha, scheme)
        for grid, log_ref, f in (
            (grid_mu, game.log_pi, flow.mu),
            (grid_nu, game.log_rho, flow.nu),
        )
    ]
    if isinstance(initial_nu, str):
        initial_nu = parse(initial_nu, grid_nu.dim, ("y",))
    rhos = [
        initial_density(initial, grid.points, grid.weights, f"initial density of {name}")
        for initial, grid, name in ((initial_mu, grid_mu, "mu"), (initial_nu, grid_nu, "nu"))
    ]
    system = System(operators, lambda r: game.fields(*r), linear=False)
    equilibrium = game_equilibrium(game) if game.sigma > 0 else None
    averaged = AveragedNIError(game)
    observers: list[Observer] = [
        Mass(grid_mu.weights, 0, "mass_mu"),
        Mass(grid_nu.weights, 1, "mass_nu"),
        MinDensity(0, "min_density_mu"),
        MinDensity(1, "min_density_nu"),
        NIError(game),
        averaged,
        GameValue(game),
    ]
    if equilibrium is not None:
        stars = [equilibrium.mu, equilibrium.nu]
        observers.append(Lyapunov(game.weights, stars))
        if flow.mu.alpha and flow.nu.alpha:
            observers.append(weighted_lyapunov(game.weights, stars, flow))
    times, states, observed = integrate(
        system,
        rhos,
        t_end,
        dt,
        tolerance=tolerance,
        save_every=save_every,
        observers=observers,
        progress=progress,
    )
    rates = {}
    if equilibrium is not None:
        rates["rate_lyapunov"] = fit_rate(times, observed["lyapunov"])
        if "lyapunov_weighted" in observed:
            rates["rate_lyapunov_weighted"] = fit_rate(times, observed["lyapunov_weighted"])
        rates["mne_residual"] = equilibrium.residual
        if flow.mu.gamma == 0 and flow.nu.gamma == 0:
            rates["rate_theorem"] = game_rate_bound(game.sigma, flow.mu.alpha, flow.nu.alpha)
    return GameSolution(
        times=times,
        density_mu=np.array([s[0] for s in states]),
        density_nu=np.array([s[1] for s in states]),
        grid_mu=grid_mu,
        grid_nu=grid_nu,
        flow=flow,
        problem=problem,
        equilibrium=equilibrium,
        observers=observed,
        time_average=averaged.average.densities,
        rates=rates,
    )
