"""Kernel sums per second of the particle systems: NUFFT fast sum, numba direct sum, dense numpy
and pykeops.

One "step" is what a kernelised particle step costs: S(X_i) = Σ_j K_h(X_i − X_j)/N and its
gradient at all N particles, on the torus T^d (d = 1, 2), h = 0.3, tolerance 1e-10. The direct
sum is O(N²) and is run only up to N = 2·10^4; the dense numpy baseline builds the N × N
matrix and is run only while it fits in 1 GiB. Peak memory is ru_maxrss of a fresh process.

``--pykeops`` adds the pykeops (CPU) Gaussian kernel sum, O(N²) like the direct sum and run to
the same N, in the separate virtual environment ``.venv-peers`` (Python 3.12,
``pip install pykeops numpy``; it is not a dependency of mfpde). Its kernel is the Gaussian of the
minimum-image difference s − 2π round(s/2π): on T^d with h = 0.3 the other images are below
e^{−π²/(2h²)} ≈ 1e-24, so it is the same periodised kernel. Each case is one fresh process that
evaluates the step once before timing, so pykeops' one-off compilation of the formula (≈ 8.5 s,
then cached on disk) is excluded, as numba's is. The column "vs direct" is the ratio of pykeops'
steps/s to the numba direct sum's in the same run.

    .venv/bin/python benchmarks/particles_bench.py [--max-n 1000000] [--pykeops]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

#: The interpreter of the peers' environment (pykeops).
PEERS_PYTHON = Path(__file__).resolve().parents[1] / ".venv-peers" / "bin" / "python"

TIMING = """
step()
repeats, start = 0, time.perf_counter()
while time.perf_counter() - start < 1.0 or repeats < 2:
    step()
    repeats += 1
import resource
print(repeats / (time.perf_counter() - start), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

CASE = """
import time, numpy as np, mfpde
from mfpde.kernels import Kernel
d, n, method = {d}, {n}, "{method}"
domain, kernel = mfpde.Torus(d), Kernel("density", 0.3)
X = np.random.default_rng(0).uniform(0, 2 * np.pi, (n, d))
w = np.full(n, 1.0 / n)
if method == "dense":
    def step():
        diff = X[:, None, :] - X[None, :, :]
        return kernel.values(domain, diff) @ w
else:
    sums = Kernel("density", 0.3, method, 1e-10).pair_kernel(domain).sum
    def step():
        return sums(X, X, w, gradient=True)
"""

PYKEOPS_CASE = """
import time, numpy as np
from pykeops.numpy import LazyTensor
d, n, h = {d}, {n}, 0.3
X = np.random.default_rng(0).uniform(0, 2 * np.pi, (n, d))
w = np.full((n, 1), 1.0 / n)
def step():
    s = (LazyTensor(X[:, None, :]) - LazyTensor(X[None, :, :])).mod(2 * np.pi, -np.pi)
    k = (-(s**2).sum(-1) / (2 * h * h)).exp() * LazyTensor(w[None, :, :])
    out = k.concat(-s * k / (h * h)).sum(axis=1) / (np.sqrt(2 * np.pi) * h) ** d
    return out[:, 0], out[:, 1:]
"""


def measure(d: int, n: int, method: str) -> tuple[float, float]:
    """Steps/s and peak RSS (MiB) of one case in a fresh process."""
    if method == "pykeops":
        python, case = PEERS_PYTHON, PYKEOPS_CASE
    else:
        python, case = Path(sys.executable), CASE
    out = subprocess.run(
        [str(python), "-c", case.format(d=d, n=n, method=method) + TIMING],
        capture_output=True,
        text=True,
        check=True,
    )
    rate, peak_kib = out.stdout.split()[-2:]
    return float(rate), int(peak_kib) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-n", type=int, default=1_000_000)
    parser.add_argument("--pykeops", action="store_true", help="add pykeops from .venv-peers")
    args = parser.parse_args()
    if args.pykeops and not PEERS_PYTHON.exists():
        parser.error(f"--pykeops needs {PEERS_PYTHON} with pykeops installed (module docstring)")
    limits = {"fast": 10**7, "direct": 2 * 10**4, "dense": 5000}
    if args.pykeops:
        limits["pykeops"] = limits["direct"]
    print("| d | N | method | steps/s | vs direct | peak RSS (MiB) |")
    print("|---|---|---|---|---|---|")
    for d in (1, 2):
        n = 1000
        while n <= args.max_n:
            direct = None
            for method, limit in limits.items():
                if n > limit // (d if method == "dense" else 1):
                    continue
                rate, peak = measure(d, n, method)
                direct = rate if method == "direct" else direct
                ratio = f"{rate / direct:.3g}" if method == "pykeops" and direct else ""
                print(
                    f"| {d} | {n:.0e} | {method} | {rate:.3g} | {ratio} | {peak:.0f} |", flush=True
                )
            n *= 10


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"\n(total {time.perf_counter() - t0:.0f} s)")
