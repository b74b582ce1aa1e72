"""Nonlocal sums at scale (interactions, network losses, game payoffs): time, memory, accuracy.

Every case runs in a fresh interpreter (peak RSS = its own VmHWM) and reports, in one run:

- ``langevin``: one mean-field Langevin step on T² with V = cos x1 + sin x2 and an interaction
  W, at N = 10⁶ particles (von Mises distributed, so that the fields are O(1)): the seconds of
  one step after a warm-up step, the peak RSS, and the relative error of δF/δμ and of its
  gradient against the compiled exact direct sum on 200 random rows (max |fast − direct| /
  max |direct|). W is the translation-invariant ``0.5*cos(x1 - y1)*cos(x2 - y2)`` (Fourier sum)
  or the non-translation-invariant ``exp(0.5*cos(x1 + y1) + 0.3*sin(x2)*sin(y2))`` (separable
  Fourier expansion).
- ``today``: the same step at N = 16 000 by today's (round-1) path — W a numpy expression tree
  evaluated on row blocks of 256 × N, its gradient by central differences (an
  :class:`mfpde.Interaction` of a Python callable, ``method="direct"``: the same algorithm) —
  and by the new path in the same process; the ratio is the speed-up.
- ``network``: one birth-death step (kernelised "blob" entropy, h = 0.3) of the two-layer network
  energy of [002] on interval × circle with L = 1 000 data points at N = 10⁵, its RSS, its error
  against a dense numpy evaluation on 200 rows, and the speed-up over today's path at N = 16 000
  (the loss as a potential plus a Python-callable interaction U(θ, θ') = a a' E[φ(x, z)φ(x, z')],
  summed in row blocks; timed on one block of 256 rows and scaled by N/256, which is exact for
  a row-block sum).
- ``wfr``: two WFR steps with a Gaussian interaction on a 256 × 256 box and on a 64³ torus
  (peak RSS, seconds per step), and the interaction sum of the grid (exact FFT) against the
  dense sum on 32 × 32 and 12³ grids.
- ``sphere``: Langevin descent-ascent for the [003] ℓ_a game (seed 0) on icosphere(r) at
  σ = 0.1, γ = 1, dt = 0.01 to t = 0.5 from uniform measures: NI^σ at t = 0.5 for r = 2 … 6,
  the differences between successive refinements and their fitted order, the seconds and the
  peak RSS at each r (the payoff sums need ten moments per player: memory O(n_nodes)).

Run (about 10 minutes on the project's 2-core machine)::

    .venv/bin/python benchmarks/nonlocal.py [--only langevin,today,network,wfr,sphere]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

PYTHON = sys.executable

PEAK = """
import json, re
def peak_mib():
    return int(re.search(r"VmHWM:\\s*(\\d+) kB", open("/proc/self/status").read()).group(1)) / 1024
"""

LANGEVIN = (
    PEAK
    + """
import time, numpy as np, mfpde
from mfpde.expressions import compile_pair_sum, parse
from mfpde.particles.fields import ParticleField
from mfpde.particles.langevin import langevin_move
W = {W!r}
N = {n}
problem = mfpde.OptimisationProblem(
    mfpde.Torus(2), mfpde.Potential("cos(x1) + sin(x2)") + mfpde.Interaction(W), sigma=0.5)
rng = np.random.default_rng(0)
X = np.mod(np.stack([rng.vonmises(0.0, 2.0, N), rng.vonmises(1.0, 1.0, N)], axis=1), 2 * np.pi)
w = np.full(N, 1.0 / N)
field = ParticleField(problem)
X = langevin_move(field, X, w, 1.0, 0.01, rng)  # warm-up: plans, compilation
start = time.perf_counter()
X = langevin_move(field, X, w, 1.0, 0.01, rng)
step = time.perf_counter() - start
method = problem.energy.parts[1].kernel(problem.domain, 2).method
peak = peak_mib()
from mfpde.quadrature import Quadrature
q = Quadrature(X, w, problem.domain, reuse=False)
values, grads = problem.energy.parts[1].bind(q).first_variation_with_gradient(np.ones(N))
rows = rng.choice(N, 200, replace=False)
exact, d_exact = compile_pair_sum(parse(W, 2, ("x", "y")), "x")(X[rows], X, w, True)
err = float(np.abs(values[rows] - exact).max() / np.abs(exact).max())
d_err = float(np.abs(grads[rows] - d_exact).max() / np.abs(d_exact).max())
print(json.dumps(dict(step=step, peak=peak, method=method, error=err, gradient_error=d_err)))
"""
)

TODAY = (
    PEAK
    + """
