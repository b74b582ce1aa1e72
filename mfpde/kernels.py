r"""Smoothing kernels K_h and the kernelised flows of particle systems (MATH §3.2).

An empirical measure has no density, so the entropy term σ log(μ/π) of g = δF^σ/δμ is replaced
by a kernel smoothing (K_h*μ)(x) = ∫ K_h(x, y) μ(dy), with K_h the Gaussian of width h (periodised
on periodic axes, von Mises-Fisher on S²; :mod:`mfpde.sums.gaussian`). The three variants of
MATH §3.2 give the kernelised first variation σ e_h[μ] that replaces σ log(μ/π):

- ``"density"``:      e_h = log(K_h*μ / π);
- ``"blob"``:         e_h = log(K_h*μ / π) + K_h*(μ / K_h*μ), the first variation of
  E_h(μ) = ∫ log(K_h*μ / π) dμ;
- ``"smoothed_kl"``:  e_h = K_h*[log(K_h*μ / π) + 1] (convolution against dy), the first
  variation of KL(K_h*μ | π) = ∫ K_h*μ log(K_h*μ / π) dy.

:class:`KernelisedEntropy` is an energy term like the others (:mod:`mfpde.energies`): it binds to
any weighted point set — the cells of a grid, the nodes of a P1 space, particles — and gives
σ E_h, σ e_h and ∇(σ e_h); the variants are written once, in :class:`BoundKernel`, over the sums
K_h*f of :func:`mfpde.sums.gaussian.smoothing_kernel` (exact FFT on grids, NUFFT at points and
on S² meshes). :func:`solve_kernelised` solves the mean-field PDE of each particle method of
:mod:`mfpde.particles` on the mesh, so that particles are compared with the limit of their own
dynamics (MATH §7).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from mfpde.domains import Domain, Sphere
from mfpde.energies import BoundEnergy, Energy
from mfpde.equilibrium import gibbs_minimiser
from mfpde.errors import InputError
from mfpde.flows import Flow
from mfpde.fv.grid import Grid
from mfpde.fv.operator import FlowOperator
from mfpde.observers import Mass, MinDensity
from mfpde.operator import FlowOperatorBase
from mfpde.problem import OptimisationProblem, Reference
from mfpde.quadrature import Quadrature
from mfpde.solver import (
    Solution,
    check_transport,
    initial_density,
    require_finite_volumes,
    resolve_grid,
    run_to_solution,
)
from mfpde.stepper import Observer, System
from mfpde.sums import PairKernel
from mfpde.sums.gaussian import axis_kernel, smoothing_kernel, von_mises_fisher

__all__ = [
    "VARIANTS",
    "SUM_METHODS",
    "Kernel",
    "KernelisedEntropy",
    "BoundKernel",
    "KernelisedEnergy",
    "solve_kernelised",
]

VARIANTS = ("density", "blob", "smoothed_kl")
#: The sums of K_h: the Fourier sums (exact FFT on grids) or the fused direct loops.
SUM_METHODS = ("fast", "direct")


@dataclass(frozen=True)
class Kernel:
    """A smoothing kernel K_h and the kernelised entropy variant it defines (MATH §3.2).

    Parameters
    ----------
    variant : {"density", "blob", "smoothed_kl"}
        Which kernelisation of σ log(μ/π) (module docstring).
    bandwidth : float
        h > 0, the standard deviation of the Gaussian per axis (κ = 1/h² on S²).
    method : {"fast", "direct"}
        The sums K_h*f (:func:`mfpde.sums.gaussian.smoothing_kernel`).
    tolerance : float
        Relative accuracy of the fast sums, in [1e-14, 1e-2].
    """

    variant: str
    bandwidth: float
    method: str = "fast"
    tolerance: float = 1e-10
    _kernels: dict = field(default_factory=dict, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise InputError(
                f"unknown kernel variant {self.variant!r} (choose from {', '.join(VARIANTS)})"
            )
        h = self.bandwidth
        if isinstance(h, bool) or not isinstance(h, (int, float)) or not (np.isfinite(h) and h > 0):
            raise InputError(f"kernel bandwidth must be a number > 0, got {h!r}")
        if self.method not in SUM_METHODS:
            raise InputError(
                f"unknown kernel sum {self.method!r} (choose from {', '.join(SUM_METHODS)})"
            )
        t = self.tolerance
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not 1e-14 <= t <= 1e-2:
            raise InputError(f"kernel sum tolerance must be a number in [1e-14, 1e-2], got {t!r}")

    def values(self, domain: Domain, difference: np.ndarray) -> np.ndarray:
        """K_h(x − y) for differences of shape ``(..., d)``: the product of the axis kernels."""
        out = 1.0
        for k, (length, periodic) in enumerate(zip(domain.lengths, domain.periodic)):
            out = out * axis_kernel(
                difference[..., k], self.bandwidth, length if periodic else None
            )
        return out

    def pairwise(self, domain: Domain | Sphere, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The matrix K_h(x_i, y_j) for points x (m, d) and y (n, d) of ``domain`` (small sets)."""
        if isinstance(domain, Sphere):
            return von_mises_fisher(x @ y.T, self.bandwidth)
        return self.values(domain, x[:, None, :] - y[None, :, :])

    def pair_kernel(self, domain: Domain | Sphere) -> PairKernel:
        """The sums of K_h on a domain (made once per domain)."""
        key = domain if isinstance(domain, (Domain, Sphere)) else id(domain)
        if key not in self._kernels:
            self._kernels[key] = smoothing_kernel(
                self.bandwidth, domain, self.method, self.tolerance
            )
        return self._kernels[key]

    def entropy(self, problem: OptimisationProblem, y: Quadrature | None = None):
        """σ E_h of ``problem`` (its σ and π) as an energy term (:class:`KernelisedEntropy`)."""
        return KernelisedEntropy(self, float(problem.sigma), problem.reference, y)


