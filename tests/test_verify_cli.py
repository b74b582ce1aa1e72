"""``mfpde verify STUDY.toml [-o DIR]``: output folder, resume after a kill, bad input.

The resume test starts the study in a subprocess, kills it (SIGKILL, no clean-up possible) once
the first item file exists, checks that every item file left behind is complete, reruns, and
compares the final numbers with those of an uninterrupted run: they must be identical, and the
finished items must not have been recomputed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from mfpde.cli import main
from mfpde.verification.studies import run_study

# WFR with an interaction (a nonlinear field, MATH §3), self-convergence in dt on 32 cells. The
# levels take ~0.01, 0.02, 0.05, 0.1 and 2 s, so the kill lands in the middle of the study.
STUDY = """\
[study]
kind = "discretisation_order"
dt = [0.1, 0.05, 0.025, 0.0125, 0.0005]

[domain]
kind = "torus"
cells = 32

[problem]
sigma = 0.5
potential = "cos(x)"
interaction = "2*cos(x - y)"
reference = "exp(0.5*sin(2*x))"

[flow]
kind = "wfr"

[initial]
density = "exp(1.5*sin(x))"

[time]
t_end = 1.0
dt = 0.1
"""


def _results(folder) -> dict[str, np.ndarray]:
    with h5py.File(folder / "data.h5") as f:
        out = {f"results/{k}": v[()] for k, v in f["results"].items()}
        for key in f["items"]:
            out.update({f"{key}/{k}": v[()] for k, v in f["items"][key].items()})
    return out


def test_verify_writes_the_default_folder(tmp_path, monkeypatch, capsys):
    """Default DIR is out/<stem> in the working directory; the summary names each verdict."""
    (tmp_path / "steps.toml").write_text(STUDY.replace(", 0.0005]", ", 0.003125]"))
    monkeypatch.chdir(tmp_path)
    assert main(["verify", "steps.toml"]) == 0
    out = capsys.readouterr().out
    assert "pass: order 2 in dt" in out
    assert (tmp_path / "out" / "steps" / "report.html").is_file()


def test_a_failed_claim_exits_with_code_3(tmp_path, capsys):
    """The study runs and writes its report, but a claim (order 3 for Strang) fails: exit 3."""
    path = tmp_path / "steps.toml"
    path.write_text(
        STUDY.replace(", 0.0005]", ", 0.003125]").replace("[study]", "[study]\nexpected_order = 3")
    )
    assert main(["verify", str(path), "-o", str(tmp_path / "out")]) == 3
    assert "FAIL: order 3 in dt" in capsys.readouterr().out
    assert (tmp_path / "out" / "report.md").is_file()


def test_interrupted_study_resumes_to_the_same_numbers(tmp_path):
    path = tmp_path / "study.toml"
    path.write_text(STUDY)
    reference = run_study(STUDY, tmp_path / "uninterrupted", progress=False)
    assert reference.passed

    folder = tmp_path / "interrupted"
    first = folder / "items" / "level0.npz"
    command = [sys.executable, "-m", "mfpde.cli", "verify", str(path), "-o", str(folder), "-q"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not first.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the study finished before it was killed"
    assert first.exists() and not (folder / "data.h5").exists()
    finished = sorted(folder.glob("items/*.npz"))
    assert 1 <= len(finished) < 5, [p.name for p in finished]
    for item in finished:  # complete files only: each loads and carries its digest
        with np.load(item) as f:
            assert "_digest" in f.files and "density_mu" in f.files
    stamps = {p.name: p.stat().st_mtime_ns for p in finished}

    resumed = run_study(STUDY, folder, progress=False)
    assert {p.name: p.stat().st_mtime_ns for p in finished} == stamps  # not recomputed
    expected, got = _results(tmp_path / "uninterrupted"), _results(folder)
    assert expected.keys() == got.keys()
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)
    assert resumed.outcome.data["order"] == reference.outcome.data["order"]


def test_a_study_folder_belongs_to_one_study(tmp_path, capsys):
    """Another configuration into the same folder is refused (its checkpoints are not
    replaced); the main job's ``replace`` takes the folder over and recomputes."""
    text = STUDY.replace(", 0.0005]", ", 0.003125]")
    first = run_study(text, tmp_path, progress=False)
    changed = text.replace("t_end = 1.0", "t_end = 0.5")
    path = tmp_path.parent / f"{tmp_path.name}.toml"
    path.write_text(changed)
    assert main(["verify", str(path), "-o", str(tmp_path), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds the results of another study" in err
    with np.load(tmp_path / "items" / "level0.npz") as f:
        assert float(f["t_end"]) == pytest.approx(1.0)  # untouched
    second = run_study(changed, tmp_path, progress=False, replace=True)
    assert not np.array_equal(first.outcome.data["errors"], second.outcome.data["errors"])
    with np.load(tmp_path / "items" / "level0.npz") as f:
        assert float(f["t_end"]) == 0.5


def _tamper(path):
    """Change one stored number of a checkpoint, keeping its tags (digest, version, checksum)."""
    with np.load(path) as f:
        data = {k: f[k] for k in f.files}
    data["density_mu"] = data["density_mu"] * (1 + 1e-9)
    np.savez(path, **data)


CORRUPTIONS = {
    "truncated": lambda p: p.write_bytes(p.read_bytes()[:100]),
    "not a zip": lambda p: p.write_bytes(b"garbage"),
    "tampered value": _tamper,
    "other version": lambda p: np.savez(
        p, **{**{k: v for k, v in np.load(p).items()}, "_version": np.str_("0.0.1")}
    ),
}


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_a_corrupt_or_foreign_checkpoint_is_recomputed_with_a_notice(name, tmp_path, capsys):
    text = STUDY.replace(", 0.0005]", ", 0.003125]")
    reference = run_study(text, tmp_path, progress=False)
    item = tmp_path / "items" / "level1.npz"
    CORRUPTIONS[name](item)
    capsys.readouterr()
    again = run_study(text, tmp_path, progress=False)
    err = capsys.readouterr().err
    assert err.count("notice: checkpoint") == 1 and "recomputed" in err, err
    np.testing.assert_array_equal(again.outcome.data["errors"], reference.outcome.data["errors"])
    # --strict-checkpoints refuses instead, with one line and exit 2
    CORRUPTIONS[name](item)
    path = tmp_path.parent / f"{tmp_path.name}.toml"
    path.write_text(text)
    assert main(["verify", str(path), "-o", str(tmp_path), "-q", "--strict-checkpoints"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--strict-checkpoints" in err, err


def test_a_corrupt_checkpoint_under_mpi_ends_without_a_hang(tmp_path):
    """mpiexec -n 2 mfpde verify with a corrupt item of rank 1: recomputed (notice), exit 0;
    with --strict-checkpoints: one line, exit 2, both ranks end (no rank waits forever)."""
    text = STUDY.replace(", 0.0005]", ", 0.003125]")
    run_study(text, tmp_path / "out", progress=False)
    (tmp_path / "out" / "items" / "level1.npz").write_bytes(b"garbage")  # dealt to rank 1
    path = tmp_path / "study.toml"
    path.write_text(text)
    mpiexec = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    command = [mpiexec, "-n", "2", sys.executable, "-m", "mfpde.cli", "verify", str(path)]
    command += ["-o", str(tmp_path / "out"), "-q"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "notice: checkpoint" in done.stderr, done.stderr
    (tmp_path / "out" / "items" / "level1.npz").write_bytes(b"garbage")
    done = subprocess.run(
        command + ["--strict-checkpoints"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "--strict-checkpoints" in done.stderr, done.stderr


BAD = {
    "unknown study kind": ('kind = "discretisation_order"', 'kind = "wishful_thinking"'),
    "unknown study key": ("[study]\n", "[study]\nlevels = 3\n"),
    "no study table": ('[study]\nkind = "discretisation_order"\n', ""),
    "too few levels": ("dt = [0.1, 0.05, 0.025, 0.0125, 0.0005]", "dt = [0.1, 0.05, 0.025]"),
    "levels not a list": ("dt = [0.1, 0.05, 0.025, 0.0125, 0.0005]", "dt = 0.1\ncells = 32"),
    "exact case mismatch": ("[study]\n", '[study]\nexact = "E2"\n'),
    "unknown table": ("[flow]", "[flows]"),
    "bad expression": ('"cos(x)"', '"cos(x"'),
}


@pytest.mark.parametrize("name", BAD)
def test_bad_input_exits_2_with_one_line_and_no_files(name, tmp_path, capsys):
    old, new = BAD[name]
    assert old in STUDY
    path = tmp_path / "bad.toml"
    path.write_text(STUDY.replace(old, new))
    out_dir = tmp_path / "out"
    assert main(["verify", str(path), "-o", str(out_dir)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error: ") and err.count("\n") == 1
    assert not out_dir.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]
