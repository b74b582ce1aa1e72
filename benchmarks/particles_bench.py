"""Kernel sums per second of the particle systems: NUFFT fast sum, numba direct sum, dense numpy.

One "step" is what a kernelised particle step costs: S(X_i) = Σ_j K_h(X_i − X_j)/N and its
gradient at all N particles, on the torus T^d (d = 1, 2), h = 0.3, tolerance 1e-10. The direct
sum is O(N²) and is run only up to N = 2·10^4; the dense numpy baseline builds the N × N
matrix and is run only while it fits in 1 GiB. Peak memory is ru_maxrss of a fresh process.

    .venv/bin/python benchmarks/particles_bench.py [--max-n 1000000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

CASE = """
import time, numpy as np, mfpde
from mfpde.kernels import Kernel
from particles.kernels import KernelSum
d, n, method = {d}, {n}, "{method}"
domain, kernel = mfpde.Torus(d), Kernel("density", 0.3)
X = np.random.default_rng(0).uniform(0, 2 * np.pi, (n, d))
w = np.full(n, 1.0 / n)
if method == "dense":
    def step():
        diff = X[:, None, :] - X[None, :, :]
        return kernel.values(domain, diff) @ w
else:
    sums = KernelSum(kernel, domain, method, 1e-10)
    def step():
        return sums(X, X, w, gradient=True)
step()
repeats, start = 0, time.perf_counter()
while time.perf_counter() - start < 1.0 or repeats < 2:
    step()
    repeats += 1
import resource
print(repeats / (time.perf_counter() - start), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def measure(d: int, n: int, method: str) -> tuple[float, float]:
    out = subprocess.run(
        [sys.executable, "-c", CASE.format(d=d, n=n, method=method)],
        capture_output=True,
        text=True,
        check=True,
    )
    rate, peak_kib = out.stdout.split()
    return float(rate), int(peak_kib) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-n", type=int, default=1_000_000)
    args = parser.parse_args()
    print("| d | N | method | steps/s | peak RSS (MiB) |")
    print("|---|---|---|---|---|")
    for d in (1, 2):
        n = 1000
        while n <= args.max_n:
            for method, limit in (("fast", 10**7), ("direct", 2 * 10**4), ("dense", 5000 // d)):
                if n <= limit:
                    rate, peak = measure(d, n, method)
                    print(f"| {d} | {n:.0e} | {method} | {rate:.3g} | {peak:.0f} |", flush=True)
            n *= 10


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"\n(total {time.perf_counter() - t0:.0f} s)")
