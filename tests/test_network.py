"""The two-layer network energy (MATH §2.1, [002] teacher-student): calculus, sums, runs.

F(μ) = ½ Σ_m q_m (f(x_m; μ) − f*_m)² + λ∫a² dμ is checked against its definitions: the first
variation against the directional derivative in μ, the gradient against differences in θ, the
compiled sums against dense numpy N × L arrays written here, the readout against the outputs
and the teacher, and the whole contract through the mesh solver and birth-death particles.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import assert_invariants

import mfpde
import mfpde.kernels
import mfpde.particles
from mfpde.network import ACTIVATIONS, TwoLayerNetwork
from mfpde.quadrature import Quadrature

A = 2.0
CIRCLE = mfpde.Domain((-A, 0.0), (A, 2 * np.pi), (False, True))
PLANE = mfpde.Domain((-A, -1.5), (A, 1.5), (False, False))  # θ = (a, z), z ∈ R, data in R
BOX = mfpde.Box([-A, -1.0, -1.0], [A, 1.0, 1.0])  # θ = (a, z₁, z₂), data in R²
BIAS, DECAY = 0.2, 0.1


def _sigmoid(u):
    return 0.5 * (1 + np.tanh(0.5 * u))


#: The activations and their derivatives, written here in plain numpy (the reference).
DENSE = {
    "relu": (lambda u: np.maximum(u, 0.0), lambda u: (u > 0).astype(float)),
    "tanh": (np.tanh, lambda u: 1 - np.tanh(u) ** 2),
    "sigmoid": (_sigmoid, lambda u: _sigmoid(u) * (1 - _sigmoid(u))),
    "softplus": (lambda u: np.logaddexp(0.0, u), _sigmoid),
    "identity": (lambda u: u, np.ones_like),
    "sin": (np.sin, np.cos),
    "cos": (np.cos, lambda u: -np.sin(u)),
}


def weights_of(domain, z):
    """w(z) (n, p) and ∂_z w (n, p) on the circle, or w(z) = z (derivative: the identity)."""
    if domain is CIRCLE:
        return np.stack([np.cos(z[:, 0]), np.sin(z[:, 0])], 1), np.stack(
            [-np.sin(z[:, 0]), np.cos(z[:, 0])], 1
        )
    return z, None


def dense(domain, act, data, q, targets, thetas, strengths, decay=DECAY, bias=BIAS):
    """F, δF/δμ and ∇_θ δF/δμ with N × L arrays (MATH §2.1, the formulas of the docstring)."""
    phi, dphi = DENSE[act] if isinstance(act, str) else act
    a, z = thetas[:, 0], thetas[:, 1:]
    w, dw = weights_of(domain, z)
    u = w @ data.T + bias  # (N, L)
    f = (strengths * a) @ phi(u)
    r = q * (f - targets)
    value = 0.5 * q @ (f - targets) ** 2 + decay * strengths @ a**2
    first = a * (phi(u) @ r) + decay * a**2
    grad = np.empty(thetas.shape)
    grad[:, 0] = phi(u) @ r + 2 * decay * a
    g = (dphi(u) * r) @ data  # Σ_m r̃_m act'(u_m) x_m, (N, p)
    grad[:, 1:] = a[:, None] * (np.sum(g * dw, 1, keepdims=True) if dw is not None else g)
    return value, first, grad


def problem_data(domain, rng, L=60, K=3):
    """Data x_m ~ N(0, I_p), weights q_m, and teacher neurons (a_k, z_k) in the domain."""
    p = 2 if domain is CIRCLE else domain.dim - 1
    data = rng.standard_normal((L, p))
    q = rng.random(L)
    q /= q.sum()
    teacher = domain.uniform(rng, K)
    return data, q, teacher


def network(domain, act, rng, **options):
    data, q, teacher = problem_data(domain, rng)
    net = TwoLayerNetwork(data, teacher=teacher, data_weights=q, activation=act, bias=BIAS,
                          weight_decay=DECAY, **options)  # fmt: skip
    return net, data, q


@pytest.mark.parametrize("act", ["relu", "tanh"])
def test_first_variation_is_the_directional_derivative(act, rng):
    grid = mfpde.Grid(CIRCLE, (16, 24))
    quad = Quadrature.of(grid)
    net, _, _ = network(CIRCLE, act, rng)
    bound = net.bind(quad)

    def density():
        rho = 0.2 + rng.random(grid.size)
        return rho / (grid.weights @ rho)

    mu, m = density(), density()
    # F(μ + ε(m − μ)) is a quadratic polynomial in ε (f is linear in μ), so the central
    # difference is its derivative at 0 exactly, for any ε: only round-off remains, about
    # 1e-16 |F| / ε with ε = 0.25 (a kink of relu in z plays no part: μ varies, not θ).
    eps = 0.25
    fd = (bound.value(mu + eps * (m - mu)) - bound.value(mu - eps * (m - mu))) / (2 * eps)
    exact = grid.weights @ ((m - mu) * bound.first_variation(mu))
    scale = grid.weights @ np.abs((m - mu) * bound.first_variation(mu))
    assert abs(fd - exact) <= 1e-12 * (scale + abs(bound.value(mu)))


@pytest.mark.parametrize(
    "domain", [CIRCLE, PLANE, BOX], ids=["interval-circle", "interval-interval", "box"]
)
@pytest.mark.parametrize("act", [*ACTIVATIONS, "callables"])
def test_gradient_is_the_derivative_of_the_first_variation(domain, act, rng):
    activation = DENSE["tanh"] if act == "callables" else act
    net, data, _ = network(domain, activation, rng)
    n, probes = 300, 40
    particles = domain.uniform(rng, n)
    theta = domain.uniform(rng, probes)
    if act == "relu":
        # Keep probes whose pre-activations are ≥ 1e-3 from the kink at 0 for every datum: the
        # stencil moves u by ≤ h max|x_m| ≈ 4e-5, so relu is smooth on it.
        w, _ = weights_of(domain, theta[:, 1:])
        theta = theta[np.abs(w @ data.T + BIAS).min(axis=1) > 1e-3]
    assert len(theta) >= 10

    def field(at):
        # μ = particles (weights 1/n); the probes join the quadrature with weight 0, so the
        # first variation is evaluated there without changing μ.
        points = np.concatenate([particles, at])
        weights = np.concatenate([np.full(n, 1.0 / n), np.zeros(len(at))])
        q = Quadrature(points, weights, domain, reuse=False)
        values, grads = net.bind(q).field(np.ones(len(points)), True)
        return values[n:], grads[n:]

    _, grads = field(theta)
    # Central differences, step 1e-5: truncation h²|∂³V|/6 ≈ 2e-11 |∂³V| and round-off
    # 1e-16 |V| / h ≈ 1e-11 |V|, with |V|, |∂³V| = O(1): 1e-8 relative is safe.
    h = 1e-5
    for k in range(domain.dim):
        step = np.zeros(domain.dim)
        step[k] = h
        fd = (field(theta + step)[0] - field(theta - step)[0]) / (2 * h)
        assert np.abs(grads[:, k] - fd).max() <= 1e-8 * (1 + np.abs(grads).max())


@pytest.mark.parametrize(
    "domain", [CIRCLE, PLANE, BOX], ids=["interval-circle", "interval-interval", "box"]
)
@pytest.mark.parametrize("act", [*ACTIVATIONS, "callables"])
@pytest.mark.parametrize("n", [5, 200])
def test_sums_match_dense_numpy(domain, act, n, rng):
    activation = DENSE["sin"] if act == "callables" else act
    net, data, q = network(domain, activation, rng)
    teacher = net.teacher
    c = np.full(len(teacher), 1.0 / len(teacher))
    # f* at the data, dense: the teacher's outputs Σ_k c_k a_k φ(x_m, z_k).
    phi = (DENSE[activation] if isinstance(activation, str) else activation)[0]
    wt, _ = weights_of(domain, teacher[:, 1:])
    targets = (c * teacher[:, 0]) @ phi(wt @ data.T + BIAS)
    # The teacher's targets: sums of 3 terms in another order, round-off 1e-15.
    assert np.abs(net.targets - targets).max() <= 1e-13 * (1 + np.abs(targets).max())
    thetas = domain.uniform(rng, n)
    w = rng.random(n)
    rho = 0.5 + rng.random(n)
    bound = net.bind(Quadrature(thetas, w, domain))
    value, first, grad = dense(domain, activation, data, q, targets, thetas, w * rho)
    values, grads = bound.field(rho, True)
    # Sums of ≤ 200 terms of size ≤ 10 in another order (and tanh within 3 ulp of numpy's):
    # round-off ≤ 200 · 10 · 1.1e-16 ≈ 2e-13, so 1e-12 relative to the scale.
    assert abs(bound.value(rho) - value) <= 1e-12 * (1 + abs(value))
    assert np.abs(values - first).max() <= 1e-12 * (1 + np.abs(first).max())
    assert np.abs(bound.first_variation(rho) - first).max() <= 1e-12 * (1 + np.abs(first).max())
    assert np.abs(grads - grad).max() <= 1e-12 * (1 + np.abs(grad).max())
    assert bound.field(rho, False)[1] is None


def test_named_and_callable_activations_agree(rng):
    net, data, q = network(CIRCLE, "tanh", rng)
    twin = TwoLayerNetwork(data, teacher=net.teacher, data_weights=q, activation=DENSE["tanh"],
                           bias=BIAS, weight_decay=DECAY)  # fmt: skip
    quad = Quadrature(CIRCLE.uniform(rng, 500), np.full(500, 1 / 500), CIRCLE, reuse=False)
    ones = np.ones(500)
    (v1, g1), (v2, g2) = net.bind(quad).field(ones, True), twin.bind(quad).field(ones, True)
    # Compiled loops against numpy blocks: the same sums in another order (round-off 1e-14).
    assert np.abs(v1 - v2).max() <= 1e-12 * (1 + np.abs(v1).max())
    assert np.abs(g1 - g2).max() <= 1e-12 * (1 + np.abs(g1).max())


def test_grid_and_particles_give_the_same_first_variation(rng):
    grid = mfpde.Grid(CIRCLE, (16, 24))
    net, _, _ = network(CIRCLE, "relu", rng)
    rho = 0.2 + rng.random(grid.size)
    rho /= grid.weights @ rho
    on_grid = net.bind(Quadrature.of(grid))
    as_particles = net.bind(Quadrature(grid.points, grid.weights * rho, CIRCLE, reuse=False))
    ones = np.ones(grid.size)
    # Identical arithmetic (the strengths w_i ρ_i are the same floats): equal to round-off.
    assert np.abs(on_grid.first_variation(rho) - as_particles.first_variation(ones)).max() <= (
        1e-14 * (1 + np.abs(on_grid.first_variation(rho)).max())
    )
    assert abs(on_grid.value(rho) - as_particles.value(ones)) <= 1e-14 * (1 + on_grid.value(rho))


def test_readout(rng):
    net, data, q = network(CIRCLE, "tanh", rng)
    grid = mfpde.Grid(CIRCLE, (16, 24))
    rho = 0.2 + rng.random(grid.size)
    rho /= grid.weights @ rho
    bound = net.bind(grid)
    # At the data: the outputs F is made of (same compiled sum: round-off only).
    f = net.readout(grid, rho, data)
    np.testing.assert_allclose(f, bound.outputs(rho), rtol=0, atol=1e-14)
    decay = DECAY * grid.weights @ (rho * grid.points[:, 0] ** 2)
    expected = 0.5 * q @ (f - net.targets) ** 2 + decay
    assert abs(bound.value(rho) - expected) <= 1e-14
    # At fresh inputs, against the dense sum Σ_i w_i ρ_i a_i φ(x, z_i) (round-off of 384 terms).
    x = 2 * rng.standard_normal((30, 2))
    w, _ = weights_of(CIRCLE, grid.points[:, 1:])
    dense_f = (grid.weights * rho * grid.points[:, 0]) @ np.tanh(w @ x.T + BIAS)
    assert np.abs(net.readout(grid, rho, x) - dense_f).max() <= 1e-13 * (1 + np.abs(dense_f).max())
    # Particles (ρ ≡ 1): the teacher's own neurons read out its targets, where the loss and
    # the residual part of the first variation vanish (round-off of sums of 3 terms).
    teacher = Quadrature(net.teacher, np.full(3, 1 / 3), CIRCLE, reuse=False)
    np.testing.assert_allclose(net.readout(teacher, None, data), net.targets, rtol=0, atol=1e-14)
    plain = TwoLayerNetwork(data, teacher=net.teacher, activation="tanh", bias=BIAS)
    at_teacher = plain.bind(teacher)
    assert at_teacher.value(np.ones(3)) <= 1e-28
    assert np.abs(at_teacher.first_variation(np.ones(3))).max() <= 1e-14


def test_targets_and_quadrature_data(rng):
    data, q, teacher = problem_data(CIRCLE, rng)
    given = TwoLayerNetwork(data, targets=np.sin(data[:, 0]), data_weights=q, activation="cos")
    quad = TwoLayerNetwork(Quadrature(data, q), targets=np.sin(data[:, 0]), activation="cos")
    thetas = Quadrature(CIRCLE.uniform(rng, 50), np.full(50, 0.02), CIRCLE)
    ones = np.ones(50)
    np.testing.assert_array_equal(given.bind(thetas).first_variation(ones),
                                  quad.bind(thetas).first_variation(ones))  # fmt: skip
    # Teacher weights c_k: f* = Σ_k c_k a_k φ(x_m, z_k), here c = (3, 0, 0), i.e. 3 × neuron 1.
    heavy = TwoLayerNetwork(data, teacher=teacher, teacher_weights=[3.0, 0.0, 0.0])
    single = TwoLayerNetwork(data, teacher=teacher[:1], teacher_weights=[3.0])
    np.testing.assert_allclose(heavy.targets, single.targets, rtol=0, atol=1e-14)
    # Default weights: q = 1/L and c = 1/K.
    default = TwoLayerNetwork(data, teacher=teacher)
    np.testing.assert_allclose(default.data_weights, 1 / len(data))
    np.testing.assert_allclose(default.teacher_weights, 1 / 3)


def test_end_to_end_mesh_and_particles():
    rng = np.random.default_rng(2)
    data = rng.standard_normal((200, 2))
    teacher = np.array([[1.5, 0.5], [-1.0, 2.5], [1.2, 4.5]])
    net = TwoLayerNetwork(data, teacher=teacher, activation="relu")
    problem = mfpde.OptimisationProblem(CIRCLE, net, sigma=0.01)

    solution = mfpde.solve(
        problem, mfpde.wfr(), "1", cells=(16, 24), t_end=0.5, dt=0.05, progress=False
    )
    assert_invariants(solution)  # mass, positivity, non-increasing F^σ (its energy observer)
    bound = net.bind(solution.grid)
    loss = np.array([bound.value(rho) for rho in solution.density])
    # μ₀ uniform: f ≡ 0 by the symmetry a ↦ −a, so F(μ₀) = ½ E f*². The loss then decreases
    # monotonically (measured: 0.111 → 0.079) far above round-off.
    assert abs(loss[0] - 0.5 * net.data_weights @ net.targets**2) <= 1e-12
    assert np.all(np.diff(loss) < 0)
    assert loss[-1] < 0.9 * loss[0]

    kernel = mfpde.kernels.Kernel("blob", 0.3)
    trajectory = mfpde.particles.birth_death(
        problem, "1", kernel=kernel, n=2000, t_end=0.5, dt=0.05, seed=0
    )
    particle_loss = loss_along(net, trajectory)
    assert np.all(np.isfinite(particle_loss))
    # Birth-death alone lowers the loss too: measured drops 0.020-0.027 for seeds 0-2 (from
    # 0.121-0.128 at t = 0, N = 2000), so a drop of 5e-3 is no accident of the seed.
    assert particle_loss[-1] < particle_loss[0] - 5e-3
    # The readout of the particles at the data is the output their loss is made of.
    X, w = trajectory.positions[-1], trajectory.weights[-1]
    f = net.readout(Quadrature(X, w, CIRCLE), None, data)
    assert abs(0.5 * net.data_weights @ (f - net.targets) ** 2 - particle_loss[-1]) <= 1e-14

    # The transport methods use the gradient: weighted WFR (measured loss ratio 0.63-0.64 at
    # t = 0.5 for seeds 0-2) and mean-field Langevin (0.78-0.80): bounds 0.8 and 0.9.
    wfr = mfpde.particles.weighted_wfr(
        problem, "1", kernel=kernel, n=2000, t_end=0.5, dt=0.05, seed=0
    )
    wfr_loss = loss_along(net, wfr)
    assert np.all(np.diff(wfr_loss) < 0) and wfr_loss[-1] < 0.8 * wfr_loss[0]
    langevin = mfpde.particles.langevin(problem, "1", n=2000, t_end=0.5, dt=0.05, seed=0)
    langevin_loss = loss_along(net, langevin)
    assert langevin_loss[-1] < 0.9 * langevin_loss[0]


def loss_along(net, trajectory) -> np.ndarray:
    """F(μ_N(t)) at the saved times of a particle trajectory (ρ ≡ 1)."""
    return np.array(
        [
            net.bind(Quadrature(X, w, CIRCLE, reuse=False)).value(np.ones(len(w)))
            for X, w in zip(trajectory.positions, trajectory.weights)
        ]
    )


GOOD = np.zeros((4, 2))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"activation": "gelu"}, "unknown activation 'gelu' (choose from relu, tanh"),
        ({"activation": (np.tanh,)}, "pair of callables"),
        ({"data": np.zeros(4)}, "network data must be a non-empty array (L, p)"),
        ({"data": np.zeros((0, 2)), "targets": np.zeros(0)}, "non-empty array"),
        ({"data": np.array([[np.nan, 0.0]] * 4)}, "network data must be finite"),
        ({"targets": np.zeros(3)}, "network targets must be 4 values"),
        ({"targets": [0, 0, np.inf, 0]}, "network targets must be finite"),
        ({"targets": None}, "exactly one of targets"),
        ({"teacher": np.zeros((2, 2))}, "exactly one of targets"),
        ({"targets": None, "teacher": np.zeros((2, 4))}, "need 3 columns (or 2"),
        ({"targets": None, "teacher": np.zeros((2, 2)), "teacher_weights": [1.0]}, "2 numbers"),
        ({"teacher_weights": [1.0]}, "teacher_weights without a teacher"),
        ({"data_weights": -np.ones(4)}, "data weights must be 4 numbers >= 0"),
        ({"weight_decay": -0.1}, "weight decay must be a finite number >= 0"),
        ({"bias": np.nan}, "bias must be a finite number"),
        ({"bias": True}, "bias must be a number"),
    ],
)
def test_bad_inputs(options, message):
    kwargs = {"data": GOOD, "targets": np.zeros(4)} | options
    with pytest.raises(mfpde.InputError, match=re.escape(message)) as info:
        TwoLayerNetwork(kwargs.pop("data"), **kwargs)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("domain", "data", "message"),
    [
        (mfpde.Domain((0.0, -1.0), (2 * np.pi, 1.0), (True, False)), GOOD, "must be walled"),
        (mfpde.Torus(2), GOOD, "must be walled"),
        (mfpde.Interval(-1.0, 1.0), GOOD[:, :1], "dimension >= 2"),
        (CIRCLE, GOOD[:, :1], "network data in R^1, but neurons on interval × circle need"),
        (PLANE, GOOD, "network data in R^2, but neurons on a 2-D domain need data in R^1"),
        (mfpde.Domain((-1.0, 0.0, 0.0), (1.0, 1.0, 1.0), (False, True, False)), GOOD, "periodic z"),
        (None, GOOD, "needs the quadrature's domain"),
    ],
)
def test_bad_domains(domain, data, message):
    net = TwoLayerNetwork(data, targets=np.zeros(4))
    dim = 2 if domain is None else domain.dim
    quad = Quadrature(np.zeros((3, dim)), np.ones(3), domain)
    with pytest.raises(mfpde.InputError, match=re.escape(message)):
        net.bind(quad)
    with pytest.raises(mfpde.InputError, match=re.escape(message)):
        net.readout(quad, None, data)


def test_bad_readout_and_callable_activation(rng):
    net = TwoLayerNetwork(GOOD, targets=np.zeros(4), activation=(np.tanh, lambda u: u[:1]))
    quad = Quadrature(CIRCLE.uniform(rng, 5), np.ones(5), CIRCLE)
    with pytest.raises(mfpde.InputError, match="readout inputs must be"):
        net.readout(quad, None, np.zeros((3, 3)))
    with pytest.raises(mfpde.InputError, match="readout density must have shape"):
        net.readout(quad, np.ones(4), GOOD)
    net.bind(quad).first_variation(np.ones(5))  # act alone is fine
    with pytest.raises(mfpde.InputError, match="activation derivative must map an array"):
        net.bind(quad).field(np.ones(5), True)