class BoundKernel(BoundEnergy):
    r"""σ e_h[μ], ∇σ e_h[μ] and σ E_h[μ] on a point set (x_i, w_i) (MATH §3.2).

    The variants (module docstring) are written here once over the sums
    (K_h*f)(x_i) = Σ_j w_j K_h(x_i, x_j) f_j; the y-integral of ``"smoothed_kl"`` runs over the
    point set itself (a grid or mesh) or over a separate quadrature ``y`` (particles).
    """

    def __init__(self, kernel: Kernel, q: Quadrature, sigma: float, reference: Reference,
                 y: Quadrature | None = None):  # fmt: skip
        self.kernel, self.q, self.sigma, self.reference = kernel, q, sigma, reference
        pair = kernel.pair_kernel(q.domain)
        self.sums = pair.bind(q, q)
        self.y = y if y is not None else q
        self.sums_y = pair.bind(q, y) if y is not None else self.sums
        self.log_pi = reference.log_density(q.points, q.weights)
        self.log_pi_y = reference.log_density(y.points, y.weights) if y is not None else self.log_pi
        self._grad_log_pi: np.ndarray | None = None

    def convolve(self, f: np.ndarray, gradient: bool = False):
        """(K_h*f)(x_i) = Σ_j w_j K_h(x_i, x_j) f_j and its gradient."""
        return self.sums.over_y(self.q.weights * f, gradient)

    def _log_ratio(self, smoothed: np.ndarray, log_pi: np.ndarray) -> np.ndarray:
        if smoothed.min() <= 0:
            raise InputError("K_h*μ vanishes at a point: increase the bandwidth")
        return np.log(smoothed) - log_pi

    def grad_log_pi(self) -> np.ndarray:
        """∇ log π at the points (computed once)."""
        if self._grad_log_pi is None:
            self._grad_log_pi = self.reference.log_gradient(self.q.points, self.q.domain)
        return self._grad_log_pi

    def field(self, rho, gradient):
        """σ e_h[ρ] at the points and (if ``gradient``) its gradient (module docstring)."""
        variant = self.kernel.variant
        if variant == "smoothed_kl":
            smoothed_y = self.sums_y.over_x(self.q.weights * rho)[0]  # K_h*μ at the y's
            f = self._log_ratio(smoothed_y, self.log_pi_y) + 1.0
            e, de = self.sums_y.over_y(self.y.weights * f, gradient)
        else:
            smoothed, d_smoothed = self.convolve(rho, gradient)
            e = self._log_ratio(smoothed, self.log_pi)
            de = d_smoothed / smoothed[:, None] - self.grad_log_pi() if gradient else None
            if variant == "blob":
                blob, d_blob = self.convolve(rho / smoothed, gradient)
                e = e + blob
                de = de + d_blob if gradient else None
        return self.sigma * e, (self.sigma * de if gradient else None)

    def value(self, rho: np.ndarray) -> float:
        """σ E_h (``"blob"``) or σ KL(K_h*μ | π) (``"smoothed_kl"``); "density" has none."""
        variant = self.kernel.variant
        if variant == "blob":
            log_ratio = self._log_ratio(self.convolve(rho)[0], self.log_pi)
            return self.sigma * float(self.q.weights @ (rho * log_ratio))
        if variant == "smoothed_kl":
            smoothed_y = self.sums_y.over_x(self.q.weights * rho)[0]
            log_ratio = self._log_ratio(smoothed_y, self.log_pi_y)
            return self.sigma * float(self.y.weights @ (smoothed_y * log_ratio))
        raise InputError('the "density" kernelisation is not a gradient flow: it has no energy')


@dataclass(frozen=True, eq=False)
class KernelisedEntropy(Energy):
    """σ E_h[μ], the kernelised entropy of a :class:`Kernel` variant, as an energy term.

    ``y`` is the quadrature of the y-integral of ``"smoothed_kl"`` when the point set it binds
    to is not one (particles); a grid or a mesh is its own.
    """

    kernel: Kernel
    sigma: float
    reference: Reference = field(default_factory=Reference)
    y: Quadrature | None = None

    def bind(self, quadrature) -> BoundKernel:
        return BoundKernel(
            self.kernel, Quadrature.of(quadrature), self.sigma, self.reference, self.y
        )


