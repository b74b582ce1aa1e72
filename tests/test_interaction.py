"""Interaction energies F(μ) = ½∫∫W dμ dμ (MATH §2.1): long-time limits and the two quadratures.

Each W here is a finite sum W(x, y) = Σ_k c_k φ_k(x) φ_k(y) with c_k > 0 (positive
semi-definite, so F^σ is convex and μ* unique), hence δF/δμ(μ) = Σ_k c_k θ_k φ_k with the
moments θ_k = ∫ φ_k dμ. The Gibbs fixed point μ* = π e^{−(V + δF/δμ(μ*))/σ}/Z then solves a
fixed point in the few unknowns θ, computed here by a root solve that uses nothing of mfpde.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from conftest import assert_invariants, normalised
from scipy.optimize import root

import mfpde
from mfpde.quadrature import Quadrature

SIGMA = 0.5
Features = Callable[[np.ndarray], np.ndarray]  # points (n, 1) -> φ_k(x_i), shape (k, n)


@dataclass
class GibbsCase:
    """A problem whose interaction is Σ_k c_k φ_k(x)φ_k(y), with its own reference quadrature."""

    domain: mfpde.Domain
    potential: str
    interaction: str
    reference: str
    V: Callable[[np.ndarray], np.ndarray]
    log_pi: Callable[[np.ndarray], np.ndarray]
    features: Features
    coefficients: tuple[float, ...]
    #: True: μ* is the continuous one (periodic midpoint rule, spectrally accurate on 4096
    #: points); False: the discrete one on the solver's own cells (midpoint rule, O(h²)).
    spectral: bool

    def log_gibbs(self, points: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """log π − (V + Σ_k c_k θ_k φ_k)/σ, unnormalised."""
        field = self.V(points) + (np.multiply(self.coefficients, theta)) @ self.features(points)
        return self.log_pi(points) - field / SIGMA

    def minimiser(self, points: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """μ* at ``points`` (normalised with ``weights``) from the moment fixed point."""
        if self.spectral:
            n = 4096
            quad_w = np.full(n, self.domain.volume / n)
            quad_x = self.domain.lower[0] + (np.arange(n) + 0.5)[:, None] * quad_w[0]
        else:
            quad_x, quad_w = points, weights
        phi = self.features(quad_x)

        def moments_residual(theta):
            return phi @ (quad_w * normalised(self.log_gibbs(quad_x, theta), quad_w)) - theta

        sol = root(moments_residual, np.zeros(len(self.coefficients)), tol=1e-14)
        assert np.abs(moments_residual(sol.x)).max() < 1e-14
        return normalised(self.log_gibbs(points, sol.x), weights)


def _x(p):
    return p[:, 0]


CASES = {
    # translation-invariant on the torus: the FFT path
    "torus-fft": GibbsCase(
        mfpde.Torus(1),
        "cos(x)",
        "2*cos(x - y)",
        "exp(0.5*sin(2*x))",
        lambda p: np.cos(_x(p)),
        lambda p: 0.5 * np.sin(2 * _x(p)),
        lambda p: np.stack([np.cos(_x(p)), np.sin(_x(p))]),
        (2.0, 2.0),
        spectral=True,
    ),
    # periodic but not translation-invariant: dense quadrature on the torus
    "torus-dense": GibbsCase(
        mfpde.Torus(1),
        "sin(x)",
        "2*cos(x)*cos(y) + sin(x)*sin(y)",
        "uniform",
        lambda p: np.sin(_x(p)),
        lambda p: np.zeros(len(p)),
        lambda p: np.stack([np.cos(_x(p)), np.sin(_x(p))]),
        (2.0, 1.0),
        spectral=True,
    ),
    # an interval with no-flux walls: dense quadrature
    "interval-dense": GibbsCase(
        mfpde.Interval(-2.0, 3.0),
        "x**4/4 - x",
        "x*y + cos(x)*cos(y)",
        "exp(-x**2/8)",
        lambda p: _x(p) ** 4 / 4 - _x(p),
        lambda p: -(_x(p) ** 2) / 8,
        lambda p: np.stack([_x(p), np.cos(_x(p))]),
        (1.0, 1.0),
        spectral=False,
    ),
}

#: flow, t_end, dt: Fisher-Rao contracts log(μ/μ*) at rate ≥ ασ = 1, from |log μ0/μ*| ≲ 40 on
#: the interval, so it needs t_end = 40 (40 e^{−40} ≈ 2e-16); its steps are cheap.
FLOWS = {
    "fisher_rao": (mfpde.fisher_rao(alpha=2.0), 40.0, 0.5),
    "fokker_planck": (mfpde.fokker_planck(gamma=1.0), 30.0, 0.25),
    "wfr": (mfpde.wfr(gamma=1.0, alpha=1.0), 20.0, 0.25),
}


@pytest.mark.parametrize("flow_name", FLOWS)
@pytest.mark.parametrize("case_name", CASES)
def test_long_time_limit_is_gibbs_fixed_point(case_name, flow_name):
    """μ_T → μ* (MATH §2.1) for every flow, with μ* computed independently.

    The discrete flows have the discrete Gibbs state as exact fixed point (Scharfetter-Gummel
    fluxes and the exponential reaction vanish on it, for any dt); convergence is exponential
    for these convex problems, and the final times make the measured distance ≤ 5e-14.
    Tolerance 1e-11 in relative sup norm: the moment solve is exact to 1e-14, and the periodic
    midpoint rule on 4096 points is spectrally accurate for these analytic densities; the
    Gibbs iteration of mfpde (tolerance 1e-12 in log ρ) agrees to 2e-13 .. 7e-13.
    """
    case, (flow, t_end, dt) = CASES[case_name], FLOWS[flow_name]
    problem = mfpde.OptimisationProblem(
        case.domain,
        energy=mfpde.Potential(case.potential) + mfpde.Interaction(case.interaction),
        sigma=SIGMA,
        reference=mfpde.Reference(case.reference),
    )
    sol = mfpde.solve(
        problem, flow, "exp(sin(3*x) + 0.5*x)", cells=64, t_end=t_end, dt=dt, progress=False
    )
    assert_invariants(sol)
    rho_star = case.minimiser(sol.grid.points, sol.grid.weights)
    assert np.abs(sol.density[-1] / rho_star - 1).max() < 1e-11
    assert np.abs(sol.minimiser / rho_star - 1).max() < 1e-11  # mfpde.gibbs_minimiser agrees
    # KL(μ*|μ_T) is quadratic in the distance (~1e-26); what remains is the round-off of its sum
    assert abs(sol.observers["lyapunov"][-1]) < 1e-14


@pytest.mark.parametrize(
    "dim, W",
    [
        (1, "cos(x - y)"),
        (1, "exp(cos(x - y)) + sin(2*(x - y))**2"),
        (2, "cos(x1 - y1) * exp(0.5*cos(x2 - y2))"),
        (2, "sin(x1 - y1 + 2*(x2 - y2))**2"),
    ],
)
def test_fft_and_dense_quadrature_agree(dim, W, rng):
    """∫W(·, y) μ(dy) by FFT on a periodic grid equals the dense quadrature Σ_j w_j W(x_i, x_j) ρ_j.

    Both compute the same discrete circular convolution; FFT round-off is ~1e-15 relative to
    max|W| Σ w ρ = O(max|W|), so 1e-12 leaves margin. The dense path is the direct sum of the
    same points without their grid.
    """
    grid = mfpde.Grid(mfpde.Torus(dim), (48, 40)[:dim])
    rho = rng.uniform(0.1, 2.0, grid.size)
    rho /= grid.weights @ rho
    dense = mfpde.Interaction(W, method="direct").bind(
        Quadrature(grid.points, grid.weights, grid.domain)
    )
    fft = mfpde.Interaction(W).bind(grid)
    assert fft.sums.method == "fft" and dense.sums.method == "direct"
    scale = np.abs(dense.first_variation(rho)).max()
    assert np.abs(fft.first_variation(rho) - dense.first_variation(rho)).max() < 1e-12 * scale
    assert fft.value(rho) == pytest.approx(dense.value(rho), rel=1e-12)


def test_non_translation_invariant_periodic_kernel_uses_dense_quadrature(rng):
    """A periodic but not translation-invariant W must not be convolved by FFT (MATH §8).

    W = cos(x)cos(y): δF/δμ = cos(x) ∫cos dμ exactly; the midpoint rule on a periodic grid is
    exact for this trigonometric integrand up to round-off (1e-13 with margin).
    """
    grid = mfpde.Grid(mfpde.Torus(1), 32)
    rho = rng.uniform(0.1, 2.0, grid.size)
    rho /= grid.weights @ rho
    bound = mfpde.Interaction("cos(x)*cos(y)").bind(grid)
    assert bound.sums.method == "direct"
    x = grid.points[:, 0]
    moment = grid.weights @ (rho * np.cos(x))
    assert np.abs(bound.first_variation(rho) - moment * np.cos(x)).max() < 1e-13
    assert bound.value(rho) == pytest.approx(0.5 * moment**2, rel=1e-13)


def test_compiled_direct_sum_equals_stored_rows(rng):
    """The direct sum of points summed once (particles: compiled loop) equals the stored rows of
    points summed many times (a mesh): the same products, summed in another order, so they
    agree to round-off (1e-13 relative)."""
    grid = mfpde.Grid(mfpde.Box([-1.0, 0.0], [1.0, 2.0]), (28, 25))
    rho = rng.uniform(0.1, 2.0, grid.size)
    rho /= grid.weights @ rho
    W = "exp(-(x1 - y1)**2 - 2*(x2 - y2)**2) + x1*y2 + x2*y1"
    energy = mfpde.Interaction(W, method="direct")
    stored = energy.bind(Quadrature(grid.points, grid.weights, grid.domain))
    once = energy.bind(Quadrature(grid.points, grid.weights, grid.domain, reuse=False))
    assert stored.sums.dense and not once.sums.dense
    expected = stored.first_variation(rho)
    assert np.abs(once.first_variation(rho) - expected).max() < 1e-13 * np.abs(expected).max()
    assert once.value(rho) == pytest.approx(stored.value(rho), rel=1e-13)
    with pytest.raises(mfpde.InputError, match="not finite"):
        mfpde.Interaction("1/(x1 - y1)**2").bind(grid).first_variation(rho)
