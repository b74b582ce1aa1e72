"""The Legendre-Gauss-Lobatto space and the separable exact path (mfpde/fv/spectral.py,
mfpde/fv/exponential.py): quadrature and summation by parts, spectral convergence to exact
Ornstein-Uhlenbeck Gaussians (MATH §3.1) in 1-D to 3-D, the separable path against the dense
one and against expm_multiply, clipping, and the McKean-Vlasov Gaussian of an interaction."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.linalg import expm

import mfpde
from mfpde.fv.grid import Grid
from mfpde.fv.operator import FlowOperator
from mfpde.fv.spectral import LobattoGrid, SpectralFlowOperator, lobatto

ROOT = Path(__file__).resolve().parents[1]


def _gaussians(x, mean0, rates, t, mean_rates=None):
    """Product of Ornstein-Uhlenbeck Gaussians from N(mean0, 1/4) at time t (σ = 1)."""
    mean_rates = rates if mean_rates is None else mean_rates
    out = np.ones(len(x))
    for k, (m0, a, b) in enumerate(zip(mean0, rates, mean_rates)):
        var = 1 / a + (0.25 - 1 / a) * np.exp(-2 * a * t)
        out *= np.exp(-((x[:, k] - m0 * np.exp(-b * t)) ** 2) / (2 * var))
        out /= np.sqrt(2 * np.pi * var)
    return out


def _ou_error(dim: int, nodes: int, half: float = 8.0, t_end: float = 1.0, steps: int = 1):
    """L¹ error of "legendre" against the Gaussian of V = Σ_k a_k x_k²/2 on [−half, half]^d."""
    rates, mean0 = [1.0, 1.5, 2.0][:dim], [1.0, -0.5, 0.5][:dim]
    names = ["x"] if dim == 1 else ["x1", "x2", "x3"][:dim]
    potential = " + ".join(f"{a}*{v}**2/2" for a, v in zip(rates, names))
    domain = mfpde.Domain([-half] * dim, [half] * dim, [False] * dim)
    problem = mfpde.OptimisationProblem(domain, mfpde.Potential(potential), 1.0)
    grid = LobattoGrid(domain, nodes)
    solution = mfpde.solve(
        problem, mfpde.fokker_planck(), _gaussians(grid.points, mean0, rates, 0.0), grid=grid,
        t_end=t_end, dt=t_end / steps, save_every=steps, progress=False, observers=("mass",),
        space="legendre",
    )  # fmt: skip
    exact = _gaussians(grid.points, mean0, rates, t_end)
    assert abs(solution.observers["mass"][-1] - 1) < 1e-13  # Σ w_i ρ_i, exact (SBP)
    return float(np.abs(solution.density[-1] - exact) @ grid.weights)


def test_lobatto_quadrature_derivative_and_summation_by_parts():
    n = 12
    axis = lobatto(n, -2.0, 3.0)
    x, w, d = axis.nodes, axis.weights, axis.derivative
    for degree in range(2 * n - 2):  # Lobatto quadrature is exact up to degree 2n − 3
        exact = (3.0 ** (degree + 1) - (-2.0) ** (degree + 1)) / (degree + 1)
        assert abs(w @ x**degree - exact) < 1e-11 * max(1.0, abs(exact))
    for degree in range(n):  # D differentiates the interpolant: exact up to degree n − 1
        assert np.abs(d @ x**degree - degree * x ** max(degree - 1, 0)).max() < 1e-8 * 3.0**degree
    sbp = np.diag(w) @ d + d.T @ np.diag(w)  # W D + Dᵀ W = diag(−1, 0, …, 0, 1)
    boundary = np.zeros((n, n))
    boundary[0, 0], boundary[-1, -1] = -1.0, 1.0
    assert np.abs(sbp - boundary).max() < 1e-12


def test_legendre_converges_spectrally_to_the_ornstein_uhlenbeck_gaussian_in_1d():
    nodes = [64, 80, 96, 128]
    errors = [_ou_error(1, n) for n in nodes]
    slope = np.polyfit(np.log(nodes), np.log(errors), 1)[0]
    # Measured 4.4e-4, 8.3e-7, 3.3e-8, 6.0e-13: a log-log slope of −28. Second order would be
    # −2; −15 separates "faster than any power" from any finite-difference order with a margin.
    assert slope < -15 and errors[-1] < 1e-11, errors


def test_legendre_reaches_reference_accuracy_on_walled_boxes_in_2d_and_3d():
    # The case of benchmarks/peers.py ou_box_3d: [−6, 6]³, t = 1/2; measured L¹ 1.8e-8 at 80
    # nodes per axis and 9e-10 at 96 (the separable path: 3 dense 96² exponentials).
    assert _ou_error(3, 96, half=6.0, t_end=0.5) < 1e-8
    # ou_box_2d of the benchmark ([−8, 8]², t = 1): measured 8.1e-13 at 128 nodes per axis.
    assert _ou_error(2, 128) < 1e-11


def test_separable_path_equals_the_dense_one_and_expm_multiply():
    domain = mfpde.Domain([-3.0, -2.0], [3.0, 2.0], [False, False])
    grid = LobattoGrid(domain, (14, 11))
    log_pi = np.full(grid.size, -np.log(24.0))
    x = grid.points
    field = np.cos(x[:, 0]) + 0.3 * x[:, 1] ** 2
    rho = np.exp(-((x - 0.3) ** 2).sum(axis=1))
    rho /= grid.weights @ rho
    separable = SpectralFlowOperator(grid, log_pi, 0.7, 1.0, 0.0)
    dense = SpectralFlowOperator(grid, log_pi, 0.7, 1.0, 0.0)
    dense.separable = lambda phi: None  # the whole-grid generator, one dense expm
    frozen = separable.frozen(field)
    assert separable.exponential_path(frozen, 0.2) == "separable"
    a = separable.exponential(rho, 0.2, frozen)  # before clipping: the walls' boundary layer
    phi = field - 0.7 * log_pi
    b = expm(0.2 * dense.assemble(phi).toarray()) @ rho
    # Both exact: ⊗_k e^{τA_k} = e^{τ ⊕_k A_k}; measured 2e-15 relative.
    assert np.abs(a - b).sum() / np.abs(b).sum() < 1e-12
    np.testing.assert_allclose(
        separable.transport_rhs(rho, field), dense.assemble(phi) @ rho, atol=1e-10
    )


@pytest.mark.parametrize(
    "shape, periodic", [((40, 30), (False, False)), ((12, 10, 8), (False, True, False))]
)
def test_finite_volume_separable_path_agrees_with_expm_multiply(shape, periodic):
    d = len(shape)
    domain = mfpde.Domain([-4.0] * d, [4.0] * d, list(periodic))
    grid = Grid(domain, shape)
    log_pi = np.full(grid.size, -np.log(8.0**d))
    x = grid.points
    field = sum((k + 1) * np.cos(x[:, k]) for k in range(d)) + 0.5 * x[:, 0] ** 2
    rho = np.exp(-((x - 0.5) ** 2).sum(axis=1))
    rho /= grid.weights @ rho
    out = {}
    for scheme in ("expm", "expm_multiply"):
        operator = FlowOperator(grid, log_pi, 1.0, 1.0, 0.0, scheme)
        out[scheme] = operator.transport(rho, 0.3, field)
        frozen = operator.frozen(field)
        if scheme == "expm":
            assert operator.exponential_path(frozen, 0.3) == "separable"
            rhs = operator.transport_rhs(rho, field)
            np.testing.assert_allclose(rhs, frozen.matrix @ rho, atol=1e-11)
    # Both exact to round-off: measured 3e-15 to 6e-15.
    ref = out["expm_multiply"]
    assert np.abs(out["expm"] - ref).sum() / np.abs(ref).sum() < 1e-12
    coupled = FlowOperator(grid, log_pi, 1.0, 1.0, 0.0)
    assert coupled.frozen(field + 0.1 * x[:, 0] * x[:, 1]).separable is None


def test_an_under_resolved_spectral_step_stops_with_one_line():
    with pytest.raises(mfpde.NumericalError, match="under-resolved: negative mass"):
        _ou_error(1, 32)  # 32 nodes for a Gaussian of width 1/2 on [−8, 8]: 5 % negative mass


def test_a_large_non_separable_walled_grid_is_refused():
    domain = mfpde.Domain([-1.0, -1.0], [1.0, 1.0], [False, False])
    problem = mfpde.OptimisationProblem(domain, mfpde.Potential("x1*x2"), 1.0)
    with pytest.raises(mfpde.InputError, match="non-separable potential is dense"):
        mfpde.solve(
            problem, mfpde.fokker_planck(), "1", cells=40, t_end=0.1, dt=0.1, progress=False,
            space="legendre",
        )  # fmt: skip


def test_legendre_interaction_reaches_the_mckean_vlasov_gaussian_at_second_order_in_time():
    # V = x²/2, W = (x − y)²/2 on [−8, 8]: N(e^{−t}, 1/2 − e^{−4t}/4) (benchmarks/peers.py).
    domain = mfpde.Interval(-8.0, 8.0)
    energy = mfpde.Potential("x**2/2") + mfpde.Interaction("0.5*(x - y)**2")
    problem = mfpde.OptimisationProblem(domain, energy, 1.0)
    grid = LobattoGrid(domain, 80)
    initial = _gaussians(grid.points, [1.0], [1.0], 0.0)
    exact = _gaussians(grid.points, [1.0], [2.0], 1.0, mean_rates=[1.0])
    errors = []
    for steps in (16, 32):
        solution = mfpde.solve(
            problem, mfpde.fokker_planck(), initial, grid=grid, t_end=1.0, dt=1 / steps,
            save_every=steps, progress=False, observers=(), space="legendre",
        )  # fmt: skip
        errors.append(float(np.abs(solution.density[-1] - exact) @ grid.weights))
    # Measured 4.0e-4 and 1.0e-4 (ratio 3.9: the Strang/midpoint splitting is second order).
    assert errors[1] < 1.5e-4 and 3.2 < errors[0] / errors[1] < 4.8, errors


def test_games_and_kernelised_flows_refuse_the_legendre_space(tmp_path):
    from mfpde.cli import main
    from mfpde.kernels import solve_kernelised

    text = (ROOT / "examples" / "torus_game.toml").read_text()
    config = tmp_path / "game.toml"
    config.write_text(text.replace("[domain]\n", '[domain]\nspace = "legendre"\n', 1))
    assert main(["run", str(config), "-q", "-o", str(tmp_path / "out.h5")]) == 2
    assert not (tmp_path / "out.h5").exists()
    problem = mfpde.OptimisationProblem(mfpde.Interval(-1, 1), mfpde.Potential("x**2"), 0.5)
    grid = LobattoGrid(problem.domain, 16)
    with pytest.raises(mfpde.InputError, match="optimisation flows only"):
        solve_kernelised(
            problem, mfpde.wfr(), "1", mfpde.kernels.Kernel("blob", 0.3), grid=grid,
            t_end=0.1, dt=0.1, progress=False,
        )  # fmt: skip
