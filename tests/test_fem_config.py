"""Configuration files and the CLI with ``backend = "dolfinx"`` (kinds sphere, mesh, box)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_invariants

from mfpde.cli import load_config, main
from mfpde.fem import P1Space, icosphere
from mfpde.storage import read_h5

TAIL = """
[problem]
sigma = 0.5
potential = "{potential}"

[flow]
kind = "fisher_rao"

[initial]
density = "{initial}"

[time]
t_end = 1.0
dt = 0.25
"""


def _config(domain: str, potential: str = "x2", initial: str = "1 + 0.5*x1") -> str:
    return domain + TAIL.format(potential=potential, initial=initial)


def test_sphere_config_runs_through_the_cli(tmp_path):
    path = tmp_path / "sphere.toml"
    path.write_text(_config('[domain]\nkind = "sphere"\nrefinement = 2\n', "x3"))
    assert main(["run", str(path), "-q"]) == 0
    data = read_h5(tmp_path / "sphere.h5")
    np.testing.assert_array_equal(data["mu"]["points"], icosphere(2).points)
    # lumped masses of the inscribed polyhedron: 4π − O(h²), h ≈ 0.32 at r = 2
    assert abs(data["mu"]["weights"].sum() - 4 * np.pi) < 0.3
    assert data["mu"]["density"].shape == (5, 162)
    assert (tmp_path / "sphere.bp").is_dir()


@pytest.mark.parametrize(
    "domain, dofs",
    [
        ('kind = "mesh"\nshape = "disk"\nradius = 1.0\nh = 0.3', None),
        ('kind = "mesh"\nshape = "lshape"\nh = 0.5', None),
        ('kind = "box"\nbackend = "dolfinx"\nlower = [0, 0]\nupper = [1, 2]\ncells = 4', 25),
        ('kind = "interval"\nbackend = "dolfinx"\ncells = 8', 9),
    ],
    ids=["disk", "lshape", "box", "interval"],
)
def test_mesh_kinds_solve_e1_exactly(domain, dofs):
    """Each kind gives a P1 space whose Fisher-Rao run is E1 (MATH §3.1) to round-off."""
    run = load_config(_config(f"[domain]\n{domain}\n", "x1", "exp(x1)"))
    sol = run.execute(False)
    assert isinstance(sol.grid, P1Space)
    assert dofs is None or sol.grid.size == dofs
    x = sol.grid.points[:, 0]
    decay = np.exp(-0.5 * 1.0)  # e^{−ασt}, α = 1, σ = 0.5, t = 1
    exact = np.exp(decay * x - (1 - decay) * x / 0.5)
    exact /= sol.grid.weights @ exact
    assert np.abs(sol.density[-1] / exact - 1).max() < 1e-12
    assert_invariants(sol)


def test_msh_file_config(tmp_path):
    import gmsh

    msh = tmp_path / "square.msh"
    gmsh.initialize(interruptible=False)
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.model.occ.addRectangle(0, 0, 0, 1, 1)
        gmsh.model.occ.synchronize()
        gmsh.option.setNumber("Mesh.MeshSizeMax", 0.25)
        gmsh.model.mesh.generate(2)
        gmsh.write(str(msh))
    finally:
        gmsh.finalize()
    sol = load_config(_config(f'[domain]\nkind = "mesh"\nfile = "{msh}"\n')).execute(False)
    assert sol.grid.weights.sum() == pytest.approx(1.0, rel=1e-13)


@pytest.mark.parametrize(
    "domain, extra, message",
    [
        ('kind = "sphere"', "", "needs the key 'refinement'"),
        ('kind = "sphere"\nrefinement = 2\ncells = 3', "", "unknown key 'cells'"),
        ('kind = "sphere"\nrefinement = 2\nbackend = "gpu"', "", "backend"),
        ('kind = "mesh"\nh = 0.1', "", "needs file or shape"),
        ('kind = "mesh"\nshape = "lshape"\nradius = 1.0', "", "radius is only"),
        ('kind = "mesh"\nfile = "missing.msh"', "", "not found"),
        ('kind = "torus"\nbackend = "dolfinx"\ncells = 8', "", "choose from"),
        ('kind = "sphere"\nrefinement = 2', 'scheme = "expm"\n', "implicit_euler"),
    ],
)
def test_bad_configs_exit_2_and_write_nothing(tmp_path, capsys, domain, extra, message):
    path = tmp_path / "bad.toml"
    path.write_text(_config(f"[domain]\n{domain}\n") + extra)
    assert main(["run", str(path), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "bad.h5").exists()


SPHERE_GAME = """\
[problem]
kind = "game"
payoff = "builtin:ell_b"
payoff_seed = 1
sigma = 0.5

[domain]
kind = "sphere"
refinement = 2

[flow]
kind = "fisher_rao"

[time]
t_end = 10.0
dt = 0.05
save_every = 20
"""


BOX_NU = '[domain_nu]\nkind = "box"\nlower = [0, 0, 0]\nupper = [1, 1, 1]\ncells = 3\n'


def test_builtin_sphere_game_config_meets_the_lyapunov_bound(tmp_path):
    """[003] §5.1 ℓ_b on S² × S² from a config: L_t ≤ e^{−ασt}L_0, NI → 0 (MATH §5.2)."""
    path = tmp_path / "game.toml"
    path.write_text(SPHERE_GAME)
    assert main(["run", str(path), "-q"]) == 0
    data = read_h5(tmp_path / "game.h5")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "game.h5", "game.toml", "game_mu.bp", "game_nu.bp"
    ]  # fmt: skip
    t, lyapunov = data["time"], data["observers"]["lyapunov"]
    # Strang splitting perturbs the continuous bound at O(τ²) relative (as for the API test)
    assert np.all(lyapunov <= 1.01 * lyapunov[0] * np.exp(-0.5 * t))
    assert data["attrs"]["rate_lyapunov"] >= 0.5
    assert data["attrs"]["mne_residual"] < 1e-10
    # NI quadratic in the distance to the MNE: L_t/L_0 ≈ e^{−10} gives NI/NI_0 ≈ e^{−10} (4.5e-5)
    assert data["observers"]["ni_error"][-1] < 1e-4 * data["observers"]["ni_error"][0]
    np.testing.assert_array_equal(data["nu"]["points"], icosphere(2).points)


@pytest.mark.parametrize(
    "edit, message",
    [
        (('payoff = "builtin:ell_b"', 'payoff = "builtin:ell_c"'), "unknown built-in game"),
        (("payoff_seed = 1", "payoff_seed = -1"), "payoff_seed must be"),
        (('payoff = "builtin:ell_b"', 'payoff = "x1*y1"'), "payoff_seed is only"),
        (('kind = "sphere"\nrefinement = 2', 'kind = "torus"\ncells = 8'), "is a game on S²"),
        (("[flow]", f"{BOX_NU}\n[flow]"), "same backend"),
    ],
)  # fmt: skip
def test_bad_game_configs_exit_2_and_write_nothing(tmp_path, capsys, edit, message):
    path = tmp_path / "bad.toml"
    path.write_text(SPHERE_GAME.replace(*edit))
    assert main(["run", str(path), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]
