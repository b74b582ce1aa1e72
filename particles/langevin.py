r"""Mean-field Langevin particles, Euler-Maruyama (MATH §3 item 2, §6.3).

    X_i ← Π_Ω( X_i + P_{X_i}[−η γ ∇g(X_i) + √(2γση) ξ_i] ),  g = δF/δμ(μ_N, ·) + σU,  U = −log π,

ξ_i iid standard normal, P_x the tangent projection of :meth:`mfpde.domains.Domain.tangent` (the
identity on flat domains, v ↦ v − (x·v)x on S²) and Π_Ω the retraction of
:meth:`mfpde.domains.Domain.project` (wrap on periodic axes, reflect at walls, which realises the
no-flux condition; x ↦ x/|x| on S^{d−1}). On S^{d−1} ⊂ R^d the retraction adds the drift
−(d − 1)γση X of the Brownian motion of the sphere embedded in R^d (E|P_X ξ|² = d − 1,
|X + Δ|^{−1} = 1 − |Δ|²/2 + O(|Δ|⁴); :class:`mfpde.domains.Sphere`). The mean-field limit is the
plain Fokker-Planck flow ∂_t μ = γ∇·(μ∇(δF/δμ + σU)) + γσΔμ (no kernel: the noise is the
entropy; ∇, Δ are the surface operators on S^{d−1}); the weak error of Euler-Maruyama is first
order in η.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mfpde.particles.fields import ParticleField
from mfpde.particles.trajectory import Trajectory, initial_particles, simulate
from mfpde.problem import OptimisationProblem

__all__ = ["langevin", "langevin_move", "tangent_step"]


def tangent_step(domain, X: np.ndarray, step: np.ndarray) -> np.ndarray:
    """Π_Ω(X + P_X step): a step in the tangent spaces, then the retraction (MATH §6.3)."""
    return domain.project(X + domain.tangent(X, step))


def langevin_move(
    field: ParticleField,
    X: np.ndarray,
    w: np.ndarray,
    gamma: float,
    dt: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """One Euler-Maruyama step of length η with drift −γ∇g (``field`` without kernel)."""
    drift = field(X, w, want_gradient=True)[1]
    noise = np.sqrt(2 * gamma * field.sigma * dt) * rng.standard_normal(X.shape)
    return tangent_step(field.domain, X, noise - dt * gamma * drift)


def langevin(
    problem: OptimisationProblem,
    initial: str | Callable | np.ndarray,
    *,
    n: int,
    t_end: float,
    dt: float,
    gamma: float = 1.0,
    seed: int | np.random.SeedSequence | None = None,
    save_every: int = 1,
) -> Trajectory:
    """Simulate mean-field Langevin dynamics (module docstring); arguments as for
    :func:`mfpde.particles.birth_death.birth_death`, with the transport rate γ."""
    rng = np.random.default_rng(seed)
    field = ParticleField(problem)
    X = initial_particles(initial, problem.domain, n, rng)

    def step(X, w, tau):
        return langevin_move(field, X, w, gamma, tau, rng), w

    return simulate(step, X, np.full(n, 1.0 / n), t_end=t_end, dt=dt, save_every=save_every)
