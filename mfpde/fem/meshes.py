r"""Simplicial meshes for the DOLFINx backend: boxes, gmsh domains and the icosphere (MATH §1, §8).

A :class:`SimplexMesh` is plain numpy data: node coordinates (n × d, d the embedding dimension)
and cells (node indices, one row per simplex). The order of the nodes is the *global order* of
the backend: densities, points and weights are always stored in it, whatever the number of MPI
ranks the mesh is later distributed over (:class:`mfpde.fem.space.P1Space`). Generators run on
every rank and are deterministic; only rank 0's copy is handed to DOLFINx.

- :func:`box_mesh`: the Kuhn (Freudenthal) triangulation of a uniform grid of an interval, box or
  cube: every cell split into d! simplices along its main diagonal. Its P1 stiffness matrix is the
  standard 3-, 5- or 7-point stencil, an M-matrix.
- :func:`icosphere`: the icosahedron refined r times (each triangle split into four, new nodes
  projected to the unit sphere S² ⊂ R³): 10·4^r + 2 nodes, mesh size h ∝ 2^{−r}.
- :func:`disk_mesh`, :func:`lshape_mesh`, :func:`read_msh`: triangulations made or read by gmsh.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mfpde.domains import Domain, Sphere
from mfpde.errors import InputError
from mfpde.resources import check_grid_size

__all__ = [
    "SimplexMesh",
    "Sphere",
    "box_mesh",
    "icosphere",
    "disk_mesh",
    "lshape_mesh",
    "read_msh",
]


@dataclass(frozen=True)
class SimplexMesh:
    """Nodes and simplices of a conforming mesh (numpy data, global node order).

    Parameters
    ----------
    points : ndarray, shape (n, d)
        Node coordinates in the embedding space R^d.
    cells : ndarray, shape (m, k + 1)
        Node indices of each k-simplex (k = 1, 2, 3; k < d for manifolds such as S²).
    kind : str
        ``"box"``, ``"sphere"`` or ``"mesh"`` (as in configuration files).
    """

    points: np.ndarray
    cells: np.ndarray
    kind: str = "mesh"

    def __post_init__(self) -> None:
        points = np.ascontiguousarray(self.points, dtype=float)
        cells = np.ascontiguousarray(self.cells, dtype=np.int64)
        if points.ndim != 2 or not 1 <= points.shape[1] <= 3:
            raise InputError(f"mesh: points must have shape (n, d), d <= 3, got {points.shape}")
        if cells.ndim != 2 or not 2 <= cells.shape[1] <= min(points.shape[1] + 1, 4):
            raise InputError(f"mesh: cells of shape {cells.shape} for {points.shape[1]}-D points")
        if cells.size == 0 or cells.min() < 0 or cells.max() >= len(points):
            raise InputError("mesh: cells must index the points")
        if np.unique(cells).size != len(points):
            raise InputError("mesh: every point must belong to a cell")
        object.__setattr__(self, "points", points)
        object.__setattr__(self, "cells", cells)

    @property
    def dim(self) -> int:
        """Embedding dimension d (the number of coordinates x1, …, xd)."""
        return self.points.shape[1]

    @property
    def tdim(self) -> int:
        """Topological dimension k of the simplices."""
        return self.cells.shape[1] - 1

    @property
    def size(self) -> int:
        """Number of nodes (P1 degrees of freedom)."""
        return len(self.points)

    @property
    def h(self) -> float:
        """Mesh size: the longest edge."""
        edges = itertools.combinations(range(self.tdim + 1), 2)
        return float(
            max(
                np.linalg.norm(
                    self.points[self.cells[:, a]] - self.points[self.cells[:, b]], axis=1
                ).max()
                for a, b in edges
            )
        )


def box_mesh(domain: Domain, cells: int | tuple[int, ...]) -> SimplexMesh:
    """Kuhn triangulation of ``domain`` (interval, box; no periodic axes) with ``cells`` per axis.

    Nodes are numbered in C order of their multi-index; each grid cell [i, i + 1] is split into
    the d! simplices {i + e_{p1} + … + e_{pk} : k = 0..d} over the permutations p of the axes.
    """
    if any(domain.periodic):
        raise InputError(
            f"the dolfinx backend has no periodic boundary conditions ({domain.kind}): "
            "use the finite-volume backend"
        )
    shape = tuple(np.broadcast_to(np.asarray(cells), (domain.dim,)).tolist())
    if not all(isinstance(n, int) and n >= 1 for n in shape):
        raise InputError(f"box mesh: need a positive number of cells per axis, got {cells!r}")
    check_grid_size(float(np.prod([n + 1.0 for n in shape])), f"a box mesh of {cells} cells")
    axes = [np.linspace(lo, hi, n + 1) for lo, hi, n in zip(domain.lower, domain.upper, shape)]
    nodes = np.stack([m.ravel() for m in np.meshgrid(*axes, indexing="ij")], axis=-1)
    node_shape = tuple(n + 1 for n in shape)
    corners = np.stack(
        [m.ravel() for m in np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")], axis=-1
    )
    simplices = []
    for perm in itertools.permutations(range(domain.dim)):
        offsets = np.zeros((domain.dim + 1, domain.dim), dtype=np.int64)
        for k, axis in enumerate(perm):
            offsets[k + 1 :, axis] += 1
        vertices = corners[:, None, :] + offsets[None, :, :]
        simplices.append(np.ravel_multi_index(tuple(np.moveaxis(vertices, -1, 0)), node_shape))
    return SimplexMesh(nodes, np.concatenate(simplices), kind="box")


def _icosahedron() -> tuple[np.ndarray, np.ndarray]:
    t = (1 + np.sqrt(5)) / 2
    points = np.array(
        [
            [-1, t, 0], [1, t, 0], [-1, -t, 0], [1, -t, 0],
            [0, -1, t], [0, 1, t], [0, -1, -t], [0, 1, -t],
            [t, 0, -1], [t, 0, 1], [-t, 0, -1], [-t, 0, 1],
        ],
        dtype=float,
    )  # fmt: skip
    cells = np.array(
        [
            [0, 11, 5], [0, 5, 1], [0, 1, 7], [0, 7, 10], [0, 10, 11],
            [1, 5, 9], [5, 11, 4], [11, 10, 2], [10, 7, 6], [7, 1, 8],
            [3, 9, 4], [3, 4, 2], [3, 2, 6], [3, 6, 8], [3, 8, 9],
            [4, 9, 5], [2, 4, 11], [6, 2, 10], [8, 6, 7], [9, 8, 1],
        ],
        dtype=np.int64,
    )  # fmt: skip
    return Sphere.project(points), cells


def icosphere(refinement: int) -> SimplexMesh:
    """The icosahedron refined ``refinement`` times, nodes on S² (10·4^r + 2 nodes).

    Each refinement splits every triangle into four at its edge midpoints and projects the new
    nodes onto the sphere; new nodes are numbered after the old ones in the order their edges
    are first met, so the node order is deterministic.
    """
    if isinstance(refinement, bool) or not isinstance(refinement, int) or refinement < 0:
        raise InputError(f"icosphere: refinement must be an integer >= 0, got {refinement!r}")
    check_grid_size(10.0 * 4.0**refinement + 2, f"icosphere({refinement})")
    points, cells = _icosahedron()
    for _ in range(refinement):
        edges = np.sort(cells[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
        unique, first, inverse = np.unique(edges, axis=0, return_index=True, return_inverse=True)
        order = np.argsort(first)  # number new nodes by first appearance
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        mid = len(points) + rank[inverse.ravel()].reshape(-1, 3)  # midpoints of (01, 12, 20)
        new = Sphere.project(0.5 * (points[unique[order, 0]] + points[unique[order, 1]]))
        points = np.concatenate([points, new])
        a, b, c = cells.T
        ab, bc, ca = mid.T
        cells = np.concatenate(
            [np.stack(t, axis=1) for t in ((a, ab, ca), (ab, b, bc), (ca, bc, c), (ab, bc, ca))]
        )
    return SimplexMesh(points, cells, kind="sphere")


def _gmsh_triangles(build) -> SimplexMesh:
    """Run ``build(gmsh.model)`` in a fresh gmsh session and return its 2-D triangulation.

    Nodes are renumbered 0..n−1 in the order of their gmsh tags; z is dropped.
    """
    import gmsh

    gmsh.initialize(interruptible=False)
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.model.add("mfpde")
        build(gmsh.model)
        tags, coords, _ = gmsh.model.mesh.getNodes()
        _, elements = gmsh.model.mesh.getElementsByType(2)  # 3-node triangles
    finally:
        gmsh.finalize()
    if len(elements) == 0:
        raise InputError("gmsh: the model has no triangles (a 2-D mesh is needed)")
    order = np.argsort(tags)
    index = np.full(int(tags.max()) + 1, -1, dtype=np.int64)
    index[tags[order]] = np.arange(len(tags))
    points = coords.reshape(-1, 3)[order, :2]
    cells = index[np.asarray(elements, dtype=np.int64).reshape(-1, 3)]
    used = np.unique(cells)
    renumber = np.full(len(points), -1, dtype=np.int64)
    renumber[used] = np.arange(len(used))
    return SimplexMesh(points[used], renumber[cells], kind="mesh")


def _check_size(h: float, area: float, what: str) -> None:
    """A positive mesh size, and a mesh of about 2.3·area/h² nodes within the memory limit."""
    if isinstance(h, bool) or not (isinstance(h, (int, float)) and np.isfinite(h) and h > 0):
        raise InputError(f"gmsh: mesh size h must be a positive number, got {h!r}")
    check_grid_size(2.3 * area / h**2, f"{what} with h = {h:g}")


def disk_mesh(radius: float = 1.0, h: float = 0.1) -> SimplexMesh:
    """An unstructured triangulation of the disk {|x| ≤ radius} with mesh size ``h`` (gmsh)."""
    if not (np.isfinite(radius) and radius > 0):
        raise InputError(f"disk: radius must be positive, got {radius!r}")
    _check_size(h, np.pi * radius**2, "a disk mesh")

    def build(model):
        model.occ.addDisk(0, 0, 0, radius, radius)
        model.occ.synchronize()
        model.mesh.setSize(model.getEntities(0), h)
        _mesh_2d(model, h)

    return _gmsh_triangles(build)


def lshape_mesh(h: float = 0.1) -> SimplexMesh:
    """An unstructured triangulation of the L-shape [0, 2]² \\ (1, 2]² with mesh size ``h``."""
    _check_size(h, 3.0, "an L-shape mesh")

    def build(model):
        big = model.occ.addRectangle(0, 0, 0, 2, 2)
        corner = model.occ.addRectangle(1, 1, 0, 1, 1)
        model.occ.cut([(2, big)], [(2, corner)])
        model.occ.synchronize()
        _mesh_2d(model, h)

    return _gmsh_triangles(build)


def _mesh_2d(model, h: float) -> None:
    import gmsh

    gmsh.option.setNumber("Mesh.MeshSizeMax", h)
    gmsh.option.setNumber("Mesh.MeshSizeMin", h)
    gmsh.option.setNumber("Mesh.Algorithm", 6)  # Frontal-Delaunay
    model.mesh.generate(2)


def read_msh(path: str | os.PathLike) -> SimplexMesh:
    """The triangles of a gmsh ``.msh`` file (2-D; first-order triangles only)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"mesh file {str(path)!r} not found")
    import gmsh

    def build(model):
        try:
            gmsh.open(str(path))
        except Exception as exc:  # gmsh raises a bare Exception with its own message
            raise InputError(f"cannot read mesh file {str(path)!r}: {exc}") from None

    return _gmsh_triangles(build)
