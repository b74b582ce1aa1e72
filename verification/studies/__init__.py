"""Verification studies (issue 7): ``mfpde verify STUDY.toml [-o DIR]``.

The framework is :mod:`~mfpde.verification.studies.base` (registry, checkpointed items, verdicts,
output), with :mod:`~mfpde.verification.studies.stats` (slopes with 95 % intervals),
:mod:`~mfpde.verification.studies.report` (report.md and report.html) and
:mod:`~mfpde.verification.studies.references` (the exact solutions of MATH §3.1). Study types:
``lyapunov_rate`` (MATH §5), ``discretisation_order`` (§8), ``propagation_of_chaos`` (§7) and
``bandwidth`` (§3.2); :mod:`mfpde.verification.testing` runs the first and third on a
researcher's objects.
Each study type is one module registering one :class:`~mfpde.verification.studies.base.Study`
subclass; importing it here makes its ``[study] kind`` available.
"""

from mfpde.verification.studies import (  # noqa: F401 (registers the study kinds)
    bandwidth,
    discretisation_order,
    lyapunov_rate,
    propagation_of_chaos,
)
from mfpde.verification.studies.base import (
    STUDY_KINDS,
    StudyResult,
    load_study,
    mpi_world,
    run_study,
)

__all__ = ["STUDY_KINDS", "StudyResult", "load_study", "mpi_world", "run_study"]
