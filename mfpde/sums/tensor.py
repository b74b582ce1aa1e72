r"""Tensor Fourier-Chebyshev bases summed by non-uniform FFTs (MATH §2, §3.2, §6).

A smooth kernel on a tensor box (each axis periodic or walled) is expanded in a product basis:
on a periodic axis of period P the Fourier modes e^{ikθ}, θ = 2π(x − a)/P; on a walled axis
[a, b] the Chebyshev polynomials T_k(t) = cos(kθ), t = (2x − a − b)/(b − a), θ = arccos t.
Both are written in *full-mode* form Σ_{k=−K}^{K} F_k e^{ikθ} (a Chebyshev series Σ a_k T_k is
the symmetric F_{±k} = a_k/2, F_0 = a_0), so one non-uniform FFT serves every axis:

- moments m_k = Σ_j c_j e^{ik·θ(x_j)}: ``finufft`` type 1 (``isign=+1``);
- combinations Σ_k F_k e^{ik·θ(x_i)}: type 2 (``isign=+1``), real part;
- gradients: per axis the derivative of the series as a (2K+1) × (2K+1) matrix on the
  coefficients (i k 2π/P on a Fourier axis; the Chebyshev derivative recurrence
  b_{k−1} = b_{k+1} + 2k a_k on a walled one, times dt/dx = 2/(b − a)), evaluated by the same
  type-2 transform: no division by sin θ, so the walls are as accurate as the interior.

:func:`expand` builds the coefficients C of k(x, y) = Σ C_{kl} e^{ik·θ(x)} e^{il·θ(y)} from
samples on the tensor nodes (equispaced on Fourier axes, Chebyshev-Gauss on walled ones) by FFT
and DCT, doubling the nodes until the coefficients fall below the tolerance, then truncating
there; :func:`translation_invariant` does the same for w(x − y) (a diagonal C in the Fourier
basis). Work of a sum: O((N + M)·w^d + K^d log K) (w the NUFFT kernel width), memory
O(N + M + C).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import finufft
import numpy as np
import scipy.fft
import scipy.sparse as sp

from mfpde.errors import InputError
from mfpde.sums.features import Features

__all__ = [
    "FourierAxis",
    "ChebyshevAxis",
    "TensorBasis",
    "Expansion",
    "expand",
    "translation_invariant",
    "SAMPLE_BUDGET",
]

#: Most samples of a kernel an expansion may take (2^22: 32 MB of values, 64 MB transformed).
SAMPLE_BUDGET = 2**22
#: Most entries of a dense coefficient matrix C (2^22 complex numbers: 64 MB).
COUPLING_BUDGET = 2**22
#: Nodes per axis an expansion starts with (doubled where the coefficients have not decayed).
START_NODES = 8

#: Points per NUFFT thread: below 10^5 points thread start-up costs more than it saves
#: (measured 1.9 ms with one thread against 37 ms with two for 2·10^4 points in 1-D).
_POINTS_PER_THREAD = 100_000


def _threads(n: int) -> int:
    """OpenMP threads of a NUFFT over n points (all cores from 2·10^5 points on)."""
    return max(1, min(os.cpu_count() or 1, n // _POINTS_PER_THREAD))


@dataclass(frozen=True)
class FourierAxis:
    """A periodic axis [a, a + P): the modes e^{ikθ}, θ = 2π(x − a)/P."""

    lower: float
    period: float

    def angles(self, x: np.ndarray) -> np.ndarray:
        """θ(x) in [−π, π)."""
        return np.mod(2 * np.pi * (x - self.lower) / self.period + np.pi, 2 * np.pi) - np.pi

    def nodes(self, n: int) -> np.ndarray:
        """n equispaced sample points."""
        return self.lower + self.period * np.arange(n) / n

    def coefficients(self, samples: np.ndarray, axis: int) -> np.ndarray:
        """Full-mode coefficients F_k, k = −n/2 … n/2 − 1 (FFT of the samples, over n)."""
        n = samples.shape[axis]
        return np.fft.fftshift(np.fft.fft(samples, axis=axis), axes=axis) / n

    @staticmethod
    def centre(length: int) -> int:
        """Index of mode 0 among the ``length`` = n coefficients of :meth:`coefficients`."""
        return length // 2

    def growth(self, k: np.ndarray) -> np.ndarray:
        """How a coefficient's mode grows under d/dx: |i k 2π/P|."""
        return 2 * np.pi * np.abs(np.asarray(k, dtype=float)) / self.period

    def derivative(self, modes: int) -> np.ndarray:
        """d/dx on the coefficients F_k, k = −K … K: the diagonal i k 2π/P."""
        k = np.arange(-modes, modes + 1)
        return np.diag(1j * k * 2 * np.pi / self.period)

    @staticmethod
    def converged(kept: int, n: int) -> bool:
        """Whether the K kept of n samples leave a margin below the Nyquist mode."""
        return kept <= n // 2 - 3


