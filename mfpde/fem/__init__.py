"""DOLFINx backend: P1 finite elements on boxes, unstructured meshes and S² (MATH §8).

A :class:`SimplexMesh` (numpy nodes and cells, :mod:`mfpde.fem.meshes`) is distributed as a
:class:`P1Space` (:mod:`mfpde.fem.space`); :class:`P1FlowOperator` (:mod:`mfpde.fem.operator`)
and, for σ = 0 transport, :class:`UpwindFlowOperator` (:mod:`mfpde.fem.upwind`) have the
interface of the finite-volume operator, so the problems, stepper and observers are
shared; :func:`solve` (:mod:`mfpde.fem.solve`) runs a flow and writes HDF5 and VTX output.
"""

import dolfinx_solver  # noqa: F401 (before any dolfinx import: loads MPI ahead of the bindings)

from mfpde.fem.meshes import (
    SimplexMesh,
    Sphere,
    box_mesh,
    disk_mesh,
    icosphere,
    lshape_mesh,
    read_msh,
)
from mfpde.fem.operator import P1FlowOperator
from mfpde.fem.solve import FemGameSolution, FemSolution, solve, solve_game, solve_kernelised
from mfpde.fem.space import P1Space
from mfpde.fem.upwind import UpwindFlowOperator

__all__ = [
    "SimplexMesh",
    "Sphere",
    "box_mesh",
    "disk_mesh",
    "icosphere",
    "lshape_mesh",
    "read_msh",
    "P1FlowOperator",
    "P1Space",
    "UpwindFlowOperator",
    "FemSolution",
    "FemGameSolution",
    "solve",
    "solve_game",
    "solve_kernelised",
]
