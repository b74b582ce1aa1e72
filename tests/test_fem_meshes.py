"""Meshes of the DOLFINx backend and their lumped-mass quadrature (MATH §8)."""

from __future__ import annotations

import itertools
import math

import gmsh
import numpy as np
import pytest
from conftest import fitted_order

import mfpde
from mfpde.fem import P1Space, box_mesh, disk_mesh, icosphere, lshape_mesh, read_msh


def _edges(cells: np.ndarray) -> np.ndarray:
    pairs = [cells[:, [a, b]] for a, b in itertools.combinations(range(cells.shape[1]), 2)]
    return np.unique(np.sort(np.concatenate(pairs), axis=1), axis=0)


@pytest.mark.parametrize("r", [0, 1, 2, 3])
def test_icosphere_is_a_closed_triangulated_sphere(r):
    mesh = icosphere(r)
    assert mesh.size == 10 * 4**r + 2 and len(mesh.cells) == 20 * 4**r
    np.testing.assert_allclose(np.linalg.norm(mesh.points, axis=1), 1.0, atol=1e-15)
    edges = _edges(mesh.cells)
    assert mesh.size - len(edges) + len(mesh.cells) == 2  # Euler characteristic of S²
    # closed surface: every edge is shared by exactly two triangles
    all_edges = np.sort(mesh.cells[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    assert np.all(np.unique(all_edges, axis=0, return_counts=True)[1] == 2)


def test_sphere_lumped_masses_converge_to_the_area_at_order_two():
    """Σ_i w_i is the area of the inscribed polyhedron, 4π − O(h²)."""
    hs, errors = [], []
    for r in (1, 2, 3, 4):
        mesh = icosphere(r)
        hs.append(mesh.h)
        errors.append(abs(P1Space(mesh).weights.sum() - 4 * np.pi))
    # the polyhedron's area deficit is a smooth O(h²) expansion: 0.1 covers its h⁴ term
    assert abs(fitted_order(hs, errors) - 2) < 0.1


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_box_mesh_kuhn_simplices_tile_the_box(dim):
    box = mfpde.Box([0.0] * dim, [1.0, 2.0, 0.5][:dim])
    mesh = box_mesh(box, 4)
    assert mesh.size == 5**dim and len(mesh.cells) == 4**dim * math.factorial(dim)
    vertices = mesh.points[mesh.cells]
    volumes = np.abs(np.linalg.det(vertices[:, 1:] - vertices[:, :1])) / math.factorial(dim)
    np.testing.assert_allclose(volumes, box.volume / 4**dim / math.factorial(dim), rtol=1e-13)
    # the lumped masses integrate constants exactly
    assert P1Space(mesh).weights.sum() == pytest.approx(box.volume, rel=1e-14)


def test_gmsh_meshes_lumped_masses():
    disk = disk_mesh(radius=1.0, h=0.1)
    # an inscribed polygon with sides ≤ h misses at most π h²/6 of the disk's area
    area = P1Space(disk).weights.sum()
    assert 0 < np.pi - area < np.pi * disk.h**2 / 6
    assert P1Space(lshape_mesh(h=0.25)).weights.sum() == pytest.approx(3.0, rel=1e-13)


def test_read_msh_reads_the_triangles_gmsh_wrote(tmp_path):
    path = tmp_path / "square.msh"
    gmsh.initialize(interruptible=False)
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.model.occ.addRectangle(0, 0, 0, 2, 1)
        gmsh.model.occ.synchronize()
        gmsh.option.setNumber("Mesh.MeshSizeMax", 0.2)
        gmsh.model.mesh.generate(2)
        n_nodes = len(gmsh.model.mesh.getNodes()[0])
        gmsh.write(str(path))
    finally:
        gmsh.finalize()
    mesh = read_msh(path)
    assert mesh.size == n_nodes and mesh.dim == 2
    assert P1Space(mesh).weights.sum() == pytest.approx(2.0, rel=1e-13)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: icosphere(-1), "refinement"),
        (lambda: box_mesh(mfpde.Torus(1), 8), "periodic"),
        (lambda: disk_mesh(h=0.0), "mesh size"),
        (lambda: read_msh("/nonexistent/file.msh"), "not found"),
    ],
)
def test_bad_meshes_are_input_errors(make, message):
    with pytest.raises(mfpde.InputError, match=message):
        make()
