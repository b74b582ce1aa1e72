"""Readouts of particle networks and ‖f^n − f‖²_{L²(ν̂)} (MATH §2.1, §7; [002] dynamical CLT).

Both are checked against a direct evaluation written here: f(x; μ^n) = Σ_j w_j a_j tanh(⟨x,
w(z_j)⟩ + b) as an n × M numpy array, the mesh network Σ_c w_c ρ_c a_c tanh(…) likewise, and the
squared distance as Σ_m q_m (f^n_m − f_m)².
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import mfpde
from mfpde.network import TwoLayerNetwork

A, BIAS = 2.0, 0.2
CIRCLE = mfpde.Domain((-A, 0.0), (A, 2 * np.pi), (False, True))


def direct(points: np.ndarray, strengths: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Σ_j c_j a_j tanh(⟨x, (cos z_j, sin z_j)⟩ + b) at inputs x (M, 2), densely."""
    w = np.stack([np.cos(points[:, 1]), np.sin(points[:, 1])], axis=1)
    return (strengths * points[:, 0]) @ np.tanh(w @ x.T + BIAS)


@pytest.fixture
def net(rng):
    data = rng.standard_normal((40, 2))
    q = rng.random(40)
    teacher = CIRCLE.uniform(rng, 3)
    return TwoLayerNetwork(data, teacher=teacher, data_weights=q / q.sum(), activation="tanh",
                           bias=BIAS)  # fmt: skip


def test_particle_readout_with_leading_axes(net, rng):
    X = CIRCLE.uniform(rng, 3 * 2 * 50).reshape(3, 2, 50, 2)  # (times, replicas, n, d)
    w = rng.random((3, 2, 50))
    w /= w.sum(axis=-1, keepdims=True)
    f = net.particle_readout(CIRCLE, X, w)
    assert f.shape == (3, 2, 40)
    expected = np.array([[direct(X[t, r], w[t, r], net.data) for r in range(2)] for t in range(3)])
    # Sums of 50 terms of size ≤ 2 in another order: round-off ≤ 50 · 2 · 1.1e-16 ≈ 1e-14.
    assert np.abs(f - expected).max() <= 1e-13
    x = rng.standard_normal((7, 2))
    one = net.particle_readout(CIRCLE, X[0, 0], w[0, 0], x)
    assert one.shape == (7,)
    assert np.abs(one - direct(X[0, 0], w[0, 0], x)).max() <= 1e-13


def test_squared_distance_against_a_direct_evaluation(net, rng):
    grid = mfpde.Grid(CIRCLE, (8, 12))
    rho = 0.2 + rng.random((3, grid.size))
    rho /= (rho @ grid.weights)[:, None]
    X = CIRCLE.uniform(rng, 3 * 4 * 30).reshape(3, 4, 30, 2)
    w = np.full((3, 4, 30), 1 / 30)
    d2 = net.squared_distance(X, w, grid, rho[:, None])
    assert d2.shape == (3, 4)
    mesh = [direct(grid.points, grid.weights * r, net.data) for r in rho]
    expected = np.array(
        [[net.data_weights @ (direct(X[t, r], w[t, r], net.data) - mesh[t]) ** 2 for r in range(4)]
         for t in range(3)]
    )  # fmt: skip
    # Squares of differences of O(1) outputs known to 1e-14 (sums of ≤ 96 terms): 1e-13 abs.
    assert np.abs(d2 - expected).max() <= 1e-13
    assert expected.min() > 1e-4  # distances (measured ≥ 3.4e-4) far above the tolerance
    # One density for all particle measures broadcasts; a measure equal to the mesh cells with
    # masses w_c ρ_c is the mesh network itself: distance 0 to round-off (identical sums).
    cells = np.broadcast_to(grid.points, (2, *grid.points.shape))
    masses = np.stack([grid.weights * rho[0]] * 2)
    np.testing.assert_array_equal(net.squared_distance(cells, masses, grid, rho[0]), [0.0, 0.0])


@pytest.mark.parametrize(
    ("positions", "weights", "rho", "message"),
    [
        (np.zeros((5, 2)), np.ones(4), None, "positions (..., n, d) and weights (..., n)"),
        (np.zeros(5), np.ones(5), None, "positions (..., n, d) and weights (..., n)"),
        (np.zeros((0, 2)), np.ones(0), None, "positions (..., n, d) and weights (..., n)"),
        (np.zeros((5, 2)), np.ones(5), np.ones(7), "mesh densities must have shape (..., 96)"),
        (np.zeros((5, 2)), np.ones(5), 1.0, "mesh densities must have shape (..., 96)"),
    ],
)
def test_bad_particles_and_densities(net, positions, weights, rho, message):
    grid = mfpde.Grid(CIRCLE, (8, 12))
    rho = np.ones(grid.size) if rho is None else rho
    with pytest.raises(mfpde.InputError, match=re.escape(message)):
        net.squared_distance(positions, weights, grid, rho)


def test_output_loss_of_particle_networks(net, rng):
    X = CIRCLE.uniform(rng, 2 * 60).reshape(2, 60, 2)
    w = np.full((2, 60), 1 / 60)
    loss = net.output_loss(net.particle_readout(CIRCLE, X, w))
    expected = [0.5 * net.data_weights @ (direct(X[k], w[k], net.data) - net.targets) ** 2
                for k in range(2)]  # fmt: skip
    assert np.abs(loss - expected).max() <= 1e-14  # squares of O(1) differences known to 1e-14
    # The energy F of the same measure (no weight decay here) is this loss (the same sums, up
    # to the order of the additions: measured 1 ulp).
    bound = net.bind(mfpde.Quadrature(X[1], w[1], CIRCLE, reuse=False))
    assert abs(bound.value(np.ones(60)) - loss[1]) <= 1e-14 * loss[1]
    with pytest.raises(mfpde.InputError, match=re.escape("outputs must have shape (..., 40)")):
        net.output_loss(np.zeros(39))
