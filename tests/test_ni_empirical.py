"""The exact NI error of particle measures on S^{d−1} against an independent multistart (MATH §2.2).

[003] §5.1 computes each inner optimisation of NI(μ, ν) = sup_y V_y[μ] − inf_x V_x[ν] by 2000
gradient-ascent runs from uniform starts: a lower bound of the NI. Here the same multistart
(2000 seeded restarts of projected gradient descent on the sphere, written out below) must never
beat the trust-region solution, and equals it to 1e-8 where it converged (it did in every case
below); the optimisers found must attain the values with the payoff summed directly.
"""

from __future__ import annotations

import numpy as np
import pytest

from mfpde.domains import Circle, Sphere
from mfpde.errors import InputError
from mfpde.games import Bilinear, ni_error_empirical, sphere_game, trust_region

RESTARTS = 2000


def multistart_min(Q: np.ndarray, b: np.ndarray, seed: int, steps: int = 5000):
    """min over S^{d−1} of uᵀQu + bᵀu by projected gradient descent (step 1/L, L the gradient's
    Lipschitz bound 2‖Q‖ + ‖b‖) from 2000 seeded uniform starts: the best final value, and
    whether the best six runs agree to 1e-11 (they found a common minimum; checked every 100
    steps, which ends the descent)."""
    rng = np.random.default_rng(seed)
    u = rng.standard_normal((RESTARTS, len(b)))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    step = 1.0 / (2 * np.linalg.norm(Q, 2) + np.linalg.norm(b))
    for k in range(steps):
        Qu = u @ Q
        if k % 100 == 0:
            best = np.sort(np.sum(u * Qu, axis=1) + u @ b)
            if best[5] - best[0] < 1e-11:
                break
        u = u - step * (2 * Qu + b)
        u /= np.linalg.norm(u, axis=1, keepdims=True)
    best = np.sort(np.sum(u * (u @ Q), axis=1) + u @ b)
    return float(best[0]), bool(best[5] - best[0] < 1e-11)


@pytest.mark.parametrize("d", [3, 5, 10, 20])
def test_trust_region_against_multistart(d):
    rng = np.random.default_rng(d)
    for trial in range(2):
        A = rng.standard_normal((d, d))
        Q, b = A + A.T, rng.standard_normal(d) * (0.1 if trial == 1 else 1.0)
        value, u = trust_region(Q, b)
        assert abs(np.linalg.norm(u) - 1) < 1e-15
        assert abs(u @ Q @ u + b @ u - value) < 1e-13 * (1 + abs(value))
        best, converged = multistart_min(Q, b, seed=trial)
        assert value <= best + 1e-12  # exact ≤ any point of the sphere
        assert converged and abs(value - best) < 1e-8


def test_trust_region_hard_case():
    # Q = diag(−1, −1, 2, 3), b ⟂ the eigenspace of −1: the secular equation has no root below
    # λ_1 = −1 (φ(0⁺) = (1/6)² + (0.5/8)² − 1 < 0), the minimisers are p + τe with
    # p = (0, 0, −1/6, −1/16) and e any unit vector of span(e₁, e₂): value −1 + Σ β_i²·(…)
    # = λ_1 − Σ_{i∉E} β_i²/(4(λ_i − λ_1)) written out.
    Q = np.diag([-1.0, -1.0, 2.0, 3.0])
    R = np.linalg.qr(np.random.default_rng(1).standard_normal((4, 4)))[0]
    b = np.array([0.0, 0.0, 1.0, 0.5])
    exact = -1.0 - (1.0**2 / (4 * 3.0) + 0.5**2 / (4 * 4.0))
    for rotation in (np.eye(4), R):  # also in a rotated basis (eigenvectors not the axes)
        value, u = trust_region(rotation @ Q @ rotation.T, rotation @ b)
        assert abs(value - exact) < 1e-14 and abs(np.linalg.norm(u) - 1) < 1e-15
        best, _ = multistart_min(rotation @ Q @ rotation.T, rotation @ b, 0)
        assert value <= best + 1e-12 and abs(value - best) < 1e-8
    # b = 0: the minimum eigenvalue; near-hard case (β_E = 1e-9): the secular root, continuous
    assert abs(trust_region(Q, np.zeros(4))[0] + 1) < 1e-15
    near = trust_region(Q, b + np.array([1e-9, 0, 0, 0]))[0]
    assert exact - 1e-8 < near <= exact + 1e-15


