"""Entropic MNE, NI error and time averages (MATH §2.2, §4.1 G3, §5.5).

The NI error is checked against two independent formulas: the four-term log-sum-exp form of
MATH §2.2 for bilinear payoffs, and for a non-bilinear convex-concave payoff against the
one-dimensional dual of its inner problems (:func:`_ni_by_duality`).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize_scalar
from scipy.special import logsumexp

import mfpde
import mfpde.games.problem as game_problem
from mfpde.games import (
    Bilinear,
    ConvexConcave,
    GameProblem,
    Quadrature,
    TimeAverage,
    game_equilibrium,
    ni_error,
)
from mfpde.problem import kl_divergence

SIGMA = 0.5
PAYOFF = "cos(x - y) + 0.5*sin(x)*cos(2*y) + 0.3*cos(x) - 0.4*sin(2*y)"


def _bind(problem: GameProblem, cells_mu: int, cells_nu: int):
    grids = mfpde.Grid(problem.domain_mu, cells_mu), mfpde.Grid(problem.domain_nu, cells_nu)
    return problem.bind(*grids)


@pytest.fixture(scope="module")
def torus_game():
    """A bilinear game on T¹ × S¹ with non-uniform references and a non-trivial MNE."""
    problem = GameProblem(
        mfpde.Torus(1),
        mfpde.Circle(),
        Bilinear(PAYOFF),
        SIGMA,
        mfpde.Reference("exp(cos(x))"),
        mfpde.Reference("exp(0.5*sin(y))"),
    )
    return _bind(problem, 96, 80)


def _random_density(rng, n: int, weights: np.ndarray) -> np.ndarray:
    rho = rng.uniform(0.05, 3.0, n)
    return rho / (weights @ rho)


def _ni_log_sum_exp(game, mu, nu) -> float:
    """NI = σKL(μ|π) + σKL(ν|ρ) + σ log∫ρe^{V_y/σ} + σ log∫πe^{−V_x/σ} (MATH §2.2), literally."""
    s, (wx, wy) = game.sigma, game.weights
    V_x, V_y = game.payoff.fields(mu, nu)
    return (
        s * kl_divergence(mu, np.exp(game.log_pi), wx)
        + s * kl_divergence(nu, np.exp(game.log_rho), wy)
        + s * logsumexp(game.log_rho + V_y / s, b=wy)
        + s * logsumexp(game.log_pi - V_x / s, b=wx)
    )


def test_mne_reaches_tolerance_and_has_zero_ni(torus_game):
    """G3: residual < 1e-12 in sup norm of log-densities; NI(μ*, ν*) ≤ 1e-10; fixed point."""
    eq = game_equilibrium(torus_game)
    assert eq.residual < 1e-12
    # NI is quadratic in the residual: σ·O(1e-24) (measured 5e-26).
    assert 0 <= ni_error(torus_game, eq.mu, eq.nu) <= 1e-10
    V_x, V_y = torus_game.payoff.fields(eq.mu, eq.nu)
    for rho, log_gibbs, w in (
        (eq.mu, torus_game.log_pi - V_x / SIGMA, torus_game.x.weights),
        (eq.nu, torus_game.log_rho + V_y / SIGMA, torus_game.y.weights),
    ):
        gibbs = np.exp(log_gibbs - logsumexp(log_gibbs, b=w))
        assert np.abs(np.log(rho / gibbs)).max() < 1e-11  # the residual, independently


def test_mne_of_strongly_coupled_game(torus_game):
    """A coupling 5/σ = 10 (where the plain damped iteration would spiral): still 1e-12."""
    problem = GameProblem(
        mfpde.Torus(1), mfpde.Torus(1), Bilinear(f"5*({PAYOFF})"), SIGMA,
        mfpde.Reference("exp(cos(x))"),
    )  # fmt: skip
    game = _bind(problem, 64, 64)
    eq = game_equilibrium(game)
    assert eq.residual < 1e-12
    assert ni_error(game, eq.mu, eq.nu) < 1e-10


def test_ni_of_random_densities_is_the_log_sum_exp_formula_and_positive(torus_game, rng):
    """NI ≥ 0 on 20 random density pairs and equals the literal formula of MATH §2.2."""
    wx, wy = torus_game.weights
    for _ in range(20):
        mu, nu = _random_density(rng, len(wx), wx), _random_density(rng, len(wy), wy)
        ni = ni_error(torus_game, mu, nu)
        assert ni > 0
        # Both forms sum O(1) terms in double precision: agreement to 1e-12 relative.
        assert ni == pytest.approx(_ni_log_sum_exp(torus_game, mu, nu), rel=1e-12, abs=1e-14)


def test_unregularised_ni_is_the_sigma_to_zero_limit(torus_game, rng):
    """σ = 0: NI = max V_y[μ] − min V_x[ν], the limit of the entropic NI as σ → 0 (MATH §2.2)."""
    wx, wy = torus_game.weights
    mu, nu = _random_density(rng, len(wx), wx), _random_density(rng, len(wy), wy)
    zero = game_problem.BoundGame(**{**torus_game.__dict__, "sigma": 0.0})
    V_x, V_y = torus_game.payoff.fields(mu, nu)
    assert ni_error(zero, mu, nu) == pytest.approx(V_y.max() - V_x.min(), rel=1e-14)
    small = game_problem.BoundGame(**{**torus_game.__dict__, "sigma": 1e-4})
    # σ log∫ρe^{V/σ} → max V with an O(σ log(1/σ)) error: 1e-3 at σ = 1e-4.
    assert ni_error(small, mu, nu) == pytest.approx(ni_error(zero, mu, nu), abs=2e-3)


KAPPA = 0.8


def _moment_game() -> ConvexConcave:
    r"""F = ∫∫ℓ dμdν + (κ/2)⟨cos x⟩²_μ − (κ/2)⟨sin y⟩²_ν: convex in μ, concave in ν."""
    ell = mfpde.expressions.parse(PAYOFF, 1, ("x", "y"))

    def parts(x, wx, mu, y, wy, nu):
        matrix = ell(x[:, None], y[None, :])
        phi, psi = np.cos(x[:, 0]), np.sin(y[:, 0])
        return matrix, phi, psi, wx @ (mu * phi), wy @ (nu * psi)

    def value(*args):
        matrix, _, _, a, b = parts(*args)
        x, wx, mu, y, wy, nu = args
        return (wx * mu) @ matrix @ (wy * nu) + KAPPA / 2 * (a**2 - b**2)

    def first_variation_mu(*args):
        matrix, phi, _, a, _ = parts(*args)
        return matrix @ (args[4] * args[5]) + KAPPA * a * phi

    def first_variation_nu(*args):
        matrix, _, psi, _, b = parts(*args)
        return (args[1] * args[2]) @ matrix - KAPPA * b * psi

    return ConvexConcave(value, first_variation_mu, first_variation_nu)


def _ni_by_duality(game, mu, nu) -> float:
    r"""NI for :func:`_moment_game` via −(κ/2)m² = min_λ[λ²/(2κ) − λm] (Sion's minimax):

    sup_ν' F^σ(μ, ν') = (κ/2)⟨φ⟩²_μ + σKL(μ|π) + min_λ [λ²/(2κ) + σ log∫ρ e^{(V_y − λψ)/σ}],
    inf_μ' F^σ(μ', ν) = −(κ/2)⟨ψ⟩²_ν − σKL(ν|ρ) + max_λ [−λ²/(2κ) − σ log∫π e^{−(V_x + λφ)/σ}],
    with V_x, V_y the bilinear part's fields: two scalar convex minimisations.
    """
    s, (wx, wy) = game.sigma, game.weights
    x, y = game.x.points[:, 0], game.y.points[:, 0]
    phi, psi = np.cos(x), np.sin(y)
    V = Bilinear(PAYOFF).bind(game.x, game.y).fields(mu, nu)
    kl_mu = kl_divergence(mu, np.exp(game.log_pi), wx)
    kl_nu = kl_divergence(nu, np.exp(game.log_rho), wy)
    opts = {"xatol": 1e-12}
    sup = (
        minimize_scalar(
            lambda lam: (
                lam**2 / (2 * KAPPA) + s * logsumexp(game.log_rho + (V[1] - lam * psi) / s, b=wy)
            ),
            bounds=(-10, 10),
            method="bounded",
            options=opts,
        ).fun
        + KAPPA / 2 * (wx @ (mu * phi)) ** 2
        + s * kl_mu
    )
    inf = (
        -minimize_scalar(
            lambda lam: (
                lam**2 / (2 * KAPPA) + s * logsumexp(game.log_pi - (V[0] + lam * phi) / s, b=wx)
            ),
            bounds=(-10, 10),
            method="bounded",
            options=opts,
        ).fun
        - KAPPA / 2 * (wy @ (nu * psi)) ** 2
        - s * kl_nu
    )
    return sup - inf  # fmt: skip


def test_general_payoff_ni_by_inner_optimisation_matches_duality(rng):
    """Non-bilinear F: NI by gibbs_minimiser on the inner problems = NI by scalar duality."""
    problem = GameProblem(
        mfpde.Torus(1), mfpde.Torus(1), _moment_game(), SIGMA, mfpde.Reference("exp(cos(x))")
    )
    game = _bind(problem, 64, 64)
    wx, wy = game.weights
    for _ in range(5):
        mu, nu = _random_density(rng, 64, wx), _random_density(rng, 64, wy)
        ni = ni_error(game, mu, nu)
        assert ni > 0
        # Inner problems solved to 1e-12 in log ρ (error in the optimal value: second order),
        # scalar minimisations to xatol 1e-12 on λ: agreement to 1e-10 absolute.
        assert ni == pytest.approx(_ni_by_duality(game, mu, nu), abs=1e-10)
    eq = game_equilibrium(game)
    assert eq.residual < 1e-12
    assert ni_error(game, eq.mu, eq.nu) < 1e-10
    assert abs(_ni_by_duality(game, eq.mu, eq.nu)) < 1e-10


def test_compiled_payoff_sums_equal_stored_rows(rng):
    """ℓ(x_i, y_j) summed by the compiled direct loops (points summed once) or by the stored
    rows (a mesh) gives the same fields, up to the order of summation (1e-13)."""
    ell = Bilinear("cos(x)*y + x*y**2", method="direct")
    problem = GameProblem(mfpde.Torus(1), mfpde.Interval(-1, 2), ell)
    gx, gy = mfpde.Grid(problem.domain_mu, 50), mfpde.Grid(problem.domain_nu, 30)
    stored = problem.bind(gx, gy)
    once = problem.bind(*(Quadrature(g.points, g.weights, g.domain, reuse=False) for g in (gx, gy)))
    assert stored.payoff.sums.dense and not once.payoff.sums.dense
    wx, wy = stored.weights
    mu, nu = _random_density(rng, 50, wx), _random_density(rng, 30, wy)
    for a, b in zip(stored.fields(mu, nu), once.fields(mu, nu)):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-13)  # summation order only


def test_payoff_with_different_dimensions():
    """X = [0, 1] (1-D) and Y = T² (2-D): ℓ(x, y) in x and y1, y2."""
    problem = GameProblem(
        mfpde.Interval(0, 1), mfpde.Torus(2), Bilinear("x*cos(y1) + sin(y2 - x)"), SIGMA
    )
    game = _bind(problem, 12, 10)
    x, y = game.x.points, game.y.points
    expected = x * np.cos(y[:, 0]) + np.sin(y[:, 1] - x)  # (12, 1) against (100,)
    np.testing.assert_array_equal(game.payoff.sums._rows(), expected)
    eq = game_equilibrium(game)
    assert ni_error(game, eq.mu, eq.nu) < 1e-10


def test_time_average_is_exact_for_piecewise_linear_paths():
    """μ̄_t = (1/t)∫_0^t μ_s ds by the trapezoidal rule: exact for μ_s = a + s b."""
    a, b = np.array([1.0, 2.0]), np.array([0.5, -0.25])
    average = TimeAverage()
    for t in (0.0, 0.1, 0.35, 1.0):
        average.add(t, [a + t * b])
    np.testing.assert_allclose(average.densities[0], a + 0.5 * b, rtol=1e-15)
