r"""The sphere games of [003] §5.1 on S² × S² as named built-in payoffs (MATH §2.2).

ℓ_a(x, y) = xᵀA₀x + xᵀA₁y + yᵀA₂y + yᵀA₃(x⊙x) + a₀ᵀx + a₁ᵀy   (non-convex),
ℓ_b(x, y) = xᵀA₀ᵀA₀x + xᵀA₁y + yᵀA₂ᵀA₂y + a₀ᵀx + a₁ᵀy,

x, y ∈ S² ⊂ R³, with the entries of A_i (3 × 3) and a_i (3) iid N(0, 1) drawn from
``numpy.random.default_rng(seed)``: the same seed gives the same game on every machine.

Both payoffs are polynomials of degree 2 in x and y, ℓ(x, y) = φ(x)ᵀ C φ(y) with φ the ten
monomials of degree ≤ 2 (:class:`mfpde.sums.Monomials`), so their sums need only ten moments of
the other player (MATH §2.2): O(n) work and memory on a mesh or for particles.
"""

from __future__ import annotations

import numpy as np

from mfpde.errors import InputError
from mfpde.games.problem import Bilinear
from mfpde.sums import Monomials, feature_kernel

__all__ = ["SPHERE_GAMES", "sphere_game"]

#: Names of the built-in payoffs (``[problem] payoff = "builtin:ell_a"`` in a config).
SPHERE_GAMES = ("ell_a", "ell_b")


def _quadratic(u: np.ndarray, matrix: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.einsum("...i,ij,...j->...", u, matrix, v)


def sphere_game(name: str, seed: int = 0) -> Bilinear:
    """The payoff ℓ_a or ℓ_b of [003] §5.1 with matrices drawn from ``seed``.

    Parameters
    ----------
    name : {"ell_a", "ell_b"}
    seed : int
        Seed of the iid N(0, 1) entries of A₀…A₃, a₀, a₁ (drawn in that order).

    Returns
    -------
    Bilinear
        The payoff, a vectorised callable ℓ(x, y) on points of shape (..., 3).
    """
    if name not in SPHERE_GAMES:
        raise InputError(f"unknown built-in game {name!r} (choose from {', '.join(SPHERE_GAMES)})")
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((4, 3, 3))
    a = rng.standard_normal((2, 3))

    def ell_a(x, y):
        return (
            _quadratic(x, A[0], x)
            + _quadratic(x, A[1], y)
            + _quadratic(y, A[2], y)
            + _quadratic(y, A[3], x * x)
            + x @ a[0]
            + y @ a[1]
        )

    def ell_b(x, y):
        return (
            _quadratic(x, A[0].T @ A[0], x)
            + _quadratic(x, A[1], y)
            + _quadratic(y, A[2].T @ A[2], y)
            + x @ a[0]
            + y @ a[1]
        )

    quadratic_x = A[0] if name == "ell_a" else A[0].T @ A[0]
    quadratic_y = A[2] if name == "ell_a" else A[2].T @ A[2]
    cross = A[3] if name == "ell_a" else np.zeros((3, 3))
    coupling = monomial_coupling(quadratic_x, A[1], quadratic_y, cross, a[0], a[1])
    features = Monomials(3, 2)

    def kernel(domain_x, domain_y):
        return feature_kernel(features, coupling, features, domain_x, domain_y)

    return Bilinear(ell_a if name == "ell_a" else ell_b, kernel=kernel)


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
