"""The main job's long-time runs: today's exact transport paths against round 1's expm_multiply.

    .venv/bin/python benchmarks/main_job_transport.py [--repeat 3]

Times :func:`mfpde.verification.main_job.optimisation_runs` (the three flows of MATH §3 on T¹ to
10 decades of KL(μ*|μ_t), 128 cells, dt = 0.05) with the automatic transport path of
:meth:`mfpde.fv.FlowOperator.exponential_path` and with ``expm_multiply`` forced at every step
(round 1's path: its cost grows with τ‖A‖ ∝ dt/h²), best of ``--repeat`` each, one thread, in
one process. Prints the seconds, the ratio, the path the automatic choice took, and the fitted
rates of both (the main job's verdicts compare them with theory: they must agree).
"""

from __future__ import annotations

import argparse
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import time  # noqa: E402
from collections import Counter  # noqa: E402
from unittest import mock  # noqa: E402

from mfpde.fv import FlowOperator  # noqa: E402
from mfpde.verification.main_job import optimisation_runs  # noqa: E402


def _timed(repeat: int, force: str | None) -> tuple[float, list, Counter]:
    """Best seconds of ``repeat`` runs, the last run's results and the paths it took."""
    automatic = FlowOperator.exponential_path
    paths: Counter = Counter()

    def path(self, frozen, tau):
        chosen = force or automatic(self, frozen, tau)
        paths[chosen] += 1
        return chosen

    best = float("inf")
    with mock.patch.object(FlowOperator, "exponential_path", path):
        for _ in range(repeat):
            paths.clear()
            start = time.perf_counter()
            results = optimisation_runs(progress=False)
            best = min(best, time.perf_counter() - start)
    return best, results, paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    load = os.getloadavg()
    old, old_results, _ = _timed(args.repeat, "expm_multiply")
    new, new_results, paths = _timed(args.repeat, None)
    print("| flow | rate of KL, expm_multiply | rate of KL, automatic | theory |")
    print("|---|---|---|---|")
    for a, b in zip(old_results, new_results):
        print(
            f"| {a.flow} | {a.measured['lyapunov']:.6f} | {b.measured['lyapunov']:.6f} "
            f"| {b.theory:.6f} |"
        )
    print(f"\nexpm_multiply every step {old:.3g} s, automatic {new:.3g} s: ratio {old / new:.3g}")
    print(f"automatic paths taken (steps): {dict(paths)}")
    print(f"load average (1, 5, 15 min) before {load}, after {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
