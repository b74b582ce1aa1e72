"""The ``[domain]`` table of a configuration for the DOLFINx backend (README "Configuration files").

Read by :mod:`mfpde.config` when ``backend = "dolfinx"`` or the kind is ``"sphere"`` or
``"mesh"``:

- ``kind = "sphere"``, ``refinement = r``: the icosphere of S² (10·4^r + 2 nodes, coordinates
  x1, x2, x3);
- ``kind = "mesh"``, ``file = "domain.msh"`` (a 2-D gmsh file), or ``shape = "disk"`` (``radius``)
  or ``"lshape"``, with the mesh size ``h``;
- ``kind = "interval"`` or ``"box"`` with ``lower``, ``upper``, ``cells``: the Kuhn triangulation.

The transport scheme is backward Euler in the Slotboom variable: ``[time] scheme`` may only be
``"implicit_euler"`` (its default here).
"""

from __future__ import annotations

from collections.abc import Callable

from mfpde.config import Table, domain_from_table
from mfpde.errors import InputError
from mfpde.fem.meshes import Sphere, box_mesh, disk_mesh, icosphere, lshape_mesh, read_msh
from mfpde.fem.solve import FemSolution, solve
from mfpde.fem.space import P1Space

__all__ = ["discretisation"]

KINDS = ("sphere", "mesh", "interval", "box")
SHAPES = ("disk", "lshape")


def discretisation(data: dict, time: dict) -> tuple[object, P1Space, Callable[..., FemSolution]]:
    """``[domain]`` (and ``[time]`` for its scheme) → (domain of the problem, P1 space, solver).

    The solver has the signature of :func:`mfpde.solve` with the space as ``grid``.
    """
    t = Table(data, "domain", set(data))
    kind = t.string("kind", None, KINDS)
    scheme = time.get("scheme", "implicit_euler") if isinstance(time, dict) else "implicit_euler"
    if scheme != "implicit_euler":
        raise InputError(f'[time] scheme = {scheme!r}: backend = "dolfinx" has "implicit_euler"')
    if kind == "sphere":
        t = Table(data, "domain", {"kind", "backend", "refinement"})
        t.required("refinement")
        domain, mesh = Sphere(), icosphere(t.integer("refinement"))
    elif kind == "mesh":
        mesh = _mesh(data)
        domain = mesh
    else:
        domain, cells = domain_from_table({k: v for k, v in data.items() if k != "backend"})
        mesh = box_mesh(domain, cells)

    def run(problem, flow, initial, *, grid: P1Space, scheme: str, **options) -> FemSolution:
        return solve(problem, flow, initial, space=grid, **options)

    return domain, P1Space(mesh), run


def _mesh(data: dict):
    """``kind = "mesh"``: a gmsh file or a built-in gmsh geometry."""
    if "file" in data:
        t = Table(data, "domain", {"kind", "backend", "file"})
        return read_msh(t.string("file"))
    t = Table(data, "domain", {"kind", "backend", "shape", "h", "radius"})
    shape = t.string("shape", None, SHAPES)
    if shape is None:
        raise InputError('[domain] kind = "mesh" needs file or shape (disk, lshape)')
    h = t.number("h", 0.1, positive=True)
    if shape == "disk":
        return disk_mesh(t.number("radius", 1.0, positive=True), h)
    if "radius" in data:
        raise InputError("[domain] radius is only for shape = 'disk'")
    return lshape_mesh(h)
