r"""Kernels as feature maps: k(x, y) = Σ_{l,l'} φ_l(x) C_{ll'} ψ_{l'}(y) (MATH §2.1, §2.2, §3.2).

Every fast sum of mfpde is a sum through features: with the moments of the sources,

    m_{l'} = Σ_j c_j ψ_{l'}(y_j),   S(x_i) = Σ_j c_j k(x_i, y_j) = Σ_l φ_l(x_i) (C m)_l,

a sum over N targets and M sources costs O((N + M) · features) instead of O(NM), and the
transposed sum T(y_j) = Σ_i c_i k(x_i, y_j) = Σ_{l'} ψ_{l'}(y_j) (Cᵀ m̃)_{l'}, m̃ = Σ_i c_i φ(x_i),
as much. The gradient ∇S(x_i) = Σ_l ∇φ_l(x_i) (C m)_l needs only the features' gradients.

A :class:`Features` object evaluates its moments and its combinations Σ_l a_l φ_l(x_i) without
storing the N × F matrix: the tensor Fourier-Chebyshev bases of :mod:`mfpde.sums.tensor` by
non-uniform FFTs, polynomial features (:class:`Monomials`) by their few columns, the features
of a two-layer network (:mod:`mfpde.network`) by a compiled loop over the data points.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

__all__ = ["Features", "FeatureSum", "Monomials"]


class Features(ABC):
    """Functions φ_1, …, φ_F of a point, summed without an N × F matrix (module docstring)."""

    #: F, the number of features.
    size: int

    @abstractmethod
    def moments(self, points: np.ndarray, strengths: np.ndarray) -> np.ndarray:
        """m_l = Σ_j c_j φ_l(x_j), shape (F,)."""

    @abstractmethod
    def combine(
        self, points: np.ndarray, coefficients: np.ndarray, gradient: bool = False
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Σ_l a_l φ_l(x_i), shape (n,), and its gradient, shape (n, d) (None unless asked).

        The values are real: a complex basis takes the real part (the kernels are real).
        """


class FeatureSum:
    r"""The sums of k(x, y) = φ(x)ᵀ C ψ(y) between fixed target and source points (module doc).

    Parameters
    ----------
    phi, psi : Features
        The features of the first and the second argument.
    coupling : ndarray or scipy sparse matrix, shape (F_φ, F_ψ)
        C; anything supporting ``C @ v`` and ``C.T @ v``.
    x, y : ndarray
        The points of the first and second argument, shapes (n, d_x) and (m, d_y).
    """

    method = "features"

    def __init__(self, phi: Features, coupling, psi: Features, x: np.ndarray, y: np.ndarray):
        self.phi, self.coupling, self.psi, self.x, self.y = phi, coupling, psi, x, y

    def over_y(
        self, strengths: np.ndarray, gradient: bool = False
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """S(x_i) = Σ_j c_j k(x_i, y_j) and ∇_x S (module docstring)."""
        return self.phi.combine(
            self.x, self.coupling @ self.psi.moments(self.y, strengths), gradient
        )

    def over_x(
        self, strengths: np.ndarray, gradient: bool = False
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """T(y_j) = Σ_i c_i k(x_i, y_j) and ∇_y T (module docstring)."""
        return self.psi.combine(
            self.y, self.coupling.T @ self.phi.moments(self.x, strengths), gradient
        )


def _exponents(total: int, dim: int):
    """The exponents a ∈ N^dim with |a| = total, in lexicographic order (O(output) work)."""
    if dim == 1:
        yield (total,)
        return
    for first in range(total + 1):
        for rest in _exponents(total - first, dim - 1):
            yield (first, *rest)


class Monomials(Features):
    r"""The monomials x^a = Π_k x_k^{a_k} of total degree ≤ ``degree`` in d coordinates.

    A payoff polynomial in x and y (the sphere games of [003] §5.1, MATH §2.2, are of degree 2)
    is ℓ(x, y) = Σ C_{ab} x^a y^b exactly, so its sums need only the (d + degree choose d)
    moments of the other player. :attr:`exponents` lists the a's (degree-lexicographic).
    """

    def __init__(self, dim: int, degree: int):
        self.dim, self.degree = dim, degree
        self.exponents = np.array(
            [a for total in range(degree + 1) for a in _exponents(total, dim)], dtype=np.int64
        ).reshape(-1, dim)
        self.size = len(self.exponents)
        # x^a as a product of ``degree`` factors of (x_1, …, x_d, 1): factor r of monomial f is
        # coordinate _factors[f, r] (d for the constant), so sums cost O(n · F · degree)
        self._factors = np.array(
            [np.repeat(np.arange(dim + 1), np.append(a, degree - a.sum())) for a in self.exponents],
            dtype=np.int64,
        ).reshape(self.size, degree)

    def index(self, exponent) -> int:
        """Position of the monomial x^a in the feature vector."""
        hits = np.flatnonzero((self.exponents == np.asarray(exponent)).all(axis=1))
        return int(hits[0])

    def _factor_values(self, points: np.ndarray) -> np.ndarray:
        """The factors of every monomial at every point, shape (n, F, degree)."""
        extended = np.concatenate([points, np.ones((len(points), 1))], axis=1)
        return extended[:, self._factors]

    def moments(self, points, strengths):
        return strengths @ np.prod(self._factor_values(points), axis=-1)

    def combine(self, points, coefficients, gradient=False):
        factors = self._factor_values(points)
        values = np.prod(factors, axis=-1) @ coefficients
        if not gradient:
            return values, None
        # ∂_k Π_r z_{f,r} = Σ_r [f's factor r is x_k] Π_{r' ≠ r} z_{f,r'}
        grads = np.zeros((len(points), self.dim + 1))
        for r in range(self.degree):
            others = np.prod(np.delete(factors, r, axis=-1), axis=-1) * coefficients
            target = np.zeros((self.size, self.dim + 1))
            target[np.arange(self.size), self._factors[:, r]] = 1.0
            grads += others @ target
        return values, grads[:, : self.dim]
