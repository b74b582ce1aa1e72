r"""The smoothing kernels K_h of MATH §3.2 and their sums (fast and direct).

K_h is a tensor product of one-dimensional kernels: on a walled axis the Gaussian of standard
deviation h, k_h(s) = e^{−s²/(2h²)}/(√(2π) h); on a periodic axis of length L the periodised
Gaussian (the heat kernel at time h²/2), k_h(s) = Σ_m e^{−(s + mL)²/(2h²)}/(√(2π) h)
= (1/L) Σ_k e^{−h²ω_k²/2} e^{iω_k s}, ω_k = 2πk/L. On the sphere S² it is the von Mises-Fisher
kernel K_h(x, y) = κ e^{κ(x·y − 1)}/(2π(1 − e^{−2κ})), κ = 1/h², normalised so that
∫_{S²} K_h(x, y) dy = 1.

:func:`smoothing_kernel` gives its :class:`~mfpde.sums.PairKernel`: on a grid the exact FFT
convolution of its values at the cell offsets; at points the Fourier sum of
:func:`~mfpde.sums.tensor.translation_invariant` with the exact coefficients e^{−h²|ω|²/2}/|P|
(walled axes periodic with P = L + rh, e^{−r²/2} = tolerance/10). On S² the same Fourier sum
in R³: for unit vectors |x − y|² = 2 − 2x·y, so K_h(x, y) = c_κ e^{−|x − y|²/(2h²)}, a
Gaussian in the cube [−1, 1]³ that holds the sphere (no n × n matrix on a mesh of S²). With
``method="direct"``, :class:`GaussianDirectSum`: fused numba loops, exact to round-off, the
reference the fast sums are tested against.
"""

from __future__ import annotations

import numba
import numpy as np

from mfpde.domains import Domain, Sphere
from mfpde.errors import InputError
from mfpde.quadrature import bounding_box
from mfpde.sums.tensor import translation_invariant

__all__ = [
    "TAIL",
    "axis_kernel",
    "von_mises_fisher",
    "axis_fourier",
    "GaussianDirectSum",
    "smoothing_kernel",
]

#: e^{−s²/(2h²)} < 1e-16 beyond this many bandwidths: the image sums stop there.
TAIL = 8.6


def axis_kernel(s: np.ndarray, h: float, period: float | None = None) -> np.ndarray:
    """k_h(s): the Gaussian of width h, periodised over ``period`` if given (module docstring).

    The image sum keeps every image within 8.6 h (the rest is below 1e-16 relative).
    """
    s = np.asarray(s, dtype=float)
    norm = 1.0 / (np.sqrt(2 * np.pi) * h)
    if period is None:
        return norm * np.exp(-0.5 * (s / h) ** 2)
    s = np.mod(s + period / 2, period) - period / 2
    images = int(np.ceil(TAIL * h / period + 0.5))
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


@numba.njit(parallel=True, cache=True, fastmath=False)
def _flat(targets, sources, strengths, periods, images, h, gradient):  # pragma: no cover
    m, d = targets.shape
    values = np.zeros(m)
    grads = np.zeros((m, d)) if gradient else np.zeros((0, d))
    inv2h2 = 0.5 / (h * h)
    norm = (1.0 / (np.sqrt(2.0 * np.pi) * h)) ** d
    for i in numba.prange(m):
        k_axis = np.empty(d)
        dk_axis = np.empty(d)
        acc = 0.0
        gacc = np.zeros(d)
        for j in range(sources.shape[0]):
            prod = 1.0
            for a in range(d):
                s = targets[i, a] - sources[j, a]
                if periods[a] > 0:
                    s = s - periods[a] * np.floor(s / periods[a] + 0.5)
                val = 0.0
                der = 0.0
                for q in range(-images[a], images[a] + 1):
                    u = s + q * periods[a]
                    e = np.exp(-u * u * inv2h2)
                    val += e
                    der -= u * e
                k_axis[a] = val
                dk_axis[a] = der / (h * h)
                prod *= val
            acc += strengths[j] * prod
            if gradient:
                for a in range(d):
                    rest = 1.0
                    for b in range(d):
                        if b != a:
                            rest *= k_axis[b]
                    gacc[a] += strengths[j] * dk_axis[a] * rest
        values[i] = norm * acc
        if gradient:
            for a in range(d):
                grads[i, a] = norm * gacc[a]
    return values, grads


@numba.njit(parallel=True, cache=True, fastmath=False)
def _sphere(targets, sources, strengths, kappa, norm, gradient):  # pragma: no cover
    m = targets.shape[0]
    values = np.zeros(m)
    grads = np.zeros((m, 3)) if gradient else np.zeros((0, 3))
    for i in numba.prange(m):
        acc = 0.0
        g0 = g1 = g2 = 0.0
        for j in range(sources.shape[0]):
            cosine = (
                targets[i, 0] * sources[j, 0]
                + targets[i, 1] * sources[j, 1]
                + targets[i, 2] * sources[j, 2]
            )
            e = strengths[j] * np.exp(kappa * (cosine - 1.0))
            acc += e
            if gradient:
                g0 += e * sources[j, 0]
                g1 += e * sources[j, 1]
                g2 += e * sources[j, 2]
        values[i] = norm * acc
        if gradient:
            grads[i, 0] = norm * kappa * g0
            grads[i, 1] = norm * kappa * g1
            grads[i, 2] = norm * kappa * g2
    return values, grads


