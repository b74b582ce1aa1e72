r"""Wasserstein-Fisher-Rao particle schemes (MATH §3 item 3, §6.1–6.2; [003] Alg. 2).

``weighted_wfr``: weighted particles (X_i, w_i) with the kernelised field g_h = δF/δμ + σe_h,

    X_i ← Π_Ω(X_i − γη P_{X_i}∇g_h(X_i)),   log w_i ← log w_i − αη (g_h(X_i) − ⟨g_h⟩_{μ_N}),

then Σ w_i = 1 (explicit Euler, first order in η; P_x the tangent projection, MATH §6.3).
Deterministic once the initial positions are drawn (w_i = 1/N). Mean-field limit:
∂_t μ = γ∇·(μ∇g_h) − αμ(g_h − ⟨g_h⟩_μ) (:func:`mfpde.kernels.solve_kernelised`).

``wfr_jump``: equally weighted particles; a mean-field Langevin move
(:func:`mfpde.particles.langevin.langevin_move`) followed by a birth-death step with the kernelised
rate β_i = α(g_h(X_i) − ⟨g_h⟩) (:func:`mfpde.particles.birth_death.birth_death_jump`). Mean-field
limit:
∂_t μ = γ∇·(μ∇(δF/δμ + σ log(μ/π))) − αμ(g_h − ⟨g_h⟩_μ), plain transport and kernelised
reaction (``solve_kernelised(..., kernelised_transport=False)``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mfpde.fv.grid import Grid
from mfpde.kernels import Kernel
from mfpde.particles.birth_death import birth_death_jump
from mfpde.particles.fields import ParticleField
from mfpde.particles.langevin import langevin_move, tangent_step
from mfpde.particles.trajectory import Trajectory, initial_particles, simulate
from mfpde.problem import OptimisationProblem, log_normalise

__all__ = ["weighted_wfr", "wfr_jump", "weighted_step"]


def weighted_step(
    field: ParticleField,
    X: np.ndarray,
    w: np.ndarray,
    gamma: float,
    alpha: float,
    dt: float,
    sign: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """One explicit step of the weighted WFR dynamics for ``sign`` · g (−1: a maximising player)."""
    g, grad = field(X, w, want_gradient=bool(gamma))
    g = sign * g
    if gamma:
        X = tangent_step(field.domain, X, -dt * gamma * sign * grad)
    log_w = np.log(w) - dt * alpha * (g - w @ g)
    return X, np.exp(log_normalise(log_w, np.ones_like(w)))


def weighted_wfr(
    problem: OptimisationProblem,
    initial: str | Callable | np.ndarray,
    *,
    kernel: Kernel | None,
    n: int,
    t_end: float,
    dt: float,
    gamma: float = 1.0,
    alpha: float = 1.0,
    seed: int | np.random.SeedSequence | None = None,
    save_every: int = 1,
    grid: Grid | None = None,
) -> Trajectory:
    """Simulate weighted WFR particles (module docstring); arguments as for
    :func:`mfpde.particles.birth_death.birth_death`, with the rates γ, α (``kernel`` None needs
    σ = 0)."""
    rng = np.random.default_rng(seed)
    field = ParticleField(problem, kernel, grid=grid)
    X = initial_particles(initial, problem.domain, n, rng)

    def step(X, w, tau):
        return weighted_step(field, X, w, gamma, alpha, tau)

    return simulate(step, X, np.full(n, 1.0 / n), t_end=t_end, dt=dt, save_every=save_every)


def wfr_jump(
    problem: OptimisationProblem,
    initial: str | Callable | np.ndarray,
    *,
    kernel: Kernel,
    n: int,
    t_end: float,
    dt: float,
    gamma: float = 1.0,
    alpha: float = 1.0,
    seed: int | np.random.SeedSequence | None = None,
    save_every: int = 1,
    grid: Grid | None = None,
) -> Trajectory:
    """Simulate the Langevin + birth-death WFR scheme (module docstring); arguments as for
    :func:`weighted_wfr`."""
    rng = np.random.default_rng(seed)
    plain = ParticleField(problem)
    kernelised = ParticleField(problem, kernel, grid=grid)
    X = initial_particles(initial, problem.domain, n, rng)

    def step(X, w, tau):
        X = langevin_move(plain, X, w, gamma, tau, rng)
        g = kernelised(X, w)[0]
        return birth_death_jump(X, alpha * (g - w @ g), tau, rng), w

    return simulate(step, X, np.full(n, 1.0 / n), t_end=t_end, dt=dt, save_every=save_every)
