"""Verification studies (issue 7): ``mfpde verify STUDY.toml [-o DIR]``.

The framework is :mod:`~verification.studies.base` (registry, checkpointed items, verdicts,
output), with :mod:`~verification.studies.stats` (slopes with 95 % intervals),
:mod:`~verification.studies.report` (report.md and report.html) and
:mod:`~verification.studies.references` (the exact solutions of MATH §3.1). Each study type is
one module registering one :class:`~verification.studies.base.Study` subclass; importing it here
makes its ``[study] kind`` available.
"""

from verification.studies import discretisation_order, lyapunov_rate  # noqa: F401 (registers)
from verification.studies.base import STUDY_KINDS, StudyResult, load_study, mpi_world, run_study

__all__ = ["STUDY_KINDS", "StudyResult", "load_study", "mpi_world", "run_study"]