class GaussianDirectSum:
    """The direct sums of a smoothing kernel between fixed points (module docstring).

    Parameters
    ----------
    bandwidth : float
        h.
    periods : sequence of float or None
        Per axis the period (periodised Gaussian) or None (Gaussian); ``None`` for S² (vMF).
    x, y : ndarray
        Target and source points.
    """

    method = "direct"

    def __init__(self, bandwidth: float, periods, x: np.ndarray, y: np.ndarray):
        self.h, self.x, self.y = float(bandwidth), x, y
        self.sphere = periods is None
        if self.sphere:
            self.norm = float(von_mises_fisher(1.0, self.h))  # K_h at x·y = 1
        else:
            p = np.array([P if P is not None else 0.0 for P in periods])
            self.periods = p
            self.images = np.array(
                [int(np.ceil(TAIL * self.h / P + 0.5)) if P > 0 else 0 for P in p], dtype=np.int64
            )

    def _sum(self, targets, sources, strengths, gradient):
        strengths = np.ascontiguousarray(strengths, dtype=float)
        if self.sphere:
            values, grads = _sphere(
                targets, sources, strengths, 1.0 / self.h**2, self.norm, gradient
            )
        else:
            values, grads = _flat(
                targets, sources, strengths, self.periods, self.images, self.h, gradient
            )
        return values, (grads if gradient else None)

    def over_y(self, strengths, gradient=False):
        """S(x_i) = Σ_j c_j K_h(x_i, y_j) and ∇S."""
        return self._sum(self.x, self.y, strengths, gradient)

    def over_x(self, strengths, gradient=False):
        """T(y_j) = Σ_i c_i K_h(x_i, y_j) and ∇T (K_h is symmetric)."""
        return self._sum(self.y, self.x, strengths, gradient)


def smoothing_kernel(bandwidth: float, domain, method: str = "fast", tolerance: float = 1e-10):
    """The :class:`~mfpde.sums.PairKernel` of K_h on a domain (module docstring).

    Parameters
    ----------
    bandwidth : float
        h.
    domain : Domain or Sphere
        Ω (its periodic axes use the periodised Gaussian; S² the von Mises-Fisher kernel).
    method : {"fast", "direct"}
        The Fourier sum at points (and the exact FFT on grids), or :class:`GaussianDirectSum`.
    tolerance : float
        Relative accuracy of the fast sum.
    """
    from mfpde.sums import PairKernel  # the package imports this module

    if not isinstance(domain, (Domain, Sphere)):
        raise InputError(
            f"the smoothing kernel needs its domain (a Domain or the Sphere), got {domain!r}"
        )
    if isinstance(domain, Sphere) and domain.dim != 3:
        raise InputError(
            "the von Mises-Fisher smoothing kernel is built for S² (dim = 3), "
            f"not S^{domain.dim - 1}"
        )
    h = float(bandwidth)
    box = bounding_box(domain)
    reach = np.sqrt(2 * np.log(10 / tolerance))  # e^{−reach²/2} = tolerance/10
    if isinstance(domain, Sphere):
        norm = float(von_mises_fisher(1.0, h)) * (2 * np.pi * h * h) ** 1.5  # c_κ (2πh²)^{3/2}
        periods, direct_periods = [2.0 + reach * h] * 3, None

        def k(x, y):
            return von_mises_fisher(np.sum(x * y, axis=-1), h)
    else:
        norm = 1.0
        direct_periods = [float(L) if p else None for L, p in zip(box.lengths, box.periodic)]
        periods = [
            P if P is not None else L + reach * h for P, L in zip(direct_periods, box.lengths)
        ]

        def k(x, y):
            out = 1.0
            for a, P in enumerate(direct_periods):
                out = out * axis_kernel(x[..., a] - y[..., a], h, P)
            return out

    def fourier(omega):
        return norm * np.prod(axis_fourier(omega, h), axis=-1) / np.prod(periods)

    def direct(x, y, comm=None):
        return GaussianDirectSum(h, direct_periods, x, y)

    if method == "direct":
        return PairKernel(k, box, box, method="direct", translation=isinstance(domain, Domain),
                          direct=direct)  # fmt: skip
    expansion = translation_invariant(None, periods, list(box.lower), tolerance, fourier=fourier)
    return PairKernel(k, box, box, method="fourier", translation=isinstance(domain, Domain),
                      expansion=expansion, direct=direct, requested="fourier")  # fmt: skip
