r"""Smoothing kernels K_h and the kernelised flows of particle systems (MATH §3.2).

An empirical measure has no density, so the entropy term σ log(μ/π) of g = δF^σ/δμ is replaced
by a kernel smoothing. K_h is a tensor product of one-dimensional kernels: on a walled axis
(interval, box) the Gaussian of standard deviation h,

    k_h(s) = e^{−s²/(2h²)} / (√(2π) h),

on a periodic axis of length L (torus, circle) the periodised Gaussian (the heat kernel at time
h²/2), k_h(s) = Σ_m e^{−(s + mL)²/(2h²)} / (√(2π) h) = (1/L) Σ_k e^{−h²ω_k²/2} e^{iω_k s},
ω_k = 2πk/L. On the sphere S² it is the von Mises-Fisher kernel (MATH §3.2)

    K_h(x, y) = κ e^{κ x·y} / (4π sinh κ) = κ e^{κ(x·y − 1)} / (2π(1 − e^{−2κ})),  κ = 1/h²,

normalised so that ∫_{S²} K_h(x, y) dy = 1 (for small h, the Gaussian of width h in the tangent
plane). With (K_h*μ)(x) = ∫ K_h(x, y) μ(dy), the three variants of MATH §3.2 give the
kernelised first variation σ e_h[μ] that replaces σ log(μ/π):

- ``"density"``:      e_h = log(K_h*μ / π);
- ``"blob"``:         e_h = log(K_h*μ / π) + K_h*(μ / K_h*μ), the first variation of
  E_h(μ) = ∫ log(K_h*μ / π) dμ;
- ``"smoothed_kl"``:  e_h = K_h*[log(K_h*μ / π) + 1] (convolution against dy), the first
  variation of KL(K_h*μ | π) = ∫ K_h*μ log(K_h*μ / π) dy.

:meth:`Kernel.bind` attaches a kernel to a quadrature (like
:meth:`mfpde.energies.Energy.bind`): convolutions are quadrature sums Σ_j w_j K_h(x_i, x_j) f_j.
:class:`BoundKernel` writes the variants once over an abstract convolution; :class:`GridKernel`
convolves on a finite-volume grid axis by axis (K_h is a tensor product), by FFT along periodic
axes and by a dense n_k × n_k matrix along walled ones; :class:`QuadratureKernel` on any other
quadrature (the nodes and lumped masses of :class:`mfpde.fem.space.P1Space`) by dense rows split
across MPI ranks (:class:`mfpde.rows.RowPartition`). :func:`solve_kernelised` solves the
mean-field PDE of each particle method of :mod:`mfpde.particles` on the mesh, so that particles are
compared with the limit of their own dynamics (MATH §7).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mfpde.domains import Domain, Sphere
from mfpde.equilibrium import gibbs_minimiser
from mfpde.errors import InputError
from mfpde.flows import Flow
from mfpde.fv.grid import Grid
from mfpde.fv.operator import FlowOperator
from mfpde.observers import Mass, MinDensity
from mfpde.operator import FlowOperatorBase
from mfpde.problem import OptimisationProblem
from mfpde.rows import RowPartition
from mfpde.solver import Solution, check_transport, initial_density, resolve_grid, run_to_solution
from mfpde.stepper import Observer, System

__all__ = [
    "VARIANTS",
    "Kernel",
    "BoundKernel",
    "GridKernel",
    "QuadratureKernel",
    "axis_kernel",
    "von_mises_fisher",
    "axis_fourier",
    "KernelisedEnergy",
    "solve_kernelised",
]

VARIANTS = ("density", "blob", "smoothed_kl")

#: e^{−s²/(2h²)} < 1e-16 beyond this many bandwidths: the image sums stop there.
_TAIL = 8.6


def axis_kernel(s: np.ndarray, h: float, period: float | None = None) -> np.ndarray:
    """k_h(s): the Gaussian of width h, periodised over ``period`` if given (module docstring).

    The image sum keeps every image within 8.6 h (the rest is below 1e-16 relative).
    """
    s = np.asarray(s, dtype=float)
    norm = 1.0 / (np.sqrt(2 * np.pi) * h)
    if period is None:
        return norm * np.exp(-0.5 * (s / h) ** 2)
    s = np.mod(s + period / 2, period) - period / 2
    images = int(np.ceil(_TAIL * h / period + 0.5))
    out = np.zeros_like(s)
    for m in range(-images, images + 1):
        out += np.exp(-0.5 * ((s + m * period) / h) ** 2)
    return norm * out


def von_mises_fisher(cosine: np.ndarray, h: float) -> np.ndarray:
    """K_h(x, y) on S² as a function of x·y (module docstring), without overflow for small h."""
    kappa = 1.0 / h**2
    return kappa / (2 * np.pi * -np.expm1(-2 * kappa)) * np.exp(kappa * (np.asarray(cosine) - 1))


def axis_fourier(omega: np.ndarray, h: float) -> np.ndarray:
    """The Fourier transform ∫ k_h(s) e^{−iωs} ds = e^{−h²ω²/2} of the Gaussian."""
    return np.exp(-0.5 * (h * omega) ** 2)


@dataclass(frozen=True)
class Kernel:
    """A smoothing kernel K_h and the kernelised entropy variant it defines (MATH §3.2).

    Parameters
    ----------
    variant : {"density", "blob", "smoothed_kl"}
        Which kernelisation of σ log(μ/π) (module docstring).
    bandwidth : float
        h > 0, the standard deviation of the Gaussian per axis (κ = 1/h² on S²).
    """

    variant: str
    bandwidth: float

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise InputError(
                f"unknown kernel variant {self.variant!r} (choose from {', '.join(VARIANTS)})"
            )
        h = self.bandwidth
        if isinstance(h, bool) or not isinstance(h, (int, float)) or not (np.isfinite(h) and h > 0):
            raise InputError(f"kernel bandwidth must be a number > 0, got {h!r}")

    def periods(self, domain: Domain) -> list[float | None]:
        """The period of each axis (its length if periodic, None if walled)."""
        return [float(L) if p else None for L, p in zip(domain.lengths, domain.periodic)]

    def values(self, domain: Domain, difference: np.ndarray) -> np.ndarray:
        """K_h(x − y) for differences of shape ``(..., d)``: the product of the axis kernels."""
        out = 1.0
        for k, period in enumerate(self.periods(domain)):
            out = out * axis_kernel(difference[..., k], self.bandwidth, period)
        return out

    def pairwise(self, domain: Domain | Sphere, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The matrix K_h(x_i, y_j) for points x (m, d) and y (n, d) of ``domain``."""
        if isinstance(domain, Sphere):
            return von_mises_fisher(x @ y.T, self.bandwidth)
        return self.values(domain, x[:, None, :] - y[None, :, :])

    def bind(
        self, grid, log_pi: np.ndarray, sigma: float, domain: Domain | Sphere | None = None
    ) -> BoundKernel:
        """Attach to a quadrature with the normalised log π on its points.

        A finite-volume :class:`~mfpde.fv.grid.Grid` gives a :class:`GridKernel`; any other
        quadrature (``points``, ``weights`` and optionally an MPI ``comm``, e.g. a
        :class:`~mfpde.fem.space.P1Space`) a :class:`QuadratureKernel` on ``domain``.
        """
        if isinstance(grid, Grid):
            return GridKernel(self, grid, log_pi, sigma)
        if domain is None:
            raise InputError("binding a kernel to a quadrature needs its domain")
        comm = getattr(grid, "comm", None)
        return QuadratureKernel(self, grid.points, grid.weights, domain, log_pi, sigma, comm)