@dataclass(frozen=True)
class ChebyshevAxis:
    """A walled axis [a, b]: T_k(t) = cos(kθ), t = (2x − a − b)/(b − a), θ = arccos t."""

    lower: float
    upper: float

    def angles(self, x: np.ndarray) -> np.ndarray:
        """θ(x) = arccos t in [0, π] (points just outside [a, b] by round-off are clipped)."""
        t = (2 * x - self.lower - self.upper) / (self.upper - self.lower)
        return np.arccos(np.clip(t, -1.0, 1.0))

    def nodes(self, n: int) -> np.ndarray:
        """The n Chebyshev-Gauss points cos(π(j + ½)/n), mapped to [a, b]."""
        t = np.cos(np.pi * (np.arange(n) + 0.5) / n)
        return 0.5 * (self.lower + self.upper) + 0.5 * (self.upper - self.lower) * t

    def coefficients(self, samples: np.ndarray, axis: int) -> np.ndarray:
        """Full-mode coefficients F_k, k = −(n−1) … n−1, of the Chebyshev series (DCT-II)."""
        n = samples.shape[axis]
        a = scipy.fft.dct(samples, type=2, axis=axis) / n  # a_k for k >= 1; a_0 is half of it
        a = np.moveaxis(a, axis, 0)
        full = np.concatenate([a[:0:-1] / 2, a[:1] / 2, a[1:] / 2])
        return np.moveaxis(full, 0, axis)

    @staticmethod
    def centre(length: int) -> int:
        """Index of mode 0 among ``length`` = 2n − 1 coefficients of :meth:`coefficients`."""
        return (length - 1) // 2

    def growth(self, k: np.ndarray) -> np.ndarray:
        """How a coefficient's mode grows under d/dx: |T_k'| ≤ k² on [−1, 1], times 2/(b − a)."""
        return 2.0 * np.asarray(k, dtype=float) ** 2 / (self.upper - self.lower)

    def derivative(self, modes: int) -> np.ndarray:
        """d/dx on symmetric full-mode coefficients (fold, Chebyshev recurrence, unfold)."""
        K = modes
        fold = np.zeros((K + 1, 2 * K + 1))  # a_0 = F_0, a_k = F_k + F_{−k}
        fold[0, K] = 1.0
        for k in range(1, K + 1):
            fold[k, K + k] = fold[k, K - k] = 1.0
        recurrence = np.zeros((K + 1, K + 1))  # b = D a for f' = Σ b_k T_k
        for k in range(1, K + 1):
            for j in range(k - 1, -1, -2):
                recurrence[j, k] = 2 * k
        recurrence[0] /= 2
        unfold = np.zeros((2 * K + 1, K + 1))
        unfold[K, 0] = 1.0
        for k in range(1, K + 1):
            unfold[K + k, k] = unfold[K - k, k] = 0.5
        return (2 / (self.upper - self.lower)) * (unfold @ recurrence @ fold)

    @staticmethod
    def converged(kept: int, n: int) -> bool:
        """Whether the K kept of n samples leave a margin below the last coefficient."""
        return kept <= n - 3


Axis = FourierAxis | ChebyshevAxis


