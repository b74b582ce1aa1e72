"""The test kit's pytest plugin (entry point ``pytest11: mfpde``; see the kit's docstring).

- fixture ``mfpde_output``: a fresh folder ``<tmp_path>/mfpde`` for a study's report, plots and
  data (pass it as ``output=`` to the assertions of :mod:`mfpde.verification.testing`);
- terminal summary: the reports written by the kit's assertions during the session.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest


@pytest.fixture
def mfpde_output(tmp_path: Path) -> Path:
    """The folder for this test's study output: ``<tmp_path>/mfpde``."""
    return tmp_path / "mfpde"


def pytest_terminal_summary(terminalreporter) -> None:
    """List the kit's reports (only if the kit was used: the studies are never imported here)."""
    kit = sys.modules.get("mfpde.verification.testing")
    reports = getattr(kit, "REPORTS", [])
    if reports:
        terminalreporter.section("mfpde verification reports")
        for report in reports:
            terminalreporter.write_line(str(report))
