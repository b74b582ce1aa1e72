r"""Mixed Nash equilibria, NI errors and time averages of entropic games (MATH §2.2, §4.1, §5).

The entropic MNE is the fixed point (MATH §2.2, §4.1 G3)

    μ* = π e^{−δF/δμ(μ*, ν*)/σ} / Z,   ν* = ρ e^{+δF/δν(μ*, ν*)/σ} / Z',

i.e. log(μ, ν) = G(log(μ, ν)) for the Gibbs map G of the game. The plain iteration can cycle:
linearised at the MNE, the map is −S with S skew in the Fisher metric (rotation, eigenvalues
±iλ, λ ~ ‖ℓ‖/σ), and the damped iteration ℓ ← (1 − θ)ℓ + θG(ℓ) contracts by only
√(λ²/(1 + λ²)) per step at its best θ. :func:`game_equilibrium` instead iterates the
Fisher-Rao game flow in log variables with an extragradient (midpoint) predictor,

    ℓ̃ = (1 − θ)ℓ + θ G(ℓ),   ℓ ← (1 − θ)ℓ + θ G(ℓ̃),

which contracts rotations too (|1 − θw + θ²w²| < 1 for w = 1 ± iλ and θ ≲ 1/λ), starting
from θ = 1 and halving θ (and returning to the best iterate) whenever the sup-norm residual
‖G(ℓ) − ℓ‖_∞ has not improved on its best value for ``patience``/θ steps, i.e. for a fixed
stretch of the flow's time (far from the MNE the residual of the converging flow need not
decrease monotonically). Measured on the 1-D torus (128 cells, ℓ of size c, σ): 1e-12 is
reached in ~50–10⁴ Gibbs maps for c/σ ≤ 100; for c/σ ≳ 200 the round-off of log-densities of
size c/σ puts the attainable residual near 1e-12 and a :class:`NumericalError` reports it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mfpde.equilibrium import gibbs_minimiser
from mfpde.errors import InputError, NumericalError
from mfpde.games.problem import BoundGame
from mfpde.problem import log_normalise

__all__ = ["Equilibrium", "game_equilibrium", "ni_error", "TimeAverage"]


@dataclass
class Equilibrium:
    """The MNE densities (μ*, ν*), the fixed-point residual reached (sup norm of log ρ) and the
    number of Gibbs maps evaluated."""

    mu: np.ndarray
    nu: np.ndarray
    residual: float
    gibbs_maps: int


def _gibbs_logs(game: BoundGame, logs: list[np.ndarray]) -> list[np.ndarray]:
    """G(log μ, log ν) = (log π − V_x/σ, log ρ + V_y/σ), normalised (MATH §2.2)."""
    fields = game.fields(np.exp(logs[0]), np.exp(logs[1]))
    return [
        log_normalise(log_ref - h / game.sigma, w)
        for log_ref, h, w in zip((game.log_pi, game.log_rho), fields, game.weights)
    ]


def _relax(game: BoundGame, logs, targets, theta: float) -> list[np.ndarray]:
    return [
        log_normalise((1 - theta) * lg + theta * t, w)
        for lg, t, w in zip(logs, targets, game.weights)
    ]


def _sup(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    return max(float(np.abs(p - q).max()) for p, q in zip(a, b))


def game_equilibrium(
    game: BoundGame,
    tol: float = 1e-12,
    max_maps: int = 200_000,
    theta_min: float = 1e-6,
    patience: float = 10.0,
) -> Equilibrium:
    """The entropic MNE on the quadratures of ``game``, to ``tol`` in sup norm of log ρ.

    Parameters
    ----------
    game : BoundGame
        Needs σ > 0.
    tol : float
        Stop when ‖G(ℓ) − ℓ‖_∞ < tol for ℓ = (log μ, log ν) (module docstring).
    max_maps : int
        Give up after this many evaluations of the Gibbs map (two per iteration).
    theta_min : float
        Give up if the relaxation θ falls below this.
    patience : float
        Halve θ after ``patience``/θ iterations without a new best residual.

    Raises
    ------
    NumericalError
        If the iteration does not reach ``tol``.
    """
    if game.sigma <= 0:
        raise InputError("the entropic MNE needs sigma > 0")
    logs = [game.log_pi, game.log_rho]
    targets = _gibbs_logs(game, logs)
    residual, theta, evaluations = _sup(targets, logs), 1.0, 1
    best, stall = (residual, logs, targets), 0
    while best[0] >= tol:
        if evaluations >= max_maps or theta < theta_min:
            raise NumericalError(
                f"MNE iteration stopped at residual {best[0]:.3e} > {tol:g} "
                f"after {evaluations} Gibbs maps (theta = {theta:.1e})"
            )
        predictor = _relax(game, logs, targets, theta)
        logs = _relax(game, logs, _gibbs_logs(game, predictor), theta)
        targets = _gibbs_logs(game, logs)
        evaluations += 2
        residual = _sup(targets, logs)
        if residual < best[0]:
            best, stall = (residual, logs, targets), 0
        else:
            stall += 1
        if stall > patience / theta or not np.isfinite(residual):
            theta, stall = theta / 2, 0
            _, logs, targets = best
    residual, logs, _ = best
    return Equilibrium(np.exp(logs[0]), np.exp(logs[1]), residual, evaluations)


def _kl_logs(log_a: np.ndarray, log_b: np.ndarray, weights: np.ndarray) -> float:
    r"""KL(a|b) = Σ_i w_i b_i ψ(log a_i − log b_i), ψ(u) = u e^u − (e^u − 1) ≥ 0.

    For normalised a, b this equals Σ w a log(a/b); written with ψ every term is ≥ 0 and of
    size O(u²) without cancellation of O(u) terms, so KL near 0 keeps its relative accuracy.
    Where u > 1 the equal form a(u − 1) + b is used (no overflow of e^u).
    """
    u = log_a - log_b
    near = u <= 1
    terms = np.exp(log_a) * (u - 1) + np.exp(log_b)
    terms[near] = np.exp(log_b[near]) * (u[near] * np.exp(u[near]) - np.expm1(u[near]))
    return float(weights @ terms)


def ni_error(game: BoundGame, mu: np.ndarray, nu: np.ndarray) -> float:
    r"""Nikaidô–Isoda error NI^σ(μ, ν) = sup_ν' F^σ(μ, ν') − inf_μ' F^σ(μ', ν) ≥ 0 (MATH §2.2).

    The inner problems are entropic optimisation problems of one player against the frozen
    other (:meth:`BoundGame.best_response_problem`), solved by
    :func:`~mfpde.equilibrium.gibbs_minimiser`: μ̂ = argmin F^σ(·, ν), ν̂ = argmax F^σ(μ, ·), and

        NI = [F^σ(μ, ν̂) − F^σ(μ, ν)] + [F^σ(μ, ν) − F^σ(μ̂, ν)].

    Bilinear payoffs: the best responses are explicit, μ̂ ∝ π e^{−V_x[ν]/σ}, ν̂ ∝ ρ e^{V_y[μ]/σ}
    (normalised by a stable log-sum-exp), and each bracket is exactly σ KL (MATH §2.1), so

        NI = σ KL(μ|μ̂) + σ KL(ν|ν̂)
           = σ KL(μ|π) + σ KL(ν|ρ) + σ log ∫ρ e^{V_y[μ]/σ} + σ log ∫π e^{−V_x[ν]/σ},

    evaluated in the first form (a sum of non-negative terms, accurate near the MNE).
    σ = 0 (bilinear only): the unregularised NI = max_j V_y[μ](y_j) − min_i V_x[ν](x_i).
    """
    rhos = [mu, nu]
    if game.sigma == 0:
        if not game.payoff.linear:
            raise InputError("the NI error of a non-bilinear game needs sigma > 0")
        V_x, V_y = game.payoff.fields(mu, nu)
        return float(V_y.max() - V_x.min())
    ni = 0.0
    for player in (0, 1):
        problem = game.best_response_problem(player, rhos[1 - player])
        if game.payoff.linear:  # log μ̂ directly: μ̂ may underflow for small σ
            field = problem.energy.first_variation(rhos[player])
            log_best = log_normalise(problem.log_pi - field / game.sigma, problem.weights)
            ni += game.sigma * _kl_logs(np.log(rhos[player]), log_best, problem.weights)
        else:
            best = gibbs_minimiser(problem)
            ni += problem.free_energy(rhos[player]) - problem.free_energy(best)
    return ni


class TimeAverage:
    r"""Running time averages μ̄_t = (1/t) ∫_0^t μ_s ds of both players ([003] Thm 2, MATH §5.5).

    Updated by the trapezoidal rule with every accepted step (:meth:`add`).
    """

    def __init__(self) -> None:
        self._last: tuple[float, list[np.ndarray]] | None = None
        self._integral: list[np.ndarray] | None = None
        self.duration = 0.0

    def add(self, t: float, rhos: list[np.ndarray]) -> None:
        """Add the state at time t (times increasing)."""
        if self._last is None:
            self._integral = [np.zeros_like(r) for r in rhos]
        else:
            t0, previous = self._last
            for acc, r0, r in zip(self._integral, previous, rhos):
                acc += 0.5 * (t - t0) * (r0 + r)
            self.duration = t
        self._last = (t, [r.copy() for r in rhos])

    @property
    def densities(self) -> list[np.ndarray]:
        """[μ̄_t, ν̄_t] (the current states at t = 0)."""
        if self.duration == 0:
            return [r.copy() for r in self._last[1]]
        return [acc / self.duration for acc in self._integral]
