"""Two-time-scale Fisher-Rao games (α_μ ≠ α_ν): the weighted Lyapunov function (MATH §5.2).

L^w_t = KL(μ*|μ_t)/α_μ + KL(ν*|ν_t)/α_ν obeys L^w_t ≤ e^{−σ min(α_μ, α_ν) t} L^w_0; the plain
sum L_t does not. The game is the torus game of ``examples/studies/game_rate.toml`` at σ = 0.02,
α_μ = 1, α_ν = 4 (the regime where the plain sum overshoots: weak entropy, fast ν).
"""

from __future__ import annotations

import numpy as np
import pytest

import mfpde
from mfpde.errors import InputError
from mfpde.games import Bilinear, GameProblem, game_flow, solve_game
from mfpde.lyapunov import fit_rate, game_rate_bound
from mfpde.verification.studies import run_study

SIGMA, ALPHA_MU, ALPHA_NU = 0.02, 1.0, 4.0

STUDY = """\
[study]
kind = "lyapunov_rate"
{study}
[problem]
kind = "game"
payoff = "cos(x - y) + 0.5*sin(x)*cos(2*y)"
sigma = 0.02
reference_mu = "exp(cos(x))"
reference_nu = "exp(0.5*sin(y))"

[domain]
kind = "torus"
cells = 64

[flow]
kind = "fisher_rao"
alpha = 1.0
alpha_nu = 4.0

[initial]
density_mu = "exp(sin(x))"
density_nu = "1 + 0.5*cos(y)"

[time]
t_end = 100.0
dt = 0.1
save_every = 2
"""


def test_weighted_lyapunov_passes_where_the_plain_sum_fails(tmp_path):
    """The study's default functional for a two-scale game is L^w_t: both checks pass.

    Measured (64 cells, dt = 0.1): fitted rate of L^w_t 0.100 ≥ σ min α = 0.02 (the rate check
    passes by a factor 5, far outside the bootstrap half-width), max L^w_t / (e^{−0.02 t} L^w_0)
    = 1 at t > 0 to round-off; the plain sum reaches 2.83 × e^{−0.02 t} L_0 at t ≈ 2.1, so the
    same study with ``functional = "lyapunov"`` fails its bound check (its rate check still
    passes: the asymptotic rates of L and L^w are the same, ≈ 0.097).
    """
    weighted = run_study(STUDY.format(study=""), tmp_path / "w", progress=False)
    data = weighted.outcome.data
    assert [c.passed for c in weighted.outcome.checks] == [True, True]
    assert data["rate"] >= game_rate_bound(SIGMA, ALPHA_MU, ALPHA_NU) == pytest.approx(0.02)
    assert data["bound_max_ratio"] <= 1 + 1e-9
    # the report says how far the plain sum overshoots (> 2: a 2.83 overshoot measured)
    assert data["plain_bound_max_ratio"] > 2
    assert "plain sum" in (tmp_path / "w" / "report.md").read_text()

    plain = run_study(STUDY.format(study='functional = "lyapunov"'), tmp_path / "p", False)
    assert [c.passed for c in plain.outcome.checks] == [True, False]
    assert plain.outcome.data["bound_max_ratio"] == pytest.approx(
        data["plain_bound_max_ratio"], rel=1e-12
    )


def test_solve_game_records_the_weighted_lyapunov_function():
    """``lyapunov_weighted`` is KL(μ*|μ_t)/α_μ + KL(ν*|ν_t)/α_ν, written out independently."""
    problem = GameProblem(
        mfpde.Torus(1),
        mfpde.Torus(1),
        Bilinear("cos(x - y) + 0.5*sin(x)*cos(2*y)"),
        sigma=0.5,
    )
    sol = solve_game(
        problem,
        game_flow("fisher_rao", alpha=1.0, alpha_nu=3.0),
        "exp(sin(x))",
        "1 + 0.5*cos(y)",
        cells_mu=32,
        t_end=2.0,
        dt=0.1,
        progress=False,
    )
    w = sol.grid_mu.weights
    mu_star, nu_star = sol.equilibrium.mu, sol.equilibrium.nu

    def kl(p, q):
        return np.sum(w * p * np.log(p / q), axis=-1)

    expected = kl(mu_star, sol.density_mu) / 1.0 + kl(nu_star, sol.density_nu) / 3.0
    np.testing.assert_allclose(sol.observers["lyapunov_weighted"], expected, rtol=1e-12)
    assert sol.rates["rate_theorem"] == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("times", "values", "message"),
    [
        ([], [], "at least 2 samples"),
        ([0.0, 1.0, 2.0], [1.0, 0.5], "same length"),
        ([0.0], [1.0], "at least 2 samples"),
        ([0.0, 1.0, 2.0], [1.0, np.nan, 0.1], "finite"),
        ([0.0, np.inf, 2.0], [1.0, 0.5, 0.1], "finite"),
        ([[0.0, 1.0]], [[1.0, 0.5]], "1-D"),
        ("abc", [1.0, 0.5, 0.2], "numbers"),
    ],
)
def test_fit_rate_refuses_bad_input_in_one_line(times, values, message):
    with pytest.raises(InputError, match=message) as info:
        fit_rate(times, values)
    assert "\n" not in str(info.value)


def test_fit_rate_of_an_exponential():
    """e^{−0.7 t} on the window of MATH §5 (1e-9 … 1e-2 of the start): the rate to round-off."""
    t = np.linspace(0, 40, 401)
    assert fit_rate(t, 3 * np.exp(-0.7 * t)) == pytest.approx(0.7, rel=1e-10)
    assert np.isnan(fit_rate(t[:3], np.exp(-0.7 * t[:3])))  # no sample in the window
