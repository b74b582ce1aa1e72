"""``mfpde run`` with a ``[particles]`` table: particles beside the mesh solution (README).

The file holds the mesh solution of the method's own mean-field PDE and the replicas' particles at
the mesh's saved times; both must be bit for bit what the Python API gives for the same seeds
(:func:`mfpde.particles.run_replicas`, :func:`mfpde.kernels.solve_kernelised`). Every kind of bad
input exits with code 2, one line ``error: ...`` and no output file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import mfpde
from mfpde.cli import main
from mfpde.games import Bilinear, GameProblem, game_flow, solve_game
from mfpde.kernels import Kernel, solve_kernelised
from mfpde.particles import (
    birth_death,
    langevin,
    mirror_descent,
    run_replicas,
    weighted_wfr,
    wfr_da,
    wfr_jump,
)
from mfpde.storage import read_h5

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "circle_birth_death.toml"

MESH = """\
[domain]
kind = "circle"
cells = 64

[problem]
sigma = 0.5
potential = "cos(x)"

[initial]
density = "exp(sin(x))"

[time]
t_end = 0.4
dt = 0.05
save_every = 4
"""
PARTICLES = """
[particles]
method = "{method}"
n = 300
replicas = 3
seed = 5
dt = 0.025
"""
KERNEL = """
[kernel]
variant = "blob"
bandwidth = 0.3
"""
#: method → (function, flow of its mean-field limit, uses a kernel)
OPTIMISATION = {
    "birth_death": (birth_death, mfpde.fisher_rao(1.0), True),
    "weighted_wfr": (weighted_wfr, mfpde.wfr(1.0, 1.0), True),
    "wfr_jump": (wfr_jump, mfpde.wfr(1.0, 1.0), True),
    "langevin": (langevin, mfpde.fokker_planck(1.0), False),
}


def config(method: str, kernel: bool = True) -> str:
    return MESH + PARTICLES.format(method=method) + (KERNEL if kernel else "")


def _run(tmp_path, text: str) -> dict:
    path = tmp_path / "run.toml"
    path.write_text(text)
    assert main(["run", str(path), "-q"]) == 0
    return read_h5(tmp_path / "run.h5")


@pytest.mark.parametrize("name", OPTIMISATION)
def test_optimisation_particles_match_the_api(name, tmp_path):
    method, flow, uses_kernel = OPTIMISATION[name]
    data = _run(tmp_path, config(name, uses_kernel))
    problem = mfpde.OptimisationProblem(mfpde.Circle(), mfpde.Potential("cos(x)"), 0.5)
    grid = mfpde.Grid(problem.domain, 64)
    mesh_options = {"grid": grid, "t_end": 0.4, "dt": 0.05, "save_every": 4, "progress": False}
    options = {"n": 300, "t_end": 0.4, "dt": 0.025, "save_every": 8}
    options |= {k: v for k, v in (("gamma", flow.gamma), ("alpha", flow.alpha)) if v}
    if uses_kernel:
        kernel = Kernel("blob", 0.3)
        options |= {"kernel": kernel, "grid": grid}
        transport = name != "wfr_jump"
        mesh = solve_kernelised(
            problem, flow, "exp(sin(x))", kernel, kernelised_transport=transport, **mesh_options
        )
    else:
        mesh = mfpde.solve(problem, flow, "exp(sin(x))", **mesh_options)
    replicas = run_replicas(method, 3, 5, problem, "exp(sin(x))", **options)
    np.testing.assert_allclose(data["time"], [0.0, 0.2, 0.4], rtol=0, atol=1e-14)
    np.testing.assert_array_equal(data["mu"]["density"], mesh.density)
    particles = data["mu"]["particles"]
    assert particles["positions"].shape == (3, 3, 300, 1)
    assert particles["weights"].shape == (3, 3, 300)
    for r, trajectory in enumerate(replicas):
        np.testing.assert_array_equal(particles["positions"][:, r], trajectory.positions)
        np.testing.assert_array_equal(particles["weights"][:, r], trajectory.weights)
    assert np.abs(particles["weights"].sum(axis=-1) - 1).max() < 1e-13
    attrs = data["attrs"]
    assert (attrs["flow"], attrs["particles_method"], attrs["particles_n"]) == (
        flow.name,
        name,
        300,
    )


GAME = """\
[domain]
kind = "circle"
cells = 32

[problem]
kind = "game"
payoff = "cos(x - y)"
sigma = 0.0

[initial]
density_mu = "exp(sin(x))"
density_nu = "exp(cos(y))"

[time]
t_end = 0.2
dt = 0.05
save_every = 2

