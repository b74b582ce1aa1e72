r"""Study ``propagation_of_chaos``: a particle system against the mean-field PDE of its dynamics.

Theory (MATH §7; [003] Thm 3, [001]): for t ≤ T the weighted empirical measure
μ^N_t = Σ_j w_j δ_{X_j(t)} of N particles converges to the solution μ_t of the mean-field PDE,
with fluctuations of order N^{−1/2}. The PDE is the one of the particles' *own* dynamics: the
kernelised flow of MATH §3.2 with the same K_h (:func:`mfpde.kernels.solve_kernelised`) for
birth-death and weighted WFR, the plain Fokker-Planck flow for Langevin particles (MATH §6).

Items: the mesh solution (``mesh``) and one item per pair (N, replica r) (``n<N>_r<r>``), each
checkpointed. Replica r at size N runs with the seed ``SeedSequence(seed, spawn_key=(r, N))``,
i.e. child N of child r of ``SeedSequence(seed)``: it depends neither on the list of sizes, nor
on the number of replicas, nor on how the items are dealt to MPI ranks. Every item returns, at
every saved time t_k (multiples of ``[time] dt × save_every`` up to ``t_end``), the metrics of
MATH §7 of μ^N_t against μ_t (the mesh density ρ_t with cell masses m_c = w_c ρ_c):

- ⟨φ, μ^N_t⟩ for the ``observables`` φ (the error e_φ = ⟨φ, μ^N_t⟩ − ⟨φ, μ_t⟩ is formed when
  analysing); RMSE √(E e_φ²) ∝ N^{−1/2}, bias E e_φ ∝ N^{−1} (measured: at the last fit time
  the weighted least-squares fit E e_φ ≈ a + b/N, weights 1/s.e.², with 95 % intervals of a
  and b, and the slope of log |E e_φ| against log N with its bootstrap interval, expected
  2 × ``expected_slope`` = −1; reported, with a verdict only if ``bias_verdict = true``: at
  the default sizes the bias is below the replicas' standard error and its slope is
  inconclusive);
- MMD²(μ^N_t, μ_t) = Σ_ij w_i w_j k(X_i − X_j) − 2 Σ_i Σ_c w_i m_c k(X_i − x_c)
  + Σ_cc' m_c m_c' k(x_c − x_c'), k the Gaussian (periodised on periodic axes) of width
  ``mmd_bandwidth`` (a positive-definite kernel), summed by the kernel's fast sums
  (:func:`mfpde.sums.gaussian.smoothing_kernel`, 1e-10 relative);
  E MMD² ∝ N^{−1};
- W₁ in 1-D (POT: ``ot.wasserstein_1d`` on an interval, ``ot.wasserstein_circle`` on the circle
  or T¹) between the particles and the mesh density as a weighted point cloud: each cell's mass
  spread equally over ``W1_REFINE`` = 16 points at the midpoints of sub-cells, so that the
  quantisation error (≈ h/64, below 1 % of W₁ at the sizes used) does not bend the slope;
  E W₁ ∝ N^{−1/2} (computed at the ``times`` of the fits only, NaN at the other saved times);
- KDE-L¹: Σ_c w_c |(K_b*μ^N_t)(x_c) − (K_b*μ_t)(x_c)|, both sides smoothed by the same
  Gaussian K_b of width ``kde_bandwidth``, so that it has no bandwidth bias (the L¹ distance to
  ρ_t itself would tend to ‖K_b*ρ_t − ρ_t‖₁ > 0); E KDE-L¹ ∝ N^{−1/2}.

Slopes: at each of the ``times``, log S(N) against log N by least squares, S the RMSE or the
replica mean, with the bootstrap 95 % interval of :func:`~mfpde.verification.studies.stats.
fit_replica_slope` (replicas resampled, seeded). Verdict per metric and time: the theoretical
slope (``expected_slope`` = −1/2 for RMSE, W₁, KDE-L¹; twice it, −1, for E MMD²) lies in the
interval widened by ``tolerance`` (default 0.05) at both ends, and the interval is conclusive
(half-width ≤ :data:`~mfpde.verification.studies.discretisation_order.CONCLUSIVE` = 0.5, as for
the order verdicts: an interval containing any slope proves nothing and fails). The widening
allows for the next terms of the expansions (E MMD² = a/N + b/N² + …, and the O(η) time-step
bias of the particle scheme, a floor that the RMSE reaches only at N ≳ 1/bias²).

Ground truth with an error bar: the mesh reference's own error in each ⟨φ, μ_t⟩ at the fit
times is estimated by Richardson (:func:`~mfpde.verification.studies.references.
richardson_error`, order 2) from a solve on half the cells plus, when the fit times are
multiples of 2 dt, one with twice the time step; the check: the estimate is at most
:data:`REFERENCE_FRACTION` = 1/3 of the statistical error of the study at the largest N, the
standard error s.e. = std(e_φ)/√R of the replica mean (the finest resolution of any measured
⟨φ, μ^N_t⟩). A reference error δ shifts every e_φ by δ: δ ≤ s.e./3 moves the bias estimates by
at most a third of their standard error (< 17 % of their 95 % half-width 1.96 s.e.) and the
RMSE² = Var + bias² by at most δ² ≤ Var/(9R). Otherwise the verdict is FAIL ("mesh reference
not accurate enough").

Dynamical CLT ([002]): N·E MMD²(μ^N_t, μ_t) over the saved times for every N. The fluctuation
field √N(μ^N_t − μ_t) converges, so these curves stay bounded and coincide for large N; the
check: at every saved time the ratio of the curves of the largest and the smallest N lies in
[1/``clt_factor``, ``clt_factor``] (default 3: the mean of R replicas of an MMD², a weighted
χ²-type variable, has a relative spread ≈ √(2/R), ≈ 0.22 for R = 40, so a factor 3 is ≳ 3
spreads of the log ratio; a biased particle code makes the ratio grow like N_max/N_min).

Configuration: ``[particles]`` ``method`` (``birth_death``, ``langevin``, ``weighted_wfr``,
``wfr_jump``; the ``[flow]`` kind defaults to the method's and must not contradict it) and
``dt`` (the particles' step η; default ``[time] dt``); ``[kernel]`` ``variant`` and
``bandwidth`` (K_h; not for ``langevin``), as for ``mfpde run`` (README "Particles").
``[study]`` keys: ``n`` (≥ 3 sizes), ``replicas`` (≥ 2), ``seed``, ``times`` (the times of the
slope fits; default ``[t_end]``), ``bias_verdict`` (default false), ``observables``
(expressions; default ``cos(x)``, ``sin(2*x)``, in ``x1`` beyond 1-D), ``mmd_bandwidth``
(default 0.1 × the largest side of Ω), ``kde_bandwidth`` (default 0.05 × it), ``metrics``
(those with a verdict, default all of ``rmse``, ``w1`` (1-D only), ``mmd2``, ``kde_l1``),
``expected_slope`` (default −0.5), ``tolerance`` (0.05), ``clt_factor`` (3). ``[time]``:
``t_end``, ``dt`` (the mesh step) and ``save_every`` (the saved times).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import ot
from matplotlib.ticker import NullFormatter

from mfpde.config import PARTICLE_TABLES
from mfpde.energies import as_function, finite_values
from mfpde.errors import InputError
from mfpde.fv.grid import Grid
from mfpde.kernels import Kernel, solve_kernelised
from mfpde.particles.config import METHODS, read_kernel
from mfpde.plotting import new_axes
from mfpde.problem import OptimisationProblem
from mfpde.tables import Table
from mfpde.verification.studies.base import Check, Item, Outcome, Study, register_study, save_png
from mfpde.verification.studies.discretisation_order import CONCLUSIVE
from mfpde.verification.studies.references import FV_ORDER, coarser_grid, richardson_error
from mfpde.verification.studies.report import Heading, TableBlock
from mfpde.verification.studies.stats import SlopeFit, fit_replica_slope, replica_band

__all__ = [
    "PropagationOfChaos",
    "ParticleCode",
    "PARTICLE_METHODS",
    "METRICS",
    "mfpde_particles",
    "item_seed",
]

#: ``code(problem, n, seed, t_save) -> (positions (T, n, d), weights (T, n))`` (or an object with
#: those two attributes): a particle system's empirical measures at the times ``t_save``.
ParticleCode = Callable[[OptimisationProblem, int, np.random.SeedSequence, np.ndarray], Any]

#: Metrics with a slope verdict, and the factor of ``expected_slope`` each is expected to have.
METRICS = {"rmse": 1.0, "w1": 1.0, "mmd2": 2.0, "kde_l1": 1.0}
METRIC_NAMES = {"rmse": "RMSE", "w1": "E W₁", "mmd2": "E MMD²", "kde_l1": "E KDE-L¹"}
#: Sub-points per cell of the mesh density's point cloud for W₁ (module docstring).
W1_REFINE = 16
#: Saved times match requested ones to this relative tolerance (sums of steps drift by ~1e-15).
TIME_MATCH = 1e-9
#: Largest ratio of the mesh reference's error estimate to the statistical error at the largest
#: N (module docstring).
REFERENCE_FRACTION = 1 / 3


#: The optimisation methods of :data:`mfpde.particles.config.METHODS` (the ``[particles]``
#: method names).
PARTICLE_METHODS = {name: m for name, m in METHODS.items() if m.kind == "optimisation"}


def _rates(flow) -> dict[str, float]:
    """The flow's non-zero rates γ, α: the keyword arguments of the particle methods."""
    return {k: getattr(flow, k) for k in ("gamma", "alpha") if getattr(flow, k)}


