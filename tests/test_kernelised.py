"""Kernelised mesh PDEs (MATH §3.2): convolutions, first variations, energy decay, h → 0, order."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import fitted_order

import mfpde
from mfpde.kernels import Kernel, KernelisedEntropy, solve_kernelised

CIRCLE = mfpde.OptimisationProblem(mfpde.Circle(), energy=mfpde.Potential("cos(x)"), sigma=0.5)
INITIAL = "exp(sin(x) + 0.5*cos(2*x))"


@pytest.mark.parametrize(
    "domain",
    [
        mfpde.Torus(2),
        mfpde.Box([0, 0], [1, 2]),
        mfpde.Interval(-1, 1),
        mfpde.Domain((0, 0), (6.0, 1.0), (True, False)),
    ],
    ids=["torus", "box", "interval", "mixed"],
)
def test_convolution_is_the_quadrature_sum(domain, rng):
    # FFT along periodic axes and matrices along walled ones equal the dense quadrature sum
    # Σ_j w_j K_h(x_i − x_j) f_j up to round-off (1e-13 relative).
    grid = mfpde.Grid(domain, (12,) * domain.dim)
    kernel = Kernel("density", 0.3)
    f = rng.random(grid.size)
    dense = kernel.values(domain, grid.points[:, None] - grid.points[None]) @ (grid.weights * f)
    bound = KernelisedEntropy(kernel, 1.0).bind(grid)
    assert np.abs(bound.convolve(f)[0] - dense).max() <= 1e-13 * dense.max()


@pytest.mark.parametrize("variant", ["blob", "smoothed_kl"])
@pytest.mark.parametrize("domain", [mfpde.Circle(), mfpde.Interval(0, 2)], ids=["circle", "int"])
def test_first_variation_is_the_derivative_of_the_energy(variant, domain, rng):
    # d/dε E(ρ + ε(m − ρ)) at 0 = Σ_i w_i e_i (m_i − ρ_i) (MATH §1 flat derivative); central
    # difference with ε = 1e-5: error ε² E''' ≈ 1e-10, the tolerance is 1e-8 relative.
    grid = mfpde.Grid(domain, 64)
    x = grid.points[:, 0]
    bound = KernelisedEntropy(Kernel(variant, 0.2), 0.7, mfpde.Reference("exp(0.3*sin(3*x))"))
    bound = bound.bind(grid)
    rho = 1 + 0.5 * np.cos(x) ** 2
    m = 1 + rng.random(grid.size)
    rho, m = rho / (grid.weights @ rho), m / (grid.weights @ m)
    eps = 1e-5
    derivative = (bound.value(rho + eps * (m - rho)) - bound.value(rho - eps * (m - rho))) / (
        2 * eps
    )
    expected = grid.weights @ (bound.first_variation(rho) * (m - rho))
    assert abs(derivative - expected) <= 1e-8 * (1 + abs(expected))


@pytest.mark.parametrize("variant", ["blob", "smoothed_kl"])
def test_kernelised_energy_decreases_along_its_wfr_flow(variant):
    # "blob" and "smoothed_kl" are gradient flows of F + σE_h (MATH §3.2): F + σE_h is
    # non-increasing up to the splitting error, here below 1e-12 per step of the energy scale.
    problem = mfpde.OptimisationProblem(
        mfpde.Interval(0, 2 * np.pi), mfpde.Potential("cos(x)"), 0.5
    )
    solution = solve_kernelised(
        problem,
        mfpde.wfr(1.0, 1.0),
        INITIAL,
        Kernel(variant, 0.3),
        cells=64,
        t_end=2.0,
        dt=0.05,
        progress=False,
    )
    energy = solution.observers["energy"]
    assert np.diff(energy).max() <= 1e-12 and energy[-1] < energy[0] - 0.05
    assert np.abs(solution.observers["mass"] - 1).max() < 1e-12


@pytest.mark.parametrize("variant", ["density", "blob", "smoothed_kl"])
def test_kernelised_tends_to_plain_as_the_bandwidth_vanishes(variant):
    # L¹ distance at t = 1 between the kernelised and the plain Fisher-Rao flows on the same
    # 256-cell grid, for h = 0.4, 0.2, 0.1 (≥ 4 cells per h): decreasing monotonically, about
    # like h² (K_h*μ − μ = h²μ''/2 + O(h⁴)); the fitted order must exceed 1.5.
    grid = mfpde.Grid(CIRCLE.domain, 256)
    run = {"grid": grid, "t_end": 1.0, "dt": 0.02, "progress": False}
    plain = mfpde.solve(CIRCLE, mfpde.fisher_rao(1.0), INITIAL, **run).density[-1]
    widths = [0.4, 0.2, 0.1]
    errors = [
        grid.weights
        @ np.abs(
            solve_kernelised(
                CIRCLE, mfpde.fisher_rao(1.0), INITIAL, Kernel(variant, h), **run
            ).density[-1]
            - plain
        )
        for h in widths
    ]
    assert np.all(np.diff(errors) < 0), errors
    assert fitted_order(widths, errors) > 1.5, errors


def test_kernelised_wfr_is_second_order_in_space():
    # Transport of the kernelised WFR flow by Scharfetter-Gummel with potential g_h (second
    # order) against a 512-cell solution: fitted order of the observables within 0.2 of 2
    # (measured 2.0; plain upwinding, the σ = 0 operator, gives 1.0).
    run = {"t_end": 0.5, "dt": 0.02, "progress": False}
    kernel = Kernel("blob", 0.3)

    def observable(cells):
        sol = solve_kernelised(CIRCLE, mfpde.wfr(1.0, 1.0), INITIAL, kernel, cells=cells, **run)
        x = sol.grid.points[:, 0]
        return sol.grid.weights @ (sol.density[-1] * np.sin(2 * x))

    reference = observable(512)
    cells = [32, 64, 128]
    errors = [abs(observable(n) - reference) for n in cells]
    assert abs(fitted_order(2 * np.pi / np.array(cells), errors) - 2) < 0.2, errors


def test_density_variant_has_no_energy():
    grid = mfpde.Grid(CIRCLE.domain, 16)
    bound = KernelisedEntropy(Kernel("density", 0.3), 1.0).bind(grid)
    with pytest.raises(mfpde.InputError, match="not a gradient flow"):
        bound.value(np.full(16, 1 / (2 * np.pi)))
