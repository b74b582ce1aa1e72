"""Two-player entropic min-max games over probability measures (MATH §2.2, §4, §5.2).

A game is two coupled instances of the optimisation flow operator with opposite signs: the
problem (:mod:`~mfpde.games.problem`), the flows per player (:mod:`~mfpde.games.flows`), the
MNE and NI error (:mod:`~mfpde.games.equilibrium`) and the finite-volume solver
(:mod:`~mfpde.games.solve`); the sphere games of [003] §5.1 in any dimension are built in
(:mod:`~mfpde.games.sphere`); the unregularised NI error of weighted point clouds (particle
measures and their time averages) is :func:`ni_error_empirical` (:mod:`~mfpde.games.ni`).
"""

from mfpde.games.equilibrium import Equilibrium, TimeAverage, game_equilibrium, ni_error
from mfpde.games.flows import GAME_FLOW_DEFAULTS, GameFlow, game_flow
from mfpde.games.ni import EmpiricalNI, ni_error_empirical, sphere_ni, trust_region
from mfpde.games.problem import Bilinear, BoundGame, ConvexConcave, GameProblem
from mfpde.games.solve import AveragedNIError, GameSolution, GameValue, NIError, solve_game
from mfpde.games.sphere import SPHERE_GAMES, SphereGame, sphere_game
from mfpde.quadrature import Quadrature

__all__ = [
    "SPHERE_GAMES",
    "SphereGame",
    "sphere_game",
    "EmpiricalNI",
    "ni_error_empirical",
    "sphere_ni",
    "trust_region",
    "Equilibrium",
    "TimeAverage",
    "game_equilibrium",
    "ni_error",
    "GAME_FLOW_DEFAULTS",
    "GameFlow",
    "game_flow",
    "Bilinear",
    "BoundGame",
    "ConvexConcave",
    "GameProblem",
    "Quadrature",
    "AveragedNIError",
    "GameSolution",
    "GameValue",
    "NIError",
    "solve_game",
]