def item_seed(seed: int, replica: int, n: int) -> np.random.SeedSequence:
    """The seed of replica r at size N: ``SeedSequence(seed, spawn_key=(r, N))`` (module docs)."""
    return np.random.SeedSequence(seed, spawn_key=(replica, n))


def _match(times: np.ndarray, wanted: np.ndarray, what: str) -> np.ndarray:
    """Indices of ``times`` equal to each wanted time (to TIME_MATCH); InputError otherwise."""
    index = np.abs(times[:, None] - wanted[None, :]).argmin(axis=0)
    off = np.abs(times[index] - wanted) > TIME_MATCH * np.maximum(1.0, np.abs(wanted))
    if off.any():
        raise InputError(f"{what} has no state at t = {wanted[off][0]:g}")
    return index


def mfpde_particles(
    method: str,
    initial: str | Callable,
    *,
    dt: float,
    flow,
    kernel: Kernel | None = None,
    grid: Grid | None = None,
) -> ParticleCode:
    """mfpde's own particle method ``method`` as a :data:`ParticleCode` (MATH §6).

    The method runs with step η = ``dt`` and the flow's rates; the states at ``t_save`` (which
    must be multiples of η) are returned. ``grid`` is the y-quadrature of ``smoothed_kl``.
    """
    spec = PARTICLE_METHODS[method]
    extra = {"kernel": kernel, "grid": grid} if spec.kernel else {}

    def code(problem, n, seed, t_save):
        steps = np.rint(np.asarray(t_save) / dt).astype(int)
        if np.any(np.abs(steps * dt - t_save) > TIME_MATCH * np.maximum(1.0, t_save)):
            raise InputError(f"the saved times must be multiples of the particle step dt = {dt}")
        every = int(np.gcd.reduce(steps[steps > 0]))
        trajectory = spec.simulate(
            problem,
            initial,
            n=n,
            t_end=float(t_save[-1]),
            dt=dt,
            seed=seed,
            save_every=every,
            **_rates(flow),
            **extra,
        )
        index = _match(trajectory.times, np.asarray(t_save), f"the {method} trajectory")
        return trajectory.positions[index], trajectory.weights[index]

    code.__qualname__ = code.__name__ = f"particles.{method}"
    return code


