"""Particle systems for mean-field flows and games on the problem objects of :mod:`mfpde` (MATH §6).

- :mod:`particles.kernels`: kernel sums Σ_j c_j K_h(t − s_j) in O(N) memory (numba, NUFFT);
- :mod:`particles.fields`: δF/δμ, the kernelised entropy and their gradients at particles;
- :mod:`particles.birth_death`, :mod:`particles.langevin`, :mod:`particles.wfr`: the optimisation
  algorithms (birth-death, mean-field Langevin, weighted WFR, Langevin + birth-death WFR);
- :mod:`particles.games`: Langevin-DA, WFR-DA and mirror descent-ascent ([003]);
- :mod:`particles.replicas`: seeded independent replicas, serially or over MPI;
- :mod:`particles.observables`: replica statistics against the mesh solution (MATH §7);
- :mod:`particles.config`: the ``[particles]`` and ``[kernel]`` tables of ``mfpde run``.

Each method's mean-field limit is solved on the mesh by :func:`mfpde.kernels.solve_kernelised`
(kernelised flows), :func:`mfpde.solve` or :func:`mfpde.games.solve_game`.
"""

from particles.birth_death import birth_death
from particles.games import langevin_da, mirror_descent, wfr_da
from particles.langevin import langevin
from particles.replicas import run_replicas
from particles.trajectory import Trajectory
from particles.wfr import weighted_wfr, wfr_jump

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
