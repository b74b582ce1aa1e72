r"""The ``[particles]`` and ``[kernel]`` tables of ``mfpde run`` (README "Particles").

A run with a ``[particles]`` table solves, on the mesh, the mean-field PDE of the particle
method's own dynamics (MATH §3.2, §6, §7): :func:`mfpde.kernels.solve_kernelised` for the
kernelised methods, :func:`mfpde.solve` for ``langevin``, :func:`mfpde.games.solve_game` for the
game methods, and R seeded replicas of the particles beside it
(:func:`mfpde.particles.run_replicas`).
The flow is the method's (``[flow] kind`` defaults to it and must not contradict it; its rates are
the particles' γ, α). The particles are saved at the mesh solution's saved times, which needs a
fixed ``[time] dt`` whose saving interval dt · save_every is a whole number of particle steps.
The output file is the mesh solution's with ``/mu/particles/positions`` (n_saved × R × N × d) and
``/mu/particles/weights`` (n_saved × R × N), and the same under ``/nu/`` for games; games with a
sphere payoff (``builtin:ell_a``, ``builtin:ell_b``) add ``/particles/ni_error`` and
``/particles/ni_error_average`` (R × n_saved: the exact unregularised NI of each replica's
measures and of their time averages, MATH §2.2, :func:`mfpde.particles.games.game_ni`).

Games on spheres: ``[domain] kind = "sphere"`` with ``dim = d`` (default 3) puts both players on
S^{d−1} ⊂ R^d (expressions in x1 … xd, y1 … yd). With ``refinement = r`` (d = 3 only) the
mean-field PDE is solved on the icosphere beside the particles; without it the run is particles
only (any d ≥ 2): the file holds ``/time``, the particles and their NI, and the attributes.

Under ``mpiexec -n P`` (:func:`mfpde.particles.replicas.mpi_world`) the replicas are split over the
ranks by :func:`mfpde.particles.run_replicas`; rank 0 gathers them, solves the (serial) mesh PDE and
writes the file, which is the serial run's: replica r's seed does not depend on P.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import Any

import h5py
import numpy as np

from mfpde.config import game_setup, optimisation_setup
from mfpde.domains import Sphere
from mfpde.errors import InputError
from mfpde.fv.grid import Grid
from mfpde.games import SphereGame
from mfpde.kernels import SUM_METHODS, VARIANTS, Kernel, solve_kernelised
from mfpde.particles.birth_death import birth_death
from mfpde.particles.games import langevin_da, mirror_descent, wfr_da
from mfpde.particles.langevin import langevin
from mfpde.particles.replicas import mpi_world, run_replicas, stack
from mfpde.particles.trajectory import Trajectory
from mfpde.particles.wfr import weighted_wfr, wfr_jump
from mfpde.quadrature import Quadrature
from mfpde.resources import check_particles, require_steps
from mfpde.storage import atomic_path, write_h5_file
from mfpde.tables import Discretisation, Run, Table

__all__ = ["METHODS", "Method", "ParticleResult", "particle_run", "read_kernel"]


@dataclass(frozen=True)
class Method:
    """A particle method and the mesh PDE of its mean-field limit.

    ``kind`` is the ``[problem] kind`` it solves, ``flow`` the flow preset of its limit,
    ``kernel`` whether it uses a kernelised entropy (MATH §3.2) and ``kernelised_transport``
    whether its transport does (False: Langevin moves, plain Fokker-Planck transport).
    """

    simulate: Callable
    kind: str
    flow: str
    kernel: bool
    kernelised_transport: bool = True


METHODS: dict[str, Method] = {
    "birth_death": Method(birth_death, "optimisation", "fisher_rao", True),
    "weighted_wfr": Method(weighted_wfr, "optimisation", "wfr", True),
    "langevin": Method(langevin, "optimisation", "fokker_planck", False),
    "wfr_jump": Method(wfr_jump, "optimisation", "wfr", True, kernelised_transport=False),
    "langevin_da": Method(langevin_da, "game", "langevin_da", False),
    "wfr_da": Method(wfr_da, "game", "wfr_da", False),
    "mirror_descent": Method(mirror_descent, "game", "mirror_descent", False),
}

PARTICLE_KEYS = {"method", "n", "seed", "replicas", "dt"}


@dataclass
class ParticleResult:
    """The mesh solution (None for a run of particles only), the replicas' particles per measure
    (``"mu"``, ``"nu"``) and their ``observers`` (replica × saved time); ``particles`` is empty on
    MPI ranks other than 0, which write nothing."""

    mesh: Any
    particles: dict[str, Trajectory]
    attrs: dict[str, Any]
    observers: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def times(self) -> np.ndarray:
        return self.mesh.times if self.mesh is not None else self.particles["mu"].times

    def save(self, path, config: str = "") -> None:
        """The mesh solution's file (or ``/time`` and the attributes ``config``,
        ``mfpde_version``) plus ``/<measure>/particles/{positions,weights}`` and
        ``/particles/<observer>`` (module docstring), written atomically; nothing on MPI ranks
        other than 0."""
        if not self.particles:
            return
        if self.mesh is None:

            def fill(f: h5py.File) -> None:
                f["time"] = self.times
                f.attrs["config"] = config
                f.attrs["mfpde_version"] = version("mfpde")
                self._append(f)

            write_h5_file(path, fill)
            return
        with atomic_path(path) as tmp:
            self.mesh.save(tmp, config)
            buffer = io.BytesIO(tmp.read_bytes())  # appended in memory (storage.write_h5_file)
            with h5py.File(buffer, "a") as f:
                self._append(f)
            tmp.write_bytes(buffer.getbuffer())

    def _append(self, f: h5py.File) -> None:
        for name, trajectory in self.particles.items():
            group = f.require_group(name).create_group("particles")
            group["positions"] = trajectory.positions
            group["weights"] = trajectory.weights
        for name, values in self.observers.items():
            f.require_group("particles")[name] = values
        for key, value in self.attrs.items():
            f.attrs[f"particles_{key}"] = value


def _seed(t: Table) -> int:
    seed = t.data.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError(f"[particles] seed must be an integer >= 0, got {seed!r}")
    return seed


def read_kernel(cfg: dict, name: str, method: Method) -> Kernel | None:
    """K_h from ``[kernel]`` (``variant``, ``bandwidth`` > 0), which method ``name`` needs or
    refuses (MATH §3.2)."""
    if not method.kernel:
        if "kernel" in cfg:
            raise InputError(f"[particles] method {name!r} uses no kernel: remove [kernel]")
        return None
    if "kernel" not in cfg:
        raise InputError(f"[particles] method {name!r} needs a [kernel] table (variant, bandwidth)")
    t = Table(cfg["kernel"], "kernel", {"variant", "bandwidth", "sum", "tolerance"})
    t.required("variant")
    t.required("bandwidth")
    return Kernel(
        t.string("variant", choices=VARIANTS),
        t.number("bandwidth", positive=True),
        t.string("sum", "fast", SUM_METHODS),
        t.number("tolerance", 1e-10, positive=True),
    )


def _save_every(time: dict, dt: float) -> int:
    """Particle steps per saving interval of the mesh, which must be a whole number."""
    if time["tolerance"] is not None:
        raise InputError(
            "[particles] need a fixed [time] dt (particles are saved at the mesh's saved times)"
        )
    interval = time["dt"] * time["save_every"]
    steps = round(interval / dt)
    if steps < 1 or abs(steps * dt - interval) > 1e-9 * interval:
        raise InputError(
            f"[particles] dt = {dt} must divide the mesh's saving interval "
            f"[time] dt * save_every = {interval}"
        )
    return steps


def particle_run(cfg: dict, kind: str, text: str) -> Run:
    """Read ``[particles]``, ``[kernel]`` and the problem's tables into a :class:`Run` whose
    result is a :class:`ParticleResult` (module docstring); every input error is raised here."""
    if "particles" not in cfg:
        raise InputError("[kernel] is only for particle runs (add a [particles] table)")
    t = Table(cfg["particles"], "particles", PARTICLE_KEYS)
    t.required("method")
    name = t.string("method", choices=tuple(METHODS))
    method = METHODS[name]
    if method.kind != kind:
        raise InputError(
            f"[particles] method {name!r} is for {method.kind} problems, not {kind} "
            "([problem] kind)"
        )
    t.required("n")
    n = t.integer("n")
    if n < 2:
        raise InputError(f"[particles] n must be an integer >= 2, got {n}")
    replicas, seed = t.integer("replicas", 1), _seed(t)
    kernel = read_kernel(cfg, name, method)
    flow_table = {"kind": method.flow, **cfg.get("flow", {})}
    if flow_table["kind"] != method.flow:
        raise InputError(
            f"[particles] method {name!r} follows the flow {method.flow!r}, "
            f"not [flow] kind = {flow_table['kind']!r}"
        )
    cfg = {**cfg, "flow": flow_table}
    setup = (optimisation_setup if kind == "optimisation" else game_setup)(cfg, _sphere)
    if name == "wfr_da" and setup.problem.sigma != 0:
        raise InputError(
            "[particles] wfr_da particles are the sigma = 0 algorithm of [003] (Alg. 2): "
            f"set [problem] sigma = 0, got {setup.problem.sigma}"
        )
    dt = t.number("dt", setup.time["dt"], positive=True)
    run = {"n": n, "t_end": setup.time["t_end"], "dt": dt}
    run["save_every"] = _save_every(setup.time, dt)
    require_steps(run["t_end"] / dt, "[particles] t_end/dt")
    players = 1 if kind == "optimisation" else 2
    saves = run["t_end"] / dt / run["save_every"] + 2
    dim = max(g.points.shape[1] for g in (setup.grids if kind == "game" else [setup.grid]))
    what = f"[particles] n = {n}, replicas = {replicas}"
    check_particles(players * n, replicas, dim, saves, what)
    attrs = {"method": name, "n": n, "replicas": replicas, "seed": seed, "dt": dt}
    replicate = _replicate(method.simulate, replicas, seed, mpi_world())
    if kind == "optimisation":
        execute = _optimisation(setup, method, kernel, run, replicate)
        if kernel is not None:
            attrs |= {"kernel_variant": kernel.variant, "kernel_bandwidth": kernel.bandwidth}
    else:
        execute = _game(setup, run, replicate)

    def result(progress: bool = True) -> ParticleResult:
        out = execute(progress)
        if out is None:  # MPI ranks other than 0
            return ParticleResult(None, {}, attrs)
        return ParticleResult(out[0], out[1], attrs, *out[2:])

    return Run(result, text, parallel=True)


def _replicate(simulate: Callable, replicas: int, seed: int, comm) -> Callable:
    """``replicate(*args, **options)``: the R replicas of ``simulate`` (over the ranks of
    ``comm``; None on ranks other than 0, :func:`mfpde.particles.run_replicas`)."""
    return lambda *args, **options: run_replicas(
        simulate, replicas, seed, *args, comm=comm, **options
    )


def _rates(flow) -> dict[str, float]:
    """The flow's non-zero rates, the keyword arguments γ, α of the particle methods."""
    return {k: v for k, v in (("gamma", flow.gamma), ("alpha", flow.alpha)) if v}