class BoundKernel(ABC):
    r"""A kernel on a quadrature (x_j, w_j): σ e_h[ρ] and σ E_h[ρ] (MATH §3.2).

    The variants (module docstring) are written here once; subclasses provide the convolution
    (K_h*f)(x_i) = Σ_j w_j K_h(x_i, x_j) f_j.
    """

    def __init__(self, kernel: Kernel, weights: np.ndarray, log_pi: np.ndarray, sigma: float):
        self.kernel, self.weights, self.log_pi, self.sigma = kernel, weights, log_pi, sigma

    @abstractmethod
    def convolve(self, f: np.ndarray) -> np.ndarray:
        """(K_h*f)(x_i) = Σ_j w_j K_h(x_i, x_j) f_j (K_h*μ for f = ρ, K_h*[f dy] otherwise)."""

    def log_smoothed(self, rho: np.ndarray) -> np.ndarray:
        """log(K_h*μ / π) at the points."""
        return np.log(self.convolve(rho)) - self.log_pi

    def first_variation(self, rho: np.ndarray) -> np.ndarray:
        """σ e_h[ρ] at the points (module docstring)."""
        log_ratio = self.log_smoothed(rho)
        variant = self.kernel.variant
        if variant == "density":
            e = log_ratio
        elif variant == "blob":
            e = log_ratio + self.convolve(rho / np.exp(log_ratio + self.log_pi))
        else:
            e = self.convolve(log_ratio + 1.0)
        return self.sigma * e

    def value(self, rho: np.ndarray) -> float:
        """σ E_h (``"blob"``) or σ KL(K_h*μ | π) (``"smoothed_kl"``); "density" has none."""
        w = self.weights
        log_ratio = self.log_smoothed(rho)
        if self.kernel.variant == "blob":
            return self.sigma * float(w @ (rho * log_ratio))
        if self.kernel.variant == "smoothed_kl":
            return self.sigma * float(w @ (np.exp(log_ratio + self.log_pi) * log_ratio))
        raise InputError('the "density" kernelisation is not a gradient flow: it has no energy')


