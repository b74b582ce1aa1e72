"""Every example configuration and study runs as the README says, and the headline numbers the
README prints are the ones the study measures (at the README's sizes).

Each configuration of ``examples/`` runs with ``mfpde run`` (exit 0, its output file); each
study of ``examples/studies/`` with ``mfpde verify`` (exit 0: every claim holds). The
propagation-of-chaos study of the main job runs at its full size (N = 500 … 8000, 64 replicas;
about 70 s), and its E W₁ and E MMD² slopes at t = 1 with their intervals must be the README's
to the printed digits: the replicas are seeded, so the numbers are reproducible exactly.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import h5py
import pytest

from mfpde.cli import main

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "examples").glob("*.toml"))
STUDIES = sorted((ROOT / "examples" / "studies").glob("*.toml"))


def test_the_examples_are_all_here():
    assert len(CONFIGS) >= 4 and len(STUDIES) >= 7


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_example_configuration_runs(config, tmp_path):
    out = tmp_path / "out.h5"
    assert main(["run", str(config), "-q", "-o", str(out)]) == 0
    assert out.read_bytes()[:4] == b"\x89HDF"


@pytest.mark.parametrize("study", STUDIES, ids=lambda p: p.name)
def test_example_study_passes(study, tmp_path):
    folder = tmp_path / study.stem
    assert main(["verify", str(study), "-q", "-o", str(folder)]) == 0
    with h5py.File(folder / "data.h5") as f:
        assert bool(f.attrs["passed"])
        checks = json.loads(f.attrs["checks"])
    assert checks and all(c["passed"] for c in checks)
    if study.stem == "chaos_birth_death":
        _readme_headline_numbers_are_measured(checks)


def _readme_headline_numbers_are_measured(checks: list[dict]) -> None:
    """The README's "measured: E W₁ at t = 1 … E MMD² …" are this run's slopes and intervals."""
    readme = (ROOT / "README.md").read_text()
    printed = re.search(
        r"E W₁ at t = 1 (−?[\d.]+) \[(−?[\d.]+), (−?[\d.]+)\], E MMD² (−?[\d.]+) "
        r"\[(−?[\d.]+), (−?[\d.]+)\]",
        readme,
    )
    assert printed, "the README's headline numbers moved: update this test"
    numbers = [float(v.replace("−", "-")) for v in printed.groups()]
    measured = {}
    for c in checks:
        for metric in ("E W₁", "E MMD²"):
            if c["claim"].startswith(f"slope of {metric} t=1 "):
                low, high = (float(v) for v in c["interval"].strip("[]").split(","))
                measured[metric] = [float(c["measured"]), low, high]
    assert measured["E W₁"] + measured["E MMD²"] == pytest.approx(numbers, abs=5e-4)
