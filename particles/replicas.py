r"""Independent replicas of a particle method, serially or over MPI ranks (MATH §7).

Replica r runs with the seed ``SeedSequence(seed).spawn(R)[r]``: the R streams are independent and
the result of replica r does not depend on how replicas are distributed. With an MPI communicator,
rank k runs replicas k, k + size, k + 2·size, …; rank 0 gathers them and returns the same
trajectories, in the same order, as a serial run (other ranks return None). An
:class:`~mfpde.errors.MfpdeError` met on any rank is gathered too and raised on rank 0, so that no
rank waits for one that failed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from mfpde.errors import InputError, MfpdeError
from mfpde.particles.trajectory import Trajectory

__all__ = ["mpi_world", "replica_seeds", "run_replicas", "stack"]


def mpi_world():
    """``MPI.COMM_WORLD`` when launched by ``mpiexec`` with more than one rank, else None.

    mpi4py is imported only then, so serial runs never initialise MPI.
    """
    size = int(os.environ.get("PMI_SIZE", os.environ.get("OMPI_COMM_WORLD_SIZE", "1")))
    if size <= 1:
        return None
    from mpi4py import MPI

    return MPI.COMM_WORLD


def replica_seeds(seed: int, replicas: int) -> list[np.random.SeedSequence]:
    """The R independent child seeds of ``seed``."""
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1:
        raise InputError(f"replicas must be a positive integer, got {replicas!r}")
    return np.random.SeedSequence(seed).spawn(replicas)


def run_replicas(
    method: Callable[..., Trajectory],
    replicas: int,
    seed: int,
    /,
    *args: Any,
    comm=None,
    **kwargs: Any,
) -> list[Trajectory] | None:
    """Run ``method(*args, seed=child_r, **kwargs)`` for r = 0 … R−1 (module docstring).

    ``method``, ``replicas`` and ``seed`` are positional-only, so that ``kwargs`` may hold
    options of those names for the particle method itself (``method="..."``).

    Parameters
    ----------
    method : callable
        A particle method of :mod:`mfpde.particles` (e.g.
        :func:`mfpde.particles.birth_death.birth_death`).
    replicas : int
        R.
    seed : int
        The root seed.
    comm : mpi4py communicator, optional
        Split the replicas over its ranks; rank 0 receives all of them.
    """
    seeds = replica_seeds(seed, replicas)
    if comm is None:
        return [method(*args, seed=seeds[r], **kwargs) for r in range(replicas)]
    rank, size = comm.Get_rank(), comm.Get_size()
    try:
        mine = {r: method(*args, seed=seeds[r], **kwargs) for r in range(rank, replicas, size)}
    except MfpdeError as exc:  # gathered, so that no rank waits for this one (module docstring)
        mine = exc
    gathered = comm.gather(mine, root=0)
    if rank != 0:
        return None
    for part in gathered:
        if isinstance(part, MfpdeError):
            raise part
    merged = {r: t for part in gathered for r, t in part.items()}
    return [merged[r] for r in range(replicas)]


def stack(trajectories: list[Trajectory]) -> Trajectory:
    """One trajectory with a replica axis: positions (n_saved, R, N, d), weights (n_saved, R, N)."""
    return Trajectory(
        trajectories[0].times,
        np.stack([t.positions for t in trajectories], axis=1),
        np.stack([t.weights for t in trajectories], axis=1),
    )
