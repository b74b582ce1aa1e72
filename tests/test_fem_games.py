"""Sphere games of [003] §5.1 on the icosphere with the DOLFINx backend (MATH §2.2, §4, §5.2).

The Fisher-Rao game flow is pointwise: on S² it needs only the quadrature of the backend (nodes
and lumped masses of a :class:`~mfpde.fem.P1Space`), which :func:`mfpde.games.solve_game` takes
as its grids. Langevin descent-ascent needs the P1 transport operator as well.
"""

from __future__ import annotations

import numpy as np
import pytest

from mfpde.fem import P1FlowOperator, P1Space, Sphere, icosphere
from mfpde.games import SPHERE_GAMES, GameProblem, game_flow, solve_game, sphere_game


@pytest.mark.parametrize("name", SPHERE_GAMES)
def test_fisher_rao_sphere_games_meet_the_lyapunov_bound(name):
    """L_t = KL(μ*|μ_t) + KL(ν*|ν_t) ≤ e^{−ασt} L_0 and NI^σ → 0 (MATH §5.2, bilinear F)."""
    sigma, alpha = 0.5, 1.0
    space = P1Space(icosphere(3))
    problem = GameProblem(Sphere(), Sphere(), sphere_game(name, seed=0), sigma)
    sol = solve_game(
        problem,
        game_flow("fisher_rao", alpha=alpha),
        "1",
        "1",
        grid_mu=space,
        grid_nu=space,
        t_end=20.0,
        dt=0.05,
        save_every=20,
        progress=False,
    )
    lyapunov, ni = sol.observers["lyapunov"], sol.observers["ni_error"]
    assert sol.rates["mne_residual"] < 1e-10
    # Strang splitting perturbs the continuous bound at O(τ²) relative
    assert np.all(lyapunov <= 1.01 * lyapunov[0] * np.exp(-alpha * sigma * sol.times))
    # measured rates 1.00 (= 2ασ, the linearised rate), theorem ασ = 0.5
    assert sol.rates["rate_lyapunov"] >= alpha * sigma
    assert ni[-1] < 1e-8 * ni[0]
    assert np.abs(sol.observers["mass_mu"] - 1).max() < 1e-12


def test_langevin_descent_ascent_with_p1_transport_converges_to_the_mne():
    """Langevin descent-ascent ([003] eq. (7), γ = 1, α = 0) for ℓ_a on S² with P1 operators.

    The Slotboom step fixes ρ ∝ π e^{−h/σ} exactly, so the flow converges to the discrete MNE of
    :func:`~mfpde.games.game_equilibrium` that ``solve_game`` measures L_t against.
    """
    space = P1Space(icosphere(2))
    problem = GameProblem(Sphere(), Sphere(), sphere_game("ell_a", seed=0), sigma=1.0)
    sol = solve_game(
        problem,
        game_flow("langevin_da", gamma=1.0),
        "1",
        "1",
        grid_mu=space,
        grid_nu=space,
        t_end=10.0,
        dt=0.05,
        save_every=50,
        scheme="implicit_euler",
        operator_type=P1FlowOperator,
        progress=False,
    )
    lyapunov, ni = sol.observers["lyapunov"], sol.observers["ni_error"]
    # measured: L_t/L_0 = 2.4e-15 and NI falls from 1.44 to 4.4e-15 by t = 10 (rate ≈ 3.4: the
    # linearised rate; 1e-10 leaves four decades of margin for the seed-0 matrices)
    assert lyapunov[-1] < 1e-10 * lyapunov[0]
    assert ni[-1] < 1e-10 * ni[0]


def test_sphere_games_are_seeded():
    """The same seed gives the same payoff; ℓ_b is ℓ_a's convex-concave sibling ([003] §5.1)."""
    x, y = np.eye(3)[:, None, :], np.eye(3)[None, :, :]
    same = [sphere_game("ell_a", seed=3).ell(x, y) for _ in range(2)]
    np.testing.assert_array_equal(same[0], same[1])
    assert not np.allclose(same[0], sphere_game("ell_a", seed=4).ell(x, y))
