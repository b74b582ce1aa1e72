r"""The sphere games of [003] §5.1 on S^{d−1} × S^{d−1}, any d ≥ 2, as built-in payoffs (MATH §2.2).

ℓ_a(x, y) = xᵀA₀x + xᵀA₁y + yᵀA₂y + yᵀA₃(x⊙x) + a₀ᵀx + a₁ᵀy   (non-convex),
ℓ_b(x, y) = xᵀA₀ᵀA₀x + xᵀA₁y + yᵀA₂ᵀA₂y + a₀ᵀx + a₁ᵀy,

x, y ∈ S^{d−1} ⊂ R^d, with ``rng = numpy.random.default_rng(seed)``, then
``A = rng.standard_normal((4, d, d))``, then ``a = rng.standard_normal((2, d))``: the same seed
gives the same game on every machine (d = 3: the games of S² × S²).

Both payoffs are polynomials of degree 2 in x and y, ℓ(x, y) = φ(x)ᵀ C φ(y) with φ the
(d + 1)(d + 2)/2 monomials of degree ≤ 2 (:class:`mfpde.sums.Monomials`), so their sums need only
moments of the other player (MATH §2.2): O(n d²) work on a mesh or for particles. The first
variations are quadratic forms whose coefficients are the moments m = E x, S = E[xxᵀ]
(:meth:`SphereGame.field_x`, :meth:`SphereGame.field_y`), which makes the unregularised NI error
exact (:func:`mfpde.games.ni_error_empirical`).
"""

from __future__ import annotations

import numpy as np

from mfpde import checks
from mfpde.errors import InputError
from mfpde.games.problem import Bilinear
from mfpde.sums import Monomials, feature_kernel

__all__ = ["SPHERE_GAMES", "SphereGame", "sphere_game", "moments"]

#: Names of the built-in payoffs (``[problem] payoff = "builtin:ell_a"`` in a config).
SPHERE_GAMES = ("ell_a", "ell_b")


