"""Trajectories of weighted empirical measures and the time loop of the particle methods (MATH §6).

A particle method advances positions X (N × d) and weights w (N, Σ w = 1) by a step map
(X, w, τ) ↦ (X', w'); :func:`simulate` runs it with a fixed step η (the last one shortened to land
on t_end) and stores μ_N = Σ_j w_j δ_{X_j} at t = 0, every ``save_every`` steps and at t_end.
:func:`initial_particles` draws the initial positions, iid from a density, by rejection.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mfpde.checks import integer, number
from mfpde.domains import Domain, Sphere
from mfpde.energies import as_function, finite_values
from mfpde.errors import InputError
from mfpde.resources import check_particles, require_steps, saved_states

__all__ = ["Trajectory", "simulate", "initial_particles", "Step"]

Step = Callable[[np.ndarray, np.ndarray, float], tuple[np.ndarray, np.ndarray]]

#: Points per axis of the grid on which the rejection envelope max f is estimated.
_ENVELOPE_POINTS = {1: 4096, 2: 256, 3: 48}
#: Safety factor of the envelope over the sampled maximum.
_ENVELOPE_FACTOR = 1.25
#: Points of the Fibonacci lattice on which the envelope is estimated on S² (spacing ≈ 0.02).
_SPHERE_POINTS = 32768


@dataclass
class Trajectory:
    """Saved empirical measures: ``positions`` (n_saved, N, d), ``weights`` (n_saved, N)."""

    times: np.ndarray
    positions: np.ndarray
    weights: np.ndarray

    def expectation(self, phi: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """⟨φ, μ_N(t)⟩ = Σ_j w_j φ(X_j(t)) at every saved time, shape (n_saved,)."""
        values = phi(self.positions.reshape(-1, self.positions.shape[-1]))
        return np.sum(self.weights * values.reshape(self.weights.shape), axis=1)


def _check_run(X: np.ndarray, t_end: float, dt: float, save_every: int) -> None:
    """Refuse a run of the positions X (N × d) with bad arguments, more steps than the step
    limit or more stored states than the memory limit (one-line InputError)."""
    n, dim = X.shape
    integer("number of particles", n, minimum=2)
    t_end = number("t_end", t_end, positive=True)
    dt = number("dt", dt, positive=True)
    integer("save_every (steps)", save_every)
    require_steps(t_end / dt, "the particle run")
    check_particles(n, 1, dim, saved_states(t_end, dt, save_every), "the particle run")


def simulate(
    step: Step, X: np.ndarray, w: np.ndarray, *, t_end: float, dt: float, save_every: int = 1
) -> Trajectory:
    """Advance (X, w) with ``step`` to ``t_end`` in steps η = ``dt`` and return the trajectory."""
    _check_run(X, t_end, dt, save_every)
    times, positions, weights = [0.0], [X.copy()], [w.copy()]
    t, steps = 0.0, 0
    while t < t_end * (1 - 1e-12):
        tau = min(dt, t_end - t)
        X, w = step(X, w, tau)
        t, steps = t + tau, steps + 1
        if steps % save_every == 0 or t >= t_end * (1 - 1e-12):
            times.append(t)
            positions.append(X.copy())
            weights.append(w.copy())
    return Trajectory(np.array(times), np.array(positions), np.array(weights))


def _probe(domain: Domain | Sphere) -> np.ndarray:
    """Points where the rejection envelope is estimated: cell centres, a Fibonacci lattice of
    S², or (on S^{d−1}, d ≠ 3) as many points drawn uniformly with a fixed seed."""
    if isinstance(domain, Sphere) and domain.dim != 3:
        return domain.uniform(np.random.default_rng(0), _SPHERE_POINTS)
    if isinstance(domain, Sphere):
        k = np.arange(_SPHERE_POINTS) + 0.5
        z = 1 - 2 * k / _SPHERE_POINTS
        phi = np.pi * (3 - np.sqrt(5)) * k
        r = np.sqrt(1 - z**2)
        return np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=-1)
    m = _ENVELOPE_POINTS[domain.dim]
    axes = [lo + (np.arange(m) + 0.5) * L / m for lo, L in zip(domain.lower, domain.lengths)]
    return np.stack([a.ravel() for a in np.meshgrid(*axes, indexing="ij")], axis=-1)


def initial_particles(
    initial: str | Callable | np.ndarray, domain: Domain | Sphere, n: int, rng: np.random.Generator
) -> np.ndarray:
    """N positions: a given (N, d) array, or iid draws from an unnormalised density on Ω.

    Rejection from the uniform law on Ω (:meth:`~mfpde.domains.Domain.uniform`) with the
    envelope 1.25 × (max of f on a fine grid of Ω, or a Fibonacci lattice of S²); a draw above
    the envelope raises (the density has unresolved peaks).
    """
    integer("number of particles", n, minimum=2)
    check_particles(n, 1, domain.dim, 1, "sampling the particles")
    if isinstance(initial, np.ndarray):
        if initial.shape != (n, domain.dim):
            raise InputError(
                f"initial positions of shape {initial.shape}, need ({n}, {domain.dim})"
            )
        return domain.project(initial)
    f = as_function(initial, domain.dim)
    probe = _probe(domain)
    values = finite_values("initial density", f(probe), probe)
    if values.min() < 0 or values.max() <= 0:
        raise InputError("initial density must be non-negative and not identically zero")
    envelope = _ENVELOPE_FACTOR * values.max()
    out = np.empty((0, domain.dim))
    while len(out) < n:
        x = domain.uniform(rng, 2 * (n - len(out)) + 16)
        fx = finite_values("initial density", f(x), x)
        if fx.max() > envelope:
            raise InputError(
                "initial density exceeds its sampled maximum: refine it or pass positions"
            )
        out = np.concatenate([out, x[rng.random(len(x)) * envelope < fx]])
    return out[:n]
