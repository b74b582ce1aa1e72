"""Row partition of nonlocal sums across MPI ranks (MATH §8, "Nonlocal integrals").

A nonlocal term (interaction ∫ W(x_i, y) μ(dy), payoff V_x[ν], V_y[μ]) is a dense sum over
quadrature points. Every rank holds the whole density vector (the DOLFINx backend keeps global
vectors in a rank-independent order), so each rank computes a contiguous block of rows and the
blocks are joined with one ``Allgatherv`` (O(n) per rank); column sums are joined with one
``Allreduce``. Without a communicator (finite volumes, serial runs) the partition is all rows.
"""

from __future__ import annotations

import numpy as np

__all__ = ["RowPartition"]


class RowPartition:
    """The rows ``[start, stop)`` of an n-row sum that this rank computes.

    Parameters
    ----------
    n : int
        Number of rows (quadrature points).
    comm : mpi4py communicator, optional
        The ranks sharing the work (e.g. ``P1Space.comm``); None or one rank: all rows.
    """

    def __init__(self, n: int, comm=None):
        self.n, self.comm = n, comm if comm is not None and comm.size > 1 else None
        size, rank = (1, 0) if self.comm is None else (self.comm.size, self.comm.rank)
        bounds = np.linspace(0, n, size + 1).astype(int)
        self.start, self.stop = int(bounds[rank]), int(bounds[rank + 1])
        self.counts = np.diff(bounds)

    def gather(self, local: np.ndarray) -> np.ndarray:
        """Join the rows computed by every rank into the full vector (same on all ranks)."""
        if self.comm is None:
            return local
        out = np.empty(self.n)
        self.comm.Allgatherv(np.ascontiguousarray(local, dtype=float), (out, self.counts))
        return out

    def reduce(self, partial: np.ndarray) -> np.ndarray:
        """Sum over ranks of partial column sums (same on all ranks)."""
        if self.comm is None:
            return partial
        out = np.empty_like(partial)
        self.comm.Allreduce(np.ascontiguousarray(partial), out)
        return out
