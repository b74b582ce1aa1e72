r"""Kernel sums over particles in O(N) memory: a fused numba direct sum and a NUFFT fast sum.

Both compute, for targets t_i, sources s_j and strengths c_j,

    S(t_i) = Σ_j c_j K_h(t_i − s_j),   ∇S(t_i) = Σ_j c_j ∇K_h(t_i − s_j),

with K_h the tensor-product kernel of :class:`mfpde.kernels.Kernel` (Gaussian on walled axes,
periodised Gaussian on periodic ones; MATH §3.2), or on the sphere S² the von Mises-Fisher kernel
K_h(t, s) ∝ e^{κ t·s}, κ = 1/h², whose gradient in R³ is ∇_t K_h = κ s K_h (its tangent part is
the surface gradient). Neither method builds the M × N matrix (MATH §6).

- ``"direct"``: a numba loop over targets (``parallel=True``) and sources, O(MN) work, O(M + N)
  memory; exact up to round-off. The reference.
- ``"fast"``: non-uniform FFTs (``finufft``). Each axis is made periodic with period P (the
  length L of a periodic axis; L + δ on a walled axis, δ = h√(2 log(1/ε)), so that the spurious
  images of the Gaussian are below ε). On the period, K_h = (1/P) Σ_k e^{−h²ω_k²/2} e^{iω_k s},
  ω_k = 2πk/P, truncated where e^{−h²ω_k²/2} < ε. Then
  ĉ_k = Σ_j c_j e^{−iω_k s_j} (type 1, ``isign=-1``), and
  S(t) = Σ_k K̂_k ĉ_k e^{+iω_k t} (type 2, ``isign=+1``), ∇S from the multipliers iω_k.
  Work O(N + M + K^d log K). The NUFFT tolerance, the mode truncation and the images are each
  set to ε/10, so that the measured relative error max|S_fast − S| / max|S| (and the same for
  ∇S) stays below ε (tests/test_particles_kernels.py).
- On S² the sum is always the fused numba direct sum (both methods; no fast sum is needed at the
  N ≤ 10^4 of the sphere tests).
"""

from __future__ import annotations

import finufft
import numba
import numpy as np

from mfpde.domains import Domain, Sphere
from mfpde.errors import InputError
from mfpde.kernels import _TAIL, Kernel, axis_fourier, von_mises_fisher

__all__ = ["KernelSum", "SUM_METHODS"]

SUM_METHODS = ("fast", "direct")

_NUFFT = {
    1: (finufft.nufft1d1, finufft.nufft1d2),
    2: (finufft.nufft2d1, finufft.nufft2d2),
    3: (finufft.nufft3d1, finufft.nufft3d2),
}


@numba.njit(parallel=True, cache=True, fastmath=False)
def _direct(targets, sources, strengths, periods, images, h, gradient):  # pragma: no cover
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
def _direct_sphere(targets, sources, strengths, kappa, gradient):  # pragma: no cover
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
        values[i] = acc
        if gradient:
            grads[i, 0] = kappa * g0
            grads[i, 1] = kappa * g1
            grads[i, 2] = kappa * g2
    return values, grads