@pytest.mark.parametrize("d", [3, 5, 10, 20])
@pytest.mark.parametrize("name", ["ell_a", "ell_b"])
def test_exact_ni_of_particle_measures_against_multistart(name, d):
    game = sphere_game(name, seed=1, dim=d)
    rng = np.random.default_rng(d)
    sphere = Sphere(d)
    X, Y = sphere.uniform(rng, 100), sphere.von_mises_fisher(rng, 50, np.ones(d), 2.0)
    u, v = rng.random(100), rng.random(50)
    ni = ni_error_empirical(game, (X, u), (Y, v))
    u, v = u / u.sum(), v / v.sum()
    # the quadratic forms of V_y[μ], V_x[ν] (tests/test_sphere_games_d.py checks them against the
    # payoff summed directly); the optimisation over the sphere is the multistart's own
    (Q_y, b_y, c_y), (Q_x, b_x, c_x) = (game.field_y(u @ X, (X.T * u) @ X),
                                        game.field_x(v @ Y, (Y.T * v) @ Y))  # fmt: skip
    neg_sup, converged_y = multistart_min(-Q_y, -b_y, seed=0)
    inf_x, converged_x = multistart_min(Q_x, b_x, seed=1)
    sup_y, inf_x = c_y - neg_sup, c_x + inf_x
    # the multistart's points are on the sphere: it bounds each optimum from the inside
    assert ni.sup_y >= sup_y - 1e-12 and ni.inf_x <= inf_x + 1e-12
    assert ni.value >= sup_y - inf_x - 1e-12 and ni.value >= 0
    assert converged_y and converged_x
    assert abs(ni.sup_y - sup_y) < 1e-8 and abs(ni.inf_x - inf_x) < 1e-8
    # the optimisers found attain the values: the payoff summed directly at them
    assert abs(u @ game.ell(X, ni.y) - ni.sup_y) < 1e-12 * (1 + abs(ni.sup_y))
    assert abs(v @ game.ell(ni.x, Y) - ni.inf_x) < 1e-12 * (1 + abs(ni.inf_x))


def test_sampled_ni_of_a_general_payoff_converges_to_the_exact_one():
    # ℓ = cos(x − y) + 0.3 sin 2x on the circle, μ = (δ_0 + δ_1)/2, ν = δ_π; the sampled value
    # is attained at points, so it approaches the NI from below.
    payoff = Bilinear("cos(x - y) + 0.3*sin(2*x)")
    mu = (np.array([[0.0], [1.0]]), np.array([0.5, 0.5]))
    nu = (np.array([[np.pi]]), np.array([1.0]))
    ni = ni_error_empirical(payoff, mu, nu, (Circle(), Circle()))
    # V_y = (cos y + cos(y − 1))/2 + 0.15 sin 2 (sup cos(1/2) + 0.15 sin 2),
    # V_x = −cos x + 0.3 sin 2x (inf on a grid of 1e6 points: error ≤ h²|f''|/8 ≈ 1e-11)
    grid = np.linspace(0, 2 * np.pi, 1_000_001)
    exact = np.cos(0.5) + 0.15 * np.sin(2.0) - np.min(-np.cos(grid) + 0.3 * np.sin(2 * grid))
    assert ni.method == "sampled" and ni.value <= exact + 1e-10
    assert abs(ni.value - exact) < 1e-9 and ni.accuracy < 1e-9
    # a sphere game through the sampled path agrees with its exact value
    game = sphere_game("ell_a", seed=0, dim=5)
    rng = np.random.default_rng(0)
    X, Y = Sphere(5).uniform(rng, 20), Sphere(5).uniform(rng, 30)
    exact = ni_error_empirical(game, (X, np.ones(20)), (Y, np.ones(30)))
    sampled = ni_error_empirical(
        Bilinear(game.ell), (X, np.ones(20)), (Y, np.ones(30)), (Sphere(5), Sphere(5))
    )
    assert sampled.value <= exact.value + 1e-12 and abs(sampled.value - exact.value) < 1e-8


def test_bad_inputs():
    game = sphere_game("ell_a", dim=4)
    X = Sphere(4).uniform(np.random.default_rng(0), 5)
    with pytest.raises(InputError, match="dimension 3, the game 4"):
        ni_error_empirical(game, (X[:, :3], np.ones(5)), (X, np.ones(5)))
    with pytest.raises(InputError, match="weights non-negative"):
        ni_error_empirical(game, (X, -np.ones(5)), (X, np.ones(5)))
    with pytest.raises(InputError, match="needs its domains"):
        ni_error_empirical(Bilinear("x*y"), (X[:, :1], np.ones(5)), (X[:, :1], np.ones(5)))
