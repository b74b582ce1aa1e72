"""The sphere games of [003] §5.1 on S^{d−1} × S^{d−1} (MATH §2.2), term by term.

The first variations of ℓ_a, ℓ_b are quadratic forms whose coefficients are moments of the other
player: V_x[ν](x) = xᵀQ_x x + b_xᵀx + c_x, V_y[μ](y) = yᵀQ_y y + b_yᵀy + c_y. Each coefficient is
checked against the formula of MATH §2.2 written out here, and the forms against the payoff
summed directly over the particles; the feature sums (monomials of degree ≤ 2) against the
same direct sums; d = 3 gives the S² games of before, bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest

from mfpde.domains import Sphere
from mfpde.errors import InputError
from mfpde.games import Bilinear, GameProblem, SphereGame, sphere_game
from mfpde.particles.games import payoff_fields
from mfpde.sums import pair_kernel

DIMS = [2, 3, 5, 10, 20]


def clouds(d: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X, Y = Sphere(d).uniform(rng, 40), Sphere(d).uniform(rng, 30)
    u, v = rng.random(40), rng.random(30)
    return X, u / u.sum(), Y, v / v.sum()


@pytest.mark.parametrize("d", DIMS)
@pytest.mark.parametrize("name", ["ell_a", "ell_b"])
def test_quadratic_forms_term_by_term(name, d):
    game = sphere_game(name, seed=2, dim=d)
    rng = np.random.default_rng(2)
    A, a = rng.standard_normal((4, d, d)), rng.standard_normal((2, d))
    np.testing.assert_array_equal(game.A, A)  # the documented draw order: A, then a
    np.testing.assert_array_equal(game.a, a)
    X, u, Y, v = clouds(d)
    m_mu, m_nu = u @ X, v @ Y
    s_mu = u @ (X * X)
    S_mu, S_nu = np.einsum("i,ij,ik->jk", u, X, X), np.einsum("j,ja,jb->ab", v, Y, Y)
    Q0 = A[0] if name == "ell_a" else A[0].T @ A[0]
    Q2 = A[2] if name == "ell_a" else A[2].T @ A[2]
    A3 = A[3] if name == "ell_a" else np.zeros((d, d))
    Q_x, b_x, c_x = game.field_x(m_nu, S_nu)
    Q_y, b_y, c_y = game.field_y(m_mu, S_mu)
    # MATH §2.2: Q_x = sym(A₀) + diag(A₃ᵀm_ν), b_x = A₁m_ν + a₀; Q_y = sym(A₂),
    # b_y = A₁ᵀm_μ + A₃s_μ + a₁ (ℓ_b: A₀ᵀA₀, A₂ᵀA₂, no A₃); c the other player's terms
    np.testing.assert_allclose(Q_x, (Q0 + Q0.T) / 2 + np.diag(A3.T @ m_nu), rtol=0, atol=1e-13)
    np.testing.assert_allclose(b_x, A[1] @ m_nu + a[0], rtol=0, atol=1e-13)
    assert c_x == pytest.approx(np.einsum("j,ja,ab,jb->", v, Y, Q2, Y) + a[1] @ m_nu, abs=1e-12)
    np.testing.assert_allclose(Q_y, (Q2 + Q2.T) / 2, rtol=0, atol=1e-13)
    np.testing.assert_allclose(b_y, A[1].T @ m_mu + A3 @ s_mu + a[1], rtol=0, atol=1e-13)
    assert c_y == pytest.approx(np.einsum("i,ia,ab,ib->", u, X, Q0, X) + a[0] @ m_mu, abs=1e-12)
    # the forms are ∫ℓ dν and ∫ℓ dμ summed directly (sums of 30–40 terms of size ≲ 3d: 1e-12)
    points = Sphere(d).uniform(rng, 50)
    direct_x = game.ell(points[:, None], Y[None]) @ v
    direct_y = u @ game.ell(X[:, None], points[None])
    form_x = np.einsum("na,ab,nb->n", points, Q_x, points) + points @ b_x + c_x
    form_y = np.einsum("na,ab,nb->n", points, Q_y, points) + points @ b_y + c_y
    assert np.abs(form_x - direct_x).max() < 1e-12 * d
    assert np.abs(form_y - direct_y).max() < 1e-12 * d
    # ℓ itself, written out from MATH §2.2 (with ℓ_a's yᵀA₃(x⊙x))
    x, y = X[:5], Y[:5]
    ell = (np.einsum("na,ab,nb->n", x, Q0, x) + np.einsum("na,ab,nb->n", x, A[1], y)
           + np.einsum("na,ab,nb->n", y, Q2, y) + np.einsum("na,ab,nb->n", y, A3, x * x)
           + x @ a[0] + y @ a[1])  # fmt: skip
    np.testing.assert_allclose(game.ell(x, y), ell, rtol=0, atol=1e-12 * d)


@pytest.mark.parametrize("d", DIMS)
def test_feature_sums_are_the_direct_sums(d):
    # (d + 1)(d + 2)/2 monomials of degree ≤ 2; the feature sums of V_x, V_y and their gradients
    # against the direct sums and central differences of the direct sums (step 1e-6 in R^d:
    # error ≈ 1e-12 · |∂³ℓ| ~ 1e-11 relative)
    game = sphere_game("ell_a", seed=0, dim=d)
    assert game.kernel(*(_quadrature(d),) * 2).features[0].size == (d + 1) * (d + 2) // 2
    X, u, Y, v = clouds(d, 1)
    problem = GameProblem(Sphere(d), Sphere(d), game, sigma=0.0)
    (Vx, dVx), (Vy, dVy) = payoff_fields(problem, X, u, Y, v, gradient=True)
    scale = np.abs(game.ell(X[:, None], Y[None])).max()
    assert np.abs(Vx - game.ell(X[:, None], Y[None]) @ v).max() < 1e-13 * scale
    assert np.abs(Vy - u @ game.ell(X[:, None], Y[None])).max() < 1e-13 * scale
    e = 1e-6 * np.eye(d)[0]
    fd = (game.ell((X + e)[:, None], Y[None]) - game.ell((X - e)[:, None], Y[None])) @ v / 2e-6
    assert np.abs(dVx[:, 0] - fd).max() < 1e-8 * scale


def _quadrature(d):
    from mfpde.quadrature import Quadrature

    return Quadrature(np.eye(d), np.ones(d), Sphere(d))


def test_d3_games_are_the_s2_games_bit_for_bit():
    # the S² games as they were built before any d (seed 5): A (4, 3, 3) then a (2, 3)
    rng = np.random.default_rng(5)
    A, a = rng.standard_normal((4, 3, 3)), rng.standard_normal((2, 3))
    X, _, Y, _ = clouds(3, 3)
    X = X[: len(Y)]
    quad = lambda p, M, q: np.einsum("...i,ij,...j->...", p, M, q)  # noqa: E731
    ell_a = (quad(X, A[0], X) + quad(X, A[1], Y) + quad(Y, A[2], Y) + quad(Y, A[3], X * X)
             + X @ a[0] + Y @ a[1])  # fmt: skip
    ell_b = (quad(X, A[0].T @ A[0], X) + quad(X, A[1], Y) + quad(Y, A[2].T @ A[2], Y)
             + X @ a[0] + Y @ a[1])  # fmt: skip
    np.testing.assert_array_equal(sphere_game("ell_a", 5).ell(X, Y), ell_a)
    np.testing.assert_array_equal(sphere_game("ell_b", seed=5, dim=3).ell(X, Y), ell_b)
    game = sphere_game("ell_b", 5)
    assert isinstance(game, SphereGame) and isinstance(game, Bilinear)
    assert (game.name, game.dim, game.seed) == ("ell_b", 3, 5)


def test_general_payoffs_beyond_three_axes_are_summed_directly():
    # an expression payoff on S⁴ × S⁴: no tensor expansion on 5 + 5 axes, the direct sum
    ell = "x1*y1 + x5*y5*x2"
    kernel = pair_kernel(Bilinear(ell).function((5, 5)), Sphere(5), Sphere(5), name="payoff")
    assert kernel.method == "direct"
    with pytest.raises(InputError, match='no "separable" sum on points of dimension 5 > 3'):
        pair_kernel(Bilinear(ell).function((5, 5)), Sphere(5), method="separable")
    X, u, Y, v = clouds(5, 4)
    problem = GameProblem(Sphere(5), Sphere(5), Bilinear(ell), sigma=0.0)
    (Vx, dVx), _ = payoff_fields(problem, X, u, Y, v, gradient=True)
    direct = X[:, 0] * (v @ Y[:, 0]) + X[:, 4] * X[:, 1] * (v @ Y[:, 4])
    assert np.abs(Vx - direct).max() < 1e-14
    assert np.abs(dVx[:, 1] - X[:, 4] * (v @ Y[:, 4])).max() < 1e-14


def test_bad_games():
    with pytest.raises(InputError, match="unknown built-in game"):
        sphere_game("ell_c")
    with pytest.raises(InputError, match="must be an integer >= 2"):
        sphere_game("ell_a", dim=1)
    with pytest.raises(InputError, match="must be an integer >= 2"):
        Sphere(1)


def test_scale_bounds_the_payoff():
    # |ℓ(x, y)| ≤ 3·scale + |a₀| + |a₁| on the sphere (each quadratic term ≤ its spectral norm;
    # |yᵀM(x⊙x)| ≤ ‖M‖ |x⊙x| ≤ ‖M‖), checked at 10⁴ random pairs; the bound is attained
    # within a factor 5 (measured ratios 0.24–0.76)
    for d in (3, 20):
        for name in ("ell_a", "ell_b"):
            game = sphere_game(name, seed=0, dim=d)
            X, _, Y, _ = clouds(d, 5)
            x, y = np.repeat(X, len(Y), axis=0), np.tile(Y, (len(X), 1))
            bound = 3 * game.scale + np.linalg.norm(game.a, axis=1).sum()
            assert bound / 5 < np.abs(game.ell(x, y)).max() <= bound
