r"""The field g and its gradient at particles, through the problem's own energy (MATH §3.2, §6).

For a weighted empirical measure μ_N = Σ_j w_j δ_{X_j} (Σ_j w_j = 1) every particle method of
MATH §6 needs, at the particles, a field g and (for transport) ∇g. They come from the same
objects the mesh solvers bind: the particles are a :class:`~mfpde.quadrature.Quadrature`
(points X_j, weights w_j, density ρ ≡ 1), and

- δF/δμ(μ_N, X_i) and its gradient are the problem's energy bound to it
  (:meth:`mfpde.energies.BoundEnergy.first_variation_with_gradient`: a potential, the fast
  sums of an interaction, a network, a user functional — whatever the energy is);
- the kernelised entropy σ e_h[μ_N] of a :class:`~mfpde.kernels.Kernel` variant is the energy
  term :class:`~mfpde.kernels.KernelisedEntropy` bound to it (the variants are written once, in
  :class:`mfpde.kernels.BoundKernel`; ``"smoothed_kl"`` integrates over the cells of a grid).

:class:`ParticleField` adds them: g_h = δF/δμ + σ e_h (birth-death and weighted-WFR rates), or
without a kernel g = δF/δμ − σ log π, the drift potential of mean-field Langevin dynamics (whose
diffusion is the Brownian noise).
"""

from __future__ import annotations

import numpy as np

from mfpde.errors import InputError
from mfpde.fv.grid import Grid
from mfpde.kernels import Kernel
from mfpde.problem import OptimisationProblem
from mfpde.quadrature import Quadrature

__all__ = ["ParticleField"]

Field = tuple[np.ndarray, np.ndarray | None]


class ParticleField:
    r"""g and ∇g at the particles of μ_N = Σ_j w_j δ_{X_j} for one problem (module docstring).

    With a kernel: g_h = δF/δμ + σ e_h[μ_N] (MATH §3.2, §6.1–6.2). Without: g = δF/δμ − σ log π,
    the drift potential of dX = −γ∇g dt + √(2γσ) dW (MATH §3, §6.3).

    Parameters
    ----------
    problem : OptimisationProblem
        The domain, energy, σ and reference π, as for the mesh solvers.
    kernel : Kernel, optional
        K_h, the variant and its sums (method, tolerance).
    grid : Grid, optional
        The quadrature of the y-integral of ``"smoothed_kl"`` (cells much smaller than h).
    """

    def __init__(
        self,
        problem: OptimisationProblem,
        kernel: Kernel | None = None,
        *,
        grid: Grid | None = None,
    ):
        self.problem, self.kernel, self.domain = problem, kernel, problem.domain
        self.sigma = float(problem.sigma)
        self.entropy = None
        if kernel is not None:
            if kernel.variant == "smoothed_kl" and grid is None:
                raise InputError('the "smoothed_kl" kernelisation needs a grid for its y-integral')
            y = Quadrature.of(grid) if kernel.variant == "smoothed_kl" else None
            self.entropy = kernel.entropy(problem, y)

    def quadrature(self, X: np.ndarray, w: np.ndarray) -> Quadrature:
        """The particles as a weighted point set of the problem's domain."""
        return Quadrature(X, w, self.domain, reuse=False)

    def __call__(self, X: np.ndarray, w: np.ndarray, want_gradient: bool = False) -> Field:
        """g at the particles, shape (N,), and ∇g, shape (N, d) (None unless requested)."""
        q = self.quadrature(X, w)
        ones = np.ones(len(X))
        values, grads = self.problem.energy.bind(q).field(ones, want_gradient)
        if self.sigma == 0:
            return values, grads
        if self.entropy is not None:
            e, de = self.entropy.bind(q).field(ones, want_gradient)
        else:
            reference = self.problem.reference
            e = -self.sigma * reference.log_density(X, w)
            de = -self.sigma * reference.log_gradient(X, self.domain) if want_gradient else None
        return values + e, (grads + de if want_gradient else None)