class GridKernel(BoundKernel):
    """A kernel on a finite-volume grid: (K_h*f)(x_i) axis by axis (module docstring).

    Along a periodic axis the sum is a circular convolution (FFT, exact), along a walled axis a
    dense matrix product.
    """

    def __init__(self, kernel: Kernel, grid: Grid, log_pi: np.ndarray, sigma: float):
        super().__init__(kernel, grid.weights, log_pi, sigma)
        self.grid = grid
        self._axes: list[tuple[bool, np.ndarray]] = []
        for k, period in enumerate(kernel.periods(grid.domain)):
            n, step = grid.shape[k], grid.h[k]
            offsets = np.arange(n) * step
            if period is not None:
                column = step * axis_kernel(offsets, kernel.bandwidth, period)
                self._axes.append((True, np.fft.rfft(column)))
            else:
                diff = offsets[:, None] - offsets[None, :]
                self._axes.append((False, step * axis_kernel(diff, kernel.bandwidth)))

    def convolve(self, f: np.ndarray) -> np.ndarray:
        """(K_h*f)(x_i) = Σ_j w_j K_h(x_i − x_j) f_j on the cells."""
        shape = self.grid.shape
        out = f.reshape(shape)
        for k, (periodic, op) in enumerate(self._axes):
            if periodic:
                out = np.fft.irfft(np.fft.rfft(out, axis=k) * _along(op, k, out.ndim), shape[k], k)
            else:
                out = np.moveaxis(np.tensordot(op, out, axes=([1], [k])), 0, k)
        return out.ravel()


class QuadratureKernel(BoundKernel):
    """A kernel on a general quadrature (x_j, w_j): dense rows split across MPI ranks.

    Each rank stores its block of rows w_j K_h(x_i, x_j), i ∈ [start, stop) of
    :class:`~mfpde.rows.RowPartition` (n²/ranks values: 3 MB for the 642 nodes of
    ``icosphere(3)``, 52 MB for the 2562 of ``icosphere(4)``); a convolution is one product
    and one ``Allgatherv``.
    """

    def __init__(
        self,
        kernel: Kernel,
        points: np.ndarray,
        weights: np.ndarray,
        domain: Domain | Sphere,
        log_pi: np.ndarray,
        sigma: float,
        comm=None,
    ):
        super().__init__(kernel, weights, log_pi, sigma)
        self.rows = RowPartition(len(points), comm)
        block = points[self.rows.start : self.rows.stop]
        self._block = kernel.pairwise(domain, block, points) * weights[None, :]

    def convolve(self, f: np.ndarray) -> np.ndarray:
        """(K_h*f)(x_i) = Σ_j w_j K_h(x_i, x_j) f_j at every point (the same on all ranks)."""
        return self.rows.gather(self._block @ f)


def _along(values: np.ndarray, axis: int, ndim: int) -> np.ndarray:
    shape = [1] * ndim
    shape[axis] = values.size
    return values.reshape(shape)


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
    second order in time. Convolutions: :class:`GridKernel` or :class:`QuadratureKernel`.

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
        :func:`mfpde.fem.solve_kernelised`), whose convolutions are a :class:`QuadratureKernel`.

    Returns
    -------
    Solution
        Observers ``mass``, ``min_density`` and, for "blob" and "smoothed_kl", ``energy``
        (F + σE_h, non-increasing); ``minimiser`` is the plain Gibbs minimiser (σ > 0).
    """
    grid = resolve_grid(problem.domain, cells, grid, "solve_kernelised")
    check_transport(flow, problem.sigma)
    bound = problem.bind(grid.points, grid.weights, grid)
    smoothing = kernel.bind(grid, bound.log_pi, bound.sigma, problem.domain)
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
