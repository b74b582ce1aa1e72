r"""The P1 space of a mesh, distributed with MPI, seen through global vectors (MATH §8).

Design: every rank keeps whole density vectors in the *global order* of the
:class:`~mfpde.fem.meshes.SimplexMesh` nodes, independent of the number of ranks; DOLFINx and
PETSc see the distributed space. :meth:`P1Space.to_local` copies a global vector into a rank's
dofs (owned and ghost) and :meth:`P1Space.scatter` into a PETSc vector, without communication;
:meth:`P1Space.gather` assembles the owned values of all ranks into a global vector (one
``Allgatherv``, O(n) per rank). So the problem, the observers, the Gibbs minimiser and the time
stepper run unchanged, redundantly on every rank (nonlocal energies included), and only the
assembly and the linear solves are distributed.

The quadrature of the backend (MATH §8) is the lumped mass: ``points`` are the nodes and
``weights`` w_i = ∫ φ_i dx (the row sums of the P1 mass matrix), so ∫ f dx ≈ Σ_i w_i f(x_i),
second-order accurate, and exact for P1 functions.
"""

from __future__ import annotations

import basix.ufl
import dolfinx
import numpy as np
import scipy.sparse as sp
import ufl
from dolfinx import fem
from mpi4py import MPI
from petsc4py import PETSc

from mfpde.fem.meshes import SimplexMesh

__all__ = ["P1Space"]

_CELLS = {1: "interval", 2: "triangle", 3: "tetrahedron"}


class P1Space:
    """Continuous piecewise-linear functions on a mesh distributed over ``comm``.

    Parameters
    ----------
    mesh : SimplexMesh
        The mesh (the same data on every rank; rank 0's copy is distributed).
    comm : MPI communicator
        ``MPI.COMM_WORLD`` by default; ``MPI.COMM_SELF`` solves serially on each rank.

    Attributes
    ----------
    points, weights : ndarray
        Nodes and lumped masses in global order (the same on every rank).
    V : dolfinx.fem.FunctionSpace
        The distributed P1 space.
    """

    periodic = False

    def __init__(self, mesh: SimplexMesh, comm: MPI.Comm = MPI.COMM_WORLD):
        self.mesh, self.comm = mesh, comm
        root = comm.rank == 0
        element = basix.ufl.element("Lagrange", _CELLS[mesh.tdim], 1, shape=(mesh.dim,))
        self.domain = dolfinx.mesh.create_mesh(
            comm,
            mesh.cells if root else np.empty((0, mesh.tdim + 1), dtype=np.int64),
            element,
            mesh.points if root else np.empty((0, mesh.dim)),
        )
        self.V = fem.functionspace(self.domain, ("Lagrange", 1))
        index_map = self.V.dofmap.index_map
        self.n_owned = index_map.size_local
        # P1 dofs and geometry nodes share the cell-local layout: dof → node → input index.
        geometry = self.domain.geometry
        dof_to_node = np.empty(index_map.size_local + index_map.num_ghosts, dtype=np.int64)
        dof_to_node[self.V.dofmap.list.ravel()] = geometry.dofmaps[0].ravel()
        self.global_index = np.asarray(geometry.input_global_indices)[dof_to_node]
        counts = comm.allgather(self.n_owned)
        self._counts = np.asarray(counts)
        self._displacements = np.concatenate([[0], np.cumsum(counts)[:-1]])
        # PETSc (and the Allgatherv) number the dofs rank by rank: p ↦ global order index
        self._petsc_to_global = self._allgather(self.global_index[: self.n_owned].astype(np.int64))
        self.points = mesh.points
        self.weights = self.gather(self._lumped_mass())

    @property
    def size(self) -> int:
        """Number of dofs n (global)."""
        return self.mesh.size

    @property
    def dim(self) -> int:
        """Embedding dimension."""
        return self.mesh.dim

    def _allgather(self, owned: np.ndarray) -> np.ndarray:
        out = np.empty(int(self._counts.sum()), dtype=owned.dtype)
        mpi_type = MPI.INT64_T if owned.dtype == np.int64 else MPI.DOUBLE
        self.comm.Allgatherv(
            np.ascontiguousarray(owned), [out, self._counts, self._displacements, mpi_type]
        )
        return out

    def gather(self, owned: np.ndarray) -> np.ndarray:
        """The global vector whose values at this rank's owned dofs are ``owned``."""
        out = np.empty(self.size)
        out[self._petsc_to_global] = self._allgather(np.asarray(owned[: self.n_owned], dtype=float))
        return out

    def to_local(self, values: np.ndarray) -> np.ndarray:
        """A global vector's values at this rank's dofs (owned, then ghosts)."""
        return values[self.global_index]

    def function(self, values: np.ndarray | None = None, name: str = "f") -> fem.Function:
        """A P1 function with the nodal values of the global vector ``values`` (or zero)."""
        f = fem.Function(self.V, name=name)
        if values is not None:
            f.x.array[:] = self.to_local(values)
        return f

    def petsc_vector(self) -> PETSc.Vec:
        """A PETSc vector over this rank's owned dofs (the layout of the assembled matrices)."""
        return PETSc.Vec().createMPI((self.n_owned, self.size), comm=self.comm)

    def scatter(self, values: np.ndarray, vector: PETSc.Vec) -> PETSc.Vec:
        """Copy a global vector's values at the owned dofs into ``vector``; return it."""
        vector.array_w[:] = values[self.global_index[: self.n_owned]]
        return vector

    def gather_matrix(self, matrix: PETSc.Mat) -> sp.csr_matrix:
        """An assembled PETSc matrix of the space as a global scipy matrix on every rank.

        Rows and columns are in the global order; each rank contributes its owned rows (one
        ``allgather`` of O(nnz) data: for diagnostics such as the spectral gap, not for stepping).
        """
        indptr, columns, values = matrix.getValuesCSR()
        rows = np.repeat(self.global_index[: self.n_owned], np.diff(indptr))
        columns = self._petsc_to_global[columns]
        parts = self.comm.allgather((rows, columns, values))
        rows, columns, values = (np.concatenate(p) for p in zip(*parts))
        return sp.csr_matrix((values, (rows, columns)), shape=(self.size, self.size))

    def _lumped_mass(self) -> np.ndarray:
        v = ufl.TestFunction(self.V)
        vector = fem.assemble_vector(fem.form(v * ufl.dx))
        vector.scatter_reverse(dolfinx.la.InsertMode.add)
        return vector.array[: self.n_owned]

    def __repr__(self) -> str:
        return f"P1Space({self.mesh.kind}, dofs={self.size}, ranks={self.comm.size})"
