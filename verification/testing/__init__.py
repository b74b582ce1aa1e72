r"""The test kit: assert a particle code's propagation of chaos, or a flow's Lyapunov rate.

A thin layer over the verification studies of :mod:`mfpde.verification.studies` (MATH §5, §7), for
use in another project's pytest files. Each assertion builds the study from Python objects,
runs it into an output folder (``report.md``, ``report.html``, the plots, ``data.h5``) and
raises ``AssertionError`` if a claim fails, with the fitted slope or rate, its 95 % interval
and the report's path in the message.

- :func:`assert_propagation_of_chaos`: a particle code, wrapped as
  ``code(problem, n, seed, t_save) -> (positions, weights)`` (positions of shape
  (len(t_save), n, d), weights (len(t_save), n), Σ_j w_j = 1; ``seed`` a
  ``numpy.random.SeedSequence``, for ``numpy.random.default_rng(seed)``), is run for every N
  over seeded replicas and compared with the mesh solution of the same (kernelised) mean-field
  PDE: the slopes of the errors against N must be those of MATH §7 (study
  ``propagation_of_chaos``).
- :func:`assert_lyapunov_rate`: the decay rate of KL(μ*|μ_t) (or the energy gap, or the
  game's L_t) of mfpde's solution of a problem and flow is at least the theorem's rate of
  MATH §5 (or a claimed one) (study ``lyapunov_rate``).

The pytest plugin :mod:`mfpde.verification.testing.plugin` (registered as the ``pytest11``
entry point ``mfpde``) gives the fixture ``mfpde_output`` (a folder under the test's
``tmp_path``) and lists the reports written during the session in pytest's terminal summary.

This module imports the studies only when an assertion runs, so that loading the plugin keeps
pytest's start-up fast.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["assert_propagation_of_chaos", "assert_lyapunov_rate", "mfpde_particles", "REPORTS"]

#: The reports (``report.html``) written by the assertions of this process, in order.
REPORTS: list[Path] = []


def mfpde_particles(method: str, initial, *, dt: float, flow, kernel=None, grid=None) -> Callable:
    """mfpde's own particle method as a code for :func:`assert_propagation_of_chaos`.

    ``method`` is ``"birth_death"``, ``"langevin"``, ``"weighted_wfr"`` or ``"wfr_jump"``
    (:mod:`mfpde.particles`, MATH §6); see
    :func:`mfpde.verification.studies.propagation_of_chaos.mfpde_particles`.
    """
    from mfpde.verification.studies.propagation_of_chaos import mfpde_particles as build

    return build(method, initial, dt=dt, flow=flow, kernel=kernel, grid=grid)


def _save_every(times: Sequence[float], dt: float, saves: int = 10) -> int:
    """Mesh steps between saved states: a divisor of every check time's step count, giving
    about ``saves`` states up to the last time (the curves of the dynamical CLT)."""
    steps = [max(1, round(t / dt)) for t in times]
    common = int(np.gcd.reduce(steps))
    target = max(1, max(steps) // saves)
    return max(d for d in range(1, common + 1) if common % d == 0 and d <= target)


def _describe(function: str, objects: dict[str, Any], study: dict[str, Any]) -> str:
    """A TOML-like listing of an assertion's inputs: the checkpoints' digest and the report's
    configuration block."""
    lines = [f"# mfpde.verification.testing.{function}"]
    lines += [f"# {k} = {v!r}" for k, v in objects.items()]
    lines.append("[study]")
    lines += [f"{k} = {json.dumps(v)}" for k, v in study.items()]
    return "\n".join(lines) + "\n"


def _run(study, text: str, output: Path | None, progress: bool, what: str):
    """Run the study into ``output`` (a new temporary folder if None); assert its verdict."""
    from mfpde.verification.studies.base import execute_study

    folder = Path(output) if output is not None else Path(tempfile.mkdtemp(prefix="mfpde-"))
    result = execute_study(study, text, folder, progress)
    report = folder / "report.html"
    REPORTS.append(report)
    if not result.passed:
        failed = [c for c in result.outcome.checks if not c.passed]
        lines = [f"{what}: {len(failed)} of {len(result.outcome.checks)} checks failed"]
        lines += [
            f"  FAIL {c.claim}: "
            + (
                f"fitted {c.measured}, 95 % interval {c.interval}"
                if c.interval[:1] == "["
                else f"{c.measured} ({c.interval})"
            )
            for c in failed
        ]
        pictures = ", ".join(sorted(p.name for p in folder.glob("*.png")))
        lines.append(f"  report: {report} (plots in {folder}: {pictures})")
        raise AssertionError("\n".join(lines))
    return result


def assert_propagation_of_chaos(
    code: Callable,
    problem,
    flow,
    initial: str | Callable,
    *,
    n: Sequence[int],
    replicas: int,
    t: float | Sequence[float],
    kernel=None,
    kernelised_transport: bool = True,
    expected_slope: float = -0.5,
    metrics: Sequence[str] | None = None,
    observables: Sequence[str] | None = None,
    seed: int = 0,
    cells: int | tuple[int, ...] = 256,
    dt: float = 0.01,
    save_every: int | None = None,
    mmd_bandwidth: float | None = None,
    kde_bandwidth: float | None = None,
    tolerance: float = 0.05,
    clt_factor: float = 3.0,
    output: str | Path | None = None,
    progress: bool = False,
):
    r"""Assert that a particle code converges to the mean-field PDE at the rates of MATH §7.

    Runs the study ``propagation_of_chaos``
    (:mod:`mfpde.verification.studies.propagation_of_chaos`): ``code`` for every N in ``n`` and
    ``replicas`` seeded replicas (replica r at size N gets ``SeedSequence(seed,
    spawn_key=(r, N))``), against the mesh solution of ``flow`` (kernelised with ``kernel``,
    :func:`mfpde.kernels.solve_kernelised`, or the plain flow :func:`mfpde.solve` if
    ``kernel`` is None) from ``initial`` on ``cells`` cells with step ``dt``. At each time in
    ``t`` the slopes of log error against log N (RMSE of the ``observables``, E W₁ in 1-D,
    E MMD², E KDE-L¹; ``metrics`` selects) must contain ``expected_slope`` (twice it for
    E MMD²) in their bootstrap 95 % intervals widened by ``tolerance``, and N·E MMD² of the
    largest and smallest N must agree within ``clt_factor`` at every saved time (the dynamical
    CLT of [002]). The states are saved every ``save_every`` mesh steps (default: about ten
    states); ``code`` is called with these times as ``t_save``.

    Returns the :class:`~mfpde.verification.studies.base.StudyResult`; raises ``AssertionError``
    naming each failed claim with its fitted slope and interval and the report's path, and
    :class:`mfpde.errors.InputError` on bad arguments (including a code returning arrays of the
    wrong shape).
    """
    from mfpde.config import OptimisationSetup
    from mfpde.fv.grid import Grid
    from mfpde.solver import solve
    from mfpde.tables import Table
    from mfpde.verification.studies.propagation_of_chaos import PropagationOfChaos

    times = [float(v) for v in np.atleast_1d(t)]
    every = save_every or _save_every(times, dt)
    options = {"t_end": max(times), "dt": dt, "tolerance": None, "save_every": every}
    setup = OptimisationSetup(
        problem, flow, initial, Grid(problem.domain, cells), solve, {**options, "scheme": "expm"}
    )
    keys = {
        "n": [int(v) for v in n],
        "replicas": replicas,
        "times": times,
        "observables": list(observables) if observables is not None else None,
        "metrics": list(metrics) if metrics is not None else None,
        "mmd_bandwidth": mmd_bandwidth,
        "kde_bandwidth": kde_bandwidth,
        "expected_slope": expected_slope,
        "tolerance": tolerance,
        "clt_factor": clt_factor,
        "seed": seed or None,
    }
    keys = {k: v for k, v in keys.items() if v is not None}
    table = Table(keys, "study", set(PropagationOfChaos.keys))
    study = PropagationOfChaos(
        {},
        table,
        "optimisation",
        setup,
        code=code,
        kernel=kernel,
        kernelised_transport=kernelised_transport,
    )
    name = f"{getattr(code, '__module__', '')}.{getattr(code, '__qualname__', repr(code))}"
    objects = {
        "code": name,
        "problem": problem,
        "flow": flow,
        "initial": initial,
        "cells": cells,
        "kernel": kernel,
        "kernelised_transport": kernelised_transport,
        **options,
    }
    text = _describe("assert_propagation_of_chaos", objects, keys)
    return _run(study, text, output, progress, f"propagation of chaos of {name}")


def assert_lyapunov_rate(
    problem,
    flow,
    initial: str | Callable | tuple,
    *,
    t_end: float,
    dt: float,
    cells: int | tuple[int, ...] = 128,
    save_every: int = 1,
    claimed_rate: float | None = None,
    functional: str | None = None,
    seed: int = 0,
    output: str | Path | None = None,
    progress: bool = False,
):
    r"""Assert that mfpde's solution of ``problem`` decays at least at the rate of MATH §5.

    Runs the study ``lyapunov_rate`` (:mod:`mfpde.verification.studies.lyapunov_rate`) on ``cells``
    cells with step ``dt`` up to ``t_end``: the fitted rate of KL(μ*|μ_t) (``functional =
    "energy_gap"``: F^σ(μ_t) − F^σ(μ*); a game: L_t = KL(μ*|μ_t) + KL(ν*|ν_t)), with its
    bootstrap interval, is at least the theorem's rate (ασ Fisher-Rao, σ min(α_μ, α_ν) for
    Fisher-Rao games, 2λ₁ Fokker-Planck, max(ασ, 2λ₁) WFR) or ``claimed_rate``, and the bound
    L_t ≤ e^{−rt} L_0 holds at every saved time. For a game (a
    :class:`mfpde.games.GameProblem`) ``initial`` is the pair (μ₀, ν₀).

    Returns the :class:`~mfpde.verification.studies.base.StudyResult`; raises ``AssertionError``
    with the measured rate, its interval and the report's path if a check fails.
    """
    from mfpde.config import GameSetup, OptimisationSetup
    from mfpde.fv.grid import Grid
    from mfpde.games import GameProblem
    from mfpde.solver import solve
    from mfpde.tables import Table
    from mfpde.verification.studies.lyapunov_rate import LyapunovRate

    time = {"t_end": t_end, "dt": dt, "tolerance": None, "save_every": save_every}
    if isinstance(problem, GameProblem):
        kind = "game"
        grids = [Grid(problem.domain_mu, cells), Grid(problem.domain_nu, cells)]
        setup = GameSetup(problem, flow, list(initial), grids, time)
    else:
        kind = "optimisation"
        grid = Grid(problem.domain, cells)
        setup = OptimisationSetup(problem, flow, initial, grid, solve, {**time, "scheme": "expm"})
    keys = {"functional": functional, "claimed_rate": claimed_rate, "seed": seed or None}
    keys = {k: v for k, v in keys.items() if v is not None}
    study = LyapunovRate({}, Table(keys, "study", set(LyapunovRate.keys)), kind, setup)
    objects = {"problem": problem, "flow": flow, "initial": initial, "cells": cells, **time}
    text = _describe("assert_lyapunov_rate", objects, keys)
    return _run(study, text, output, progress, f"Lyapunov rate of {flow.name}")
