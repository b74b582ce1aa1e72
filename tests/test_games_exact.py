"""Game flows against exact solutions: G1 (decoupled games) and G2 (Gaussian quadratic game).

MATH §4.1. A decoupled payoff ℓ = f(x) − g(y) makes each player an optimisation flow (E1 for
γ = 0, E3 for Gaussian data), so a sign error in the ν-update shows at once; the quadratic game
couples the players' means through a 4-dimensional ODE (derived in :func:`_quadratic_game_ode`).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import fitted_order, normalised
from scipy.integrate import solve_ivp

import mfpde
from mfpde.expressions import parse
from mfpde.games import Bilinear, GameProblem, game_equilibrium, game_flow, solve_game

SIGMA = 0.5


def _gaussian(points: np.ndarray, precision: float, mean: float) -> np.ndarray:
    x = points[:, 0]
    return np.sqrt(precision / (2 * np.pi)) * np.exp(-precision * (x - mean) ** 2 / 2)


def _moments(grid: mfpde.Grid, density: np.ndarray) -> tuple[float, float]:
    """(precision, mean) of a density on a 1-D grid."""
    x, w = grid.points[:, 0], grid.weights
    mean = w @ (x * density)
    return 1 / (w @ (x**2 * density) - mean**2), mean


def test_g1_decoupled_fisher_rao_is_e1_for_each_player():
    """γ = 0, ℓ = f(x) − g(y): μ_t and ν_t follow E1 with V = f and V = g, α_μ ≠ α_ν."""
    f, g = "cos(x) + 0.3*sin(2*x)", "sin(y) - 0.4*cos(3*y)"
    alpha_mu, alpha_nu = 1.0, 2.5
    problem = GameProblem(
        mfpde.Torus(1),
        mfpde.Circle(),
        Bilinear(f"{f} - ({g})"),
        SIGMA,
        mfpde.Reference("exp(0.5*cos(x))"),
        mfpde.Reference("1.5 + sin(2*y)"),
    )
    flow = game_flow("fisher_rao", alpha=alpha_mu, alpha_nu=alpha_nu)
    sol = solve_game(
        problem,
        flow,
        "exp(sin(x))",
        "1 + 0.5*cos(y)",
        cells_mu=64,
        cells_nu=48,
        t_end=3.0,
        dt=0.1,
        progress=False,
    )
    errors = []
    for grid, density, alpha, letter, V, ref, rho0 in (
        (sol.grid_mu, sol.density_mu, alpha_mu, "x", f, "exp(0.5*cos(x))", "exp(sin(x))"),
        (sol.grid_nu, sol.density_nu, alpha_nu, "y", g, "1.5 + sin(2*y)", "1 + 0.5*cos(y)"),
    ):
        V, ref, rho0 = (parse(e, 1, (letter,))(grid.points) for e in (V, ref, rho0))
        log_star = np.log(ref) - V / SIGMA
        for t, rho in zip(sol.times, density):
            decay = np.exp(-alpha * SIGMA * t)  # E1: log μ_t = e^{−ασt} log μ_0 + (1 − ..) log μ*
            exact = normalised(decay * np.log(rho0) + (1 - decay) * log_star, grid.weights)
            errors.append(np.abs(rho / exact - 1).max())
    # The reaction substep is exact for frozen fields, and here the fields differ from f and g
    # by constants only (⟨g⟩_ν, ⟨f⟩_μ), which the normalisation removes: the scheme is exact up
    # to round-off of ~30 steps of exp/log of O(10) numbers.
    assert max(errors) < 1e-12


def _e3(P0: float, m0: float, lam: float, gamma: float, alpha: float, t: float):
    """E3 (MATH §3.1): dP/dt = σ(λ* − P)(2γP + α), dh/dt = σh(γ(λ* − 2P) − α), m = h/P."""

    def rhs(_, z):
        P, h = z
        return [
            SIGMA * (lam - P) * (2 * gamma * P + alpha),
            SIGMA * h * (gamma * (lam - 2 * P) - alpha),
        ]

    P, h = solve_ivp(rhs, (0, t), [P0, P0 * m0], rtol=1e-12, atol=1e-14).y[:, -1]
    return P, h / P


def test_g1_decoupled_wfr_da_gaussian_is_e3_for_each_player():
    """γ > 0: ℓ = k_x x²/2 − k_y y²/2, Gaussian π, ρ, μ₀, ν₀: each player follows E3.

    Rates differ per player (γ_μ, α_μ) ≠ (γ_ν, α_ν); interval [−10, 10] is ≥ 9 standard
    deviations from every mean. L¹ errors on 200 and 400 cells (dt ∝ h): order 2.
    """
    kx, ky, sx, sy = 1.0, 2.0, 1.0, 0.8
    rates = {"gamma": 0.7, "alpha": 1.0, "gamma_nu": 0.4, "alpha_nu": 2.0}
    (P0, m0), (Q0, n0), T = (1.0, 1.0), (2.0, -0.5), 1.0
    domain = mfpde.Interval(-10, 10)
    problem = GameProblem(
        domain,
        domain,
        Bilinear(f"{kx / 2}*x**2 - {ky / 2}*y**2"),
        SIGMA,
        mfpde.Reference(f"exp(-x**2/(2*{sx**2}))"),
        mfpde.Reference(f"exp(-y**2/(2*{sy**2}))"),
    )
    exact_mu = _e3(P0, m0, kx / SIGMA + 1 / sx**2, rates["gamma"], rates["alpha"], T)
    exact_nu = _e3(Q0, n0, ky / SIGMA + 1 / sy**2, rates["gamma_nu"], rates["alpha_nu"], T)
    errors = []
    for cells, dt in ((200, 0.02), (400, 0.01)):
        sol = solve_game(
            problem,
            game_flow("wfr_da", **rates),
            f"exp(-{P0}*(x-{m0})**2/2)",
            f"exp(-{Q0}*(y-({n0}))**2/2)",
            cells_mu=cells,
            t_end=T,
            dt=dt,
            save_every=1000,
            progress=False,
        )
        errors.append(
            [
                sol.grid_mu.weights
                @ np.abs(sol.density_mu[-1] - _gaussian(sol.grid_mu.points, *exact_mu)),
                sol.grid_nu.weights
                @ np.abs(sol.density_nu[-1] - _gaussian(sol.grid_nu.points, *exact_nu)),
            ]
        )
    errors = np.array(errors)
    # Measured: 8.6e-4, 6.8e-4 (200 cells) and 2.2e-4, 1.7e-4 (400 cells); second order in h
    # (Scharfetter-Gummel) and dt (Strang), so the ratio is 4 and the order 2 ± 0.1.
    assert errors[0].max() < 1.2e-3
    for k in range(2):
        assert abs(fitted_order([2, 1], errors[:, k]) - 2) < 0.1


#: The Gaussian quadratic game of MATH §4.1 G2: ℓ = c xy + (b/2)x² − (e/2)y², π = ρ = N(0, s²).
C, B, E, S = 1.5, 1.0, 0.5, 1.0
LAMBDA_MU, LAMBDA_NU = 1 / S**2 + B / SIGMA, 1 / S**2 + E / SIGMA


@pytest.fixture(scope="module")
def quadratic_game():
    domain = mfpde.Interval(-10, 10)
    problem = GameProblem(
        domain,
        domain,
        Bilinear(f"{C}*x*y + {B / 2}*x**2 - {E / 2}*y**2"),
        SIGMA,
        mfpde.Reference(f"exp(-x**2/(2*{S**2}))"),
        mfpde.Reference(f"exp(-y**2/(2*{S**2}))"),
    )
    return problem, mfpde.Grid(domain, 400)


def _quadratic_game_ode(alpha_mu, alpha_nu, start, t):
    r"""Fisher-Rao flow of the quadratic game on Gaussians (*derived here*, as E1/E3).

    log μ = −P x²/2 + h x, log ν = −Q y²/2 + k y stay quadratic: with m_μ = h/P, m_ν = k/Q,
    dP/dt = α_μσ(λ_μ − P), dh/dt = −α_μ(c m_ν + σh), dQ/dt = α_νσ(λ_ν − Q),
    dk/dt = α_ν(c m_μ − σk), λ_μ = 1/s² + b/σ, λ_ν = 1/s² + e/σ.
    """

    def rhs(_, z):
        P, h, Q, k = z
        return [
            alpha_mu * SIGMA * (LAMBDA_MU - P),
            -alpha_mu * (C * k / Q + SIGMA * h),
            alpha_nu * SIGMA * (LAMBDA_NU - Q),
            alpha_nu * (C * h / P - SIGMA * k),
        ]

    P, h, Q, k = solve_ivp(rhs, (0, t), start, rtol=1e-12, atol=1e-14).y[:, -1]
    return np.array([P, h / P, Q, k / Q])


def test_g2_mne_has_closed_form_precisions(quadratic_game):
    """The computed MNE is centred with precisions 1/s² + b/σ and 1/s² + e/σ."""
    problem, grid = quadratic_game
    eq = game_equilibrium(problem.bind(grid, grid))
    measured = np.array([*_moments(grid, eq.mu), *_moments(grid, eq.nu)])
    # The discrete MNE is a sampled Gaussian (the quadrature fields are exact quadratics); its
    # midpoint-rule moments are exact to e^{−2π²/(P h²)} and truncation at 10 std to e^{−50}:
    # only round-off remains (measured 2e-16).
    assert np.abs(measured - [LAMBDA_MU, 0.0, LAMBDA_NU, 0.0]).max() < 1e-12


def test_g2_fisher_rao_follows_the_mean_ode_and_converges(quadratic_game):
    """FR game flow from non-centred Gaussians: the coupled ODE at t = 2, the MNE at t = 60."""
    problem, grid = quadratic_game
    (P0, m0), (Q0, n0), alpha_mu, alpha_nu = (1.0, 1.0), (1.5, -0.5), 1.0, 2.0
    exact = _quadratic_game_ode(alpha_mu, alpha_nu, [P0, P0 * m0, Q0, Q0 * n0], 2.0)
    flow = game_flow("fisher_rao", alpha=alpha_mu, alpha_nu=alpha_nu)
    initial = (f"exp(-{P0}*(x-{m0})**2/2)", f"exp(-{Q0}*(y-({n0}))**2/2)")
    errors = []
    for dt in (0.04, 0.02):
        sol = solve_game(
            problem,
            flow,
            *initial,
            grid_mu=grid,
            grid_nu=grid,
            t_end=2.0,
            dt=dt,
            save_every=1000,
            progress=False,
        )
        measured = [*_moments(grid, sol.density_mu[-1]), *_moments(grid, sol.density_nu[-1])]
        errors.append(np.abs(np.array(measured) - exact))
    errors = np.array(errors)
    # Precisions evolve independently of the means and the reaction step is exact for them:
    # round-off only (measured 3e-15). The means carry the Strang/predictor error O(dt²):
    # measured 1.1e-4, 2.5e-4 at dt = 0.04 and a ratio 4.1 on halving dt.
    assert errors[:, [0, 2]].max() < 1e-12
    assert errors[0, [1, 3]].max() < 5e-4
    for k in (1, 3):
        assert abs(fitted_order([2, 1], errors[:, k]) - 2) < 0.1

    sol = solve_game(
        problem,
        flow,
        *initial,
        grid_mu=grid,
        grid_nu=grid,
        t_end=60.0,
        dt=0.1,
        save_every=1000,
        progress=False,
    )
    limit = [*_moments(grid, sol.density_mu[-1]), *_moments(grid, sol.density_nu[-1])]
    # P − λ_μ = (P_0 − λ_μ) e^{−α_μσt} exactly (ODE above): 2e^{−30} = 1.9e-13 at t = 60
    # (measured 1.9e-13; 4.1e-9 at t = 40); Q and the means converge faster.
    assert np.abs(np.array(limit) - [LAMBDA_MU, 0.0, LAMBDA_NU, 0.0]).max() < 1e-11
    assert sol.observers["lyapunov"][-1] < 1e-12
