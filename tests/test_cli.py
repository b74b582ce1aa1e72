"""The command line ``mfpde run CONFIG.toml [-o OUT.h5]`` and its file contract (README).

A valid configuration (E1 of MATH §3.1, so the stored densities are checked against the exact
solution) writes exactly the documented HDF5 layout; every kind of bad input exits with code 2,
one line ``error: ...`` on stderr and no output file, not even a ``*.partial``.
"""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version

import numpy as np
import pytest
from conftest import MASS_TOL, normalised

from mfpde.cli import main
from mfpde.storage import read_h5

SIGMA, ALPHA = 0.5, 1.3
CONFIG = """\
[domain]
kind = "torus"
cells = 32

[problem]
sigma = 0.5
potential = "cos(x)"
reference = "exp(0.3*sin(2*x))"

[flow]
kind = "fisher_rao"
alpha = 1.3

[initial]
density = "exp(sin(x))"

[time]
t_end = 1.0
dt = 0.1
save_every = 2
"""
OBSERVERS = {"mass", "min_density", "energy", "energy_gap", "lyapunov", "dissipation_residual"}


def _write(tmp_path, text: str = CONFIG, name: str = "run.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _check_contract(data: dict) -> None:
    """The README layout for one measure, with the E1 densities (exact to 1e-12, MATH §3.1)."""
    assert set(data) == {"time", "mu", "observers", "attrs"}
    assert set(data["mu"]) == {"points", "weights", "density"}
    np.testing.assert_allclose(data["time"], np.arange(6) * 0.2, rtol=0, atol=1e-14)
    points, weights, density = (data["mu"][k] for k in ("points", "weights", "density"))
    assert points.shape == (32, 1) and weights.shape == (32,) and density.shape == (6, 32)
    assert np.abs(density @ weights - 1).max() < MASS_TOL
    assert set(data["observers"]) == OBSERVERS
    for name in OBSERVERS:
        assert data["observers"][name].shape == (6,)
    assert np.abs(data["observers"]["mass"] - 1).max() < MASS_TOL
    assert np.all(np.diff(data["observers"]["energy"]) < 0)
    assert np.all(np.diff(data["observers"]["lyapunov"]) < 0)
    x = points[:, 0]
    for t, rho in zip(data["time"], density):
        decay = np.exp(-ALPHA * SIGMA * t)
        log_exact = decay * np.sin(x) + (1 - decay) * (0.3 * np.sin(2 * x) - np.cos(x) / SIGMA)
        assert np.abs(rho / normalised(log_exact, weights) - 1).max() < 1e-12
    attrs = data["attrs"]
    assert {"config", "flow", "mfpde_version"} <= set(attrs)
    assert attrs["config"] == CONFIG
    assert attrs["flow"] == "fisher_rao"
    assert attrs["mfpde_version"] == version("mfpde")


def test_run_writes_the_file_contract(tmp_path, capsys):
    config = _write(tmp_path)
    out = tmp_path / "sub" / "result.h5"
    assert main(["run", str(config), "-o", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    _check_contract(read_h5(out))
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["result.h5", "run.toml", "sub"]


def test_default_output_path_and_quiet(tmp_path, capsys):
    config = _write(tmp_path)
    assert main(["run", str(config), "-q"]) == 0
    assert capsys.readouterr() == ("", "")
    _check_contract(read_h5(tmp_path / "run.h5"))


def test_subprocess_run_matches_in_process(tmp_path):
    """The installed entry point gives the same file, bit for bit (the solver is deterministic)."""
    config = _write(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "mfpde.cli", "run", str(config), "-q", "-o", "sub.h5"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and done.stderr == ""
    assert main(["run", str(config), "-q", "-o", str(tmp_path / "in.h5")]) == 0
    sub, inproc = read_h5(tmp_path / "sub.h5"), read_h5(tmp_path / "in.h5")
    _check_contract(sub)
    np.testing.assert_array_equal(sub["mu"]["density"], inproc["mu"]["density"])
    for name in OBSERVERS:
        np.testing.assert_array_equal(sub["observers"][name], inproc["observers"][name])


def test_help_and_version(capsys):
    for argv in (["--help"], ["run", "--help"], ["--version"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 0
    assert "mfpde" in capsys.readouterr().out


def _edit(old: str, new: str) -> str:
    assert old in CONFIG
    return CONFIG.replace(old, new)


INTERVAL = 'kind = "interval"\nlower = -1.0\nupper = 1.0'
BAD_CONFIGS = {
    "negative-sigma": (_edit("sigma = 0.5", "sigma = -0.5"), "sigma must be >= 0"),
    "nan-sigma": (_edit("sigma = 0.5", "sigma = nan"), "sigma must be a finite number"),
    "unknown-key": (_edit("alpha = 1.3", "alpha = 1.3\nbeta = 2"), "unknown key 'beta'"),
    "unknown-table": (CONFIG + "\n[solver]\nx = 1\n", "unknown table [solver]"),
    "non-positive-initial": (_edit("exp(sin(x))", "sin(x)"), "initial density must be positive"),
    "zero-initial": (_edit('"exp(sin(x))"', "0"), "initial density must be positive"),
    "unsafe-expression": (_edit('"cos(x)"', "\"__import__('os')\""), "only the functions"),
    "attribute-expression": (_edit('"cos(x)"', '"x.real"'), "Attribute is not allowed"),
    "unknown-name": (_edit('"cos(x)"', '"cos(z)"'), "unknown name 'z'"),
    "log-of-negative": (
        _edit('kind = "torus"', INTERVAL).replace('"cos(x)"', '"log(x)"'),
        "potential is not finite",
    ),
    "division-by-zero": (_edit('"cos(x)"', '"1/0"'), "potential is not finite"),
    "singular-interaction": (
        _edit('potential = "cos(x)"', 'interaction = "1/(1 - cos(x - y))"'),
        "interaction is not finite",
    ),
    "antisymmetric-interaction": (
        _edit('potential = "cos(x)"', 'interaction = "sin(x - y)"'),
        "interaction W(x, y) must be symmetric",
    ),
    "product-axis-unknown": (
        _edit('kind = "torus"', 'kind = "product"\naxes = [{ kind = "sphere" }]'),
        "[domain.axes[0]] kind = 'sphere'",
    ),
    "product-axes-not-tables": (
        _edit('kind = "torus"', 'kind = "product"\naxes = [1, 2]'),
        "[domain.axes[0]] must be a table",
    ),
    "unknown-interaction-sum": (
        _edit('potential = "cos(x)"', 'interaction = "cos(x - y)"\ninteraction_sum = "fmm"'),
        "interaction_sum = 'fmm'",
    ),
    "fourier-sum-of-a-non-convolution": (
        _edit('potential = "cos(x)"', 'interaction = "cos(x)*cos(y)"\ninteraction_sum = "fourier"'),
        'has no "fourier" sum',
    ),
    "interaction-tolerance-out-of-range": (
        _edit('potential = "cos(x)"', 'interaction = "cos(x - y)"\ninteraction_tolerance = 0.5'),
        "tolerance must be a number in [1e-14, 1e-2]",
    ),
    "sum-without-interaction": (
        _edit('potential = "cos(x)"', 'potential = "cos(x)"\ninteraction_sum = "direct"'),
        "interaction_sum and interaction_tolerance need an interaction",
    ),
    "overflowing-initial": (_edit("exp(sin(x))", "exp(1000*sin(x))"), "not finite"),
    "non-positive-reference": (_edit("exp(0.3*sin(2*x))", "sin(x)"), "must be positive"),
    "rate-against-kind": (_edit("alpha = 1.3", "alpha = 1.3\ngamma = 1"), "needs gamma 0"),
    "unknown-flow": (_edit('"fisher_rao"', '"gradient"'), "unknown flow kind"),
    "missing-t_end": (_edit("t_end = 1.0\n", ""), "needs the key 't_end'"),
    "non-positive-dt": (_edit("dt = 0.1", "dt = 0"), "dt must be > 0"),
    "too-few-cells": (_edit("cells = 32", "cells = 2"), "cells must be an integer >= 3"),
    "non-integer-cells": (_edit("cells = 32", 'cells = "many"'), "cells must be an integer"),
    "cells-per-axis": (
        _edit('kind = "torus"\ncells = 32', f"{INTERVAL}\ncells = [8, 8]"),
        "cells has 2 entries for a 1-D domain",
    ),
    "invalid-toml": (_edit("[flow]", "[flow"), "invalid TOML"),
}


@pytest.mark.parametrize("name", BAD_CONFIGS)
def test_bad_input_exits_2_with_one_line_and_no_output(name, tmp_path, capsys):
    text, message = BAD_CONFIGS[name]
    config = _write(tmp_path, text)
    assert main(["run", str(config), "-q"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("error: ") and err.endswith("\n") and err.count("\n") == 1
    assert message in err
    assert [p.name for p in tmp_path.iterdir()] == ["run.toml"]  # no *.h5, no *.partial


def test_missing_config_file_exits_2(tmp_path, capsys):
    assert main(["run", str(tmp_path / "missing.toml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot read") and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_bad_arguments_exit_2(capsys):
    assert _exit_code(["run"]) == 2
    assert _exit_code(["solve", "x.toml"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and all(line.startswith("error: ") for line in err.splitlines())


def _exit_code(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as info:
        main(argv)
    return info.value.code


def test_product_domain_interval_times_circle(tmp_path):
    """``kind = "product"``: a walled and a periodic axis (θ = (a, z) of the network of [002])."""
    text = CONFIG.replace(
        'kind = "torus"\ncells = 32',
        'kind = "product"\ncells = [8, 12]\n'
        'axes = [{ kind = "interval", lower = -2, upper = 2 }, { kind = "circle" }]',
    )
    text = text.replace('"cos(x)"', '"x1**2 + cos(x2)"').replace("exp(0.3*sin(2*x))", "1")
    text = text.replace('"exp(sin(x))"', '"1"')
    config = _write(tmp_path, text)
    assert main(["run", str(config), "-q"]) == 0
    data = read_h5(tmp_path / "run.h5")
    points = data["mu"]["points"]
    assert points.shape == (96, 2)
    assert -2 < points[:, 0].min() < points[:, 0].max() < 2
    assert 0 < points[:, 1].min() < points[:, 1].max() < 2 * np.pi