import time, numpy as np, mfpde
from mfpde.expressions import parse
from mfpde.particles.fields import ParticleField
W = {W!r}
N = {n}
expression = parse(W, 2, ("x", "y"))
rng = np.random.default_rng(0)
X = np.mod(np.stack([rng.vonmises(0.0, 2.0, N), rng.vonmises(1.0, 1.0, N)], axis=1), 2 * np.pi)
w = np.full(N, 1.0 / N)
def field(interaction):
    problem = mfpde.OptimisationProblem(
        mfpde.Torus(2), mfpde.Potential("cos(x1) + sin(x2)") + interaction, sigma=0.5)
    return ParticleField(problem)
new = field(mfpde.Interaction(W))
old = field(mfpde.Interaction(lambda x, y: expression(x, y), method="direct"))
new(X, w, True)
start = time.perf_counter(); g_new, d_new = new(X, w, True); t_new = time.perf_counter() - start
start = time.perf_counter(); g_old, d_old = old(X, w, True); t_old = time.perf_counter() - start
print(json.dumps(dict(old=t_old, new=t_new, ratio=t_old / t_new,
    difference=float(np.abs(g_new - g_old).max() / np.abs(g_old).max()))))
"""
)

WFR = (
    PEAK
    + """
import time, numpy as np, mfpde
case = {case!r}
if case == "box":
    domain, cells, small = mfpde.Box([0, 0], [1, 1]), 256, 32
    W = "-exp(-((x1 - y1)**2 + (x2 - y2)**2)/0.02)"
    V = "(x1 - 0.3)**2 + (x2 - 0.6)**2"
else:
    domain, cells, small = mfpde.Torus(3), 64, 12
    d2 = " + ".join(f"((x{{k}} - y{{k}} + pi) % (2*pi) - pi)**2" for k in (1, 2, 3))
    W = f"-exp(-({{d2}})/0.5)"
    V = "cos(x1) + cos(x2)*cos(x3)"
problem = mfpde.OptimisationProblem(domain, mfpde.Potential(V) + mfpde.Interaction(W), sigma=0.5)
start = time.perf_counter()
sol = mfpde.solve(problem, mfpde.wfr(), "1", cells=cells, t_end=0.02, dt=0.01, progress=False)
seconds = time.perf_counter() - start
peak = peak_mib()
grid = mfpde.Grid(domain, small)
rng = np.random.default_rng(0)
rho = rng.uniform(0.5, 1.5, grid.size)
fft = mfpde.Interaction(W).bind(grid)
from mfpde.quadrature import Quadrature
dense = mfpde.Interaction(W, method="direct").bind(Quadrature(grid.points, grid.weights, domain))
a, b = fft.first_variation(rho), dense.first_variation(rho)
difference = float(np.abs(a - b).max() / np.abs(b).max())
print(json.dumps(dict(seconds=seconds, peak=peak, method=fft.sums.method, cells=grid.size,
    difference=difference)))
"""
)

SPHERE = (
    PEAK
    + """
import time, numpy as np
from mfpde.fem import P1FlowOperator, P1Space, Sphere, icosphere
from mfpde.games import GameProblem, game_flow, solve_game, sphere_game
r = {r}
start = time.perf_counter()
space = P1Space(icosphere(r))
problem = GameProblem(Sphere(), Sphere(), sphere_game("ell_a", seed=0), sigma=0.1)
sol = solve_game(problem, game_flow("langevin_da", gamma=1.0), "1", "1", grid_mu=space,
                 grid_nu=space, t_end=0.5, dt=0.01, save_every=50, scheme="implicit_euler",
                 operator_type=P1FlowOperator, progress=False)
print(json.dumps(dict(r=r, nodes=space.size, ni=float(sol.observers["ni_error"][-1]),
    seconds=time.perf_counter() - start, peak=peak_mib())))
