"""WFR descent-ascent with σ = 0 on finite volumes ([003] eq. (8), MATH §4).

With σ = 0 the Scharfetter-Gummel fluxes reduce to upwinding (``_sigma_bernoulli``), so the
scheme is first order in space; there is no MNE and no Lyapunov functional, and the observed NI
error is the unregularised sup_y V_y[μ] − inf_x V_x[ν] (MATH §2.2).
"""

from __future__ import annotations

import numpy as np
import pytest

import mfpde
from mfpde.games import Bilinear, GameProblem, game_flow, solve_game

ELL = "0.5*cos(x - y) + 0.5*sin(x)"
INITIAL = ("exp(sin(x))", "exp(cos(y))")


def game(sigma: float) -> GameProblem:
    return GameProblem(mfpde.Circle(), mfpde.Circle(), Bilinear(ELL), sigma=sigma)


def test_sigma_zero_wfr_da_converges_at_first_order_in_space():
    # Self-convergence at t = 0.5 on nested grids of the circle, same dt on every grid (the
    # Strang error, O(dt²) = 1e-4 · const, is nearly grid-independent and cancels in the
    # differences). e(h) = ‖ρ_h − R ρ_{h/2}‖_L¹ for both players, R the average over the two fine
    # cells of each coarse cell. Measured: e = 7.97e-3, 4.31e-3, 2.24e-3, 1.14e-3 on 32 … 256
    # cells (local orders 0.89, 0.94, 0.97, fitted 0.934): the O(h) upwinding error with an O(h²)
    # remainder, approaching 1 from below. [0.85, 1.1] excludes the second order of
    # Scharfetter-Gummel with σ > 0 and a pre-asymptotic fit.
    solutions = {
        n: solve_game(
            game(0.0),
            game_flow("wfr_da"),
            *INITIAL,
            cells_mu=n,
            t_end=0.5,
            dt=0.01,
            save_every=50,
            progress=False,
        )  # fmt: skip
        for n in (32, 64, 128, 256, 512)
    }
    cells = sorted(solutions)
    errors = []
    for coarse, fine in zip(cells, cells[1:]):
        a, b = solutions[coarse], solutions[fine]
        errors.append(
            sum(
                (2 * np.pi / coarse)
                * np.abs(getattr(a, d)[-1] - getattr(b, d)[-1].reshape(-1, 2).mean(axis=1)).sum()
                for d in ("density_mu", "density_nu")
            )
        )
    order = np.polyfit(np.log(2 * np.pi / np.array(cells[:-1])), np.log(errors), 1)[0]
    assert 0.85 <= order <= 1.1, (order, errors)
    for sol in solutions.values():
        obs = sol.observers
        # upwinding keeps an M-matrix and zero column sums: mass to round-off, positivity
        for p in ("mu", "nu"):
            assert np.abs(obs[f"mass_{p}"] - 1).max() < 1e-13
            assert obs[f"min_density_{p}"].min() > 0.04  # measured min 0.0462
        # no MNE for σ = 0: no Lyapunov functional or MNE rates, NI unregularised
        assert "lyapunov" not in obs and sol.equilibrium is None and sol.rates == {}
        assert np.all(obs["ni_error"] >= 0) and np.all(obs["ni_error_average"] >= 0)
    # the observer is sup_y V_y[μ] − inf_x V_x[ν] at the final state (MATH §2.2), to round-off
    sol = solutions[64]
    g = sol.grid_mu
    x = g.points[:, 0]
    ell = 0.5 * np.cos(x[:, None] - x[None, :]) + 0.5 * np.sin(x)[:, None]
    V_x = ell @ (g.weights * sol.density_nu[-1])
    V_y = (g.weights * sol.density_mu[-1]) @ ell
    assert abs(sol.observers["ni_error"][-1] - (V_y.max() - V_x.min())) < 1e-12


@pytest.mark.parametrize(
    ("name", "sigma", "message"),
    [
        ("fisher_rao", 0.0, "'fisher_rao' needs sigma > 0"),
        ("langevin_da", 0.0, "'langevin_da' needs sigma > 0"),
        ("mirror_descent", 0.5, "'mirror_descent' is the sigma = 0 flow"),
    ],
)
def test_sigma_stays_rejected_where_it_makes_no_sense(name, sigma, message):
    with pytest.raises(mfpde.InputError, match=message):
        solve_game(game(sigma), game_flow(name), *INITIAL, cells_mu=16, t_end=0.1, dt=0.05)


def test_time_averages_meet_the_mirror_descent_bound_at_sigma_zero():
    """[003] Thm 2 (MATH §5.5) is a σ = 0 statement: NI of the time averages → 0.

    For σ = 0 and γ = 0 (mirror descent-ascent) on the grid, d/dt [KL(p|μ_t) + KL(q|ν_t)] =
    α(F(p, ν_t) − F(μ_t, q)) for any p, q (derived from ∂_t log μ = −α(V_x − ⟨V_x⟩_μ) and
    ∂_t log ν = α(V_y − ⟨V_y⟩_ν)); integrating, with p and q the best responses to the time
    averages (one cell each, KL(δ_i|μ_0) = log 1/(w_i μ_0,i)) and F bilinear:

        NI(μ̄_t, ν̄_t) ≤ B/(αt),   B = max_i log 1/(w_i μ_0,i) + max_j log 1/(w_j ν_0,j),

    exact for the semi-discrete flow (the exponential reaction step adds O(dt²)). Thm 2 treats
    transport as a perturbation of mirror descent: WFR-DA with γ/α = 0.01 … 1 stays under the
    same bound, and more transport lowers the NI (the observation of [003] §4.2). Measured
    max_t NI/(B/αt) = 0.470, 0.463, 0.410, 0.196 and NI(20) = 0.253, 0.250, 0.221, 0.102.
    """
    final = []
    for name, rates in (
        ("mirror_descent", {}),
        *(("wfr_da", {"gamma": g}) for g in (0.01, 0.1, 1)),
    ):
        sol = solve_game(game(0.0), game_flow(name, **rates), *INITIAL, cells_mu=64, t_end=20.0,
                         dt=0.01, save_every=100, progress=False)  # fmt: skip
        w = sol.grid_mu.weights
        bound = np.max(-np.log(w * sol.density_mu[0])) + np.max(-np.log(w * sol.density_nu[0]))
        t, ni = sol.times[1:], sol.observers["ni_error_average"][1:]
        assert np.all(ni <= bound / t), np.max(ni * t / bound)  # α = 1
        final.append(ni[-1])
    assert np.all(np.diff(final) < 0), final
