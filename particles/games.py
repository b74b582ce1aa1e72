r"""Particle algorithms for two-player mean-field games (MATH §4, §6.3–6.4; [003] Alg. 1, 2).

The same :class:`mfpde.games.GameProblem` as the mesh solver (bilinear payoff ℓ, σ, π, ρ). For
μ_N = Σ_i u_i δ_{X_i} (minimising) and ν_M = Σ_j v_j δ_{Y_j} (maximising):

    V_x(X_i) = Σ_j v_j ℓ(X_i, Y_j),   V_y(Y_j) = Σ_i u_i ℓ(X_i, Y_j)   (MATH §2.2),

and their gradients come from the payoff bound to the two particle sets
(:meth:`mfpde.games.Bilinear.bind`, the same sums as on a mesh: Fourier or separable expansions
by NUFFT, the moments of a polynomial payoff, compiled direct sums; the payoff's ``method`` and
``tolerance`` choose). The algorithms, each a documented function:

- :func:`langevin_da` ([003] Alg. 1, MATH §6.3), Euler-Maruyama, σ > 0:
  X ← Π(X + P_X[−ηγ∇(V_x + σU_π)(X) + √(2γση) ξ]),
  Y ← Π(Y + P_Y[ηγ∇(V_y − σU_ρ)(Y) + √(2γση) ξ']),
  U = −log(reference), P the tangent projection and Π the retraction of the domain (identity and
  wrap/reflect on flat domains; v − (x·v)x and x/|x| on S^{d−1}, which adds the Brownian drift
  −(d − 1)γση X, :class:`mfpde.domains.Sphere`). Mean-field limit: the Langevin-DA game PDE
  (``game_flow("langevin_da")``).
- :func:`wfr_da` ([003] Alg. 2, MATH §6.4), σ = 0 as in [003]: weighted particles,
  X ← Π(X − γηP_X∇V_x),  log u ← log u − αη(V_x − ⟨V_x⟩_μ);  Y ← Π(Y + γηP_Y∇V_y),
  log v ← log v + αη(V_y − ⟨V_y⟩_ν), then normalisation. Output time averages with
  :func:`mfpde.particles.observables.time_average`. Mean-field limit: the WFR-DA game PDE with
  σ = 0.
- :func:`mirror_descent` (γ = 0, σ = 0): the weight updates only, positions fixed at the
  initial draw. Mean-field limit: the Fisher-Rao game flow with σ = 0 (``"mirror_descent"``).

All three explicit schemes are first order in η. For the sphere games of [003] §5.1
(:func:`mfpde.games.sphere_game`, any d) every :class:`GameTrajectory` carries the exact
unregularised NI error (MATH §2.2, :func:`mfpde.games.sphere_ni`) of the particle measures and
of their time averages at the saved times; :func:`game_ni` computes them for any bilinear
payoff (exact or by the sampled inner optimisation of :func:`mfpde.games.ni_error_empirical`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mfpde.errors import InputError
from mfpde.expressions import parse
from mfpde.games.ni import ni_error_empirical, sphere_ni
from mfpde.games.problem import Bilinear, GameProblem, reference_in_y
from mfpde.games.sphere import SphereGame
from mfpde.particles.langevin import tangent_step
from mfpde.particles.observables import time_average, time_average_weights
from mfpde.particles.trajectory import _check_run, initial_particles
from mfpde.problem import log_normalise
from mfpde.quadrature import Quadrature

__all__ = [
    "payoff_fields",
    "GameTrajectory",
    "langevin_da",
    "wfr_da",
    "mirror_descent",
    "game_ni",
]


@dataclass
class GameTrajectory:
    """Saved particles of both players: positions (n_saved, N, d), weights (n_saved, N).

    ``ni_error`` and ``ni_error_average`` (n_saved,): the unregularised NI of (μ_t, ν_t) and of
    the time averages (μ̄_t, ν̄_t) = (1/t)∫_0^t (μ_s, ν_s) ds (trapezoidal rule over the saved
    times, μ̄_0 = μ_0), exact for the sphere games (module docstring); None for other payoffs
    (:func:`game_ni` computes them).
    """

    times: np.ndarray
    positions_mu: np.ndarray
    weights_mu: np.ndarray
    positions_nu: np.ndarray
    weights_nu: np.ndarray
    ni_error: np.ndarray | None = None
    ni_error_average: np.ndarray | None = None


def game_ni(
    problem: GameProblem, trajectory: GameTrajectory, **options
) -> tuple[np.ndarray, np.ndarray]:
    """NI(μ_t, ν_t) and NI(μ̄_t, ν̄_t) at the saved times (:class:`GameTrajectory`; MATH §2.2).

    Sphere games: exact, from the moments (m, S) of the particles, whose time averages are the
    moments of the time-averaged measures. Other bilinear payoffs:
    :func:`mfpde.games.ni_error_empirical` (its sampled inner optimisation, ``options``) on the
    particles and on the time-averaged measures, the clouds of all saved times up to t with
    the trapezoidal weights.
    """
    t = trajectory
    players = ((t.positions_mu, t.weights_mu), (t.positions_nu, t.weights_nu))
    if isinstance(problem.payoff, SphereGame):
        # per player and saved time: m = Σ w_i x_i (T, d) and S = Σ w_i x_i x_iᵀ (T, d, d)
        now = [(np.einsum("tn,tna->ta", w, P), np.einsum("tn,tna,tnb->tab", w, P, P))
               for P, w in players]  # fmt: skip
        average = [tuple(_average_since_start(t.times, m) for m in player) for player in now]
        return tuple(
            np.array([sphere_ni(problem.payoff, *((m[k], S[k]) for m, S in moments_)).value
                      for k in range(len(t.times))])
            for moments_ in (now, average)
        )  # fmt: skip
    domains = (problem.domain_mu, problem.domain_nu)

    def ni_at(k: int, c: np.ndarray) -> float:
        """NI of Σ_{l ≤ k} c_l (μ_{t_l}, ν_{t_l}) (c = [0, …, 0, 1]: the measures at t_k)."""
        mu, nu = (
            (P[: k + 1].reshape(-1, P.shape[-1]), (c[:, None] * w[: k + 1]).ravel())
            for P, w in players
        )
        return ni_error_empirical(problem.payoff, mu, nu, domains, **options).value

    ni = [ni_at(k, np.eye(k + 1)[k]) for k in range(len(t.times))]
    ni_average = [ni_at(k, time_average_weights(t.times[: k + 1])) for k in range(len(t.times))]
    return np.array(ni), np.array(ni_average)


def _average_since_start(times: np.ndarray, values: np.ndarray) -> np.ndarray:
    """(1/t)∫_0^t values ds at every saved time (values at t_0 first), time on axis 0."""
    later = np.moveaxis(time_average(times, np.moveaxis(values, 0, -1)), -1, 0)
    return np.concatenate([values[:1], later])


def payoff_fields(problem: GameProblem, X, u, Y, v, gradient: bool = False):
    """(V_x, ∇V_x) at X and (V_y, ∇V_y) at Y for the particles (module docstring)."""
    if not isinstance(problem.payoff, Bilinear):
        raise InputError("particle games need a Bilinear payoff")
    bound = problem.payoff.bind(
        Quadrature(X, u, problem.domain_mu, reuse=False),
        Quadrature(Y, v, problem.domain_nu, reuse=False),
    )
    ones_x, ones_y = np.ones(len(X)), np.ones(len(Y))
    if gradient:
        return bound.fields_with_gradients(ones_x, ones_y)
    V_x, V_y = bound.fields(ones_x, ones_y)
    return (V_x, None), (V_y, None)


def _setup(problem, initial_mu, initial_nu, n, seed):
    rng = np.random.default_rng(seed)
    X = initial_particles(initial_mu, problem.domain_mu, n, rng)
    if isinstance(initial_nu, str):
        initial_nu = parse(initial_nu, problem.domain_nu.dim, ("y",))
    Y = initial_particles(initial_nu, problem.domain_nu, n, rng)
    return rng, X, Y, np.full(n, 1.0 / n), np.full(n, 1.0 / n)


def _run(problem, step, state, t_end, dt, save_every) -> GameTrajectory:
    _check_run(state[0], t_end, dt, save_every)
    saved = [[s.copy() for s in state]]
    times, t, steps = [0.0], 0.0, 0
    while t < t_end * (1 - 1e-12):
        tau = min(dt, t_end - t)
        state = step(*state, tau)
        t, steps = t + tau, steps + 1
        if steps % save_every == 0 or t >= t_end * (1 - 1e-12):
            times.append(t)
            saved.append([s.copy() for s in state])
    X, u, Y, v = (np.array([s[k] for s in saved]) for k in range(4))
    trajectory = GameTrajectory(np.array(times), X, u, Y, v)
    if isinstance(problem.payoff, SphereGame):
        trajectory.ni_error, trajectory.ni_error_average = game_ni(problem, trajectory)
    return trajectory


def _reweight(log_w: np.ndarray) -> np.ndarray:
    return np.exp(log_normalise(log_w, np.ones_like(log_w)))


def langevin_da(
    problem: GameProblem,
    initial_mu: str | Callable | np.ndarray,
    initial_nu: str | Callable | np.ndarray,
    *,
    n: int,
    t_end: float,
    dt: float,
    gamma: float = 1.0,
    seed: int | np.random.SeedSequence | None = None,
    save_every: int = 1,
) -> GameTrajectory:
    """Langevin descent-ascent ([003] Alg. 1; module docstring). N particles per player."""
    if problem.sigma <= 0:
        raise InputError("langevin_da needs sigma > 0")
    reference_nu = reference_in_y(problem.reference_nu)
    rng, X, Y, u, v = _setup(problem, initial_mu, initial_nu, n, seed)
    sigma = float(problem.sigma)

    def step(X, u, Y, v, tau):
        (_, dVx), (_, dVy) = payoff_fields(problem, X, u, Y, v, gradient=True)
        noise = np.sqrt(2 * gamma * sigma * tau)
        drift_x = dVx - sigma * problem.reference_mu.log_gradient(X, problem.domain_mu)
        drift_y = dVy + sigma * reference_nu.log_gradient(Y, problem.domain_nu)
        X = tangent_step(
            problem.domain_mu, X, -tau * gamma * drift_x + noise * rng.standard_normal(X.shape)
        )
        Y = tangent_step(
            problem.domain_nu, Y, tau * gamma * drift_y + noise * rng.standard_normal(Y.shape)
        )
        return X, u, Y, v

    return _run(problem, step, (X, u, Y, v), t_end, dt, save_every)


def wfr_da(
    problem: GameProblem,
    initial_mu: str | Callable | np.ndarray,
    initial_nu: str | Callable | np.ndarray,
    *,
    n: int,
    t_end: float,
    dt: float,
    gamma: float = 1.0,
    alpha: float = 1.0,
    seed: int | np.random.SeedSequence | None = None,
    save_every: int = 1,
) -> GameTrajectory:
    """WFR descent-ascent with weighted particles, σ = 0 ([003] Alg. 2; module docstring)."""
    return _weighted_game(
        problem, initial_mu, initial_nu, n, t_end, dt, gamma, alpha, seed, save_every
    )


def mirror_descent(
    problem: GameProblem,
    initial_mu: str | Callable | np.ndarray,
    initial_nu: str | Callable | np.ndarray,
    *,
    n: int,
    t_end: float,
    dt: float,
    alpha: float = 1.0,
    seed: int | np.random.SeedSequence | None = None,
    save_every: int = 1,
) -> GameTrajectory:
    """Mirror descent-ascent on the weights, positions fixed, σ = 0 (module docstring)."""
    return _weighted_game(
        problem, initial_mu, initial_nu, n, t_end, dt, 0.0, alpha, seed, save_every
    )


def _weighted_game(
    problem, initial_mu, initial_nu, n, t_end, dt, gamma, alpha, seed, save_every
) -> GameTrajectory:
    if problem.sigma != 0:
        raise InputError(
            "wfr_da and mirror_descent particles are the sigma = 0 algorithms of [003]"
        )
    _, X, Y, u, v = _setup(problem, initial_mu, initial_nu, n, seed)

    def step(X, u, Y, v, tau):
        (Vx, dVx), (Vy, dVy) = payoff_fields(problem, X, u, Y, v, gradient=bool(gamma))
        if gamma:
            X = tangent_step(problem.domain_mu, X, -tau * gamma * dVx)
            Y = tangent_step(problem.domain_nu, Y, tau * gamma * dVy)
        u = _reweight(np.log(u) - tau * alpha * (Vx - u @ Vx))
        v = _reweight(np.log(v) + tau * alpha * (Vy - v @ Vy))
        return X, u, Y, v

    return _run(problem, step, (X, u, Y, v), t_end, dt, save_every)