class KernelSum:
    """S(t) = Σ_j c_j K_h(t − s_j) and ∇S(t) on a domain (module docstring).

    Parameters
    ----------
    kernel : Kernel
        K_h (only its bandwidth and the domain's axes matter here).
    domain : Domain or Sphere
        Ω; its periodic axes use the periodised Gaussian; S² the von Mises-Fisher kernel.
    method : {"fast", "direct"}
        NUFFT fast sum or fused numba direct sum.
    tolerance : float
        ε of the fast sum (ignored by the direct sum).
    threads : int
        OpenMP threads of the NUFFT. One by default: at N ≤ 10^5 thread start-up costs more than
        it saves (measured 1.9 ms with one thread against 37 ms with two for N = 2·10^4 in 1-D on
        the project's loaded 2-core machine); replicas are parallelised over MPI ranks instead.
    """

    def __init__(
        self,
        kernel: Kernel,
        domain: Domain,
        method: str = "fast",
        tolerance: float = 1e-10,
        threads: int = 1,
    ):
        if method not in SUM_METHODS:
            raise InputError(
                f"unknown kernel sum {method!r} (choose from {', '.join(SUM_METHODS)})"
            )
        if not (np.isfinite(tolerance) and 1e-14 <= tolerance < 1):
            raise InputError(f"kernel sum tolerance must be in [1e-14, 1), got {tolerance}")
        self.kernel, self.domain, self.method, self.tolerance = kernel, domain, method, tolerance
        self.threads = threads
        if isinstance(domain, Sphere):
            return
        h = kernel.bandwidth
        periods = [p if p is not None else 0.0 for p in kernel.periods(domain)]
        self._periods = np.asarray(periods)
        self._images = np.array(
            [int(np.ceil(_TAIL * h / p + 0.5)) if p > 0 else 0 for p in periods], dtype=np.int64
        )
        self.lower = np.asarray(domain.lower)
        if method == "fast":
            reach = np.sqrt(2 * np.log(10 / tolerance))  # e^{−reach²/2} = ε/10
            self.fft_periods = np.array(
                [p if p > 0 else L + reach * h for p, L in zip(periods, domain.lengths)]
            )
            modes = np.ceil(self.fft_periods * reach / (2 * np.pi * h)).astype(int)
            self.omega = [
                2 * np.pi * np.arange(-k, k + 1) / P for k, P in zip(modes, self.fft_periods)
            ]
            hat = 1.0
            for a, om in enumerate(self.omega):
                shape = [1] * domain.dim
                shape[a] = om.size
                hat = hat * (axis_fourier(om, h) / self.fft_periods[a]).reshape(shape)
            self.hat = np.asarray(hat, dtype=complex)

    def _scaled(self, points: np.ndarray) -> list[np.ndarray]:
        """Coordinates mapped to [−π, π) per axis: 2π(x − lower)/P − π."""
        x = 2 * np.pi * (points - self.lower) / self.fft_periods - np.pi
        return [np.ascontiguousarray(x[:, a]) for a in range(self.domain.dim)]

    def __call__(
        self,
        targets: np.ndarray,
        sources: np.ndarray,
        strengths: np.ndarray,
        gradient: bool = False,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Return S at the targets, shape (M,), and ∇S, shape (M, d) (None unless ``gradient``)."""
        targets = np.ascontiguousarray(targets, dtype=float)
        sources = np.ascontiguousarray(sources, dtype=float)
        strengths = np.ascontiguousarray(strengths, dtype=float)
        if isinstance(self.domain, Sphere):
            h = float(self.kernel.bandwidth)
            values, grads = _direct_sphere(targets, sources, strengths, 1.0 / h**2, gradient)
            norm = float(von_mises_fisher(1.0, h))  # K_h at x·y = 1
            return norm * values, norm * grads if gradient else None
        if self.method == "direct":
            values, grads = _direct(
                targets,
                sources,
                strengths,
                self._periods,
                self._images,
                float(self.kernel.bandwidth),
                gradient,
            )
            return values, grads if gradient else None
        return self._fast(targets, sources, strengths, gradient)

    def _fast(self, targets, sources, strengths, gradient):
        d = self.domain.dim
        type1, type2 = _NUFFT[d]
        eps = max(self.tolerance / 10, 1e-15)
        modes = tuple(om.size for om in self.omega)
        coefficients = type1(
            *self._scaled(sources),
            strengths.astype(complex),
            modes,
            eps=eps,
            isign=-1,
            nthreads=self.threads,
        )
        coefficients *= self.hat
        stack = [coefficients]
        if gradient:
            for a, om in enumerate(self.omega):
                shape = [1] * d
                shape[a] = om.size
                stack.append(coefficients * (1j * om).reshape(shape))
        out = type2(
            *self._scaled(targets), np.stack(stack), eps=eps, isign=1, nthreads=self.threads
        ).real
        return out[0], (out[1:].T.copy() if gradient else None)
