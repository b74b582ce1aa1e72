"""TOML configuration → problem, flow, grid and time options (the CLI's file contract).

Every table and key is checked: an unknown key, a wrong type or a value out of range raises
:class:`~mfpde.errors.InputError` with a one-line message naming the key. See the README section
"Configuration files" for the keys.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from mfpde.domains import Sphere
from mfpde.energies import Energy, Interaction, Potential
from mfpde.errors import InputError
from mfpde.flows import flow_from_name
from mfpde.fv.grid import Grid
from mfpde.games import (
    GAME_FLOW_DEFAULTS,
    Bilinear,
    GameProblem,
    game_flow,
    solve_game,
    sphere_game,
)
from mfpde.problem import OptimisationProblem, Reference
from mfpde.resources import check_run
from mfpde.solver import SPACES, solve
from mfpde.sums import METHODS
from mfpde.tables import Discretisation, Run, Table, domain_from_table, time_options

__all__ = [
    "load_run",
    "parse_tables",
    "OptimisationSetup",
    "GameSetup",
    "optimisation_setup",
    "game_setup",
    "PROBLEM_SETUPS",
    "PARTICLE_TABLES",
]


def _sums(t: Table, what: str) -> dict[str, Any]:
    """``{what}_sum`` and ``{what}_tolerance``: the method and accuracy of a nonlocal sum."""
    return {
        "method": t.string(f"{what}_sum", "auto", METHODS),
        "tolerance": t.number(f"{what}_tolerance", 1e-10, positive=True),
    }


def _energy(t: Table) -> Energy:
    parts: list[Energy] = []
    if "potential" in t.data:
        parts.append(Potential(t.expression("potential")))
    if "interaction" in t.data:
        parts.append(Interaction(t.expression("interaction"), **_sums(t, "interaction")))
    elif {"interaction_sum", "interaction_tolerance"} & set(t.data):
        raise InputError("[problem] interaction_sum and interaction_tolerance need an interaction")
    if not parts:
        return Potential("0")
    return parts[0] if len(parts) == 1 else parts[0] + parts[1]


def _discretisation(cfg: dict, name: str = "domain") -> Discretisation:
    """``[domain]`` (or ``[domain_nu]``) → :class:`Discretisation` for its ``backend``.

    ``backend = "fv"`` (finite volumes, the default) or ``"dolfinx"`` (P1 finite elements, the
    default for the kinds ``"sphere"`` and ``"mesh"``; read by :mod:`mfpde.fem.config`). On the
    grid backend ``space`` picks the discretisation of :func:`mfpde.solve`: ``"fv"`` (default),
    ``"fourier"`` (periodic boxes) or ``"legendre"`` (Lobatto nodes on walled axes; ``cells``
    counts nodes), the spectral ones for optimisation flows only.
    """
    data = cfg.get(name, {})
    mesh_kind = isinstance(data, dict) and data.get("kind") in ("sphere", "mesh")
    backend = Table(data, name, set(data)).string(
        "backend", "dolfinx" if mesh_kind else "fv", ("fv", "dolfinx")
    )
    if backend == "dolfinx":
        from mfpde.fem.config import discretisation  # imports DOLFINx only when asked for

        return discretisation(data, cfg.get("time", {}), name)
    space = Table(data, name, set(data)).string("space", "fv", tuple(SPACES))
    rest = {k: v for k, v in data.items() if k not in ("backend", "space")}
    domain, cells = domain_from_table(rest, name)
    if space == "fv":
        return Discretisation(domain, Grid(domain, cells), solve, solve_game)
    grid_type, _ = SPACES[space]
    return Discretisation(
        domain, grid_type(domain, cells), partial(solve, space=space), partial(_no_game, space)
    )


def _no_game(space: str, *args, **kwargs):
    raise InputError(f'[domain] space = "{space}" solves optimisation flows only (games: "fv")')


@dataclass
class OptimisationSetup:
    """A read optimisation problem (MATH §2.1, §3): the objects a :class:`Run` solves with.

    ``solve`` is the backend's solver (:func:`mfpde.solve` on a finite-volume ``grid``, or the
    DOLFINx one on a P1 space); ``time`` holds the keyword arguments of ``[time]``.
    """

    problem: OptimisationProblem
    flow: Any
    initial: str
    grid: Any
    solve: Callable
    time: dict[str, Any]

    def execute(self, progress: bool = True):
        """Solve with the configured discretisation and time options."""
        return self.solve(
            self.problem, self.flow, self.initial, grid=self.grid, progress=progress, **self.time
        )


def optimisation_setup(
    cfg: dict, discretise: Callable[[dict, str], Discretisation | None] | None = None
) -> OptimisationSetup:
    """Read ``[problem]`` (an optimisation), ``[domain]``, ``[flow]``, ``[initial]``, ``[time]``.

    ``discretise(cfg, "domain")``, if given, reads ``[domain]`` first (as for
    :func:`game_setup`: particle runs on spheres S^{d−1} without a mesh).
    """
    p = Table(
        cfg.get("problem", {}),
        "problem",
        {"kind", "sigma", "reference", "potential"}
        | {"interaction", "interaction_sum"}
        | {"interaction_tolerance"},
    )
    d = (discretise and discretise(cfg, "domain")) or _discretisation(cfg)
    domain, grid, run = d.domain, d.grid, d.solve
    problem = OptimisationProblem(
        domain,
        _energy(p),
        p.number("sigma", 1.0, minimum=0.0),
        Reference(p.expression("reference", "uniform")),
    )
    f = Table(cfg.get("flow", {}), "flow", {"kind", "alpha", "gamma"})
    flow = flow_from_name(
        f.string("kind", "wfr"),
        gamma=f.number("gamma", minimum=0.0),
        alpha=f.number("alpha", minimum=0.0),
    )
    initial = Table(cfg.get("initial", {}), "initial", {"density"}).expression("density", "1")
    options = time_options(cfg.get("time", {}))
    check_run(grid.size, options)
    # Bind once now so that every input error surfaces before any work or output.
    problem.bind(grid)
    return OptimisationSetup(problem, flow, initial, grid, run, options)


def _optimisation(cfg: dict, text: str) -> Run:
    setup = optimisation_setup(cfg)
    return Run(setup.execute, text, parallel=hasattr(setup.grid, "comm"))


@dataclass
class GameSetup:
    """A read game (MATH §2.2, §4): problem, flow, initial densities (μ, ν), grids, time."""

    problem: GameProblem
    flow: Any
    densities: list[str]
    grids: list[Any]
    solve: Callable
    time: dict[str, Any]

    def execute(self, progress: bool = True):
        """Solve with the backend's game solver (:func:`~mfpde.games.solve_game`) on the grids."""
        return self.solve(
            self.problem,
            self.flow,
            *self.densities,
            grid_mu=self.grids[0],
            grid_nu=self.grids[1],
            progress=progress,
            **self.time,
        )