class TensorBasis(Features):
    """The product basis Π_a e^{ik_a θ_a(x_a)}, |k_a| ≤ K_a, on up to three axes (module doc).

    Parameters
    ----------
    axes : sequence of FourierAxis or ChebyshevAxis
    modes : sequence of int
        K_a per axis; the basis has Π_a (2K_a + 1) complex features (C order).
    tolerance : float
        Relative accuracy of the non-uniform FFTs (``eps`` of finufft).
    """

    def __init__(self, axes: list[Axis], modes: list[int], tolerance: float):
        if not 1 <= len(axes) <= 3:
            raise InputError(f"tensor bases have 1 to 3 axes, got {len(axes)}")
        self.axes, self.modes = list(axes), [int(k) for k in modes]
        self.shape = tuple(2 * k + 1 for k in self.modes)
        self.size = int(np.prod(self.shape))
        self.eps = max(float(tolerance), 1e-15)
        self._derivatives = [axis.derivative(k) for axis, k in zip(self.axes, self.modes)]
        self._plans: dict[tuple[int, int, int], finufft.Plan] = {}

    def _plan(self, kind: int, transforms: int, points: np.ndarray) -> finufft.Plan:
        """A finufft plan of this basis (made once per type, count and threads) at the points.

        Reusing plans saves their set-up (about 2 ms each, measured at 285 modes in 2-D).
        """
        key = (kind, transforms, _threads(len(points)))
        if key not in self._plans:
            self._plans[key] = finufft.Plan(
                kind, self.shape, transforms, eps=self.eps, isign=1, nthreads=key[2]
            )
        plan = self._plans[key]
        angles = [np.ascontiguousarray(a.angles(points[:, k])) for k, a in enumerate(self.axes)]
        plan.setpts(*angles)
        return plan

    def matrix(self, points: np.ndarray) -> np.ndarray:
        """The basis at a few points as a matrix (n, size): e^{ik·θ(x_i)} (for checks)."""
        out = np.ones((len(points), 1), dtype=complex)
        for a, (axis, K) in enumerate(zip(self.axes, self.modes)):
            column = np.exp(1j * np.outer(axis.angles(points[:, a]), np.arange(-K, K + 1)))
            out = (out[:, :, None] * column[:, None, :]).reshape(len(points), -1)
        return out

    def moments(self, points, strengths):
        c = np.ascontiguousarray(strengths, dtype=complex)
        return self._plan(1, 1, points).execute(c).ravel()

    def combine(self, points, coefficients, gradient=False):
        f = np.asarray(coefficients, dtype=complex).reshape(self.shape)
        stack = [f]
        if gradient:
            for a, derivative in enumerate(self._derivatives):
                stack.append(np.moveaxis(np.tensordot(derivative, f, axes=([1], [a])), 0, a))
        data = np.stack(stack) if gradient else f
        out = self._plan(2, len(stack), points).execute(data).real.reshape(len(stack), -1)
        return out[0], (out[1:].T.copy() if gradient else None)


def axes_of(domain) -> list[Axis]:
    """The basis axes of a tensor domain: Fourier on periodic axes, Chebyshev on walled ones."""
    return [
        FourierAxis(lo, hi - lo) if periodic else ChebyshevAxis(lo, hi)
        for lo, hi, periodic in zip(domain.lower, domain.upper, domain.periodic)
    ]


@dataclass
class Expansion:
    """k(x, y) ≈ Σ_{k,l} C_{kl} e^{ik·θ(x)} e^{il·θ(y)}: the two bases and the coupling C."""

    phi: TensorBasis
    coupling: np.ndarray | sp.spmatrix
    psi: TensorBasis
    #: max |k − expansion| / max |k| on random pairs, measured after building.
    error: float


#: Modes are kept down to this fraction of the tolerance, a margin for the modes dropped on
#: the other axes (measured: every sum of tests/test_sums.py within 0.15 of its tolerance).
MARGIN = 0.01


def _truncation(coefficients: np.ndarray, axes: list[Axis], tolerance: float, scale: float):
    """Per axis, the largest |mode k| that the values or the gradient need.

    A mode is kept while its coefficient (maximised over the other axes) exceeds
    MARGIN × tolerance × ``scale`` (the values), or while its coefficient times the growth of the
    mode under d/dx (2π|k|/P on a Fourier axis, 2k²/(b − a) on a Chebyshev one) exceeds
    MARGIN × tolerance × the largest such product (the gradient along that axis).
    """
    kept = []
    magnitude = np.abs(coefficients)
    for a, axis in enumerate(axes):
        profile = magnitude.max(axis=tuple(b for b in range(magnitude.ndim) if b != a))
        k = np.arange(profile.size) - axis.centre(profile.size)
        derivative = profile * axis.growth(k)
        big = (profile > MARGIN * tolerance * scale) | (
            derivative > MARGIN * tolerance * derivative.max()
        )
        kept.append(int(np.abs(k[big]).max()) if big.any() else 0)
    return kept


