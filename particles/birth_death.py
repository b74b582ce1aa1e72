r"""Birth-death (Fisher-Rao) particles with a kernelised rate (MATH §3.2, §6.1; [001], [002]).

N equally weighted particles; over a step η each particle has the rate

    β_i = α (g_h(X_i) − ⟨g_h⟩_{μ_N}),   g_h = δF/δμ(μ_N, ·) + σ e_h[μ_N],

with the kernelised entropy e_h of the chosen variant. A particle with β_i > 0 is killed with
probability 1 − e^{−β_i η} and replaced by a copy of a uniformly chosen particle; one with
β_i < 0 is duplicated with probability 1 − e^{β_i η} and a uniformly chosen particle removed.
N stays fixed. All events of a step are drawn from the state at its start (conflicts between
them have probability O(η²)). As N → ∞ and η → 0 the empirical measure follows the kernelised
Fisher-Rao flow ∂_t μ = −αμ(g_h − ⟨g_h⟩_μ) (:func:`mfpde.kernels.solve_kernelised`, γ = 0);
the time discretisation is first order in η.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mfpde.fv.grid import Grid
from mfpde.kernels import Kernel
from mfpde.particles.fields import ParticleField
from mfpde.particles.trajectory import Trajectory, initial_particles, simulate
from mfpde.problem import OptimisationProblem

__all__ = ["birth_death", "birth_death_jump"]


def birth_death_jump(
    X: np.ndarray, beta: np.ndarray, dt: float, rng: np.random.Generator
) -> np.ndarray:
    """One birth-death step of length η for the rates β (module docstring); N is kept."""
    n = len(X)
    jumps = rng.random(n) < -np.expm1(-np.abs(beta) * dt)
    killed = np.flatnonzero(jumps & (beta > 0))
    duplicated = np.flatnonzero(jumps & (beta < 0))
    out = X.copy()
    out[killed] = X[rng.integers(n, size=killed.size)]
    out[rng.integers(n, size=duplicated.size)] = X[duplicated]
    return out


def birth_death(
    problem: OptimisationProblem,
    initial: str | Callable | np.ndarray,
    *,
    kernel: Kernel,
    n: int,
    t_end: float,
    dt: float,
    alpha: float = 1.0,
    seed: int | np.random.SeedSequence | None = None,
    save_every: int = 1,
    grid: Grid | None = None,
) -> Trajectory:
    r"""Simulate kernelised birth-death particles (module docstring; MATH §6.1).

    Parameters
    ----------
    problem : OptimisationProblem
        The same problem object the mesh solvers take.
    initial : str, callable or ndarray
        Unnormalised initial density (sampled iid) or initial positions (N, d).
    kernel : Kernel
        K_h, the kernelisation variant (MATH §3.2) and its sums (method, tolerance).
    n, t_end, dt, save_every
        Particles N, final time, step η, store every this many steps.
    alpha : float
        Reaction rate α.
    seed : int or SeedSequence, optional
        The same seed gives the same trajectory.
    grid : Grid, optional
        The cells of the y-integral of ``"smoothed_kl"``
        (:class:`mfpde.particles.fields.ParticleField`).
    """
    rng = np.random.default_rng(seed)
    field = ParticleField(problem, kernel, grid=grid)
    X = initial_particles(initial, problem.domain, n, rng)

    def step(X, w, tau):
        g = field(X, w)[0]
        return birth_death_jump(X, alpha * (g - w @ g), tau, rng), w

    return simulate(step, X, np.full(n, 1.0 / n), t_end=t_end, dt=dt, save_every=save_every)