"""
)


NETWORK = (
    PEAK
    + """
import time, numpy as np, mfpde
from mfpde.kernels import Kernel
from mfpde.network import TwoLayerNetwork
from mfpde.particles.birth_death import birth_death_jump
from mfpde.particles.fields import ParticleField
from mfpde.quadrature import Quadrature
N, L = {n}, 1000
domain = mfpde.Domain((-2.0, 0.0), (2.0, 2 * np.pi), (False, True))  # θ = (a, z): interval × circle
rng = np.random.default_rng(0)
data = rng.standard_normal((L, 2))
teacher = np.array([[1.5, 0.5], [-1.0, 2.5], [1.2, 4.5]])
net = TwoLayerNetwork(data, teacher=teacher, activation="relu")
problem = mfpde.OptimisationProblem(domain, net, sigma=0.01)
field = ParticleField(problem, Kernel("blob", 0.3))
X, w = domain.uniform(rng, N), np.full(N, 1.0 / N)
def step(X):
    g = field(X, w)[0]
    return birth_death_jump(X, g - w @ g, 0.01, rng)
X = step(X)  # warm-up: compilation
start = time.perf_counter(); X = step(X); seconds = time.perf_counter() - start
peak = peak_mib()
def features(theta):  # ψ_m(θ) = a relu(x_m · (cos z, sin z)), shape (..., L)
    direction = np.stack([np.cos(theta[..., 1]), np.sin(theta[..., 1])], axis=-1)
    return theta[..., :1] * np.maximum(direction @ data.T, 0.0)
q = net.data_weights
outputs = sum(w[s:s + 4096] @ features(X[s:s + 4096]) for s in range(0, N, 4096))  # f(x_m; μ)
rows = rng.choice(N, 200, replace=False)
dense = features(X[rows]) @ (q * (outputs - net.targets))
fast = net.bind(Quadrature(X, w, domain, reuse=False)).first_variation(np.ones(N))[rows]
error = float(np.abs(fast - dense).max() / np.abs(dense).max())
smoothing = Kernel("density", 0.3)
exact = Kernel("density", 0.3, "direct").pair_kernel(domain).sum(X[rows], X, w)[0]
smoothed = smoothing.pair_kernel(domain).sum(X[rows], X, w)[0]
kde_error = float(np.abs(smoothed - exact).max() / np.abs(exact).max())
# today's path at 16 000: the loss as potential + interaction of Python callables, row blocks
M = 16_000
Y, v = domain.uniform(rng, M), np.full(M, 1.0 / M)
F1 = lambda t: -(features(t) @ (q * net.targets))  # −a E[f* φ(·, z)]
U = lambda s, t: np.einsum(
    "...l,...l->...", features(s) * q, features(t))
old_energy = mfpde.Potential(F1) + mfpde.Interaction(U, method="direct")
block = Quadrature(Y[:256], v[:256], domain, reuse=False)
start = time.perf_counter()
old_energy.parts[1].kernel(domain, 2).bind(block, Quadrature(Y, v, domain, reuse=False)).over_y(v)
old_block = time.perf_counter() - start
new_field = ParticleField(problem, Kernel("blob", 0.3))
new_field(Y, v)
start = time.perf_counter(); new_field(Y, v); new = time.perf_counter() - start
entropy = Kernel("blob", 0.3).entropy(problem)
bound = entropy.bind(Quadrature(Y, v, domain, reuse=False))
start = time.perf_counter(); bound.field(np.ones(M), False)
kernel_part = time.perf_counter() - start
old = old_block * M / 256 + kernel_part
print(json.dumps(dict(step=seconds, peak=peak, error=error, kde_error=kde_error, old=old,
    old_block=old_block, new=new, ratio=old / new)))