class MeshReference:
    """The mean-field densities at the saved times and the metrics of particles against them.

    Parameters
    ----------
    density : array (T, cells)
        ρ_t on the grid at the saved times.
    grid : Grid
    observables : list of callables
    mmd_sum, kde_sum : callable
        ``sum(targets, sources, strengths)``: Gaussian kernel sums of widths ``mmd_bandwidth``
        and ``kde_bandwidth`` (:func:`gaussian_sum`).
    """

    def __init__(self, density, grid: Grid, observables, mmd_sum: Callable, kde_sum: Callable):
        self.density, self.grid, self.observables = density, grid, observables
        self.mmd_sum, self.kde_sum = mmd_sum, kde_sum
        x = grid.points
        self.masses = density * grid.weights
        self.values = np.array([[m @ phi(x) for phi in observables] for m in self.masses])
        self.mmd_self = np.array([m @ mmd_sum(x, x, m) for m in self.masses])
        self.smoothed = np.array([kde_sum(x, x, m) for m in self.masses])
        self.one_d = grid.dim == 1
        if self.one_d:
            h = grid.h[0]
            offsets = h * ((np.arange(W1_REFINE) + 0.5) / W1_REFINE - 0.5)
            self.cloud = (x[:, 0, None] + offsets).ravel()
            self.cloud_weights = np.repeat(self.masses, W1_REFINE, axis=1) / W1_REFINE

    def w1(self, k: int, X: np.ndarray, w: np.ndarray) -> float:
        """W₁(μ^N, μ_{t_k}) in 1-D (module docstring): on the circle in units of its period."""
        domain = self.grid.domain
        if domain.periodic[0]:
            L, lower = float(domain.lengths[0]), float(domain.lower[0])
            u, v = (X[:, 0] - lower) / L, (self.cloud - lower) / L
            return L * float(ot.wasserstein_circle(u, v, w, self.cloud_weights[k], p=1)[0])
        return float(ot.wasserstein_1d(X[:, 0], self.cloud, w, self.cloud_weights[k], p=1))

    def metrics(self, k: int, X: np.ndarray, w: np.ndarray, w1: bool) -> dict[str, Any]:
        """⟨φ, μ^N⟩ for each φ, MMD², KDE-L¹ and (1-D, if ``w1``; else NaN) W₁ against state k."""
        x, m = self.grid.points, self.masses[k]
        cross = w @ self.mmd_sum(X, x, m)
        out = {
            "values": np.array([w @ phi(X) for phi in self.observables]),
            "mmd2": w @ self.mmd_sum(X, X, w) - 2 * cross + self.mmd_self[k],
            "kde_l1": self.grid.weights @ np.abs(self.kde_sum(x, X, w) - self.smoothed[k]),
        }
        if self.one_d:
            out["w1"] = self.w1(k, X, w) if w1 else np.nan
        return out


