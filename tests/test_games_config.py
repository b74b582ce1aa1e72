"""Games through the configuration file and the CLI (the file contract), and the flow presets."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

import mfpde
from mfpde.cli import main
from mfpde.errors import InputError
from mfpde.games import Bilinear, GameProblem, game_flow, solve_game
from mfpde.storage import read_h5

GOOD = textwrap.dedent(
    """\
    [problem]
    kind = "game"
    payoff = "cos(x - y) + 0.5*sin(x)*cos(2*y)"
    sigma = 0.5
    reference_mu = "exp(cos(x))"
    reference_nu = "exp(0.5*sin(y))"

    [domain]
    kind = "interval"
    lower = 0.0
    upper = 3.0
    cells = 24

    [domain_nu]
    kind = "torus"
    cells = 32

    [flow]
    kind = "fisher_rao"
    alpha = 1.0
    alpha_nu = 2.0

    [initial]
    density_mu = "exp(sin(x))"
    density_nu = "1 + 0.5*cos(y)"

    [time]
    t_end = 1.0
    dt = 0.1
    """
)


def test_cli_writes_both_measures_and_the_game_observers(tmp_path, capsys):
    config = tmp_path / "game.toml"
    config.write_text(GOOD)
    assert main(["run", "-q", str(config)]) == 0
    data = read_h5(tmp_path / "game.h5")
    assert data["mu"]["points"].shape == (24, 1) and data["nu"]["points"].shape == (32, 1)
    assert data["nu"]["density"].shape == (len(data["time"]), 32)
    for name in ("mu", "nu"):  # Σ w ρ = 1 at every saved time (round-off, 11 states)
        m = data[name]
        assert np.abs(m["density"] @ m["weights"] - 1).max() < 1e-12
    observers = data["observers"]
    for key in ("ni_error", "ni_error_average", "lyapunov", "mass_mu", "mass_nu", "game_value"):
        assert observers[key].shape == data["time"].shape
    assert observers["ni_error"].min() >= 0
    # FR with α_μ = 1, α_ν = 2, σ = 0.5: L_1 ≤ e^{−σ min α} L_0 (MATH §5.2, weighted form).
    assert observers["lyapunov"][-1] <= np.exp(-0.5) * observers["lyapunov"][0]
    attrs = data["attrs"]
    assert attrs["flow"] == "fisher_rao" and attrs["config"] == GOOD
    assert attrs["alpha_nu"] == 2.0 and attrs["rate_theorem"] == 0.5
    assert "mfpde_version" in attrs
    assert attrs["mne_residual"] < 1e-12


#: case: (text in GOOD, its replacement, a fragment of the expected one-line error)
BAD = {
    "payoff not finite": (
        'payoff = "cos(x - y) + 0.5*sin(x)*cos(2*y)"', 'payoff = "log(x - 1)*y"',
        "payoff is not finite"),
    "payoff uses x2 on a 1-D domain": (
        'payoff = "cos(x - y) + 0.5*sin(x)*cos(2*y)"', 'payoff = "x2*y"', "unknown name 'x2'"),
    "domain_nu 2-D, payoff in y": (
        'kind = "torus"', 'kind = "torus"\ndim = 2', "*cos(2*y)': unknown name 'y'"),
    "sigma < 0": ("sigma = 0.5", "sigma = -0.5", "sigma must be >= 0"),
    "sigma = 0 with fisher_rao": ("sigma = 0.5", "sigma = 0", "'fisher_rao' needs sigma > 0"),
    "sigma = 0 with langevin_da": (
        'sigma = 0.5\n', 'sigma = 0\n', "'langevin_da' needs sigma > 0"),  # flow set below
    "rate contradicting the preset": (
        "alpha = 1.0", "alpha = 1.0\ngamma = 0.5", "needs gamma 0, got gamma = 0.5"),
    "nu rate contradicting the preset": (
        "alpha_nu = 2.0", "gamma_nu = 1.0", "needs gamma 0, got gamma = 1.0 (rates of nu"),
    "mirror descent with sigma > 0": (
        'kind = "fisher_rao"', 'kind = "mirror_descent"', "is the sigma = 0 flow"),
    "density_nu in x": (
        'density_nu = "1 + 0.5*cos(y)"', 'density_nu = "1 + 0.5*cos(x)"', "unknown name 'x'"),
    "negative density_mu": (
        'density_mu = "exp(sin(x))"', 'density_mu = "cos(x)"', "mu must be positive"),
    "no payoff": (
        'payoff = "cos(x - y) + 0.5*sin(x)*cos(2*y)"\n', "", "needs the key 'payoff'"),
    "unknown key": ("alpha_nu = 2.0", "beta_nu = 2.0", "unknown key 'beta_nu' in [flow]"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD))
def test_bad_game_input_exits_2_with_one_line_and_no_file(tmp_path, capsys, case):
    old, new, message = BAD[case]
    assert old in GOOD
    text = GOOD.replace(old, new)
    if case == "sigma = 0 with langevin_da":
        text = text.replace(
            'kind = "fisher_rao"\nalpha = 1.0\nalpha_nu = 2.0', 'kind = "langevin_da"'
        )
    config = tmp_path / "bad.toml"
    config.write_text(text)
    assert main(["run", "-q", str(config), "-o", str(tmp_path / "out.h5")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert message in err
    assert list(tmp_path.iterdir()) == [config]  # no output, no partial file


def test_presets_fill_rates_per_player():
    flow = game_flow("wfr_da", gamma=0.5, alpha_nu=3.0)
    assert (flow.mu.gamma, flow.mu.alpha, flow.nu.gamma, flow.nu.alpha) == (0.5, 1.0, 0.5, 3.0)
    assert game_flow("langevin_da").nu.alpha == 0
    with pytest.raises(InputError, match="unknown flow kind 'wfr'"):
        game_flow("wfr")
    with pytest.raises(InputError, match="needs alpha 0"):
        game_flow("langevin_da", alpha_nu=1.0)


def test_mirror_descent_reports_the_unregularised_ni():
    """σ = 0, γ = 0: no MNE; the NI observer is max V_y[μ_t] − min V_x[ν_t] (MATH §2.2)."""
    problem = GameProblem(mfpde.Torus(1), mfpde.Torus(1), Bilinear("cos(x - y)"), 0.0)
    sol = solve_game(problem, game_flow("mirror_descent"), "exp(sin(x))", "exp(cos(y))",
                     cells_mu=32, t_end=1.0, dt=0.1, progress=False)  # fmt: skip
    assert sol.equilibrium is None and "lyapunov" not in sol.observers
    x = sol.grid_mu.points[:, 0]
    mu, nu, w = sol.density_mu[-1], sol.density_nu[-1], sol.grid_mu.weights
    # V_x[ν](x) = ⟨cos⟩_ν cos x + ⟨sin⟩_ν sin x, V_y[μ] likewise: max/min over the grid.
    V_x = (w @ (nu * np.cos(x))) * np.cos(x) + (w @ (nu * np.sin(x))) * np.sin(x)
    V_y = (w @ (mu * np.cos(x))) * np.cos(x) + (w @ (mu * np.sin(x))) * np.sin(x)
    assert sol.observers["ni_error"][-1] == pytest.approx(V_y.max() - V_x.min(), rel=1e-12)
