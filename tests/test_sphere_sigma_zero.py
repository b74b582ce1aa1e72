"""σ = 0 transport on the icosphere: upwind finite volumes on the barycentric dual (MATH §8).

WFR descent-ascent at σ = 0 ([003] eq. (8), Alg. 2 setting) on S² × S² has no diffusion; the
P1 Slotboom operator refuses it and :class:`~mfpde.fem.UpwindFlowOperator` solves it
(:mod:`mfpde.fem.upwind`).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import mfpde
from mfpde.errors import InputError
from mfpde.fem import (
    P1FlowOperator,
    P1Space,
    SimplexMesh,
    Sphere,
    UpwindFlowOperator,
    box_mesh,
    icosphere,
    solve_game,
)
from mfpde.fem.upwind import CFL, dual_face_normals
from mfpde.games import GameProblem, game_flow, sphere_game


def _game() -> GameProblem:
    return GameProblem(Sphere(), Sphere(), sphere_game("ell_a", seed=0), sigma=0.0)


def _solve(space, t_end=0.2, dt=0.02, **options):
    return solve_game(
        _game(),
        game_flow("wfr_da"),
        "exp(x3)",
        "exp(y1)",
        space_mu=space,
        space_nu=space,
        t_end=t_end,
        dt=dt,
        save_every=1000,
        progress=False,
        **options,
    )


def test_sigma_zero_wfr_da_on_the_icosphere_converges_at_first_order():
    # Self-convergence at t = 0.2 on nested icospheres (the nodes of level r are the first nodes
    # of level r + 1), the same dt on every level. e_r = Σ_i w_i |ρ_r − ρ_{r+1}|(x_i) at the
    # nodes of level r, summed over both players; h_r ∝ 2^{−r}. Measured (dt = 0.02): e = 0.1378,
    # 0.0786, 0.0431 for r = 2, 3, 4 (local orders 0.81, 0.87, fitted 0.838; with dt = 0.01 and
    # r up to 6: 0.1364, 0.0789, 0.0430, 0.0229, local 0.79, 0.87, 0.91): the O(h) upwind error
    # with an O(h²) remainder, approaching 1 from below. [0.7, 1.1] excludes the second order
    # of the σ > 0 scheme and an order-½ (non-consistent) flux.
    spaces = {r: P1Space(icosphere(r)) for r in range(2, 6)}
    sols = {r: _solve(space) for r, space in spaces.items()}
    errors = []
    for r in range(2, 5):
        n, w = spaces[r].size, spaces[r].weights
        errors.append(
            sum(
                w @ np.abs(getattr(sols[r], d)[-1] - getattr(sols[r + 1], d)[-1][:n])
                for d in ("density_mu", "density_nu")
            )
        )
    order = np.polyfit(np.arange(2, 5) * np.log(0.5), np.log(errors), 1)[0]
    assert 0.7 <= order <= 1.1, (order, errors)
    for sol in sols.values():
        obs = sol.observers
        # zero weighted column sums: mass to round-off; the CFL substeps keep positivity
        assert np.abs(obs["mass_mu"] - 1).max() < 1e-12
        assert np.abs(obs["mass_nu"] - 1).max() < 1e-12
        assert obs["min_density_mu"].min() > 0 and obs["min_density_nu"].min() > 0


def test_dual_fluxes_reproduce_the_p1_stiffness_matrix():
    """Σ_faces ∫ ∇h·n over the barycentric dual = −K⁰h (the box method), K⁰ by DOLFINx.

    The dual fluxes are built from the P1 gradient and the dual geometry only; K⁰ is assembled
    independently by DOLFINx, so this checks the normals, their orientation and their lengths
    (measured: 9e-15 of ‖K⁰h‖ = 12.8 on icosphere(3), round-off).
    """
    mesh = icosphere(3)
    space = P1Space(mesh)
    edges, flux = dual_face_normals(mesh.points, mesh.cells)
    n, count = mesh.size, len(edges)
    incidence = sp.csr_matrix(
        (np.r_[np.ones(count), -np.ones(count)], (np.r_[np.arange(count), np.arange(count)],
                                                  np.r_[edges[:, 0], edges[:, 1]])),
        shape=(count, n),
    )  # fmt: skip
    stiffness = space.gather_matrix(P1FlowOperator(space, np.zeros(n), 1.0, 1.0, 0.0)._stiffness)
    h = np.random.default_rng(0).standard_normal(n)
    np.testing.assert_allclose(incidence.T @ (flux @ h), -(stiffness @ h), atol=1e-12)


def test_generator_is_metzler_with_zero_weighted_column_sums_and_a_cfl_substep():
    space = P1Space(icosphere(2))
    operator = UpwindFlowOperator(space, np.zeros(space.size), 0.0, 1.5, 0.0)
    field = space.points[:, 2] + space.points[:, 0] ** 2
    A = operator.transport_matrix(field)
    off = A - sp.diags(A.diagonal())
    assert off.min() >= 0 and A.diagonal().max() <= 0
    assert np.abs(space.weights @ A).max() < 1e-14  # mass
    c_max = -A.diagonal().min()
    steps = operator.substeps(0.3, field)
    assert 0.3 * c_max / steps <= CFL < 0.3 * c_max / (steps - 1)
    # ρ ∝ 1 moves towards low h (−∇h): the mass flows down the field
    rho = np.ones(space.size) / space.weights.sum()
    moved = operator.transport(rho, 0.3, field)
    assert space.weights @ (moved * field) < space.weights @ (rho * field)
    # a constant field does not move anything (Σ_k ∇λ_k = 0 on each triangle, to round-off)
    still = operator.transport(rho, 0.3, np.full(space.size, 2.0))
    np.testing.assert_allclose(still, rho, rtol=1e-13)


def test_operator_choice_and_refusals():
    space = P1Space(icosphere(1))
    sol = _solve(space, t_end=0.04)
    assert sol.observers["ni_error"][-1] > 0  # σ = 0: the unregularised NI of MATH §2.2
    with pytest.raises(InputError, match="needs sigma > 0.*upwind operator"):
        _solve(space, t_end=0.04, operator_type="slotboom")
    with pytest.raises(InputError, match="operator_type must be"):
        _solve(space, t_end=0.04, operator_type="fancy")
    with pytest.raises(InputError, match="sigma = 0 transport, got sigma = 0.5"):
        UpwindFlowOperator(space, np.zeros(space.size), 0.5, 1.0, 1.0)
    cube = box_mesh(mfpde.Box((0, 0, 0), (1, 1, 1)), 2)
    tetrahedra = SimplexMesh(cube.points, cube.cells)
    with pytest.raises(InputError, match="needs a triangle mesh"):
        dual_face_normals(tetrahedra.points, tetrahedra.cells)