class KernelisedEnergy(Observer):
    """F(μ_t) + σ E_h(μ_t), the energy a "blob" or "smoothed_kl" flow dissipates (MATH §3.2)."""

    name = "energy"

    def __init__(self, energy, kernel: BoundKernel):
        self.energy, self.kernel = energy, kernel

    def __call__(self, t, rhos):
        return self.energy.value(rhos[0]) + self.kernel.value(rhos[0])


def solve_kernelised(
    problem: OptimisationProblem,
    flow: Flow,
    initial: str | Callable | np.ndarray,
    kernel: Kernel,
    *,
    cells: int | tuple[int, ...] | None = None,
    grid: Grid | None = None,
    t_end: float,
    dt: float | None = None,
    tolerance: float | None = None,
    save_every: int = 1,
    kernelised_transport: bool = True,
    progress: bool = True,
    operator_type: Callable[..., FlowOperatorBase] = FlowOperator,
) -> Solution:
    r"""Solve the kernelised flow ∂_t μ = γ∇·(μ∇g_h) − αμ(g_h − ⟨g_h⟩), g_h = δF/δμ + σe_h.

    This is the mean-field limit of the particle methods of MATH §6 (:mod:`mfpde.particles`):
    ``birth_death`` (γ = 0), ``weighted_wfr`` (γ, α > 0), and with
    ``kernelised_transport=False`` ``wfr_jump``, whose transport is the plain Fokker-Planck part
    γ∇·(μ∇(δF/δμ + σ log(μ/π))) (Langevin moves need no kernel).

    Discretisation (MATH §8): the reaction substep is the exact log update for a frozen field,
    log ρ ← log ρ − ατ g_h (σ_reaction = 0 with field g_h), then normalisation. The kernelised
    transport −γ∇·(ρ∇g_h) uses the Scharfetter-Gummel operator with the problem's σ and the field
    g_h − σ log(ρ*/π), ρ* the predictor state, so that its potential is g_h and the σ∇ρ part stays
    implicit; the flux is second order in space (plain upwinding of ρ∇g_h, what σ = 0 in the
    operator would give, is first order). Strang splitting with the midpoint predictor keeps
    second order in time. Convolutions: :func:`mfpde.sums.gaussian.smoothing_kernel`.

    Parameters
    ----------
    problem, flow, initial, cells, grid, t_end, dt, tolerance, save_every, progress
        As for :func:`mfpde.solve`.
    kernel : Kernel
        K_h and the variant.
    kernelised_transport : bool
        False for the plain transport of the ``wfr_jump`` particle scheme.
    operator_type : callable
        ``operator_type(grid, log_pi, sigma, gamma, alpha, sigma_reaction=0.0)`` builds the flow
        operator, as for :func:`mfpde.solve`: :class:`mfpde.fem.operator.P1FlowOperator` with a
        :class:`mfpde.fem.space.P1Space` as ``grid`` (e.g. on S²; see
        :func:`mfpde.fem.solve_kernelised`).

    Returns
    -------
    Solution
        Observers ``mass``, ``min_density`` and, for "blob" and "smoothed_kl", ``energy``
        (F + σE_h, non-increasing); ``minimiser`` is the plain Gibbs minimiser (σ > 0).
    """
    grid = resolve_grid(problem.domain, cells, grid, "solve_kernelised")
    require_finite_volumes(grid, "solve_kernelised")
    check_transport(flow, problem.sigma)
    bound = problem.bind(grid)
    smoothing = kernel.entropy(problem).bind(Quadrature.of(grid, problem.domain))
    operator = operator_type(
        grid, bound.log_pi, bound.sigma, flow.gamma, flow.alpha, sigma_reaction=0.0
    )

    def reaction_fields(rhos):
        return [bound.energy.first_variation(rhos[0]) + smoothing.first_variation(rhos[0])]

    def transport_fields(rhos):
        if not kernelised_transport:
            return [bound.energy.first_variation(rhos[0])]
        entropy = bound.sigma * (np.log(rhos[0]) - bound.log_pi)
        return [reaction_fields(rhos)[0] - entropy]

    system = System([operator], transport_fields, False, reaction_fields=reaction_fields)
    observers: list[Observer] = [Mass(grid.weights), MinDensity()]
    if kernel.variant != "density":
        observers.append(KernelisedEnergy(bound.energy, smoothing))
    rho0 = initial_density(initial, grid.points, grid.weights)
    minimiser = gibbs_minimiser(bound) if bound.sigma > 0 else None
    return run_to_solution(
        system, rho0, grid, flow, problem, minimiser, observers,
        t_end=t_end, dt=dt, tolerance=tolerance, save_every=save_every, progress=progress,
    )  # fmt: skip