def _payoff(p: Table, dims: tuple[int, int], spheres: bool = False) -> Bilinear:
    """``payoff``: an expression in x and y, a callable, or ``"builtin:NAME"`` (``payoff_seed``):
    a sphere game of [003] §5.1 on S² × S² or, on spheres S^{d−1} (``spheres``), any d."""
    text = p.expression("payoff")
    if not text.startswith("builtin:"):
        if "payoff_seed" in p.data:
            raise InputError("[problem] payoff_seed is only for a built-in payoff ('builtin:...')")
        return Bilinear(text, **_sums(p, "payoff"))
    if {"payoff_sum", "payoff_tolerance"} & set(p.data):
        raise InputError("[problem] a built-in payoff sums its moments: no payoff_sum or tolerance")
    name = text.removeprefix("builtin:")
    if dims[0] != dims[1] or not (spheres or dims == (3, 3)):
        raise InputError(
            f"[problem] payoff {text!r} is a game on S² × S² or S^(d-1) × S^(d-1) (kind = 'sphere')"
        )
    seed = p.data.get("payoff_seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError(f"[problem] payoff_seed must be an integer >= 0, got {seed!r}")
    return sphere_game(name, seed, dim=dims[0])


def game_setup(
    cfg: dict, discretise: Callable[[dict, str], Discretisation | None] | None = None
) -> GameSetup:
    """Read a game (MATH §2.2, §4): ``[problem] kind = "game"``, ``[domain_nu]`` for ν.

    ``discretise(cfg, name)``, if given, reads ``[domain]`` and ``[domain_nu]`` first (None: the
    mesh backends read them; particle runs read spheres S^{d−1} without a mesh there,
    :mod:`mfpde.particles.config`).

    Expressions for μ are in ``x``/``x1, x2, x3``, those for ν (``reference_nu``,
    ``density_nu``) in ``y``/``y1, y2, y3``; the payoff ℓ uses both. Both players are on the
    same backend (finite volumes, or P1 with ``backend = "dolfinx"``); the sphere games of
    [003] §5.1 are ``payoff = "builtin:ell_a"`` or ``"builtin:ell_b"`` with ``payoff_seed``.
    """
    p = Table(
        cfg.get("problem", {}),
        "problem",
        {"kind", "payoff", "payoff_seed", "payoff_sum", "payoff_tolerance"}
        | {"sigma", "reference_mu", "reference_nu"},
    )

    def read(name: str) -> Discretisation:
        return (discretise and discretise(cfg, name)) or _discretisation(cfg, name)

    d_mu = read("domain")
    d_nu = read("domain_nu") if "domain_nu" in cfg else d_mu
    if type(d_mu.grid) is not type(d_nu.grid):
        raise InputError("[domain] and [domain_nu] must use the same backend")
    p.required("payoff")
    problem = GameProblem(
        d_mu.domain,
        d_nu.domain,
        _payoff(
            p,
            (d_mu.grid.dim, d_nu.grid.dim),
            all(isinstance(d.domain, Sphere) for d in (d_mu, d_nu)),
        ),
        p.number("sigma", 1.0, minimum=0.0),
        Reference(p.expression("reference_mu", "uniform")),
        Reference(p.expression("reference_nu", "uniform")),
    )
    f = Table(cfg.get("flow", {}), "flow", {"kind", "alpha", "gamma", "alpha_nu", "gamma_nu"})
    flow = game_flow(
        f.string("kind", "fisher_rao", tuple(GAME_FLOW_DEFAULTS)),
        **{key: f.number(key, minimum=0.0) for key in ("gamma", "alpha", "gamma_nu", "alpha_nu")},
    )
    flow.check(problem.sigma)
    initial = Table(cfg.get("initial", {}), "initial", {"density_mu", "density_nu"})
    densities = [initial.expression(f"density_{k}", "1") for k in ("mu", "nu")]
    options = time_options(cfg.get("time", {}))
    grids = [d_mu.grid, d_nu.grid]
    check_run(max(g.size for g in grids), options, players=2)
    # Bind once now so that every input error surfaces before any work or output.
    problem.bind(*grids)
    return GameSetup(problem, flow, densities, grids, d_mu.solve_game, options)


def _game(cfg: dict, text: str) -> Run:
    setup = game_setup(cfg)
    return Run(setup.execute, text, parallel=hasattr(setup.grids[0], "comm"))


#: Readers per ``[problem] kind``: TOML tables → the problem's objects (a setup).
PROBLEM_SETUPS: dict[str, Callable[[dict], OptimisationSetup | GameSetup]] = {
    "optimisation": optimisation_setup,
    "game": game_setup,
}
#: Readers per ``[problem] kind``: TOML tables and text → :class:`Run`.
PROBLEM_KINDS: dict[str, Callable[[dict, str], Run]] = {
    "optimisation": _optimisation,
    "game": _game,
}
TABLES = {"domain", "problem", "flow", "initial", "time"}


def parse_tables(text: str, extra: frozenset[str] = frozenset()) -> tuple[dict, str]:
    """Parse TOML text, check its tables (those of a run plus ``extra``); return it and its kind.

    Raises ``InputError`` on invalid TOML, an unknown table or an unknown ``[problem] kind``.
    """
    try:
        cfg = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"invalid TOML: {exc}") from None
    except RecursionError:
        raise InputError("invalid TOML: arrays or tables nested too deeply") from None
    allowed = TABLES | {"domain_nu"} | extra
    unknown = sorted(set(cfg) - allowed)
    if unknown:
        raise InputError(f"unknown table [{unknown[0]}] (allowed: {', '.join(sorted(allowed))})")
    for name, value in cfg.items():
        if not isinstance(value, dict):
            raise InputError(f"[{name}] must be a table, got {name} = {str(value)[:40]!r}")
    kind = Table(cfg.get("problem", {}), "problem", set(cfg.get("problem", {}))).string(
        "kind", "optimisation", tuple(PROBLEM_KINDS)
    )
    if "domain_nu" in cfg and kind != "game":
        raise InputError('[domain_nu] is only for games ([problem] kind = "game")')
    return cfg, kind


#: Tables of a particle run, read by :func:`mfpde.particles.config.particle_run` (README
#: "Particles"); :func:`mfpde.cli.load_config` sends a configuration with them there.
PARTICLE_TABLES = frozenset({"particles", "kernel"})


def load_run(text: str) -> Run:
    """Parse a TOML configuration of a mesh run (its text) into a :class:`Run`.

    Raises ``InputError``, also for the tables of a particle run (read by
    :func:`mfpde.cli.load_config`, the reader of every kind of run).
    """
    cfg, kind = parse_tables(text, PARTICLE_TABLES)
    if PARTICLE_TABLES & set(cfg):
        raise InputError("[particles] and [kernel] are read by mfpde.cli.load_config")
    return PROBLEM_KINDS[kind](cfg, text)