def _finite_volumes(grid) -> None:
    if not isinstance(grid, Grid):
        raise InputError(
            "[particles] need a finite-volume [domain] (interval, box, torus, circle) "
            'or kind = "sphere"'
        )


def _sphere(cfg: dict, name: str) -> Discretisation | None:
    """``[domain] kind = "sphere"`` of a particle run without ``refinement``: S^{d−1} with
    ``dim = d`` and no mesh (module docstring); None for any other table (the mesh backends
    read it; ``dim`` = 3 with a refinement is the icosphere)."""
    data = cfg.get(name, {})
    if not (isinstance(data, dict) and data.get("kind") == "sphere"):
        return None
    t = Table(data, name, {"kind", "dim", "refinement", "backend"})
    d = t.integer("dim", 3)
    if "refinement" in data:
        if d != 3:
            raise InputError(
                f"[{name}] refinement: the mesh is the icosphere of S² (dim = 3), not S^{d - 1}: "
                "remove refinement for a run of particles only"
            )
        return None
    sphere = Sphere(d)
    # the points ±e_k only let the reader check the problem on S^{d−1} (no mesh is solved)
    points = np.concatenate([np.eye(d), -np.eye(d)])
    return Discretisation(sphere, Quadrature(points, np.full(2 * d, 0.5 / d), sphere), None, None)


