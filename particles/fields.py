r"""First variations at particles: the same problem objects as the mesh solvers (MATH §2, §3.2, §6).

For a weighted empirical measure μ_N = Σ_j w_j δ_{X_j} (Σ_j w_j = 1) this module evaluates, at
the particles, the field g and its gradient ∇g that every particle method of MATH §6 needs:

- δF/δμ(μ_N, X_i) of the problem's :class:`~mfpde.energies.Energy`: a
  :class:`~mfpde.energies.Potential` gives V(X_i); an :class:`~mfpde.energies.Interaction` gives
  Σ_j w_j W(X_i, X_j), summed in row blocks (O(B·N) memory, never N × N); a
  :class:`~mfpde.energies.Functional` is evaluated on the quadrature (X_j, w_j) with ρ ≡ 1
  (values only). Gradients of V and of x ↦ W(x, y) are central finite differences of the
  callables, step ε = 1e-5 × (domain length): truncation error ε²|f'''|/6 ≈ 1e-10 |f'''| L² and
  round-off ≈ 1e-16 |f| / ε, so about 1e-10 relative for smooth expressions.
- the kernelised entropy σ e_h[μ_N](X_i) of the variant of :class:`mfpde.kernels.Kernel`, with
  the kernel sums of :class:`mfpde.particles.kernels.KernelSum`:
  ``"density"``: log(K_h*μ_N / π);
  ``"blob"``: log(K_h*μ_N / π) + Σ_j w_j K_h(· − X_j)/(K_h*μ_N)(X_j);
  ``"smoothed_kl"``: Σ_y w_y K_h(· − y)[log((K_h*μ_N)(y)/π(y)) + 1] on the cells y of a grid.

:class:`ParticleField` combines them: g_h = δF/δμ + σ e_h (birth-death and weighted-WFR rates),
or without a kernel g = δF/δμ − σ log π, the drift potential of mean-field Langevin dynamics
(whose diffusion is the Brownian noise).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mfpde.domains import Domain
from mfpde.energies import (
    Energy,
    EnergySum,
    Functional,
    Interaction,
    Potential,
    as_function,
    finite_values,
)
from mfpde.errors import InputError
from mfpde.fv.grid import Grid
from mfpde.kernels import Kernel
from mfpde.particles.kernels import KernelSum
from mfpde.problem import OptimisationProblem, Reference

__all__ = ["ParticleField", "energy_field", "log_reference", "gradient"]

#: Finite-difference step relative to the domain's length (module docstring).
FD_STEP = 1e-5
#: Rows of an interaction sum evaluated at once: the block holds B × N values.
BLOCK = 256

Field = tuple[np.ndarray, np.ndarray | None]


def gradient(f: Callable[[np.ndarray], np.ndarray], points: np.ndarray, step: float) -> np.ndarray:
    """∇f at points of shape (..., d) by central differences (f(x + εe_k) − f(x − εe_k))/(2ε)."""
    out = np.empty(points.shape)
    for k in range(points.shape[-1]):
        shift = np.zeros(points.shape[-1])
        shift[k] = step
        difference = f(points + shift) - f(points - shift)
        out[..., k] = np.reshape(difference, out.shape[:-1]) / (2 * step)
    return out


def _interaction(W: Callable, X: np.ndarray, w: np.ndarray, step: float | None) -> Field:
    n = len(X)
    values = np.empty(n)
    grads = np.empty(X.shape) if step is not None else None
    for s in range(0, n, BLOCK):
        rows = X[s : s + BLOCK, None, :]
        values[s : s + BLOCK] = finite_values("interaction", W(rows, X[None]), X) @ w
        if step is not None:
            grads[s : s + BLOCK] = gradient(lambda x: W(x, X[None]) @ w, rows, step)[:, 0, :]
    return values, grads


def energy_field(energy: Energy, domain: Domain, X: np.ndarray, w: np.ndarray, want: bool) -> Field:
    """δF/δμ(μ_N, X_i) and, if ``want``, its gradient (module docstring)."""
    step = FD_STEP * float(domain.lengths.max()) if want else None
    if isinstance(energy, EnergySum):
        parts = [energy_field(p, domain, X, w, want) for p in energy.parts]
        values = sum(p[0] for p in parts)
        return values, (sum(p[1] for p in parts) if want else None)
    if isinstance(energy, Potential):
        V = as_function(energy.V, domain.dim)
        values = finite_values("potential", V(X), X)
        return values, (gradient(V, X, step) if want else None)
    if isinstance(energy, Interaction):
        return _interaction(as_function(energy.W, domain.dim, ("x", "y")), X, w, step)
    if isinstance(energy, Functional):
        if want:
            raise InputError("a Functional energy gives no gradient at particles: use birth_death")
        return energy.bind(X, w).first_variation(np.ones(len(X))), None
    raise InputError(f"particles cannot evaluate the energy {type(energy).__name__}")


def log_reference(reference: Reference, dim: int) -> Callable[[np.ndarray], np.ndarray]:
    """x ↦ log π(x) up to an additive constant (0 for "uniform")."""
    if isinstance(reference.density, str) and reference.density == "uniform":
        return lambda x: np.zeros(len(x))
    density = as_function(reference.density, dim)

    def log_pi(x):
        values = finite_values("reference density", density(x), x)
        if np.any(values <= 0):
            raise InputError("reference density must be positive everywhere on the domain")
        return np.log(values)

    return log_pi


class ParticleField:
    r"""g and ∇g at the particles of μ_N = Σ_j w_j δ_{X_j} for one problem (module docstring).

    With a kernel: g_h = δF/δμ + σ e_h[μ_N] (MATH §3.2, §6.1–6.2). Without: g = δF/δμ − σ log π,
    the drift potential of dX = −γ∇g dt + √(2γσ) dW (MATH §3, §6.3).

    Parameters
    ----------
    problem : OptimisationProblem
        The domain, energy, σ and reference π, as for the mesh solvers.
    kernel : Kernel, optional
        K_h and the variant.
    grid : Grid, optional
        The quadrature of the y-integral of ``"smoothed_kl"`` (cells much smaller than h).
    method : {"fast", "direct"}
        Kernel sums by NUFFT or by the numba direct sum.
    tolerance : float
        Relative tolerance of the fast kernel sums.
    """

    def __init__(
        self,
        problem: OptimisationProblem,
        kernel: Kernel | None = None,
        *,
        grid: Grid | None = None,
        method: str = "fast",
        tolerance: float = 1e-10,
    ):
        self.problem, self.kernel, self.domain = problem, kernel, problem.domain
        self.sigma = float(problem.sigma)
        self.log_pi = log_reference(problem.reference, self.domain.dim)
        self.sums = KernelSum(kernel, self.domain, method, tolerance) if kernel else None
        self.grid = grid
        if kernel is not None and kernel.variant == "smoothed_kl":
            if grid is None:
                raise InputError('the "smoothed_kl" kernelisation needs a grid for its y-integral')
            self.grid_log_pi = problem.reference.log_density(grid.points, grid.weights)
        self._step = FD_STEP * float(self.domain.lengths.max())

    def __call__(self, X: np.ndarray, w: np.ndarray, want_gradient: bool = False) -> Field:
        """g at the particles, shape (N,), and ∇g, shape (N, d) (None unless requested)."""
        values, grads = energy_field(self.problem.energy, self.domain, X, w, want_gradient)
        if self.sigma == 0:
            return values, grads
        if self.kernel is None:
            entropy = -self.log_pi(X)
            d_entropy = -gradient(self.log_pi, X, self._step) if want_gradient else None
        else:
            entropy, d_entropy = self.entropy(X, w, want_gradient)
        values = values + self.sigma * entropy
        if want_gradient:
            grads = grads + self.sigma * d_entropy
        return values, grads

    def entropy(self, X: np.ndarray, w: np.ndarray, want_gradient: bool = False) -> Field:
        """e_h[μ_N] at the particles and its gradient (module docstring), without σ."""
        variant, sums = self.kernel.variant, self.sums
        if variant == "smoothed_kl":
            y, wy = self.grid.points, self.grid.weights
            smoothed = sums(y, X, w)[0]
            if smoothed.min() <= 0:
                raise InputError("K_h*μ vanishes on the grid: increase the bandwidth")
            f = np.log(smoothed) - self.grid_log_pi + 1.0
            return sums(X, y, wy * f, want_gradient)
        smoothed, d_smoothed = sums(X, X, w, want_gradient)
        e = np.log(smoothed) - self.log_pi(X)
        de = None
        if want_gradient:
            de = d_smoothed / smoothed[:, None] - gradient(self.log_pi, X, self._step)
        if variant == "blob":
            blob, d_blob = sums(X, X, w / smoothed, want_gradient)
            e = e + blob
            if want_gradient:
                de = de + d_blob
        return e, de
