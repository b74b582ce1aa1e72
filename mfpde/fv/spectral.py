r"""Fourier pseudo-spectral transport on periodic grids: spectral accuracy for smooth problems.

The transport-diffusion part of the flow (MATH §3), γ∇·(ρ∇g) = γσ ∇·(m ∇(ρ/m)) with the
Gibbs state m ∝ e^{−Φ/σ} of the frozen potential Φ = h − σ log π, is discretised at the cell
centres of a periodic grid (equispaced nodes) with the Fourier differentiation matrices D_k of
each axis (the derivative of the trigonometric interpolant; the Nyquist mode of an even axis is
dropped, so D_k is real and skew-symmetric):

    A = γσ Σ_k D_k diag(m) D_k diag(m)^{-1}.

Then 1ᵀA = 0 (mass: 1ᵀD_k = 0), A m = 0 (the Gibbs state is the exact discrete equilibrium,
D_k 1 = 0), and diag(m)^{-1/2} A diag(m)^{1/2} = γσ Σ_k (M^{1/2} D_k M^{-1/2})ᵀ(...)·(−1) is
symmetric negative semi-definite, so e^{τA} is computed exactly by the eigen path of
:mod:`mfpde.fv.exponential`. The error is spectral (faster than any power of h for smooth,
periodic data; measured by ``tests/test_fast_transport.py``), but A is not an M-matrix: positivity
is not guaranteed, and a negative density stops the run (:class:`~mfpde.errors.NumericalError`).
The Scharfetter-Gummel scheme of :mod:`mfpde.fv.operator` stays the default. The quadrature is
the grid's (the trapezoidal rule, spectrally accurate on periodic axes) and the reaction part is
pointwise, as for the finite volumes.
"""

from __future__ import annotations

import numpy as np

from mfpde.errors import InputError
from mfpde.fv.grid import Grid
from mfpde.fv.operator import FlowOperator

__all__ = ["FourierFlowOperator", "fourier_derivative", "FOURIER_CELLS"]

#: Largest periodic grid of the dense pseudo-spectral operator (an eigendecomposition per field).
FOURIER_CELLS = 4096


def fourier_derivative(cells: int, period: float) -> np.ndarray:
    """The (cells, cells) Fourier differentiation matrix of equispaced nodes on one period."""
    k = np.fft.fftfreq(cells, d=period / (2 * np.pi * cells))
    if cells % 2 == 0:
        k[cells // 2] = 0.0  # the Nyquist mode has no real derivative
    identity = np.eye(cells)
    return np.real(np.fft.ifft(1j * k[:, None] * np.fft.fft(identity, axis=0), axis=0))


class FourierFlowOperator(FlowOperator):
    """The flow operator of :class:`~mfpde.fv.operator.FlowOperator` with Fourier transport.

    Same parameters; the grid must be periodic on every axis with at most :data:`FOURIER_CELLS`
    cells, and the transport is exact in time (``scheme`` "expm" or "eigen").
    """

    def __init__(
        self,
        grid: Grid,
        log_pi: np.ndarray,
        sigma: float,
        gamma: float,
        alpha: float,
        scheme: str = "expm",
        sigma_reaction: float | None = None,
    ):
        if not grid.periodic:
            raise InputError(f"space 'fourier' needs a periodic grid (torus, circle), got {grid}")
        if grid.size > FOURIER_CELLS:
            raise InputError(
                f"space 'fourier' is dense: at most {FOURIER_CELLS} cells, got {grid.size}"
            )
        if scheme not in ("expm", "eigen"):
            raise InputError(
                f"space 'fourier' advances transport exactly: scheme 'expm', got {scheme!r}"
            )
        super().__init__(grid, log_pi, sigma, gamma, alpha, "eigen", sigma_reaction)
        self.derivatives = [
            self._on_axis(fourier_derivative(n, length), k)
            for k, (n, length) in enumerate(zip(grid.shape, grid.domain.lengths))
        ]

    def _on_axis(self, derivative: np.ndarray, axis: int) -> np.ndarray:
        """I ⊗ … ⊗ D ⊗ … ⊗ I: the derivative along ``axis`` on C-ordered cells."""
        out = np.ones((1, 1))
        for k, n in enumerate(self.grid.shape):
            out = np.kron(out, derivative if k == axis else np.eye(n))
        return out

    def assemble(self, phi: np.ndarray) -> np.ndarray:
        """A = γσ Σ_k D_k diag(m) D_k diag(m)^{-1}, m = s² (module docstring)."""
        m = self.gibbs_root(phi) ** 2
        flux = sum(d @ (m[:, None] * d) for d in self.derivatives)
        return (self.gamma * self.sigma) * flux / m[None, :]