[particles]
method = "mirror_descent"
n = 200
replicas = 2
seed = 3
"""


#: σ = 0 game methods → (function, rates); wfr_da is [003] Alg. 2 beside its σ = 0 upwind mesh.
GAMES = {"mirror_descent": (mirror_descent, {"alpha": 1.0}), "wfr_da": (wfr_da, {})}


@pytest.mark.parametrize("flow", GAMES)
def test_game_particles_of_both_players(flow, tmp_path):
    method, rates = GAMES[flow]
    data = _run(tmp_path, _edit(GAME, '"mirror_descent"', f'"{flow}"'))
    problem = GameProblem(mfpde.Circle(), mfpde.Circle(), Bilinear("cos(x - y)"), sigma=0.0)
    initial = ("exp(sin(x))", "exp(cos(y))")
    mesh = solve_game(
        problem, game_flow(flow), *initial, cells_mu=32, t_end=0.2, dt=0.05,
        save_every=2, progress=False,
    )  # fmt: skip
    assert data["attrs"]["flow"] == flow
    for p in ("mu", "nu"):
        np.testing.assert_array_equal(data[p]["density"], getattr(mesh, f"density_{p}"))
    games = run_replicas(
        method, 2, 3, problem, *initial, n=200, t_end=0.2, dt=0.05, save_every=2, **rates
    )
    for name in ("mu", "nu"):
        particles = data[name]["particles"]
        assert particles["positions"].shape == (3, 2, 200, 1)
        for r, g in enumerate(games):
            np.testing.assert_array_equal(
                particles["positions"][:, r], getattr(g, f"positions_{name}")
            )
            np.testing.assert_array_equal(particles["weights"][:, r], getattr(g, f"weights_{name}"))
        # mirror descent moves weights only (MATH §4, γ = 0); WFR-DA moves both (γ = α = 1)
        moved = not np.array_equal(particles["positions"][-1], particles["positions"][0])
        assert moved == (flow == "wfr_da")
        assert not np.allclose(particles["weights"][-1], particles["weights"][0])


def test_example_runs(tmp_path):
    data = _run(tmp_path, EXAMPLE.read_text())
    assert data["time"].shape == (11,)
    assert data["mu"]["particles"]["positions"].shape == (11, 4, 2000, 1)
    assert data["attrs"]["particles_kernel_variant"] == "density"


def _edit(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new)


BIRTH_DEATH = config("birth_death")
BAD = {
    "unknown-method": (config("gradient_descent"), "method = 'gradient_descent' (choose from"),
    "game-method-for-optimisation": (config("langevin_da", False), "is for game problems"),
    "optimisation-method-for-game": (
        _edit(GAME, '"mirror_descent"', '"birth_death"'),
        "is for optimisation problems",
    ),
    "n-zero": (_edit(BIRTH_DEATH, "n = 300", "n = 0"), "n must be a positive integer"),
    "n-one": (_edit(BIRTH_DEATH, "n = 300", "n = 1"), "n must be an integer >= 2"),
    "missing-n": (_edit(BIRTH_DEATH, "n = 300\n", ""), "needs the key 'n'"),
    "negative-bandwidth": (_edit(BIRTH_DEATH, "bandwidth = 0.3", "bandwidth = -0.3"), "> 0"),
    "unknown-variant": (_edit(BIRTH_DEATH, '"blob"', '"gauss"'), "variant = 'gauss'"),
    "kernel-without-use": (config("langevin"), "uses no kernel"),
    "missing-kernel": (config("birth_death", False), "needs a [kernel] table"),
    "kernel-without-particles": (MESH + KERNEL, "[kernel] is only for particle runs"),
    "unknown-particles-key": (BIRTH_DEATH + "steps = 3\n", "unknown key 'steps'"),
    "unknown-kernel-key": (
        _edit(BIRTH_DEATH, "bandwidth = 0.3", "bandwidth = 0.3\nwidth = 1"),
        "unknown key 'width'",
    ),
    "negative-seed": (_edit(BIRTH_DEATH, "seed = 5", "seed = -1"), "seed must be an integer"),
    "flow-against-method": (
        _edit(BIRTH_DEATH, "[initial]", '[flow]\nkind = "wfr"\n\n[initial]'),
        "follows the flow 'fisher_rao'",
    ),
    "dt-not-dividing": (_edit(BIRTH_DEATH, "dt = 0.025", "dt = 0.03"), "must divide"),
    "adaptive-mesh": (
        _edit(BIRTH_DEATH, "dt = 0.05\n", "tolerance = 1e-4\n"),
        "need a fixed [time] dt",
    ),
    "wfr_da-sigma-positive": (
        _edit(_edit(GAME, '"mirror_descent"', '"wfr_da"'), "sigma = 0.0", "sigma = 0.5"),
        "set [problem] sigma = 0, got 0.5",
    ),
    "langevin-da-sigma-zero": (_edit(GAME, '"mirror_descent"', '"langevin_da"'), "sigma > 0"),
    "fisher-rao-sigma-zero": (
        _edit(GAME, "[particles]", '[flow]\nkind = "fisher_rao"\n\n[particles]'),
        "follows the flow 'mirror_descent'",
    ),
}


@pytest.mark.parametrize("name", BAD)
def test_bad_particle_input_exits_2_with_one_line_and_no_output(name, tmp_path, capsys):
    text, message = BAD[name]
    path = tmp_path / "run.toml"
    path.write_text(text)
    assert main(["run", str(path), "-q"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("error: ") and err.count("\n") == 1
    assert message in err, err
    assert [p.name for p in tmp_path.iterdir()] == ["run.toml"]