def gaussian_sum(bandwidth: float, domain) -> Callable:
    """``sum(targets, sources, c)`` = Σ_j c_j K_h(t_i − s_j), K_h the smoothing kernel of width
    ``bandwidth`` (periodised on periodic axes), by its fast sums."""
    pair = Kernel("density", bandwidth).pair_kernel(domain)
    return lambda targets, sources, strengths: pair.sum(targets, sources, strengths)[0]


@dataclass(frozen=True)
class ErrorFit:
    """The slope fit of one error statistic against N at one time, with its bootstrap band."""

    label: str
    metric: str
    fit: SlopeFit
    values: np.ndarray
    band: tuple[np.ndarray, np.ndarray]


def _rmse(e: np.ndarray) -> np.ndarray:
    return np.sqrt(np.mean(e**2, axis=-1))


def _mean(e: np.ndarray) -> np.ndarray:
    return np.mean(e, axis=-1)


def _positive_ints(study: Table, key: str, minimum: int) -> list[int]:
    value = study.required(key)
    if (
        not isinstance(value, list)
        or len(set(value)) < minimum
        or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 2 for v in value)
    ):
        raise InputError(
            f"[study] {key} must be a list of >= {minimum} distinct integers >= 2, got {value!r}"
        )
    return sorted(set(value))


def _numbers(study: Table, key: str, default: list[float]) -> list[float]:
    value = study.data.get(key, default)
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    ):
        raise InputError(f"[study] {key} must be a non-empty list of numbers, got {value!r}")
    return [float(v) for v in value]


def _strings(study: Table, key: str, default: list[str], choices=None) -> list[str]:
    value = study.data.get(key, default)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise InputError(f"[study] {key} must be a non-empty list of strings, got {value!r}")
    if choices is not None and not set(value) <= set(choices):
        bad = sorted(set(value) - set(choices))[0]
        raise InputError(f"[study] {key}: {bad!r} (choose from {', '.join(choices)})")
    return value


