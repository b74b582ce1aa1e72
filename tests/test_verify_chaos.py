"""Studies ``propagation_of_chaos`` and ``bandwidth`` (MATH §3.2, §7): verdicts, seeds, resume.

The particle case is the circle-free torus T¹, V = cos x, σ = 0.5, μ₀ ∝ exp(sin x + ½ cos 2x),
kernelised birth-death with the "density" K_h, h = 0.3, η = 0.02, N = 100 … 1600, 16 replicas
(seed 3), compared at t = 1 with the kernelised Fisher-Rao PDE on 256 cells. Measured slopes:
RMSE ⟨cos x⟩ −0.534 [−0.682, −0.381], RMSE ⟨sin 2x⟩ −0.427 [−0.554, −0.284], E W₁ −0.491,
E MMD² −0.932, E KDE-L¹ −0.467; N·E MMD² of N = 1600 and 100 within a factor 1.42. The wrong
particle codes are in tests/test_kit.py.
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

from mfpde.errors import InputError
from mfpde.verification.studies import load_study, run_study
from mfpde.verification.studies.base import Item
from mfpde.verification.studies.propagation_of_chaos import item_seed

CHAOS = """\
[study]
kind = "propagation_of_chaos"
n = [100, 200, 400, 800, 1600]
replicas = 16
seed = 3
times = [1.0]

[particles]
method = "birth_death"
dt = 0.02

[kernel]
variant = "density"
bandwidth = 0.3

[domain]
kind = "torus"
cells = 256

[problem]
sigma = 0.5
potential = "cos(x)"

[initial]
density = "exp(sin(x) + 0.5*cos(2*x))"

[time]
t_end = 1.0
dt = 0.02
save_every = 5
"""

BANDWIDTH = """\
[study]
kind = "bandwidth"
kernel = "{variant}"
bandwidths = [0.4, 0.2, 0.1, 0.05]
times = [1.0, 2.0]
{extra}
[domain]
kind = "torus"
cells = 256

[problem]
sigma = 0.5
potential = "cos(x) + 0.5*cos(2*x)"

[flow]
kind = "fisher_rao"

[initial]
density = "exp(2*sin(x))"

