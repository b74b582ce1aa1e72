"""The ``[domain]`` table of a configuration for the DOLFINx backend (README "Configuration files").

Read by :mod:`mfpde.config` when ``backend = "dolfinx"`` or the kind is ``"sphere"`` or
``"mesh"``:

- ``kind = "sphere"``, ``refinement = r``: the icosphere of S² (10·4^r + 2 nodes, coordinates
  x1, x2, x3; ``dim`` may only be 3: particle runs have S^{d−1} for any d);
- ``kind = "mesh"``, ``file = "domain.msh"`` (a 2-D gmsh file), or ``shape = "disk"`` (``radius``)
  or ``"lshape"``, with the mesh size ``h``;
- ``kind = "interval"`` or ``"box"`` with ``lower``, ``upper``, ``cells``: the Kuhn triangulation.

The transport scheme is backward Euler in the Slotboom variable: ``[time] scheme`` may only be
``"implicit_euler"`` (its default here).
"""

from __future__ import annotations

from mfpde.errors import InputError
from mfpde.fem.meshes import Sphere, box_mesh, disk_mesh, icosphere, lshape_mesh, read_msh
from mfpde.fem.solve import FemSolution, solve, solve_game
from mfpde.fem.space import P1Space
from mfpde.tables import Discretisation, Table, domain_from_table

__all__ = ["discretisation"]

KINDS = ("sphere", "mesh", "interval", "box")
SHAPES = ("disk", "lshape")


def discretisation(data: dict, time: dict, name: str = "domain") -> Discretisation:
    """``[domain]`` (or ``[domain_nu]``) and ``[time]`` (for its scheme) → a P1 discretisation.

    Its solvers have the signatures of :func:`mfpde.solve` (the space as ``grid``) and of
    :func:`mfpde.games.solve_game` (the spaces as ``grid_mu``, ``grid_nu``).
    """
    t = Table(data, name, set(data))
    kind = t.string("kind", None, KINDS)
    scheme = time.get("scheme", "implicit_euler") if isinstance(time, dict) else "implicit_euler"
    if scheme != "implicit_euler":
        raise InputError(f'[time] scheme = {scheme!r}: backend = "dolfinx" has "implicit_euler"')
    if kind == "sphere":
        t = Table(data, name, {"kind", "backend", "refinement", "dim"})
        if t.integer("dim", 3) != 3:
            raise InputError(
                f'[{name}] kind = "sphere" with dim = {data["dim"]}: the mesh is the icosphere of '
                "S² (dim = 3); S^(d-1) for other d is for particle runs ([particles] only)"
            )
        t.required("refinement")
        domain, mesh = Sphere(), icosphere(t.integer("refinement"))
    elif kind == "mesh":
        mesh = _mesh(data)
        domain = mesh
    else:
        domain, cells = domain_from_table({k: v for k, v in data.items() if k != "backend"}, name)
        mesh = box_mesh(domain, cells)

    def run(problem, flow, initial, *, grid: P1Space, scheme: str, **options) -> FemSolution:
        return solve(problem, flow, initial, space=grid, **options)

    def run_game(problem, flow, mu, nu, *, grid_mu, grid_nu, scheme: str, **options):
        return solve_game(problem, flow, mu, nu, space_mu=grid_mu, space_nu=grid_nu, **options)

    return Discretisation(domain, P1Space(mesh), run, run_game)


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
