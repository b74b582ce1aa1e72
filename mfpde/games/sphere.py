r"""The sphere games of [003] §5.1 on S² × S² as named built-in payoffs (MATH §2.2).

ℓ_a(x, y) = xᵀA₀x + xᵀA₁y + yᵀA₂y + yᵀA₃(x⊙x) + a₀ᵀx + a₁ᵀy   (non-convex),
ℓ_b(x, y) = xᵀA₀ᵀA₀x + xᵀA₁y + yᵀA₂ᵀA₂y + a₀ᵀx + a₁ᵀy,

x, y ∈ S² ⊂ R³, with the entries of A_i (3 × 3) and a_i (3) iid N(0, 1) drawn from
``numpy.random.default_rng(seed)``: the same seed gives the same game on every machine.
"""

from __future__ import annotations

import numpy as np

from mfpde.errors import InputError
from mfpde.games.problem import Bilinear

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

    return Bilinear(ell_a if name == "ell_a" else ell_b)
