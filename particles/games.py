r"""Particle algorithms for two-player mean-field games (MATH §4, §6.3–6.4; [003] Alg. 1, 2).

The same :class:`mfpde.games.GameProblem` as the mesh solver (bilinear payoff ℓ, σ, π, ρ). For
μ_N = Σ_i u_i δ_{X_i} (minimising) and ν_M = Σ_j v_j δ_{Y_j} (maximising):

    V_x(X_i) = Σ_j v_j ℓ(X_i, Y_j),   V_y(Y_j) = Σ_i u_i ℓ(X_i, Y_j)   (MATH §2.2),

evaluated by :class:`PayoffSums`. The algorithms, each a documented function:

- :func:`langevin_da` ([003] Alg. 1, MATH §6.3), Euler-Maruyama, σ > 0:
  X ← Π(X − ηγ∇(V_x + σU_π)(X) + √(2γση) ξ),  Y ← Π(Y + ηγ∇(V_y − σU_ρ)(Y) + √(2γση) ξ'),
  U = −log(reference). Mean-field limit: the Langevin-DA game PDE (``game_flow("langevin_da")``).
- :func:`wfr_da` ([003] Alg. 2, MATH §6.4), σ = 0 as in [003]: weighted particles,
  X ← Π(X − γη∇V_x),  log u ← log u − αη(V_x − ⟨V_x⟩_μ);  Y ← Π(Y + γη∇V_y),
  log v ← log v + αη(V_y − ⟨V_y⟩_ν), then normalisation. Output time averages with
  :func:`mfpde.particles.observables.time_average`. Mean-field limit: the WFR-DA game PDE with
  σ = 0.
- :func:`mirror_descent` (γ = 0, σ = 0): the weight updates only, positions fixed at the
  initial draw. Mean-field limit: the Fisher-Rao game flow with σ = 0 (``"mirror_descent"``).

All three explicit schemes are first order in η.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import finufft
import numpy as np

from mfpde.energies import finite_values
from mfpde.errors import InputError
from mfpde.expressions import parse
from mfpde.games.problem import Bilinear, GameProblem, reference_in_y
from mfpde.particles.fields import BLOCK, FD_STEP, gradient, log_reference
from mfpde.particles.trajectory import _check_run, initial_particles
from mfpde.problem import log_normalise

__all__ = ["PayoffSums", "GameTrajectory", "langevin_da", "wfr_da", "mirror_descent"]

#: Samples per axis of ℓ for its Fourier coefficients, and the retained modes |k| ≤ _MODES.
_SAMPLES, _MODES = 64, 15


@dataclass
class GameTrajectory:
    """Saved particles of both players: positions (n_saved, N, d), weights (n_saved, N)."""

    times: np.ndarray
    positions_mu: np.ndarray
    weights_mu: np.ndarray
    positions_nu: np.ndarray
    weights_nu: np.ndarray


class PayoffSums:
    r"""V_x, V_y and their gradients at the particles of both players (module docstring).

    Parameters
    ----------
    problem : GameProblem
        With a :class:`~mfpde.games.Bilinear` payoff.
    method : {"fourier", "direct"}
        ``"direct"``: sums over all pairs in row blocks (O(B·M) memory), gradients by central
        differences of ℓ (error ≈ 1e-10 relative, :mod:`mfpde.particles.fields`). ``"fourier"`` (1-D
        periodic X and Y): ℓ(x, y) = Σ_{|k|,|l| ≤ 15} c_kl e^{ikx̃} e^{ilỹ} from a 64 × 64
        FFT (refused unless the discarded coefficients are below ``tolerance`` relative), then
        V_x(X) = Σ_k e^{ikX̃} Σ_l c_kl Σ_j v_j e^{ilỸ_j} by NUFFTs (type 1 then type 2, both
        ``isign=+1``), gradients from the multipliers ik·2π/L. O(N + M) work.
    tolerance : float
        Relative accuracy of the Fourier representation and of the NUFFTs.
    """

    def __init__(self, problem: GameProblem, method: str = "fourier", tolerance: float = 1e-10):
        if not isinstance(problem.payoff, Bilinear):
            raise InputError("particle games need a Bilinear payoff")
        dx, dy = problem.domain_mu.dim, problem.domain_nu.dim
        ell = problem.payoff.ell
        self.ell = ell if callable(ell) else parse(ell, (dx, dy), ("x", "y"))
        self.method, self.tolerance = method, tolerance
        self.steps = [
            FD_STEP * float(d.lengths.max()) for d in (problem.domain_mu, problem.domain_nu)
        ]
        if method == "fourier":
            domains = (problem.domain_mu, problem.domain_nu)
            if not all(d.dim == 1 and d.periodic[0] for d in domains):
                raise InputError('the "fourier" payoff sum needs 1-D periodic X and Y')
            self.lower = [d.lower[0] for d in domains]
            self.scale = [2 * np.pi / d.lengths[0] for d in domains]
            self.coefficients = self._coefficients(domains)
        elif method != "direct":
            raise InputError(f"unknown payoff sum {method!r} (choose from fourier, direct)")

    def _coefficients(self, domains) -> np.ndarray:
        axes = [d.lower[0] + d.lengths[0] * np.arange(_SAMPLES) / _SAMPLES for d in domains]
        x, y = np.meshgrid(*axes, indexing="ij")
        samples = finite_values("payoff", self.ell(x[..., None], y[..., None]), x.reshape(-1, 1))
        c = np.fft.fftshift(np.fft.fft2(samples)) / _SAMPLES**2  # modes −32 … 31
        centre = _SAMPLES // 2
        kept = c[centre - _MODES : centre + _MODES + 1, centre - _MODES : centre + _MODES + 1]
        discarded = np.abs(c).sum() - np.abs(kept).sum()
        if discarded > self.tolerance * np.abs(c).sum():
            raise InputError(
                f"the payoff is not a trigonometric polynomial of degree <= {_MODES}: "
                'use method="direct"'
            )
        return kept

    def __call__(self, X, u, Y, v, want_gradient: bool = False):
        """(V_x, ∇V_x) at X and (V_y, ∇V_y) at Y; the gradients are None unless requested."""
        if self.method == "direct":
            return self._direct(X, u, Y, v, want_gradient)
        eps = max(self.tolerance / 10, 1e-15)
        k = np.arange(-_MODES, _MODES + 1)
        n_modes = 2 * _MODES + 1
        out = []
        for target, source, weights, matrix, axis in (
            (X, Y, v, self.coefficients, 0),
            (Y, X, u, self.coefficients.T, 1),
        ):
            other = 1 - axis
            s = self.scale[other] * (source[:, 0] - self.lower[other])
            b = finufft.nufft1d1(s, weights.astype(complex), n_modes, eps=eps, isign=1, nthreads=1)
            a = matrix @ b
            stack = np.stack([a, 1j * k * self.scale[axis] * a]) if want_gradient else a[None]
            t = self.scale[axis] * (target[:, 0] - self.lower[axis])
            values = finufft.nufft1d2(t, stack, eps=eps, isign=1, nthreads=1).real
            out.append((values[0], values[1][:, None] if want_gradient else None))
        return out[0], out[1]

    def _direct(self, X, u, Y, v, want_gradient):
        Vx, Vy = np.empty(len(X)), np.zeros(len(Y))
        dVx = np.empty(X.shape) if want_gradient else None
        for s in range(0, len(X), BLOCK):
            rows = X[s : s + BLOCK, None, :]
            block = finite_values("payoff", self.ell(rows, Y[None]), X)
            Vx[s : s + BLOCK] = block @ v
            Vy += u[s : s + BLOCK] @ block
            if want_gradient:
                dVx[s : s + BLOCK] = gradient(
                    lambda x: self.ell(x, Y[None]) @ v, rows, self.steps[0]
                )[:, 0, :]
        dVy = None
        if want_gradient:
            dVy = np.empty(Y.shape)
            for s in range(0, len(Y), BLOCK):
                cols = Y[s : s + BLOCK, None, :]
                dVy[s : s + BLOCK] = gradient(
                    lambda y: u @ self.ell(X[:, None, :], np.swapaxes(y, 0, 1)), cols, self.steps[1]
                )[:, 0, :]
        return (Vx, dVx), (Vy, dVy)


def _setup(problem, initial_mu, initial_nu, n, seed):
    rng = np.random.default_rng(seed)
    X = initial_particles(initial_mu, problem.domain_mu, n, rng)
    if isinstance(initial_nu, str):
        initial_nu = parse(initial_nu, problem.domain_nu.dim, ("y",))
    Y = initial_particles(initial_nu, problem.domain_nu, n, rng)
    return rng, X, Y, np.full(n, 1.0 / n), np.full(n, 1.0 / n)


def _run(step, state, t_end, dt, save_every) -> GameTrajectory:
    _check_run(len(state[0]), t_end, dt, save_every)
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
    return GameTrajectory(np.array(times), X, u, Y, v)


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
    method: str = "fourier",
) -> GameTrajectory:
    """Langevin descent-ascent ([003] Alg. 1; module docstring). N particles per player."""
    if problem.sigma <= 0:
        raise InputError("langevin_da needs sigma > 0")
    sums = PayoffSums(problem, method)
    log_pi = log_reference(problem.reference_mu, problem.domain_mu.dim)
    log_rho = log_reference(reference_in_y(problem.reference_nu), problem.domain_nu.dim)
    rng, X, Y, u, v = _setup(problem, initial_mu, initial_nu, n, seed)
    sigma = float(problem.sigma)

    def step(X, u, Y, v, tau):
        (_, dVx), (_, dVy) = sums(X, u, Y, v, want_gradient=True)
        noise = np.sqrt(2 * gamma * sigma * tau)
        drift_x = dVx - sigma * gradient(log_pi, X, sums.steps[0])
        drift_y = dVy + sigma * gradient(log_rho, Y, sums.steps[1])
        X = problem.domain_mu.project(
            X - tau * gamma * drift_x + noise * rng.standard_normal(X.shape)
        )
        Y = problem.domain_nu.project(
            Y + tau * gamma * drift_y + noise * rng.standard_normal(Y.shape)
        )
        return X, u, Y, v

    return _run(step, (X, u, Y, v), t_end, dt, save_every)


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
    method: str = "fourier",
) -> GameTrajectory:
    """WFR descent-ascent with weighted particles, σ = 0 ([003] Alg. 2; module docstring)."""
    return _weighted_game(
        problem, initial_mu, initial_nu, n, t_end, dt, gamma, alpha, seed, save_every, method
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
    method: str = "fourier",
) -> GameTrajectory:
    """Mirror descent-ascent on the weights, positions fixed, σ = 0 (module docstring)."""
    return _weighted_game(
        problem, initial_mu, initial_nu, n, t_end, dt, 0.0, alpha, seed, save_every, method
    )


def _weighted_game(
    problem, initial_mu, initial_nu, n, t_end, dt, gamma, alpha, seed, save_every, method
) -> GameTrajectory:
    if problem.sigma != 0:
        raise InputError(
            "wfr_da and mirror_descent particles are the sigma = 0 algorithms of [003]"
        )
    sums = PayoffSums(problem, method)
    _, X, Y, u, v = _setup(problem, initial_mu, initial_nu, n, seed)

    def step(X, u, Y, v, tau):
        (Vx, dVx), (Vy, dVy) = sums(X, u, Y, v, want_gradient=bool(gamma))
        if gamma:
            X = problem.domain_mu.project(X - tau * gamma * dVx)
            Y = problem.domain_nu.project(Y + tau * gamma * dVy)
        u = _reweight(np.log(u) - tau * alpha * (Vx - u @ Vx))
        v = _reweight(np.log(v) + tau * alpha * (Vy - v @ Vy))
        return X, u, Y, v

    return _run(step, (X, u, Y, v), t_end, dt, save_every)
