"""One binding contract: grids, P1 nodes and particles compute the same first variation.

Every energy term (potential, interaction, kernelised entropy, user functional), the payoff of a
game (each player) and the sums behind them bind to a weighted point set
(:class:`mfpde.quadrature.Quadrature`). Where the point sets coincide the numbers must agree:
the cells of a finite-volume grid with density ρ against particles at the cell centres with
masses w_i ρ_i (ρ ≡ 1); the nodes of a P1 space with density ρ against particles at the nodes
with masses w_i ρ_i. The sums may take different routes (exact FFT on the grid, stored rows on
the mesh, compiled loops or NUFFT for particles), so the agreement is up to the fast sums'
tolerance, 1e-10 relative (tests/test_sums.py checks each route against the direct sum), or to
round-off where both routes are exact. The first variation is defined up to an additive
constant (MATH §1): the kernelised entropies contain log π, normalised on each point set's own
weights, so they are compared up to a constant (which no flow sees: birth-death rates use
g − ⟨g⟩, transport ∇g), and their values, which carry that constant, are not compared.
"""

from __future__ import annotations

import numpy as np
import pytest

import mfpde
from mfpde.fem import P1Space, box_mesh
from mfpde.games import Bilinear, GameProblem
from mfpde.kernels import Kernel, KernelisedEntropy
from mfpde.quadrature import Quadrature

#: The fast sums' default tolerance is 1e-10 relative to the sums' scale; sums of positive
#: weights against kernels of size O(1), so 1e-9 absolute on fields of size O(1) leaves a
#: factor 10.
TOLERANCE = 1e-9

BOX = mfpde.Box([0.0, 0.0], [1.0, 2.0])
MIXED = mfpde.Domain((0.0, 0.0), (2.0, 2 * np.pi), (False, True))

ENERGIES = {
    "potential": lambda: mfpde.Potential("cos(3*x1) * x2 + x1**2"),
    "interaction (x - y)": lambda: mfpde.Interaction("exp(-((x1 - y1)**2 + (x2 - y2)**2)/0.1)"),
    "interaction (separable)": lambda: mfpde.Interaction("x1*y1 + cos(x2*y2) + x1*x2*y1*y2"),
    "potential + interaction": lambda: mfpde.Potential("x2") + mfpde.Interaction("x1*y1"),
    "functional": lambda: mfpde.Functional(
        lambda x, w, rho: 0.5 * (w @ (rho * x[:, 0])) ** 2,
        lambda x, w, rho: (w @ (rho * x[:, 0])) * x[:, 0],
    ),
    "density entropy": lambda: KernelisedEntropy(Kernel("density", 0.3), 0.7),
    "blob entropy": lambda: KernelisedEntropy(
        Kernel("blob", 0.3), 0.7, mfpde.Reference("exp(x1*x2/4)")
    ),
}


def _density(points: np.ndarray) -> np.ndarray:
    return 1 + 0.5 * np.cos(2 * points[:, 0]) * np.sin(points[:, 1])


def _particles(q: Quadrature, rho: np.ndarray) -> Quadrature:
    """Particles at the points of ``q`` carrying the masses w_i ρ_i (ρ ≡ 1)."""
    return Quadrature(q.points, q.weights * rho, q.domain, reuse=False)


def _agree(energy, q: Quadrature, rho: np.ndarray) -> None:
    on_q = energy.bind(q)
    on_particles = energy.bind(_particles(q, rho))
    ones = np.ones(q.size)
    fv_q, fv_p = on_q.first_variation(rho), on_particles.first_variation(ones)
    scale = 1 + np.abs(fv_q).max()
    entropy = isinstance(energy, KernelisedEntropy)
    if entropy:  # up to the constant of log π's normalisation (module docstring)
        fv_p = fv_p + (q.weights * rho) @ (fv_q - fv_p)
    assert np.abs(fv_q - fv_p).max() <= TOLERANCE * scale
    if not entropy:
        assert abs(on_q.value(rho) - on_particles.value(ones)) <= TOLERANCE * scale


@pytest.mark.parametrize("name", ENERGIES)
@pytest.mark.parametrize("domain", [BOX, MIXED], ids=["box", "interval x circle"])
def test_grid_cells_and_particles_at_the_cells_agree(name, domain):
    grid = mfpde.Grid(domain, (18, 24))
    q = Quadrature.of(grid)
    rho = _density(grid.points)
    rho /= grid.weights @ rho
    _agree(ENERGIES[name](), q, rho)


@pytest.mark.parametrize("name", ENERGIES)
def test_p1_nodes_and_particles_at_the_nodes_agree(name):
    space = P1Space(box_mesh(BOX, (10, 14)))
    q = Quadrature.of(space, BOX)
    rho = _density(space.points)
    rho /= space.weights @ rho
    _agree(ENERGIES[name](), q, rho)


def test_the_grid_sum_is_the_fft_and_the_particle_sum_is_not():
    # The same interaction takes the exact FFT on the grid and a point method on particles:
    # the agreement above is between two different routes.
    grid = mfpde.Grid(BOX, (18, 24))
    energy = ENERGIES["interaction (x - y)"]()
    on_grid = energy.bind(Quadrature.of(grid))
    on_particles = energy.bind(_particles(Quadrature.of(grid), np.ones(grid.size)))
    assert on_grid.sums.method == "fft" and on_particles.sums.method == "direct"


def test_both_players_of_a_game_agree_on_grids_and_as_particles():
    problem = GameProblem(
        mfpde.Interval(0.0, 1.0), mfpde.Torus(1), Bilinear("exp(x*cos(y)) + x*sin(2*y)"), 0.5
    )
    gx, gy = mfpde.Grid(problem.domain_mu, 30), mfpde.Grid(problem.domain_nu, 40)
    mu, nu = 1 + gx.points[:, 0], 2 + np.cos(gy.points[:, 0])
    mu, nu = mu / (gx.weights @ mu), nu / (gy.weights @ nu)
    on_grids = problem.bind(gx, gy).payoff.fields(mu, nu)
    particles = [_particles(Quadrature.of(g), rho) for g, rho in ((gx, mu), (gy, nu))]
    as_particles = problem.payoff.bind(*particles).fields(np.ones(gx.size), np.ones(gy.size))
    for a, b in zip(on_grids, as_particles):
        assert np.abs(a - b).max() <= TOLERANCE * (1 + np.abs(a).max())


def test_the_particle_field_is_the_bound_energy():
    # ParticleField adds nothing of its own: g = δF/δμ + σ e_h through the same bound terms.
    from mfpde.particles.fields import ParticleField

    grid = mfpde.Grid(BOX, (12, 16))
    energy = ENERGIES["potential + interaction"]()
    problem = mfpde.OptimisationProblem(BOX, energy, sigma=0.7)
    kernel = Kernel("blob", 0.3)
    X, w = grid.points, grid.weights / grid.weights.sum()
    g, grad = ParticleField(problem, kernel)(X, w, want_gradient=True)
    q = Quadrature(X, w, BOX, reuse=False)
    e, de = kernel.entropy(problem).bind(q).field(np.ones(len(X)), True)
    f, df = energy.bind(q).field(np.ones(len(X)), True)
    np.testing.assert_allclose(g, f + e, rtol=0, atol=1e-12)
    np.testing.assert_allclose(grad, df + de, rtol=0, atol=1e-11)