def _quadratic(u: np.ndarray, matrix: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.einsum("...i,ij,...j->...", u, matrix, v)


def _sym(matrix: np.ndarray) -> np.ndarray:
    return 0.5 * (matrix + matrix.T)


def moments(points: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """m = Σ_i w_i x_i and S = Σ_i w_i x_i x_iᵀ of a weighted point cloud: shapes (d,), (d, d)."""
    points, weights = np.asarray(points, dtype=float), np.asarray(weights, dtype=float)
    return weights @ points, (points * weights[:, None]).T @ points


class SphereGame(Bilinear):
    r"""ℓ_a or ℓ_b of [003] §5.1 on S^{d−1} × S^{d−1} (module docstring), a :class:`Bilinear`.

    Attributes
    ----------
    name : {"ell_a", "ell_b"}
    dim : int
        d (points of R^d).
    seed : int
    A : ndarray, shape (4, d, d)
        A₀, A₁, A₂, A₃ as drawn (ℓ_b uses A₀ᵀA₀ and A₂ᵀA₂, and not A₃).
    a : ndarray, shape (2, d)
        a₀, a₁.
    quadratic_x, bilinear, quadratic_y, cross : ndarray, shape (d, d)
        The matrices of ℓ = xᵀQ₀x + xᵀA₁y + yᵀQ₂y + yᵀM(x⊙x) + a₀ᵀx + a₁ᵀy as used (Q₀ = A₀ or
        A₀ᵀA₀, Q₂ = A₂ or A₂ᵀA₂, M = A₃ or 0).
    """

    def __init__(self, name: str, seed: int, dim: int):
        if name not in SPHERE_GAMES:
            raise InputError(
                f"unknown built-in game {name!r} (choose from {', '.join(SPHERE_GAMES)})"
            )
        self.name, self.seed = name, seed
        self.dim = checks.integer("sphere game dimension d", dim, minimum=2)
        rng = np.random.default_rng(seed)
        self.A = rng.standard_normal((4, dim, dim))
        self.a = rng.standard_normal((2, dim))
        A, convex = self.A, name == "ell_b"
        self.quadratic_x = A[0].T @ A[0] if convex else A[0]
        self.quadratic_y = A[2].T @ A[2] if convex else A[2]
        self.bilinear = A[1]
        self.cross = np.zeros((dim, dim)) if convex else A[3]
        coupling = monomial_coupling(
            self.quadratic_x, self.bilinear, self.quadratic_y, self.cross, self.a[0], self.a[1]
        )
        features = Monomials(dim, 2)

        def kernel(domain_x, domain_y):
            return feature_kernel(features, coupling, features, domain_x, domain_y)

        super().__init__(self.ell_b if convex else self.ell_a, kernel=kernel)

    @property
    def scale(self) -> float:
        """max(‖sym Q₀‖₂, ‖A₁‖₂, ‖sym Q₂‖₂, ‖M‖₂): the size of ℓ and of its Hessians on the
        sphere (|ℓ| ≤ 3·scale + |a₀| + |a₁|), the unit that makes step sizes and temperatures
        comparable across d (ℓ_b grows like d, ℓ_a like √d)."""
        return max(
            float(np.linalg.norm(M, 2))
            for M in (_sym(self.quadratic_x), self.bilinear, _sym(self.quadratic_y), self.cross)
        )

    def ell_a(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """ℓ_a(x, y) on broadcasting point arrays of shape (..., d)."""
        A, a = self.A, self.a
        return (
            _quadratic(x, A[0], x)
            + _quadratic(x, A[1], y)
            + _quadratic(y, A[2], y)
            + _quadratic(y, A[3], x * x)
            + x @ a[0]
            + y @ a[1]
        )

    def ell_b(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """ℓ_b(x, y) on broadcasting point arrays of shape (..., d)."""
        A, a = self.A, self.a
        return (
            _quadratic(x, A[0].T @ A[0], x)
            + _quadratic(x, A[1], y)
            + _quadratic(y, A[2].T @ A[2], y)
            + x @ a[0]
            + y @ a[1]
        )

    def field_x(self, m_nu: np.ndarray, S_nu: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        r"""V_x[ν](x) = xᵀQ_x x + b_xᵀx + c_x from ν's moments m_ν = E_ν y, S_ν = E_ν[yyᵀ]
        (MATH §2.2): Q_x = sym(Q₀) + diag(Mᵀm_ν), b_x = A₁m_ν + a₀, c_x = ⟨Q₂, S_ν⟩ + a₁ᵀm_ν."""
        Q = _sym(self.quadratic_x) + np.diag(self.cross.T @ m_nu)
        b = self.bilinear @ m_nu + self.a[0]
        c = float(np.sum(self.quadratic_y * S_nu) + self.a[1] @ m_nu)
        return Q, b, c

    def field_y(self, m_mu: np.ndarray, S_mu: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        r"""V_y[μ](y) = yᵀQ_y y + b_yᵀy + c_y from μ's moments m_μ = E_μ x, S_μ = E_μ[xxᵀ]
        (MATH §2.2): Q_y = sym(Q₂), b_y = A₁ᵀm_μ + M s_μ + a₁ with s_μ = diag S_μ = E_μ[x⊙x],
        c_y = ⟨Q₀, S_μ⟩ + a₀ᵀm_μ."""
        Q = _sym(self.quadratic_y)
        b = self.bilinear.T @ m_mu + self.cross @ np.diag(S_mu) + self.a[1]
        c = float(np.sum(self.quadratic_x * S_mu) + self.a[0] @ m_mu)
        return Q, b, c


def sphere_game(name: str, seed: int = 0, dim: int = 3) -> SphereGame:
    """The payoff ℓ_a or ℓ_b of [003] §5.1 on S^{d−1} × S^{d−1} with matrices drawn from ``seed``.

    Parameters
    ----------
    name : {"ell_a", "ell_b"}
    seed : int
        Seed of ``numpy.random.default_rng``: A (4 × d × d), then a (2 × d), iid N(0, 1).
    dim : int
        d ≥ 2, the dimension of the points (3: S² × S², the games of the mesh backend).

    Returns
    -------
    SphereGame
        The payoff, a :class:`Bilinear` whose ``ell(x, y)`` takes point arrays of shape (..., d),
        with the matrices ``A``, ``a`` and the quadratic forms of its first variations.
    """
    return SphereGame(name, seed, dim)


def monomial_coupling(
    quadratic_x: np.ndarray,
    bilinear: np.ndarray,
    quadratic_y: np.ndarray,
    cross: np.ndarray,
    linear_x: np.ndarray,
    linear_y: np.ndarray,
) -> np.ndarray:
    r"""C with xᵀQ_x x + xᵀBy + yᵀQ_y y + yᵀM(x⊙x) + a_xᵀx + a_yᵀy = φ(x)ᵀ C φ(y).

    φ are the monomials of degree ≤ 2 in d coordinates (:class:`mfpde.sums.Monomials`).
    """
    d = len(linear_x)
    phi = Monomials(d, 2)
    C = np.zeros((phi.size, phi.size))

    def unit(*axes):  # the exponent of Π x_axes
        e = np.zeros(d, dtype=int)
        for k in axes:
            e[k] += 1
        return phi.index(e)

    one = unit()
    for i in range(d):
        C[unit(i), one] += linear_x[i]
        C[one, unit(i)] += linear_y[i]
        for j in range(d):
            C[unit(i, j), one] += quadratic_x[i, j]
            C[one, unit(i, j)] += quadratic_y[i, j]
            C[unit(i), unit(j)] += bilinear[i, j]
            C[unit(j, j), unit(i)] += cross[i, j]  # y_i M_ij x_j²
    return C