def _optimisation(setup, method: Method, kernel, run, replicate):
    if not isinstance(setup.problem.domain, Sphere):
        _finite_volumes(setup.grid)
    if kernel is not None and setup.solve is not None and isinstance(setup.grid, Grid):
        if setup.time["scheme"] != "expm":
            raise InputError('kernelised mesh solves use [time] scheme = "expm"')
    mesh_time = {k: v for k, v in setup.time.items() if k != "scheme"}
    problem, flow, initial, grid = setup.problem, setup.flow, setup.initial, setup.grid
    options = {**run, **_rates(flow)}
    if kernel is not None:
        if setup.solve is None and kernel.variant == "smoothed_kl":
            raise InputError(
                '[kernel] variant "smoothed_kl" integrates over a mesh: on a sphere without '
                '[domain] refinement use "density" or "blob"'
            )
        options |= {"kernel": kernel, "grid": grid if setup.solve is not None else None}

    def execute(progress: bool):
        trajectories = replicate(problem, initial, **options)
        if trajectories is None:  # MPI ranks other than 0
            return None
        if setup.solve is None:  # S^{d−1} without a mesh: particles only
            mesh = None
        elif kernel is None:
            mesh = setup.execute(progress)
        elif isinstance(grid, Grid):
            mesh = solve_kernelised(
                problem, flow, initial, kernel, grid=grid,
                kernelised_transport=method.kernelised_transport, progress=progress, **mesh_time,
            )  # fmt: skip
        else:  # the icosphere (P1): the kernelised flow of MATH §3.2 on the nodes
            from mfpde.fem import solve_kernelised as solve_kernelised_p1

            mesh = solve_kernelised_p1(
                problem, flow, initial, kernel, space=grid,
                kernelised_transport=method.kernelised_transport, progress=progress, **mesh_time,
            )  # fmt: skip
        return mesh, {"mu": stack(trajectories)}

    return execute


def _game(setup, run, replicate):
    if not isinstance(setup.problem.domain_mu, Sphere):
        _finite_volumes(setup.grids[0])
    flow = setup.flow
    if _rates(flow.mu) != _rates(flow.nu):
        raise InputError("[particles] game methods use the same rates for both players")
    options = {**run, **_rates(flow.mu)}

    def execute(progress: bool):
        games = replicate(setup.problem, *setup.densities, **options)
        if games is None:  # MPI ranks other than 0
            return None
        mesh = None if setup.solve is None else setup.execute(progress)
        particles = {
            name: stack(
                [
                    Trajectory(
                        g.times, getattr(g, f"positions_{name}"), getattr(g, f"weights_{name}")
                    )
                    for g in games
                ]
            )
            for name in ("mu", "nu")
        }
        observers = {}
        if isinstance(setup.problem.payoff, SphereGame):
            observers = {name: np.array([getattr(g, name) for g in games])
                         for name in ("ni_error", "ni_error_average")}  # fmt: skip
        return mesh, particles, observers

    return execute
