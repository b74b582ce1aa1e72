"""Particle systems for mean-field flows and games on the problem objects of :mod:`mfpde` (MATH §6).

- :mod:`mfpde.particles.kernels`: kernel sums Σ_j c_j K_h(t − s_j) in O(N) memory (numba, NUFFT);
- :mod:`mfpde.particles.fields`: δF/δμ, the kernelised entropy and their gradients at particles;
- :mod:`~mfpde.particles.birth_death`, :mod:`~mfpde.particles.langevin`,
  :mod:`~mfpde.particles.wfr`: the optimisation algorithms (birth-death, mean-field Langevin,
  weighted WFR, Langevin + birth-death WFR);
- :mod:`mfpde.particles.games`: Langevin-DA, WFR-DA and mirror descent-ascent ([003]);
- :mod:`mfpde.particles.replicas`: seeded independent replicas, serially or over MPI;
- :mod:`mfpde.particles.observables`: replica statistics against the mesh solution (MATH §7);
- :mod:`mfpde.particles.config`: the ``[particles]`` and ``[kernel]`` tables of ``mfpde run``.

Each method's mean-field limit is solved on the mesh by :func:`mfpde.kernels.solve_kernelised`
(kernelised flows), :func:`mfpde.solve` or :func:`mfpde.games.solve_game`.
"""

from mfpde.particles.birth_death import birth_death
from mfpde.particles.games import langevin_da, mirror_descent, wfr_da
from mfpde.particles.langevin import langevin
from mfpde.particles.replicas import run_replicas
from mfpde.particles.trajectory import Trajectory
from mfpde.particles.wfr import weighted_wfr, wfr_jump

__all__ = [
    "birth_death",
    "langevin",
    "weighted_wfr",
    "wfr_jump",
    "langevin_da",
    "wfr_da",
    "mirror_descent",
    "run_replicas",
    "Trajectory",
]
