"""Hostile and careless input: one clear line, the right exit code, no file destroyed (README
"Exit codes and the error model").

The error model: bad input → :class:`mfpde.InputError`, exit 2, one line ``error: ...`` on
stderr, nothing written and nothing computed that the error could have been found before;
numerical failure → exit 1, one line; interrupted → exit 130, one line, no stray files. Every
case below is one class of the reliability issue; each asserts the exit code, a fragment of the
one line and that the output (and the configuration) are as they were.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import mfpde
from mfpde.cli import main

CONFIG = """\
[domain]
kind = "torus"
cells = 16

[problem]
sigma = 0.5
potential = "cos(x)"

[flow]
kind = "wfr"

[initial]
density = "exp(sin(x))"

[time]
t_end = 0.2
dt = 0.1
"""


def _edit(old: str, new: str) -> str:
    assert old in CONFIG
    return CONFIG.replace(old, new)


def _one_line(capsys) -> str:
    out, err = capsys.readouterr()
    assert out == "", out
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert len(err) < 400, err  # one readable line, never a whole expression echoed
    return err


def _run(tmp_path, text: str | bytes, *extra: str) -> tuple[int, Path]:
    config = tmp_path / "run.toml"
    config.write_bytes(text if isinstance(text, bytes) else text.encode())
    out = tmp_path / "out.h5"
    return main(["run", str(config), "-q", "-o", str(out), *extra]), out


def _no_stray_files(folder: Path) -> None:
    assert not [p for p in folder.iterdir() if p.name.endswith(".partial")]


LONG_SUM = " + ".join(f"0.001*cos({k % 5}*x)" for k in range(1500))  # valid, |V| ≤ 1.5

#: name → (configuration text, exit code, fragment of the error line)
CONFIG_CASES = {
    "binary file": (b"\x00\x01\x02\xff\xfe", 2, "not a UTF-8 text file"),
    "latin-1 file": (CONFIG.replace("cos(x)", "cos(x) # caf\xe9").encode("latin-1"), 2, "UTF-8"),
    "deeply nested TOML": ("a = " + "[" * 5000 + "]" * 5000, 2, "invalid TOML"),
    "problem is a number": ("problem = 5\n" + CONFIG.split("[problem]")[0], 2, "[problem]"),
    "domain is a string": (_edit('[domain]\nkind = "torus"\ncells = 16', 'domain = "torus"'), 2,
                           "[domain]"),
    "sigma overflow": (_edit("sigma = 0.5", "sigma = 1e308"), 2, "sigma"),
    "huge rate": (_edit('kind = "wfr"', 'kind = "wfr"\nalpha = 1e300'), 2, "alpha"),
    "huge cells": (_edit("cells = 16", "cells = 1000000000"), 2, "memory"),
    "tiny dt": (_edit("dt = 0.1", "dt = 1e-300"), 2, "steps"),
    "huge save count": (_edit("dt = 0.1", "dt = 1e-9"), 2, "steps"),
    "long valid expression": (_edit('potential = "cos(x)"', f'potential = "{LONG_SUM}"'), 0, ""),
    "too long expression": (_edit('"cos(x)"', '"' + "+".join(["x"] * 40000) + '"'), 2,
                            "too long"),
    "bad expression echo": (_edit('"cos(x)"', '"x + ' + "z" * 20000 + '"'), 2, "unknown name"),
    "deep expression": (_edit('"cos(x)"', '"' + "(" * 3000 + "x" + ")" * 3000 + '"'), 2,
                        "expression"),
    "python callable without opt-in": (_edit('"cos(x)"', '"python:numpy:cos"'), 2,
                                       "--allow-python"),
    "nan initial": (_edit('"exp(sin(x))"', '"log(sin(x))"'), 2, "initial density"),
}  # fmt: skip


@pytest.mark.parametrize("name", CONFIG_CASES)
def test_bad_configuration_gives_one_line_and_no_output(name, tmp_path, capsys):
    text, code, fragment = CONFIG_CASES[name]
    rc, out = _run(tmp_path, text)
    if code == 0:
        assert rc == 0 and out.is_file()
        return
    err = _one_line(capsys)
    assert rc == code and fragment in err, err
    assert not out.exists()
    _no_stray_files(tmp_path)


def test_python_callable_with_opt_in(tmp_path, capsys, monkeypatch):
    (tmp_path / "user_potential.py").write_text(
        "import numpy as np\n\ndef V(x):\n    return np.cos(x[..., 0])\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    rc, out = _run(tmp_path, _edit('"cos(x)"', '"python:user_potential:V"'), "--allow-python")
    assert rc == 0 and out.is_file()
    import mfpde.expressions

    assert not mfpde.expressions._python_allowed  # the opt-in ends with the command


def test_python_callable_of_wrong_shape(tmp_path, capsys):
    # numpy.cos maps points (n, 1) to (n, 1), not to values (n,)
    rc, out = _run(tmp_path, _edit('"cos(x)"', '"python:numpy:cos"'), "--allow-python")
    err = _one_line(capsys)
    assert rc == 2 and "must return numbers of shape (16,)" in err and not out.exists()


# --- output safety -----------------------------------------------------------------------


def test_output_equal_to_the_configuration_is_refused(tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_text(CONFIG)
    assert main(["run", str(config), "-q", "-o", str(config)]) == 2
    assert "is the configuration" in _one_line(capsys)
    assert config.read_text() == CONFIG


def test_output_onto_a_directory_or_device_is_refused(tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_text(CONFIG)
    for target, fragment in ((tmp_path, "not a regular file"), (Path("/dev/null"), "regular")):
        assert main(["run", str(config), "-q", "-o", str(target)]) == 2
        assert fragment in _one_line(capsys)
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_unwritable_output_is_found_before_computing(tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_text(_edit("t_end = 0.2", "t_end = 1000.0"))  # long: must not be computed
    start = time.perf_counter()
    assert main(["run", str(config), "-q", "-o", "/proc/version/out.h5"]) == 2
    assert "cannot write" in _one_line(capsys)
    assert time.perf_counter() - start < 5


def test_replacing_a_file_keeps_its_mode_and_its_symlink(tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_text(CONFIG)
    target = tmp_path / "real.h5"
    target.write_bytes(b"old")
    target.chmod(0o644)
    link = tmp_path / "link.h5"
    link.symlink_to(target)
    assert main(["run", str(config), "-q", "-o", str(link)]) == 0
    assert link.is_symlink() and link.resolve() == target.resolve()
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert target.read_bytes()[:4] == b"\x89HDF"


def test_a_full_disk_is_one_line_exit_1_and_leaves_no_file(tmp_path, capsys, monkeypatch):
    # The write fails as on a full disk (ENOSPC when the bytes reach the file); measured with a
    # 64 KiB tmpfs too: before, HDF5 printed its error stack and the process segfaulted.
    import mfpde.storage

    def full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(mfpde.storage.os, "fsync", full)
    rc, out = _run(tmp_path, CONFIG)
    assert rc == 1 and "cannot write" in _one_line(capsys) and not out.exists()
    _no_stray_files(tmp_path)


def test_config_from_dev_zero_is_refused_quickly(capsys):
    start = time.perf_counter()
    assert main(["run", "/dev/zero", "-q", "-o", "/tmp/never.h5"]) == 2
    assert "larger than" in _one_line(capsys)
    assert time.perf_counter() - start < 5


# 10⁶ steps (minutes even on the fast transport paths of issue 13), 10⁴ saved states.
SLOW = CONFIG.replace("cells = 16", "cells = 256").replace(
    "t_end = 0.2", "t_end = 100000.0\nsave_every = 100"
)


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 130)])
def test_interrupt_gives_one_line_exit_130_and_no_stray_files(sig, code, tmp_path):
    config = tmp_path / "slow.toml"
    config.write_text(SLOW)
    process = subprocess.Popen(
        [sys.executable, "-m", "mfpde.cli", "run", str(config), "-q"],
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    time.sleep(4)
    process.send_signal(sig)
    _, err = process.communicate(timeout=60)
    assert process.returncode == code, err
    assert err.count("\n") == 1 and "interrupted" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["slow.toml"]


# --- Python API misuse --------------------------------------------------------------------

TORUS = mfpde.Torus(1)
PROBLEM = mfpde.OptimisationProblem(TORUS, mfpde.Potential("cos(x)"), 0.5)
SOLVE = {"cells": 16, "t_end": 0.2, "dt": 0.1, "progress": False}

API_MISUSES = {
    "energy as a string": lambda: mfpde.OptimisationProblem(TORUS, "cos(x)", 0.5),
    "domain as a string": lambda: mfpde.OptimisationProblem("torus", mfpde.Potential("x"), 0.5),
    "sigma as a string": lambda: mfpde.OptimisationProblem(TORUS, mfpde.Potential("x"), "0.5"),
    "negative dt": lambda: mfpde.solve(PROBLEM, mfpde.wfr(), "1", **{**SOLVE, "dt": -0.1}),
    "nan t_end": lambda: mfpde.solve(PROBLEM, mfpde.wfr(), "1", **{**SOLVE, "t_end": np.nan}),
    "cells as a float": lambda: mfpde.solve(PROBLEM, mfpde.wfr(), "1", **{**SOLVE, "cells": 16.0}),
    "save_every zero": lambda: mfpde.solve(PROBLEM, mfpde.wfr(), "1", save_every=0, **SOLVE),
    "initial of wrong shape": lambda: mfpde.solve(PROBLEM, mfpde.wfr(), np.ones(3), **SOLVE),
    "initial as a number list": lambda: mfpde.solve(PROBLEM, mfpde.wfr(), [1, 2], **SOLVE),
    "grid of another domain": lambda: mfpde.solve(
        PROBLEM, mfpde.wfr(), "1", grid=mfpde.Grid(mfpde.Torus(2), 8), t_end=0.1, dt=0.1,
        progress=False),
    "potential as a number list": lambda: mfpde.Potential([1, 2]).bind(mfpde.Grid(TORUS, 8)),
    "interaction of one point": lambda: mfpde.OptimisationProblem(
        TORUS, mfpde.Interaction("cos(x)"), 0.5).bind(mfpde.Grid(TORUS, 8)),
    "interval upside down": lambda: mfpde.Interval(1.0, 0.0),
    "torus of dimension 4": lambda: mfpde.Torus(4),
    "grid with 2 cells": lambda: mfpde.Grid(TORUS, 2),
    "kernel of bandwidth 0": lambda: mfpde.kernels.Kernel("blob", 0.0),
    "game flow by a bad name": lambda: mfpde.game_flow("wfr"),
    "game payoff as a number": lambda: mfpde.GameProblem(TORUS, TORUS, 5, 0.5),
    "reference of wrong sign": lambda: mfpde.OptimisationProblem(
        TORUS, mfpde.Potential("x"), 0.5, mfpde.Reference("-1")).bind(mfpde.Grid(TORUS, 8)),
    "particles n = 0": lambda: _langevin(n=0),
    "particles dt as a string": lambda: _langevin(dt="0.1"),
    "10^12 particles": lambda: _langevin(n=10**12),
    "particles dt = 1e-300": lambda: _langevin(dt=1e-300),
}  # fmt: skip


def _langevin(**kwargs):
    from mfpde.particles import langevin

    return langevin(PROBLEM, "1", **{"n": 10, "t_end": 0.2, "dt": 0.1, "seed": 0, **kwargs})


@pytest.mark.parametrize("name", API_MISUSES)
def test_python_api_misuse_raises_input_error(name):
    import mfpde.kernels  # noqa: F401
    import mfpde.particles  # noqa: F401

    with pytest.raises(mfpde.InputError) as info:
        API_MISUSES[name]()
    message = str(info.value)
    assert "\n" not in message and 0 < len(message) < 300, message


# --- under mpiexec ------------------------------------------------------------------------


def _mpiexec(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    mpiexec = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    command = [mpiexec, "-n", "2", sys.executable, "-m", "mfpde.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=cwd)


def test_a_finite_volume_run_under_mpiexec_is_computed_and_written_once(tmp_path):
    (tmp_path / "run.toml").write_text(CONFIG)
    done = _mpiexec("run", "run.toml", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("wrote") == 1 and done.stderr == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.h5", "run.toml"]


def test_bad_input_under_mpiexec_is_one_line_and_ends_every_rank(tmp_path):
    (tmp_path / "run.toml").write_text(_edit("sigma = 0.5", "sigma = -1"))
    done = _mpiexec("run", "run.toml", cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "sigma" in done.stderr, done.stderr
