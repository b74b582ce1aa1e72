r"""Time to accuracy of mfpde against py-pde, FiPy and fplanck on exact Fokker-Planck solutions.

    .venv/bin/python benchmarks/peers.py [--budget S] [--cases a,b] [--solvers a,b] [--json F]

installs the peers into their own venv ``.venv-peers`` (``tools/peers_setup.sh``: Python 3.12,
pinned py-pde, FiPy, fplanck; never into ``.venv``), then runs every (solver, case) in a fresh
subprocess with one thread (``OMP_NUM_THREADS=1`` and friends), sweeping the solver's
resolutions in increasing cost until the L¹ error against the exact density falls below 1e-9 or
a run exceeds a quarter of the budget (``--budget`` seconds per solver and case; the subprocess
is killed at the budget). Each configuration is run once untimed (JIT compilation, caches),
then timed (median of 3 when it takes under a second). The time to an accuracy ε is the shortest
timed run whose error is ≤ ε; the table gives it for ε = 1e-3, 1e-4, 1e-8, the ratios
peer/mfpde, and the machine's load (``os.getloadavg()``) before and after.

Every case solves ∂_t ρ = ∇·(∇ρ + ρ∇Φ) (σ = γ = 1, MATH §3) with an exact solution (MATH §3.1):

- ``ou_interval``: V = x²/2 on [−8, 8] with no-flux walls, ρ₀ = N(1, 1/4): the Gaussian of the
  Ornstein-Uhlenbeck process on R, N(e^{−t}, 1 − ¾e^{−2t}) at t = 1;
- ``heat_circle``: V = 0 on the circle, ρ₀ ∝ e^{2 cos x}: the Fourier series
  Σ_k I_k(2)/I_0(2) e^{−k²t} cos kx / 2π at t = 1/2;
- ``ou_box_2d``: V = x₁²/2 + x₂² on [−8, 8]² with walls, ρ₀ = N((1, −½), I/4), t = 1: the
  product of two Ornstein-Uhlenbeck Gaussians (rates 1 and 2);
- ``torus_2d``: V = cos x₁ + ½ sin(x₁ + x₂) on T², ρ₀ ∝ e^{sin x₁ cos x₂}, at t = 30: the Gibbs
  state e^{−V}/Z (the discrete spectral gap is 0.857, so ρ_t is Gibbs to e^{−25.7} ≈ 7e-12);
- ``ou_box_3d``: V = (x₁² + 1.5 x₂² + 2 x₃²)/2 on [−6, 6]³ with walls, ρ₀ = N((1, −½, ½), I/4),
  t = 1/2: three Ornstein-Uhlenbeck Gaussians (standard deviations ≤ 0.85 at t = 1/2, the walls
  6.4 of them from the means: mass outside 1e-10);
- ``interaction_1d`` (nonlinear, not for fplanck): V = x²/2, W(x, y) = (x − y)²/2 on [−8, 8]
  with walls, ρ₀ = N(1, 1/4): the McKean-Vlasov Gaussian N(e^{−t}, ½ − ¼e^{−4t}) at t = 1
  (mean rate 1, variance rate 2(1 + 1)).

Walls: the exact solutions are those of R (or R^d); with the walls at distance ≥ 7 standard
deviations from every mean (6.4 in 3-D) the mass outside the box, and so the difference between
the walled and the free solution, is below 1e-10 in L¹. The errors are measured at each
solver's own points (cell centres; fplanck's nodes are centred the same way), L¹ with the cell
volume as weight.

This file is run by both interpreters: the peers' workers import only numpy, scipy and the peer;
mfpde is imported only in its own worker.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PEERS_PYTHON = ROOT / ".venv-peers" / "bin" / "python"
TARGETS = (1e-3, 1e-4, 1e-8)
SOLVERS = ("mfpde", "py-pde", "fplanck", "fipy")
ONE_THREAD = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
ONE_THREAD["NUMBA_NUM_THREADS"] = "1"


@dataclass(frozen=True)
class Case:
    """One problem: box [lower, upper]^d (periodic or walled), potential V, exact ρ(t_end, x).

    ``potential`` and ``gradient`` are expressions in X0, X1, X2 (renamed for each solver);
    ``kappa`` > 0 adds the interaction W = κ(x − y)²/2 (1-D).
    """

    dim: int
    lower: float
    upper: float
    periodic: bool
    potential: str
    gradient: tuple[str, ...]
    initial: Callable[[np.ndarray], np.ndarray]
    exact: Callable[[np.ndarray], np.ndarray]
    t_end: float
    kappa: float = 0.0


def _gaussians(mean0, rates, t, mean_rates=None):
    """Product of 1-D Ornstein-Uhlenbeck Gaussians from N(mean0, 1/4) at time t (σ = 1)."""
    mean_rates = rates if mean_rates is None else mean_rates

    def density(x):
        out = np.ones(len(x))
        for k, (m0, a, b) in enumerate(zip(mean0, rates, mean_rates)):
            var = 1 / a + (0.25 - 1 / a) * np.exp(-2 * a * t)
            mean = m0 * np.exp(-b * t)
            out *= np.exp(-((x[:, k] - mean) ** 2) / (2 * var)) / np.sqrt(2 * np.pi * var)
        return out

    return density


def _heat_circle(x):
    from scipy.special import iv

    k = np.arange(1, 60)
    terms = (iv(k, 2.0) / iv(0, 2.0) * np.exp(-(k**2) * 0.5))[None, :] * np.cos(k * x[:, :1])
    return (1 + 2 * terms.sum(axis=1)) / (2 * np.pi)


def _torus_potential(x):
    return np.cos(x[:, 0]) + 0.5 * np.sin(x[:, 0] + x[:, 1])


def _torus_gibbs(x):
    n = 256  # the trapezoidal rule is spectrally accurate on T²: Z to round-off
    s = (np.arange(n) + 0.5) * 2 * np.pi / n
    grid = np.stack([a.ravel() for a in np.meshgrid(s, s, indexing="ij")], axis=1)
    z = np.exp(-_torus_potential(grid)).sum() * (2 * np.pi / n) ** 2
    return np.exp(-_torus_potential(x)) / z


CASES = {
    "ou_interval": Case(
        1, -8, 8, False, "X0**2/2", ("X0",),
        _gaussians([1.0], [1.0], 0.0), _gaussians([1.0], [1.0], 1.0), 1.0,
    ),
    "heat_circle": Case(
        1, 0, 2 * np.pi, True, "0", ("0",),
        lambda x: np.exp(2 * np.cos(x[:, 0])), _heat_circle, 0.5,
    ),
    "ou_box_2d": Case(
        2, -8, 8, False, "X0**2/2 + X1**2", ("X0", "2*X1"),
        _gaussians([1.0, -0.5], [1.0, 2.0], 0.0), _gaussians([1.0, -0.5], [1.0, 2.0], 1.0), 1.0,
    ),
    "torus_2d": Case(
        2, 0, 2 * np.pi, True, "cos(X0) + 0.5*sin(X0 + X1)",
        ("-sin(X0) + 0.5*cos(X0 + X1)", "0.5*cos(X0 + X1)"),
        lambda x: np.exp(np.sin(x[:, 0]) * np.cos(x[:, 1])), _torus_gibbs, 30.0,
    ),
    "ou_box_3d": Case(
        3, -6, 6, False, "(X0**2 + 1.5*X1**2 + 2*X2**2)/2", ("X0", "1.5*X1", "2*X2"),
        _gaussians([1.0, -0.5, 0.5], [1.0, 1.5, 2.0], 0.0),
        _gaussians([1.0, -0.5, 0.5], [1.0, 1.5, 2.0], 0.5), 0.5,
    ),
    "interaction_1d": Case(
        1, -8, 8, False, "X0**2/2", ("X0",),
        _gaussians([1.0], [1.0], 0.0), _gaussians([1.0], [2.0], 1.0, mean_rates=[1.0]), 1.0,
        kappa=1.0,
    ),
}  # fmt: skip

#: Cells per axis swept by each solver, by dimension (increasing cost).
CELLS = {
    1: [16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072],
    2: [8, 16, 32, 64, 128, 256, 512, 1024],
    3: [8, 12, 16, 24, 32, 48, 64, 96, 128],
}
#: Nodes per axis of mfpde's spectral spaces, by space and dimension.
SPECTRAL_NODES = {
    "fourier": {1: [8, 12, 16, 20, 24, 32, 48, 64], 2: [8, 12, 16, 20, 24, 32, 40, 48]},
    "legendre": {
        1: [48, 64, 80, 96, 112, 128, 160, 192],
        2: [48, 64, 80, 96, 112, 128, 160],
        3: [40, 48, 56, 64, 80, 96, 112, 128],
    },
}
#: (nodes, steps) of the interaction case in the Legendre space, in increasing cost.
SPECTRAL_INTERACTION = [
    (64, 8), (64, 16), (80, 32), (96, 64), (96, 128), (112, 256), (112, 512), (128, 1024),
    (128, 2048), (128, 4096),
]  # fmt: skip


def _names(text: str, names: tuple[str, ...]) -> str:
    for k, name in enumerate(names):
        text = text.replace(f"X{k}", name)
    return text


def _points(case: Case, n: int) -> tuple[np.ndarray, float]:
    """Cell centres (C order) and the cell volume of n cells per axis."""
    h = (case.upper - case.lower) / n
    axis = case.lower + (np.arange(n) + 0.5) * h
    mesh = np.meshgrid(*[axis] * case.dim, indexing="ij")
    return np.stack([m.ravel() for m in mesh], axis=1), h**case.dim


def l1_error(case: Case, n: int, density: np.ndarray) -> float:
    """Σ_i |ρ_i − ρ(t_end, x_i)| h^d over the cell centres."""
    x, volume = _points(case, n)
    return float(np.abs(density.ravel() - case.exact(x)).sum() * volume)


# --- the solvers (each a generator of (label, run) with run() -> L1 error) -------------------


def mfpde_runs(case: Case):
    """Spectral first (Fourier on periodic boxes, Legendre-Gauss-Lobatto on walled ones), then
    the finite volumes; one exact step for the linear cases, dt ∝ h (FV) or a sweep of steps
    (spectral, whose error is then the splitting's O(dt²)) for the interaction."""
    import mfpde
    from mfpde.solver import SPACES

    names = ("x",) if case.dim == 1 else ("x1", "x2", "x3")[: case.dim]
    domain = mfpde.Domain(
        [case.lower] * case.dim, [case.upper] * case.dim, [case.periodic] * case.dim
    )
    energy = mfpde.Potential(_names(case.potential, names))
    if case.kappa:
        energy = energy + mfpde.Interaction(f"{case.kappa / 2}*(x - y)**2")
    problem = mfpde.OptimisationProblem(domain, energy, 1.0)
    spectral = "fourier" if case.periodic else "legendre"
    sweeps = [(spectral, n, 1) for n in SPECTRAL_NODES[spectral][case.dim]]
    if case.kappa:
        sweeps = [(spectral, n, steps) for n, steps in SPECTRAL_INTERACTION]
    sweeps += [("fv", n, max(4, n // 16) if case.kappa else 1) for n in CELLS[case.dim]]
    for space, n, steps in sweeps:
        grid = SPACES[space][0](domain, n)
        initial = case.initial(grid.points)

        def run(grid=grid, initial=initial, steps=steps, space=space):
            solution = mfpde.solve(
                problem, mfpde.fokker_planck(), initial, grid=grid, t_end=case.t_end,
                dt=case.t_end / steps, save_every=steps, progress=False, observers=(),
                space=space,
            )  # fmt: skip
            exact = case.exact(grid.points)
            return float(np.abs(solution.density[-1] - exact) @ grid.weights)

        yield f"{space} n={n} steps={steps}", run


def pypde_runs(case: Case):
    """py-pde: the divergence form ∇²c + Σ_k ∂_k(c ∂_kΦ), adaptive explicit Runge-Kutta."""
    import pde

    names = ("x", "y", "z")[: case.dim]
    drift = [_names(g, names) for g in case.gradient]
    if case.kappa:
        drift = [f"({drift[0]} + {case.kappa}*(x - integral(c*x)))"]
    rhs = "laplace(c)" + "".join(f" + d_d{v}(c*({g}))" for v, g in zip(names, drift) if g != "0")
    eq = pde.PDE({"c": rhs}, bc="auto_periodic_neumann")
    for n in CELLS[case.dim]:
        grid = pde.CartesianGrid([(case.lower, case.upper)] * case.dim, n, periodic=case.periodic)
        x, _ = _points(case, n)
        values = case.initial(x)
        values = values / (values.sum() * (case.upper - case.lower) ** case.dim / n**case.dim)

        h = (case.upper - case.lower) / n
        initial = pde.ScalarField(grid, values.reshape(grid.shape))
        solver = pde.solvers.RungeKuttaSolver(eq, backend="numba", adaptive=True, tolerance=1e-9)
        stepper = solver.make_stepper(initial, dt=0.1 * h**2)  # the JIT, outside the timing

        def run(initial=initial, stepper=stepper, n=n):
            state = initial.copy()
            stepper(state, 0.0, case.t_end)
            return l1_error(case, n, state.data)

        yield f"n={n}", run


def fplanck_runs(case: Case):
    """fplanck: its exponential-fitting matrix and scipy's expm_multiply over t_end."""
    if case.kappa:
        return
    from fplanck.solver import FokkerPlanck
    from fplanck.utility import Boundary
    from scipy import constants

    shift = (case.lower + case.upper) / 2  # fplanck's axes are centred on 0
    lambdas = {f"X{k}": f"(x[{k}] + {shift})" for k in range(case.dim)}
    text = case.potential
    for k, v in lambdas.items():
        text = text.replace(k, v)
    potential = eval("lambda *x: " + text.replace("cos", "np.cos").replace("sin", "np.sin"))  # noqa: S307 (fixed expressions of this file)
    if case.potential == "0":
        potential = None
    for n in CELLS[case.dim]:
        h = (case.upper - case.lower) / n

        def run(n=n, h=h):
            sim = FokkerPlanck(
                temperature=1 / constants.k, drag=1.0, extent=[case.upper - case.lower] * case.dim,
                resolution=h, boundary=Boundary.PERIODIC if case.periodic else Boundary.REFLECTING,
                potential=potential,
            )  # fmt: skip
            p = sim.propagate(
                lambda *x: case.initial(np.stack([a.ravel() + shift for a in x], 1)).reshape(
                    x[0].shape
                ),
                case.t_end,
            )
            return l1_error(case, n, p / h**case.dim)

        yield f"n={n}", run


def fipy_runs(case: Case):
    """FiPy: implicit Euler, diffusion plus exponential (Scharfetter-Gummel) convection."""
    import fipy

    for n in CELLS[case.dim]:
        steps = 4 * n

        def run(n=n, steps=steps):
            h = (case.upper - case.lower) / n
            mesh = (fipy.Grid1D, fipy.Grid2D, fipy.Grid3D)[case.dim - 1](
                **{f"d{v}": h for v in "xyz"[: case.dim]}, **{f"n{v}": n for v in "xyz"[: case.dim]}
            )
            if case.periodic:
                mesh = (fipy.PeriodicGrid1D, fipy.PeriodicGrid2D, fipy.PeriodicGrid3D)[
                    case.dim - 1
                ](
                    **{f"d{v}": h for v in "xyz"[: case.dim]},
                    **{f"n{v}": n for v in "xyz"[: case.dim]},
                )
            mesh = mesh + [[case.lower]] * case.dim
            x, _ = _points(case, n)
            values = case.initial(x)
            # FiPy numbers cells with x fastest: reorder from C order (last axis fastest).
            order = np.arange(n**case.dim).reshape([n] * case.dim).T.ravel()
            c = fipy.CellVariable(mesh=mesh, value=values[order] / (values.sum() * h**case.dim))
            faces = np.asarray(mesh.faceCenters)
            drift = np.zeros(faces.shape)
            for k, g in enumerate(case.gradient):
                expr = _names(g, [f"faces[{j}]" for j in range(case.dim)])
                expr = expr.replace("cos", "np.cos").replace("sin", "np.sin")
                drift[k] = -eval(expr) * np.ones(faces.shape[1])  # noqa: S307 (fixed expressions)
            velocity = fipy.FaceVariable(mesh=mesh, rank=1, value=drift)
            centres = np.asarray(mesh.cellCenters)
            eq = fipy.TransientTerm() == fipy.DiffusionTerm(1.0) - fipy.ExponentialConvectionTerm(
                velocity
            )
            for _ in range(steps):
                if case.kappa:
                    mean = float((np.asarray(c.value) * centres[0]).sum() * h)
                    velocity.setValue(drift - case.kappa * (faces[:1] - mean))
                eq.solve(var=c, dt=case.t_end / steps)
            inverse = np.argsort(order)
            return l1_error(case, n, np.asarray(c.value)[inverse])

        yield f"n={n} steps={steps}", run


RUNS = {"mfpde": mfpde_runs, "py-pde": pypde_runs, "fplanck": fplanck_runs, "fipy": fipy_runs}


def worker(solver: str, name: str, budget: float) -> None:
    """Sweep one solver on one case; print one JSON line per configuration."""
    case = CASES[name]
    done: set[str] = set()  # the families (mfpde's spaces) swept to the end
    for label, run in RUNS[solver](case):
        family = _family(label)
        if family in done:
            continue
        start = time.perf_counter()
        try:
            run()  # untimed: JIT compilation and caches
        except Exception as error:  # noqa: BLE001 (an under-resolved run: the next one)
            print(json.dumps({"config": label, "failed": str(error)[:200]}), flush=True)
            continue
        first = time.perf_counter() - start
        repeats = 3 if first < 1.0 else 1
        times, error = [], float("nan")
        for _ in range(repeats):
            start = time.perf_counter()
            error = run()
            times.append(time.perf_counter() - start)
        seconds = float(np.median(times))
        print(json.dumps({"config": label, "seconds": seconds, "error": error}), flush=True)
        if error < 1e-9 or seconds > budget / 4 or first > budget / 4:
            done.add(family)


def _family(label: str) -> str:
    """mfpde's space ("fv", "legendre", "fourier") of a configuration; "" for the peers'."""
    first = label.split()[0]
    return "" if "=" in first else first


def _sweep(solver: str, name: str, budget: float) -> list[dict]:
    python = sys.executable if solver == "mfpde" else str(PEERS_PYTHON)
    command = [python, __file__, "--worker", solver, name, "--budget", str(budget)]
    env = {**os.environ, **ONE_THREAD}
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    ) as p:
        try:  # the budget bounds the timed runs; JIT compilation (py-pde) gets as much again
            out, err = p.communicate(timeout=2 * budget)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    rows = [r for r in rows if "failed" not in r]
    if p.returncode not in (0, -9) and not rows:
        print(f"  {solver} {name}: failed: {err.strip().splitlines()[-1:]}", file=sys.stderr)
    return rows


def time_to(rows: list[dict], target: float) -> float | None:
    """Shortest time of a configuration whose L¹ error is ≤ target (None: not reached)."""
    times = [r["seconds"] for r in rows if r["error"] <= target]
    return min(times) if times else None


def _table(results: dict) -> str:
    lines = [
        "| case | solver | "
        + " | ".join(f"time to {t:.0e} (ratio)" for t in TARGETS)
        + " | best error |",
        "|---|---|" + "---|" * (len(TARGETS) + 1),
    ]
    for name, per_solver in results.items():
        base = {t: time_to(per_solver.get("mfpde", []), t) for t in TARGETS}
        mine = per_solver.get("mfpde", [])
        spaces = {f"mfpde ({_family(r['config'])})": [] for r in mine}
        for r in mine:
            spaces[f"mfpde ({_family(r['config'])})"].append(r)
        peers = {s: rows for s, rows in per_solver.items() if s != "mfpde"}
        for solver, rows in {**spaces, **peers}.items():
            cells = []
            for t in TARGETS:
                v = time_to(rows, t)
                if v is None:
                    cells.append("not reached")
                elif solver.startswith("mfpde") or base[t] is None:
                    cells.append(f"{v:.3g} s")
                else:
                    cells.append(f"{v:.3g} s ({v / base[t]:.3g})")
            best = min((r["error"] for r in rows), default=float("nan"))
            lines.append(f"| {name} | {solver} | " + " | ".join(cells) + f" | {best:.2g} |")
    return "\n".join(lines)


def _fixed_cost(results: dict) -> str:
    """The 64-cell solve of the walled interval (mfpde: the finite volumes), each solver."""
    rows = {
        solver: [
            r for r in per if "n=64" in r["config"].split() and _family(r["config"]) in ("", "fv")
        ]
        for solver, per in results.get("ou_interval", {}).items()
    }
    times = {s: min(r["seconds"] for r in v) for s, v in rows.items() if v}
    if "mfpde" not in times:
        return ""
    parts = [f"{s} {t * 1e3:.3g} ms ({t / times['mfpde']:.3g})" for s, t in times.items()]
    return "64-cell solve of ou_interval (ratio to mfpde): " + ", ".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", nargs=2, metavar=("SOLVER", "CASE"), help=argparse.SUPPRESS)
    parser.add_argument("--budget", type=float, default=120.0, help="seconds per solver and case")
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--solvers", default=",".join(SOLVERS))
    parser.add_argument("--json", type=Path, default=ROOT / "out" / "peers.json")
    args = parser.parse_args(argv)
    if args.worker:
        worker(*args.worker, args.budget)
        return 0
    subprocess.run(["bash", str(ROOT / "tools" / "peers_setup.sh")], check=True)
    load_before = os.getloadavg()
    results: dict[str, dict[str, list[dict]]] = {}
    for name in args.cases.split(","):
        results[name] = {}
        for solver in args.solvers.split(","):
            if solver == "fplanck" and CASES[name].kappa:
                continue  # fplanck has no interactions
            results[name][solver] = _sweep(solver, name, args.budget)
            print(f"{name} {solver}: {results[name][solver]}", file=sys.stderr)
    load_after = os.getloadavg()
    table = _table(results)
    print(table)
    print(_fixed_cost(results))
    print(f"\nload average (1, 5, 15 min) before {load_before}, after {load_after}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"results": results, "load": [load_before, load_after]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