[time]
t_end = 2.0
dt = 0.01
save_every = 100
"""


def test_birth_death_propagates_chaos_at_the_rates_of_math_7(tmp_path):
    """Every slope contains its theoretical value (± 0.05) and the CLT curves agree.

    With 16 replicas the intervals of the RMSE slopes are ≈ ±0.15 wide (the RMSE of 16 values
    has a relative spread ≈ 1/√32 = 18 % per point over log(16) = 2.8); the fitted slopes are
    asserted within 0.1 of theory, about 1.5 half-widths of the tightest (W₁) interval.
    """
    result = run_study(CHAOS, tmp_path, progress=False)
    assert result.passed, [(c.claim, c.measured, c.interval) for c in result.outcome.checks]
    data = result.outcome.data
    for label, theory in (
        ("RMSE ⟨cos(x)⟩ t=1", -0.5),
        ("E W₁ t=1", -0.5),
        ("E MMD² t=1", -1.0),
        ("E KDE-L¹ t=1", -0.5),
    ):
        assert abs(data[f"{label}/slope"] - theory) < 0.1, (label, data[f"{label}/slope"])
        assert data[f"{label}/low"] < data[f"{label}/slope"] < data[f"{label}/high"]
    assert data["clt_max_ratio"] < 2
    assert data["clt"].shape == (5, 11)
    with h5py.File(tmp_path / "data.h5") as f:
        assert len(f["items"]) == 5 * 16 + 1
        assert f["items/mesh/density"].shape == (11, 256)
    assert {"errors.png", "clt.png", "report.html"} <= {p.name for p in tmp_path.iterdir()}


def test_replica_seed_depends_only_on_seed_replica_and_n():
    """Item (N = 200, r = 1) is the same run whatever the list of sizes and replicas."""
    a = load_study(CHAOS.replace("n = [100, 200, 400, 800, 1600]", "n = [100, 200, 400]"))
    b = load_study(CHAOS.replace("replicas = 16", "replicas = 3").replace("[100, ", "[50, 100, "))
    item = Item("n200_r1", {"n": 200, "replica": 1})
    first, second = a.compute(item, False), b.compute(item, False)
    for name in first:
        np.testing.assert_array_equal(first[name], second[name], err_msg=name)
    other = a.compute(Item("n200_r2", {"n": 200, "replica": 2}), False)
    assert not np.array_equal(first["values"], other["values"])
    assert item_seed(3, 1, 200).spawn_key == (1, 200)


def test_interrupted_chaos_study_resumes_to_the_same_numbers(tmp_path):
    """Killed after its first item (SIGKILL), rerun: finished items are kept, numbers equal."""
    text = CHAOS.replace("replicas = 16", "replicas = 4").replace(", 800, 1600]", "]")
    path = tmp_path / "chaos.toml"
    path.write_text(text)
    reference = run_study(text, tmp_path / "uninterrupted", progress=False)
    folder = tmp_path / "interrupted"
    first = folder / "items" / "n100_r0.npz"
    command = [sys.executable, "-m", "mfpde.cli", "verify", str(path), "-o", str(folder), "-q"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not first.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the study finished before it was killed"
    finished = sorted(folder.glob("items/*.npz"))
    assert 1 <= len(finished) < 13 and not (folder / "data.h5").exists()
    stamps = {p.name: p.stat().st_mtime_ns for p in finished}
    resumed = run_study(text, folder, progress=False)
    assert {p.name: p.stat().st_mtime_ns for p in finished} == stamps  # not recomputed
    for key, value in reference.outcome.data.items():
        np.testing.assert_array_equal(resumed.outcome.data[key], value, err_msg=key)


def test_bandwidth_study_finds_order_2_for_density_and_4_for_blob(tmp_path):
    """MATH §3.2: ‖μ^h_t − μ_t‖₁ = O(h²) ("density"), O(h⁴) ("blob": the h² terms cancel).

    Measured orders (t = 1, 2): 1.942, 1.963 (density), 3.698, 3.696 (blob). A claimed order 4
    for "density" lies ≈ 2 outside its interval and fails.
    """
    result = run_study(BANDWIDTH.format(variant="density", extra=""), tmp_path / "d", False)
    assert result.passed
    assert abs(result.outcome.data["order_t1"] - 2) < 0.1
    assert np.all(np.diff(result.outcome.data["errors"], axis=0) < 0)
    blob = run_study(BANDWIDTH.format(variant="blob", extra=""), tmp_path / "b", False)
    assert blob.passed and blob.outcome.data["order_t1"] > 3.5
    wrong = BANDWIDTH.format(variant="density", extra="expected_order = 4")
    checks = run_study(wrong, tmp_path / "w", False).outcome.checks
    assert [c.passed for c in checks] == [True, False, True, False]


BAD = {
    "no method": ('method = "birth_death"\n', "", "needs \\[particles\\] method"),
    "flow of another method": (
        "[problem]",
        '[flow]\nkind = "wfr"\n\n[problem]',
        "follows the flow",
    ),
    "langevin with a kernel": ('"birth_death"', '"langevin"', "uses no kernel"),
    "too few sizes": ("[100, 200, 400, 800, 1600]", "[100, 200]", "n must be a list"),
    "time not saved": ("times = [1.0]", "times = [0.5, 0.93]", "no state at t = 0.93"),
    "n in particles": ("dt = 0.02\n\n[kernel]", "dt = 0.02\nn = 5\n\n[kernel]", "unknown key 'n'"),
}


@pytest.mark.parametrize("name", BAD)
def test_bad_chaos_input_is_rejected(name):
    old, new, message = BAD[name]
    assert old in CHAOS
    with pytest.raises(InputError, match=message):
        load_study(CHAOS.replace(old, new))


def test_particle_tables_only_for_the_studies_that_read_them():
    text = BANDWIDTH.format(variant="density", extra="") + '[particles]\nmethod = "birth_death"\n'
    with pytest.raises(InputError, match="not read by a study of kind 'bandwidth'"):
        load_study(text)