def _crop(coefficients: np.ndarray, axes: list[Axis], kept: list[int]) -> np.ndarray:
    """Modes −K … K of each axis (zero-padded where the samples had fewer)."""
    out = coefficients
    for a, (axis, K) in enumerate(zip(axes, kept)):
        n = out.shape[a]
        centre = axis.centre(n)
        index = np.arange(centre - K, centre + K + 1)
        valid = (index >= 0) & (index < n)
        taken = np.take(out, np.clip(index, 0, n - 1), axis=a)
        mask = np.reshape(valid, [-1 if b == a else 1 for b in range(out.ndim)])
        out = np.where(mask, taken, 0)
    return out


def _sample_and_transform(k: Callable, axes: list[Axis], nodes: list[int], split: int):
    grids = [axis.nodes(n) for axis, n in zip(axes, nodes)]
    mesh = np.meshgrid(*grids, indexing="ij", sparse=True)
    x = np.stack(np.broadcast_arrays(*mesh[:split]), axis=-1)
    y = np.stack(np.broadcast_arrays(*mesh[split:]), axis=-1)
    values = np.asarray(k(x, y), dtype=float)
    values = np.broadcast_to(values, tuple(nodes))
    if not np.all(np.isfinite(values)):
        return None, 0.0  # a singular kernel has no expansion (its direct sum reports where)
    coefficients = values.astype(complex)
    for a, axis in enumerate(axes):
        coefficients = axis.coefficients(coefficients, a)
    return coefficients, float(np.abs(values).max())


def expand(
    k: Callable,
    axes_x: list[Axis],
    axes_y: list[Axis],
    tolerance: float,
    budget: int = SAMPLE_BUDGET,
) -> Expansion | None:
    """The separable expansion of a smooth k(x, y) (module docstring), or None.

    ``k(x, y)`` takes broadcasting point arrays of shapes (..., d_x) and (..., d_y). Samples
    start at :data:`START_NODES` per axis and double on every axis whose coefficients have not
    fallen below ``tolerance/10`` × max|k| with a margin of three modes; None when k is not
    finite on the nodes, when that needs
    more than ``budget`` samples or a coupling above :data:`COUPLING_BUDGET` entries, or when
    the expansion misses k by more than ``tolerance`` × max|k| on 256 random pairs.
    """
    axes = list(axes_x) + list(axes_y)
    nodes = [START_NODES] * len(axes)
    while True:
        if int(np.prod(nodes)) > budget:
            return None
        coefficients, scale = _sample_and_transform(k, axes, nodes, len(axes_x))
        if coefficients is None:
            return None
        kept = _truncation(coefficients, axes, tolerance, scale)
        pending = [not axis.converged(K, n) for axis, K, n in zip(axes, kept, nodes)]
        if not any(pending):
            break
        nodes = [2 * n if p else n for n, p in zip(nodes, pending)]
    phi = TensorBasis(axes_x, kept[: len(axes_x)], tolerance / 10)
    psi = TensorBasis(axes_y, kept[len(axes_x) :], tolerance / 10)
    if phi.size * psi.size > COUPLING_BUDGET:
        return None
    coupling = _crop(coefficients, axes, kept).reshape(phi.size, psi.size)
    expansion = Expansion(phi, coupling, psi, 0.0)
    expansion.error = _check(k, expansion, scale)
    return expansion if expansion.error <= tolerance else None


def _check(k: Callable, expansion: Expansion, scale: float, pairs: int = 256) -> float:
    """max |k − expansion| / max |k| on seeded random pairs of the two boxes."""
    rng = np.random.default_rng(0)

    def draw(basis: TensorBasis) -> np.ndarray:
        columns = []
        for axis in basis.axes:
            lo = axis.lower
            hi = axis.lower + axis.period if isinstance(axis, FourierAxis) else axis.upper
            columns.append(lo + (hi - lo) * rng.random(pairs))
        return np.stack(columns, axis=-1)

    x, y = draw(expansion.phi), draw(expansion.psi)
    exact = np.asarray(k(x, y), dtype=float)
    phi, psi = expansion.phi.matrix(x), expansion.psi.matrix(y)
    # expansion(x_j, y_j) = φ(x_j)ᵀ C ψ(y_j): (C ψ(y_j))_j for all pairs at once
    approx = np.real(np.sum(phi * (expansion.coupling @ psi.T).T, axis=1))
    return float(np.abs(approx - exact).max() / max(scale, np.finfo(float).tiny))


