"""mfpde: ground-truth solvers for mean-field gradient flows over probability measures.

The path of data: a domain (:mod:`mfpde.domains`) and a problem (:mod:`mfpde.problem`,
:mod:`mfpde.energies`) are discretised by a backend (:mod:`mfpde.fv`), advanced by a time stepper
(:mod:`mfpde.stepper`) and watched by observers (:mod:`mfpde.observers`); results are stored by
:mod:`mfpde.storage`. Energies bind to weighted point sets (:mod:`mfpde.quadrature`), their
nonlocal sums are chosen by :mod:`mfpde.sums`. The mathematics is in MATH.md; every docstring
cites its section.
"""

from mfpde.domains import Box, Circle, Domain, Interval, Torus
from mfpde.energies import EnergySum, Functional, Interaction, Potential
from mfpde.equilibrium import gibbs_minimiser
from mfpde.errors import InputError, MfpdeError, NumericalError
from mfpde.flows import Flow, fisher_rao, flow_from_name, fokker_planck, wfr
from mfpde.fv import FlowOperator, Grid
from mfpde.games import (
    Bilinear,
    ConvexConcave,
    GameProblem,
    game_equilibrium,
    game_flow,
    ni_error,
    solve_game,
)
from mfpde.lyapunov import fit_rate, spectral_gap
from mfpde.network import TwoLayerNetwork
from mfpde.problem import OptimisationProblem, Reference, kl_divergence
from mfpde.quadrature import Quadrature
from mfpde.solver import Solution, solve

__all__ = [
    "Box",
    "Circle",
    "Domain",
    "Interval",
    "Torus",
    "EnergySum",
    "Functional",
    "Interaction",
    "Potential",
    "TwoLayerNetwork",
    "Quadrature",
    "gibbs_minimiser",
    "InputError",
    "MfpdeError",
    "NumericalError",
    "Flow",
    "fisher_rao",
    "flow_from_name",
    "fokker_planck",
    "wfr",
    "FlowOperator",
    "Grid",
    "Bilinear",
    "ConvexConcave",
    "GameProblem",
    "game_equilibrium",
    "game_flow",
    "ni_error",
    "solve_game",
    "fit_rate",
    "spectral_gap",
    "OptimisationProblem",
    "Reference",
    "kl_divergence",
    "Solution",
    "solve",
]