"""
)


def run(code: str) -> dict:
    """Run ``code`` in a fresh interpreter; its last stdout line is a JSON object."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    out = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, env=env)
    if out.returncode:
        raise SystemExit(f"case failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


KERNELS = {
    "0.5*cos(x1 - y1)*cos(x2 - y2)": "translation-invariant",
    "exp(0.5*cos(x1 + y1) + 0.3*sin(x2)*sin(y2))": "not translation-invariant",
}


def langevin() -> None:
    print("\n### Langevin particles on T², N = 10⁶\n")
    print("| W | sum | one step [s] | peak RSS [MiB] | error of δF/δμ | error of ∇δF/δμ |")
    print("|---|---|---:|---:|---:|---:|")
    for W in KERNELS:
        r = run(LANGEVIN.format(W=W, n=1_000_000))
        print(f"| `{W}` | {r['method']} | {r['step']:.2f} | {r['peak']:.0f} | "
              f"{r['error']:.1e} | {r['gradient_error']:.1e} |")  # fmt: skip


def today() -> None:
    print("\n### Speed-up over today's path at N = 16 000 (δF/δμ and ∇δF/δμ, one step)\n")
    print("| W | today [s] | new [s] | speed-up | max difference (relative) |")
    print("|---|---:|---:|---:|---:|")
    for W in KERNELS:
        r = run(TODAY.format(W=W, n=16_000))
        print(f"| `{W}` | {r['old']:.1f} | {r['new']:.4f} | {r['ratio']:.0f} | "
              f"{r['difference']:.1e} |")  # fmt: skip


def wfr() -> None:
    print("\n### WFR with a Gaussian interaction on large grids\n")
    print("| grid | sum | seconds per step | peak RSS [MiB] | FFT vs dense (cells) |")
    print("|---|---|---:|---:|---:|")
    for case, label in (("box", "256 × 256 box"), ("torus", "64³ torus")):
        r = run(WFR.format(case=case))
        print(f"| {label} | {r['method']} | {r['seconds'] / 2:.2f} | {r['peak']:.0f} | "
              f"{r['difference']:.1e} ({r['cells']}) |")  # fmt: skip


def sphere(levels=(2, 3, 4, 5, 6)) -> None:
    import numpy as np

    print("\n### Langevin-DA on the icosphere, ℓ_a, σ = 0.1: NI^σ at t = 0.5\n")
    print("| r | nodes | NI^σ(t = 0.5) | difference to r − 1 | seconds | peak RSS [MiB] |")
    print("|---:|---:|---:|---:|---:|---:|")
    rows = [run(SPHERE.format(r=r)) for r in levels]
    for k, row in enumerate(rows):
        diff = abs(row["ni"] - rows[k - 1]["ni"]) if k else float("nan")
        print(f"| {row['r']} | {row['nodes']} | {row['ni']:.6f} | {diff:.2e} | "
              f"{row['seconds']:.1f} | {row['peak']:.0f} |")  # fmt: skip
    diffs = [abs(a["ni"] - b["ni"]) for a, b in zip(rows[1:], rows[:-1])]
    h = [2.0 ** -row["r"] for row in rows[1:]]
    order = np.polyfit(np.log(h[-3:]), np.log(diffs[-3:]), 1)[0]
    print(f"\nfitted order of the successive differences (last three): {order:.2f}")


def network() -> None:
    print("\n### Birth-death particles of a two-layer network, interval × circle, L = 1 000\n")
    r = run(NETWORK.format(n=100_000))
    print("| N | one step [s] | peak RSS [MiB] | error of δF/δμ | error of K_h*μ |")
    print("|---:|---:|---:|---:|---:|")
    print(f"| 100 000 | {r['step']:.2f} | {r['peak']:.0f} | {r['error']:.1e} | "
          f"{r['kde_error']:.1e} |")  # fmt: skip
    print(f"\nAt N = 16 000: today's path {r['old']:.0f} s (one block of 256 rows took "
          f"{r['old_block']:.2f} s, × 62.5, plus the same kernel sums), new {r['new']:.3f} s: "
          f"speed-up {r['ratio']:.0f}")  # fmt: skip


CASES = {"langevin": langevin, "today": today, "network": network, "wfr": wfr, "sphere": sphere}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(CASES), help="comma-separated cases")
    args = parser.parse_args()
    start = time.perf_counter()
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    for name in args.only.split(","):
        CASES[name]()
    print(f"\n(total {time.perf_counter() - start:.0f} s; load average after: "
          f"{os.getloadavg()[0]:.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
