"""Game flows on the torus: Lyapunov decay, long-time limits, spatial order (MATH §4, §5.2, §8)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import fitted_order

import mfpde
from mfpde.games import (
    Bilinear,
    GameProblem,
    game_equilibrium,
    game_flow,
    solve_game,
)

SIGMA = 0.5
PAYOFF = "cos(x - y) + 0.5*sin(x)*cos(2*y)"
INITIAL = ("exp(sin(x))", "1 + 0.5*cos(y)")

#: Mass is renormalised after every reaction substep and kept by the transport matrix's zero
#: column sums: a few hundred steps accumulate ~1e-14.
MASS_TOL = 1e-12


@pytest.fixture(scope="module")
def torus_problem() -> GameProblem:
    return GameProblem(
        mfpde.Torus(1),
        mfpde.Torus(1),
        Bilinear(PAYOFF),
        SIGMA,
        mfpde.Reference("exp(cos(x))"),
        mfpde.Reference("exp(0.5*sin(y))"),
    )


def _ni_by_formula(problem, gx, gy, mu, nu) -> float:
    """NI^σ(μ, ν) of MATH §2.2 written out with numpy (an independent reference):
    σKL(μ|π) + σKL(ν|ρ) + σ log Σ_y w ρ e^{V_y/σ} + σ log Σ_x w π e^{−V_x/σ}."""
    x, y = gx.points[:, 0], gy.points[:, 0]
    ell = np.cos(x[:, None] - y[None, :]) + 0.5 * np.sin(x)[:, None] * np.cos(2 * y)[None, :]
    pi, rho = np.exp(np.cos(x)), np.exp(0.5 * np.sin(y))
    pi, rho = pi / (gx.weights @ pi), rho / (gy.weights @ rho)
    V_x, V_y = ell @ (gy.weights * nu), (gx.weights * mu) @ ell
    kl_mu = gx.weights @ (mu * np.log(mu / pi))
    kl_nu = gy.weights @ (nu * np.log(nu / rho))
    best_nu = np.log(gy.weights @ (rho * np.exp(V_y / SIGMA)))
    best_mu = np.log(gx.weights @ (pi * np.exp(-V_x / SIGMA)))
    return float(SIGMA * (kl_mu + kl_nu + best_nu + best_mu))


def _assert_invariants(sol) -> None:
    """Masses 1, positive densities, NI ≥ 0 at every saved time."""
    obs = sol.observers
    for k in ("mu", "nu"):
        assert np.abs(obs[f"mass_{k}"] - 1).max() < MASS_TOL
        assert obs[f"min_density_{k}"].min() > 0
    assert obs["ni_error"].min() >= 0
    assert obs["ni_error_average"].min() >= 0


def test_fisher_rao_lyapunov_bound_and_rate(torus_problem):
    """MATH §5.2: L_t = KL(μ*|μ_t) + KL(ν*|ν_t) ≤ e^{−ασt} L_0; fitted rate ≥ ασ."""
    alpha = 1.0
    sol = solve_game(torus_problem, game_flow("fisher_rao", alpha=alpha), *INITIAL,
                     cells_mu=128, t_end=30.0, dt=0.05, save_every=4, progress=False)  # fmt: skip
    _assert_invariants(sol)
    L, t = sol.observers["lyapunov"], sol.times
    # The bound holds for the semi-discrete flow; Strang splitting with dt = 0.05 perturbs L_t
    # by O(dt²) relative, far below the bound's slack (measured: L_t/bound ≤ 0.91 for t > 0);
    # L_t below 1e-15 is round-off of KL and excluded.
    resolved = L > 1e-15
    assert np.all(L[resolved] <= np.exp(-alpha * SIGMA * t[resolved]) * L[0] * (1 + 1e-12))
    # The fitted rate, against a least-squares slope of log L_t on the window of MATH §5
    # (1e-2 to 1e-9 of L_0) computed here: the same data, an independent fit (1e-9 relative).
    window = (L <= 1e-2 * L[0]) & (L >= 1e-9 * L[0])
    rate = -np.polyfit(t[window], np.log(L[window]), 1)[0]
    assert sol.rates["rate_lyapunov"] == pytest.approx(rate, rel=1e-9)
    assert sol.rates["rate_theorem"] == alpha * SIGMA
    # Measured 1.000: the asymptotic rate of a bilinear FR game is 2ασ, as for E1 (MATH §5.1).
    assert rate >= alpha * SIGMA
    assert sol.observers["ni_error"][-1] < 1e-12


@pytest.mark.parametrize(
    ("name", "rates", "t_end"),
    [("fisher_rao", {}, 40.0), ("langevin_da", {"gamma_nu": 2.0}, 20.0),
     ("wfr_da", {"alpha_nu": 0.5}, 20.0)],
)  # fmt: skip
def test_long_time_limit_is_the_mne(torus_problem, name, rates, t_end):
    """G3: every flow (rates per player) ends at the MNE of :func:`game_equilibrium`."""
    sol = solve_game(torus_problem, game_flow(name, **rates), *INITIAL, cells_mu=64,
                     t_end=t_end, dt=0.1, save_every=50, progress=False)  # fmt: skip
    _assert_invariants(sol)
    eq = sol.equilibrium
    # The discrete MNE is the exact stationary state of the discrete flows (Scharfetter-Gummel
    # fluxes and the exponential reaction vanish on Gibbs states), so only e^{−rate·T} remains:
    # L_t decays at the fitted rates 1.00, 1.57, 1.97 (FR, Langevin-DA, WFR-DA), the log-density
    # error at half that; measured 3.4e-9, 1.4e-7 and 7e-9 against the tolerance 1e-6.
    tol = 1e-6
    error = max(
        np.abs(np.log(sol.density_mu[-1] / eq.mu)).max(),
        np.abs(np.log(sol.density_nu[-1] / eq.nu)).max(),
    )
    assert error < tol
    assert sol.observers["ni_error"][-1] < tol**2


def test_wfr_da_time_averages_approach_the_mne(torus_problem):
    """[003] Thm 2: NI of the time averages (μ̄_t, ν̄_t) decreases to 0 as t grows."""
    sol = solve_game(torus_problem, game_flow("wfr_da"), *INITIAL, cells_mu=48,
                     t_end=8.0, dt=0.1, save_every=1, progress=False)  # fmt: skip
    ni_avg = sol.observers["ni_error_average"]
    # NI of the initial state and of the trapezoidal time average of every step, by the formula
    # written out above (round-off of sums of 48 terms and of the average: 1e-10 relative).
    g = (sol.grid_mu, sol.grid_nu)
    assert ni_avg[0] == pytest.approx(
        _ni_by_formula(torus_problem, *g, sol.density_mu[0], sol.density_nu[0]), rel=1e-10
    )
    averages = [np.trapezoid(d, sol.times, axis=0) / sol.times[-1]
                for d in (sol.density_mu, sol.density_nu)]  # fmt: skip
    assert ni_avg[-1] == pytest.approx(_ni_by_formula(torus_problem, *g, *averages), rel=1e-10)
    # The states converge exponentially, so NI(averages) = O(1/t²) (the average of a path
    # converging to the MNE is off by O(1/t), NI is quadratic there): measured NI(4)/NI(8) =
    # 4.04 (NI(8) = 3.4e-3).
    i4 = int(np.argmin(np.abs(sol.times - 4.0)))
    assert 3.0 < ni_avg[i4] / ni_avg[-1] < 5.0


def test_mne_spatial_order_on_two_intervals():
    """Self-convergence of the MNE on X = [0, 1], Y = [−1, 2] (midpoint quadrature, order 2)."""
    problem = GameProblem(
        mfpde.Interval(0, 1),
        mfpde.Interval(-1, 2),
        Bilinear("sin(3*x)*cos(2*y) + x*y"),
        0.3,
        mfpde.Reference("1 + x"),
        mfpde.Reference("exp(-y**2)"),
    )
    cells = [20, 40, 80, 160, 320]
    values = []
    for n in cells:
        gx, gy = mfpde.Grid(problem.domain_mu, n), mfpde.Grid(problem.domain_nu, n)
        game = problem.bind(gx, gy)
        eq = game_equilibrium(game)
        values.append([
            gx.weights @ (gx.points[:, 0] * eq.mu),
            gy.weights @ (gy.points[:, 0] * eq.nu),
            game.free_energy(eq.mu, eq.nu),
        ])  # fmt: skip
    differences = np.abs(np.diff(values, axis=0))
    for k in range(3):
        # Measured orders 1.998, 1.999, 2.001 (differences 7e-4 … 7e-6).
        assert abs(fitted_order(1 / np.array(cells[:-1]), differences[:, k]) - 2) < 0.05


def test_langevin_da_spatial_order(torus_problem):
    """Self-convergence of Langevin-DA at t = 0.5 (Scharfetter-Gummel fluxes, order 2)."""
    values = []
    cells = [16, 32, 64, 128]
    for n in cells:
        sol = solve_game(torus_problem, game_flow("langevin_da"), *INITIAL, cells_mu=n,
                         t_end=0.5, dt=0.01, save_every=1000, progress=False)  # fmt: skip
        x, w = sol.grid_mu.points[:, 0], sol.grid_mu.weights
        values.append([w @ (np.cos(x) * sol.density_mu[-1]), w @ (np.sin(x) * sol.density_nu[-1])])
    differences = np.abs(np.diff(values, axis=0))
    for k in range(2):
        # The same dt on every grid: the differences measure the spatial error alone.
        # Measured orders 1.999 and 1.981.
        assert abs(fitted_order(1 / np.array(cells[:-1]), differences[:, k]) - 2) < 0.1
