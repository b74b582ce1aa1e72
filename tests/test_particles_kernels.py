"""Smoothing-kernel sums at particles: NUFFT fast sum against the numba direct sum, memory.

The direct sum is checked against the dense formula Σ_j c_j K_h(t_i − s_j) of
:meth:`mfpde.kernels.Kernel.values` on small configurations (round-off only), the fast sum against
the direct sum at its requested tolerance (MATH §6: O(N) memory, never an N × N array).
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import mfpde
from mfpde.kernels import Kernel

DOMAINS = [mfpde.Circle(), mfpde.Interval(-1.0, 2.0), mfpde.Torus(2), mfpde.Box([0, 0], [1, 2])]


def kernel_sum(h, domain, method, tolerance=1e-10):
    """``sum(targets, sources, c, gradient)`` of K_h by ``method`` (fast or direct)."""
    return Kernel("density", h, method, tolerance).pair_kernel(domain).sum


def configuration(domain, rng, n_sources=2000, n_targets=400):
    def draw(n):
        return domain.project(rng.uniform(-5, 5, (n, domain.dim)))

    return draw(n_targets), draw(n_sources), rng.random(n_sources)


@pytest.mark.parametrize("domain", DOMAINS, ids=lambda d: d.kind + str(d.dim))
@pytest.mark.parametrize("h", [0.05, 0.5])
def test_direct_sum_matches_dense_formula(domain, h, rng):
    kernel = Kernel("density", h)
    targets, sources, c = configuration(domain, rng, 300, 50)
    dense = kernel.values(domain, targets[:, None, :] - sources[None, :, :]) @ c
    values, grads = kernel_sum(h, domain, "direct")(targets, sources, c, gradient=True)
    # Round-off of sums of 300 positive terms: 1e-13 relative.
    assert np.abs(values - dense).max() <= 1e-13 * np.abs(dense).max()
    # The gradient against central differences of the dense formula, step 1e-6: error
    # ≈ 1e-12 |K'''| + 1e-16 |K| / 1e-6, so 1e-6 relative to the largest gradient is safe.
    step = 1e-6
    for k in range(domain.dim):
        shift = np.zeros(domain.dim)
        shift[k] = step
        fd = (
            kernel.values(domain, targets[:, None, :] + shift - sources[None, :, :]) @ c
            - kernel.values(domain, targets[:, None, :] - shift - sources[None, :, :]) @ c
        ) / (2 * step)
        assert np.abs(grads[:, k] - fd).max() <= 1e-6 * np.abs(grads).max()


@pytest.mark.parametrize("domain", DOMAINS, ids=lambda d: d.kind + str(d.dim))
@pytest.mark.parametrize("tolerance", [1e-4, 1e-8, 1e-12])
@pytest.mark.parametrize("h", [0.05, 0.5, 3.0])
def test_fast_sum_meets_its_tolerance(domain, tolerance, h, rng):
    # The requested tolerance ε bounds max|S_fast − S| / max|S| and the same for ∇S. Signs
    # (type 1 isign = −1, type 2 isign = +1): one wrong sign gives Σ c_j K_h(t + s_j), O(1)
    # wrong values; both wrong leave the values (K_h is even) but flip ∇S, caught here too.
    targets, sources, c = configuration(domain, rng)
    exact, d_exact = kernel_sum(h, domain, "direct")(targets, sources, c, gradient=True)
    fast, d_fast = kernel_sum(h, domain, "fast", tolerance)(targets, sources, c, gradient=True)
    assert np.abs(fast - exact).max() <= tolerance * np.abs(exact).max()
    assert np.abs(d_fast - d_exact).max() <= tolerance * np.abs(d_exact).max()


def test_fast_sum_sign_convention_on_a_single_source():
    # One source at s: S(t) = K_h(t − s) is even about s, its gradient odd: ∇S(s + a) < 0 for
    # a > 0 small (the Gaussian decreases away from its centre).
    domain = mfpde.Circle()
    fast = kernel_sum(0.3, domain, "fast")
    s = np.array([[1.0]])
    t = np.array([[1.2], [0.8]])
    values, grads = fast(t, s, np.ones(1), gradient=True)
    assert abs(values[0] - values[1]) < 1e-10 and grads[0, 0] < 0 < grads[1, 0]


MEMORY_SCRIPT = """
import re, numpy as np, mfpde
from mfpde.kernels import Kernel
from mfpde.particles.birth_death import birth_death
from mfpde.particles.langevin import langevin
problem = mfpde.OptimisationProblem(
    mfpde.Torus(2), mfpde.Potential("cos(x1) + sin(x2)") , 0.5)
run = dict(n=1_000_000, t_end=0.01, dt=0.01, seed=0)
birth_death(problem, "1", kernel=Kernel("blob", 0.2), **run)
langevin(problem, "1", **run)
print(re.search(r"VmHWM:\\s*(\\d+) kB", open("/proc/self/status").read()).group(1))
"""


def test_one_step_at_a_million_particles_in_2d_stays_under_1_gib():
    # Peak RSS (VmHWM, KiB) of a fresh interpreter that runs one blob birth-death step and one
    # Langevin step with N = 10^6 in d = 2: the N × N matrix would need 8 TB; the budget is 1 GiB
    # including the interpreter, numpy, numba and finufft (~200 MB). Not ru_maxrss: Linux carries
    # the parent's high-water mark into it across fork + exec, so a large pytest process would be
    # counted; VmHWM belongs to the child's own address space.
    out = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT], capture_output=True, text=True, check=True
    )
    peak_kib = int(out.stdout.split()[-1])
    assert peak_kib < 1024**2, peak_kib