def translation_invariant(
    w: Callable,
    periods: list[float],
    lowers: list[float],
    tolerance: float,
    fourier: Callable | None = None,
    budget: int = SAMPLE_BUDGET,
) -> Expansion | None:
    r"""k(x, y) = w(x − y) with w P-periodic per axis: C = diag(ŵ_k) (k ↦ −k for y), or None.

    ``w(s)`` takes differences of shape (..., d) in [−P/2, P/2)^d. The coefficients
    ŵ_k = (1/|P|) ∫ w(s) e^{−iω_k·s} ds come from ``fourier(omegas)`` (the exact transform,
    divided by |P|, e.g. a Gaussian's) if given, else from samples doubled until they decay
    below ``tolerance/10`` × max|w|; the modes are truncated there. Then
    S(x) = Σ_k ŵ_k e^{iω_k·x} Σ_j c_j e^{−iω_k·y_j}. None if the samples exceed ``budget``.
    """
    axes = [FourierAxis(lo, P) for lo, P in zip(lowers, periods)]
    if fourier is None:
        nodes = [START_NODES] * len(axes)
        while True:
            if int(np.prod(nodes)) > budget:
                return None
            grids = [P * (np.arange(n) / n - 0.5) for P, n in zip(periods, nodes)]
            s = np.stack(np.meshgrid(*grids, indexing="ij"), axis=-1)
            values = np.asarray(w(s), dtype=float)
            if not np.all(np.isfinite(values)):
                return None
            scale = float(np.abs(values).max())
            # Samples at s_j = −P/2 + jP/n: shift the phase so that mode k is e^{iω_k s}.
            hat = np.fft.fftshift(np.fft.fftn(np.fft.ifftshift(values))) / values.size
            kept = _truncation(hat, axes, tolerance, scale)
            pending = [not axis.converged(K, n) for axis, K, n in zip(axes, kept, nodes)]
            if not any(pending):
                break
            nodes = [2 * n if p else n for n, p in zip(nodes, pending)]
        hat = _crop(hat, axes, kept)
    else:
        kept = _analytic_modes(fourier, periods, tolerance)
        omegas = np.meshgrid(
            *[2 * np.pi * np.arange(-K, K + 1) / P for K, P in zip(kept, periods)],
            indexing="ij",
        )
        hat = np.asarray(fourier(np.stack(omegas, axis=-1)), dtype=complex)
        scale = None
    basis = TensorBasis(axes, kept, tolerance / 10)
    diagonal = hat.ravel()
    # ŵ_k pairs the x-mode k with the y-mode −k: flat index i ↦ R − 1 − i (all axes reversed).
    rows = np.arange(basis.size)
    coupling = sp.csr_matrix((diagonal, (rows, rows[::-1])), shape=(basis.size, basis.size))
    expansion = Expansion(basis, coupling, basis, 0.0)
    if scale is not None:
        expansion.error = _check(lambda x, y: w(_wrap(x - y, periods)), expansion, scale)
        if expansion.error > tolerance:
            return None
    return expansion


def _wrap(s: np.ndarray, periods: list[float]) -> np.ndarray:
    """Differences reduced to [−P/2, P/2) per axis."""
    P = np.asarray(periods)
    return np.mod(s + P / 2, P) - P / 2


def _analytic_modes(fourier: Callable, periods: list[float], tolerance: float) -> list[int]:
    """Per axis, the modes K the values and the gradient need (as :func:`_truncation`, with
    the exact transform along that axis instead of sampled coefficients)."""
    d = len(periods)
    kept = []
    for a, P in enumerate(periods):
        k = np.arange(0, 4097)
        omega = np.zeros((k.size, d))
        omega[:, a] = 2 * np.pi * k / P
        profile = np.abs(fourier(omega))
        derivative = profile * omega[:, a]
        big = (profile > MARGIN * tolerance * profile[0]) | (
            derivative > MARGIN * tolerance * derivative.max()
        )
        kept.append(int(k[big].max()))
    return kept