@register_study
class PropagationOfChaos(Study):
    """Error of particles against the mean-field PDE as N grows (module docstring).

    ``code`` (a :data:`ParticleCode`) replaces ``[study] particles`` (the test kit
    :mod:`mfpde.verification.testing` passes a researcher's code), with ``kernelised_transport``
    saying which mean-field PDE it follows (as for :func:`mfpde.kernels.solve_kernelised`).
    """

    kind = "propagation_of_chaos"
    keys = frozenset(
        {
            "n",
            "replicas",
            "seed",
            "times",
            "observables",
            "mmd_bandwidth",
            "kde_bandwidth",
            "metrics",
            "expected_slope",
            "tolerance",
            "clt_factor",
            "bias_verdict",
        }
    )
    tables = PARTICLE_TABLES
    title = "propagation of chaos: particles against the mean-field PDE (MATH §7)"

    def __init__(
        self,
        cfg: dict,
        study: Table,
        problem_kind: str,
        setup_override=None,
        code: ParticleCode | None = None,
        kernel: Kernel | None = None,
        kernelised_transport: bool = True,
    ):
        if problem_kind != "optimisation":
            raise InputError("propagation_of_chaos: optimisation problems only (MATH §6)")
        particles = Table(cfg.get("particles", {}), "particles", {"method", "dt"})
        method = particles.string("method", None, tuple(PARTICLE_METHODS))
        if code is None and method is None:
            raise InputError(
                f"propagation_of_chaos needs [particles] method ({', '.join(PARTICLE_METHODS)})"
            )
        if method is not None:
            spec = PARTICLE_METHODS[method]
            flow = {"kind": spec.flow, **cfg.get("flow", {})}
            if flow["kind"] != spec.flow:
                raise InputError(
                    f"[particles] method {method!r} follows the flow {spec.flow!r}, "
                    f"not [flow] kind = {flow['kind']!r}"
                )
            cfg = {**cfg, "flow": flow}
            kernel = read_kernel(cfg, method, spec)
            kernelised_transport = spec.kernelised_transport
        super().__init__(cfg, study, problem_kind, setup_override)
        self.kernel = kernel
        self.run = run = self.setup()
        if not isinstance(run.grid, Grid):
            raise InputError("propagation_of_chaos needs the finite-volume backend (tensor grids)")
        domain = run.problem.domain
        self.sizes = _positive_ints(study, "n", 3)
        self.replicas = study.integer("replicas")
        if self.replicas is None or self.replicas < 2:
            raise InputError(f"[study] replicas must be an integer >= 2, got {self.replicas!r}")
        self.seed = study.integer("seed") or 0
        self.kernelised_transport = kernelised_transport
        self.method = method or getattr(code, "__qualname__", "code")
        time = run.time
        if time.get("dt") is None or time.get("tolerance") is not None:
            raise InputError("propagation_of_chaos needs a fixed [time] dt for the mesh")
        interval = time["dt"] * time["save_every"]
        count = int(round(time["t_end"] / interval))
        if count < 1 or abs(count * interval - time["t_end"]) > TIME_MATCH * time["t_end"]:
            raise InputError("[time] t_end must be a multiple of dt × save_every")
        self.t_save = interval * np.arange(count + 1)
        times = np.array(_numbers(study, "times", [time["t_end"]]))
        if np.any(times <= 0):
            raise InputError("[study] times must be > 0 (at t = 0 the particles are iid)")
        self.check_index = _match(self.t_save, times, "the saved times (dt × save_every)")
        dim = domain.dim
        default = ["cos(x)", "sin(2*x)"] if dim == 1 else ["cos(x1)", "sin(2*x1)"]
        self.observable_names = _strings(study, "observables", default)
        self.observables = [as_function(e, dim) for e in self.observable_names]
        for name, phi in zip(self.observable_names, self.observables):
            finite_values(f"observable {name!r}", phi(run.grid.points), run.grid.points)
        side = float(domain.lengths.max())
        self.mmd_bandwidth = study.number("mmd_bandwidth", 0.1 * side, positive=True)
        self.kde_bandwidth = study.number("kde_bandwidth", 0.05 * side, positive=True)
        available = [m for m in METRICS if m != "w1" or dim == 1]
        self.metrics = _strings(study, "metrics", available, available)
        self.expected = study.number("expected_slope", -0.5)
        if self.expected >= 0:
            raise InputError(f"[study] expected_slope must be < 0, got {self.expected}")
        self.tolerance = study.number("tolerance", 0.05, minimum=0.0)
        self.clt_factor = study.number("clt_factor", 3.0)
        if self.clt_factor <= 1:
            raise InputError(f"[study] clt_factor must be > 1, got {self.clt_factor}")
        self.bias_verdict = study.data.get("bias_verdict", False)
        if not isinstance(self.bias_verdict, bool):
            raise InputError(
                f"[study] bias_verdict must be true or false, got {self.bias_verdict!r}"
            )
        dt = particles.number("dt", time["dt"], positive=True)
        self.code = code or mfpde_particles(
            method, run.initial, dt=dt, flow=run.flow, kernel=self.kernel, grid=run.grid
        )

    def _mesh_density(self, grid: Grid, dt: float, times: np.ndarray) -> np.ndarray:
        """The mean-field PDE solved on ``grid`` with step ``dt``: ρ_t at ``times`` (T, cells)."""
        run = self.run
        every = run.time["save_every"] if dt == run.time["dt"] and grid is run.grid else 1
        options = {"t_end": run.time["t_end"], "dt": dt, "progress": False, "save_every": every}
        if self.kernel is None:
            solution = run.solve(run.problem, run.flow, run.initial, grid=grid, **options)
        else:
            solution = solve_kernelised(
                run.problem,
                run.flow,
                run.initial,
                self.kernel,
                grid=grid,
                kernelised_transport=self.kernelised_transport,
                **options,
            )
        return solution.density[_match(solution.times, times, "the mesh solution")]

    @cached_property
    def mesh(self) -> MeshReference:
        """The mean-field solution (computed once per process: every rank needs it)."""
        run = self.run
        density = self._mesh_density(run.grid, run.time["dt"], self.t_save)
        domain = run.problem.domain
        sums = [gaussian_sum(b, domain) for b in (self.mmd_bandwidth, self.kde_bandwidth)]
        return MeshReference(density, run.grid, self.observables, *sums)

    @cached_property
    def reference_error(self) -> dict[str, np.ndarray]:
        """Richardson estimates of the mesh reference's error in ⟨φ, μ_t⟩ at the fit times.

        ``{"space": (times, observables), "time": … (if the fit times are multiples of
        2 dt)}`` (module docstring; order :data:`FV_ORDER`).
        """
        run, times = self.run, self.t_save[self.check_index]
        fine = self.mesh.values[self.check_index]

        def values(grid, dt):
            density = self._mesh_density(grid, dt, times)
            return np.array([[m @ phi(grid.points) for phi in self.observables]
                             for m in density * grid.weights])  # fmt: skip

        dt = run.time["dt"]
        coarse, ratio = coarser_grid(run.grid)
        out = {"space": richardson_error(fine, values(coarse, dt), FV_ORDER, ratio)}
        steps = times / (2 * dt)
        if np.all(np.abs(steps - np.rint(steps)) <= TIME_MATCH * np.maximum(1.0, steps)):
            out["time"] = richardson_error(fine, values(run.grid, 2 * dt), FV_ORDER)
        return out

    def items(self) -> list[Item]:
        pairs = [
            Item(f"n{n}_r{r}", {"n": n, "replica": r})
            for r in range(self.replicas)
            for n in self.sizes
        ]
        return [*pairs, Item("mesh")]

    def compute(self, item: Item, progress: bool) -> dict[str, np.ndarray]:
        mesh = self.mesh
        if item.key == "mesh":
            grid = self.run.grid
            return {
                "time": self.t_save,
                "density": mesh.density,
                "points": grid.points,
                "weights": grid.weights,
            }
        n, r = item.params["n"], item.params["replica"]
        out = self.code(self.run.problem, n, item_seed(self.seed, r, n), self.t_save.copy())
        X, w = out if isinstance(out, tuple) else (out.positions, out.weights)
        X, w = np.asarray(X, dtype=float), np.asarray(w, dtype=float)
        T, d = len(self.t_save), self.run.problem.domain.dim
        if X.shape != (T, n, d) or w.shape != (T, n):
            raise InputError(
                f"the particle code returned positions {X.shape} and weights {w.shape}; "
                f"expected ({T}, {n}, {d}) and ({T}, {n}) for {T} saved times"
            )
        if not (np.all(np.isfinite(X)) and np.all(np.abs(w.sum(axis=1) - 1) < 1e-9)):
            raise InputError("the particle code returned non-finite positions or weights ≠ 1")
        checked = set(self.check_index.tolist())  # W₁ (26 ms per POT call) only where fitted
        rows = [mesh.metrics(k, X[k], w[k], k in checked) for k in range(T)]
        return {name: np.array([row[name] for row in rows]) for name in rows[0]}

    # ----------------------------------------------------------------------------------------
    # analysis

    def _samples(self, results) -> dict[str, np.ndarray]:
        """Per-replica quantities of shape (sizes, R, T): observable errors, MMD², W₁, KDE-L¹."""

        def gather(name):
            return np.array(
                [[results[f"n{n}_r{r}"][name] for r in range(self.replicas)] for n in self.sizes]
            )

        values = gather("values")  # (m, R, T, observables)
        out = {
            f"error {name}": values[..., j] - self.mesh.values[:, j]
            for j, name in enumerate(self.observable_names)
        }
        for name in ("mmd2", "w1", "kde_l1"):
            if name in results[f"n{self.sizes[0]}_r0"]:
                out[name] = gather(name)
        return out

    def _fits(self, samples) -> list[ErrorFit]:
        """One fit per metric with a verdict (per observable for the RMSE) and check time."""
        sizes, fits = np.array(self.sizes), []
        for k in self.check_index:
            for metric in self.metrics:
                if metric == "rmse":
                    series = [
                        (f"RMSE ⟨{n}⟩", samples[f"error {n}"], _rmse) for n in self.observable_names
                    ]
                else:
                    series = [(METRIC_NAMES[metric], samples[metric], _mean)]
                for label, data, statistic in series:
                    fit = fit_replica_slope(sizes, data[..., k], statistic, self.seed)
                    band = replica_band(data[..., k], statistic, self.seed)
                    label = f"{label} t={self.t_save[k]:g}"
                    fits.append(ErrorFit(label, metric, fit, statistic(data[..., k]), band))
        return fits

    def analyse(self, results, folder: Path) -> Outcome:
        samples = self._samples(results)
        sizes = np.array(self.sizes, dtype=float)
        fits = self._fits(samples)
        checks, data, rows = [], {"sizes": sizes, "times": self.t_save}, []
        for f in fits:
            label, fit, expected = f.label, f.fit, METRICS[f.metric] * self.expected
            checks.append(self._slope_check(label, fit, expected))
            data.update({f"{label}/slope": fit.slope, f"{label}/low": fit.low})
            data.update({f"{label}/high": fit.high, f"{label}/values": f.values})
            rows.append(
                [label, f"{fit.slope:.3f}", f"[{fit.low:.3f}, {fit.high:.3f}]", f"{expected:g}"]
            )
        bias_table, bias_fits = self._bias(samples, data)
        if self.bias_verdict:
            checks += [self._slope_check(label, fit, 2 * self.expected) for label, fit in bias_fits]
        reference_check, reference_table = self._reference_check(samples, data)
        checks.append(reference_check)
        clt = sizes[:, None] * samples["mmd2"].mean(axis=1)  # (m, T): N E MMD²
        ratio = clt[-1] / clt[0]
        worst = float(np.max(np.maximum(ratio, 1 / ratio)))
        checks.append(
            Check(
                f"dynamical CLT: N·E MMD² of N = {self.sizes[-1]} and N = {self.sizes[0]} agree "
                f"within a factor {self.clt_factor:g} at every saved time",
                f"max ratio {worst:.3g}",
                f"{len(self.t_save)} saved times",
                worst <= self.clt_factor,
                self.clt_factor - worst,
                f"{self.clt_factor - worst:+.3g}",
            )
        )
        data.update({"clt": clt, "clt_max_ratio": worst})
        blocks = [
            Heading("Measurement"),
            self._description(),
            TableBlock(["error", "fitted slope", "95 % interval (bootstrap)", "theory"], rows),
            self._size_table(samples),
            Heading("Bias against 1/N (MATH §7)", 3),
            bias_table,
            Heading("Error bar of the mesh reference", 3),
            reference_table,
            self._plot_errors(fits, folder),
            self._plot_clt(clt, folder),
        ]
        return Outcome(checks, blocks, data)

    def _slope_check(self, label: str, fit: SlopeFit, expected: float) -> Check:
        """Expected slope inside the widened interval, and the interval conclusive (module
        docstring)."""
        inside = self.tolerance + min(expected - fit.low, fit.high - expected)
        conclusive = CONCLUSIVE - fit.half_width
        margin = min(inside, conclusive)
        return Check(
            f"slope of {label} vs N is {expected:g} (± tolerance {self.tolerance:g}, an "
            f"interval of half-width ≤ {CONCLUSIVE:g})",
            f"{fit.slope:.3f}",
            f"[{fit.low:.3f}, {fit.high:.3f}]",
            margin >= 0,
            margin,
            f"{margin:+.3f} (expected slope inside the widened interval if ≥ 0)"
            if conclusive >= 0
            else f"{margin:+.3f} (inconclusive: the interval is too wide)",
        )

    def _bias(self, samples, data) -> tuple[TableBlock, list[tuple[str, SlopeFit]]]:
        """Bias E e_φ against 1/N at the last fit time: a + b/N by weighted least squares and
        the slope of log |E e_φ| against log N (module docstring)."""
        k = self.check_index[-1]
        sizes = np.array(self.sizes, dtype=float)
        rows, fits = [], []
        for name in self.observable_names:
            e = samples[f"error {name}"][..., k]
            bias = e.mean(axis=1)
            se = e.std(axis=1, ddof=1) / np.sqrt(self.replicas)
            design = np.column_stack([np.ones_like(sizes), 1 / sizes]) / se[:, None]
            (a, b), *_ = np.linalg.lstsq(design, bias / se, rcond=None)
            half = 1.96 * np.sqrt(np.diag(np.linalg.inv(design.T @ design)))
            label = f"bias ⟨{name}⟩ t={self.t_save[k]:g}"
            fit = fit_replica_slope(sizes, e, lambda x: np.abs(np.mean(x, axis=-1)), self.seed)
            fits.append((f"|{label}|", fit))
            data.update({f"{label}/b": b, f"{label}/b_half": half[1], f"{label}/a": a})
            data.update({f"{label}/a_half": half[0], f"{label}/slope": fit.slope})
            data.update({f"{label}/slope_low": fit.low, f"{label}/slope_high": fit.high})
            verdict = "conclusive" if fit.half_width <= CONCLUSIVE else "inconclusive"
            rows.append(
                [
                    label,
                    f"{b:+.3e} ± {half[1]:.1e}",
                    f"{a:+.2e} ± {half[0]:.1e}",
                    f"{fit.slope:.2f} [{fit.low:.2f}, {fit.high:.2f}] ({verdict})",
                ]
            )
        header = ["bias E e_φ", "b of a + b/N (95 %)", "a (95 %)", "slope of log |bias| (−1)"]
        return TableBlock(header, rows), fits

    def _reference_check(self, samples, data) -> tuple[Check, TableBlock]:
        """The mesh reference's Richardson error ≤ REFERENCE_FRACTION × s.e. at the largest N."""
        estimates = self.reference_error
        total = sum(estimates.values())  # (fit times, observables)
        rows, worst = [], 0.0
        for j, name in enumerate(self.observable_names):
            for i, k in enumerate(self.check_index):
                e = samples[f"error {name}"][-1, :, k]
                se = e.std(ddof=1) / np.sqrt(self.replicas)
                ratio = total[i, j] / se
                worst = max(worst, float(ratio))
                parts = [f"{estimates[p][i, j]:.2e}" if p in estimates else "—"
                         for p in ("space", "time")]  # fmt: skip
                rows.append([f"⟨{name}⟩ t={self.t_save[k]:g}", *parts, f"{se:.2e}", f"{ratio:.3g}"])
        data.update({f"reference_error_{p}": v for p, v in estimates.items()})
        data["reference_error_ratio"] = worst
        margin = REFERENCE_FRACTION - worst
        check = Check(
            f"mesh reference error (Richardson) ≤ {REFERENCE_FRACTION:.3g} × the statistical "
            f"error at N = {self.sizes[-1]}"
            + ("" if margin >= 0 else ": mesh reference not accurate enough, refine [domain]"),
            f"max ratio {worst:.3g}",
            f"{len(rows)} observables × times",
            margin >= 0,
            margin,
            f"{margin:+.3g}",
        )
        header = ["⟨φ, μ_t⟩", "space (cells/2)", "time (2 dt)", f"s.e. at N = {self.sizes[-1]}"]
        return check, TableBlock([*header, "ratio"], rows)

    def _description(self) -> str:
        run, kernel = self.run, self.kernel
        smoothing = f"kernel {kernel.variant}, h = {kernel.bandwidth:g}" if kernel else "no kernel"
        return (
            f"Particles `{self.method}` ({smoothing}) against the mesh solution of flow "
            f"`{run.flow.name}` on {run.grid.shape} cells ({'kernelised' if kernel else 'plain'} "
            f"PDE, MATH §3.2), σ = {run.problem.sigma:g}. N ∈ {self.sizes}, {self.replicas} "
            f"replicas each (seed {self.seed}); MMD kernel width {self.mmd_bandwidth:.3g}, KDE "
            f"width {self.kde_bandwidth:.3g}. Slopes of log error vs log N with bootstrap 95 % "
            "intervals over replicas; the theoretical slopes of MATH §7 must lie inside "
            f"(± {self.tolerance:g})."
        )

    def _size_table(self, samples) -> TableBlock:
        """Per N at the last check time: RMSE and bias ± standard error of each observable, …"""
        k = self.check_index[-1]
        header = ["N"]
        columns = []
        for name in self.observable_names:
            e = samples[f"error {name}"][..., k]
            header += [f"RMSE ⟨{name}⟩", f"bias ⟨{name}⟩ ± s.e."]
            columns.append([f"{v:.3e}" for v in _rmse(e)])
            se = e.std(axis=1, ddof=1) / np.sqrt(self.replicas)
            columns.append([f"{b:+.2e} ± {s:.1e}" for b, s in zip(_mean(e), se)])
        for name in ("w1", "mmd2", "kde_l1"):
            if name in samples:
                header.append(METRIC_NAMES[name])
                columns.append([f"{v:.3e}" for v in _mean(samples[name][..., k])])
        rows = [[str(n), *(c[i] for c in columns)] for i, n in enumerate(self.sizes)]
        return TableBlock(
            [f"{h} (t = {self.t_save[k]:g})" if not i else h for i, h in enumerate(header)], rows
        )

    def _plot_errors(self, fits: list[ErrorFit], folder: Path):
        metrics = list(dict.fromkeys(f.metric for f in fits))
        axes = new_axes(len(metrics), width=4.2)
        sizes = np.array(self.sizes, dtype=float)
        for ax, metric in zip(axes, metrics):
            mine = [f for f in fits if f.metric == metric]
            for f in mine:
                line = ax.loglog(sizes, f.values, "o-", label=f"{f.label}: {f.fit.slope:.2f}")[0]
                ax.fill_between(sizes, *f.band, color=line.get_color(), alpha=0.2)
            expected = METRICS[metric] * self.expected
            anchor = np.exp(np.mean([np.log(f.values).mean() for f in mine]))
            reference = anchor * (sizes / np.exp(np.log(sizes).mean())) ** expected
            ax.loglog(sizes, reference, "k--", label=f"slope {expected:g}")
            ax.xaxis.set_minor_formatter(NullFormatter())  # decade labels only: no overlaps
            ax.set_xlabel("N")
            ax.set_title(METRIC_NAMES[metric])
            ax.legend(fontsize="x-small")
        return save_png(
            axes[0],
            folder,
            "errors.png",
            "errors against N (log-log) with bootstrap 95 % bands and the theoretical slopes",
        )

    def _plot_clt(self, clt: np.ndarray, folder: Path):
        ax = new_axes()[0]
        for n, curve in zip(self.sizes, clt):
            ax.plot(self.t_save, curve, "o-", ms=3, label=f"N = {n}")
        ax.set_xlabel("t")
        ax.set_ylabel("N · E MMD²(μᴺ_t, μ_t)")
        ax.set_yscale("log")
        ax.set_title("dynamical CLT [002]: N·E MMD² stays bounded")
        ax.legend(fontsize="small")
        return save_png(ax, folder, "clt.png", "N · E MMD² over time for each N (MATH §7, [002])")
