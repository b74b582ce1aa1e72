"""The Gibbs minimiser μ* = π e^{−δF/δμ(μ*)/σ}/Z of F^σ on a quadrature (MATH §2.1).

For a linear energy (potential V) it is explicit. Otherwise it is the fixed point of the Gibbs
map, found by damped iteration in log-variables,

    log ρ ← (1 − θ) log ρ + θ log Gibbs(ρ),

with θ halved whenever the sup-norm update grows. The discrete fixed point is exactly the
stationary state of the discrete flows (the Scharfetter-Gummel fluxes and the exponential
reaction both vanish on it), so KL(μ*|μ_t) measured against it contains no equilibrium bias.
"""

from __future__ import annotations

import numpy as np

from mfpde.errors import InputError, NumericalError
from mfpde.problem import BoundProblem, log_normalise

__all__ = ["gibbs_minimiser"]


def gibbs_minimiser(
    problem: BoundProblem, tol: float = 1e-12, max_iter: int = 100_000
) -> np.ndarray:
    """The density of μ* on the quadrature of ``problem``, to ``tol`` in sup norm of log ρ.

    Parameters
    ----------
    problem : BoundProblem
        Problem bound to a quadrature; needs σ > 0.
    tol : float
        Stop when max_i |Δ log ρ_i| < tol (θ-scaled updates are un-scaled for the test).
    max_iter : int
        Give up after this many iterations with :class:`~mfpde.errors.NumericalError`.
    """
    if problem.sigma <= 0:
        raise InputError("the Gibbs minimiser needs sigma > 0")
    rho = problem.gibbs(problem.energy.first_variation(np.exp(problem.log_pi)))
    if problem.energy.linear:
        return rho
    theta, previous = 1.0, np.inf
    for _ in range(max_iter):
        target = np.log(problem.gibbs(problem.energy.first_variation(rho)))
        step = target - np.log(rho)
        residual = float(np.abs(step).max())
        if residual < tol:
            return rho
        if residual > previous:
            theta = max(theta / 2, 1e-3)
        previous = residual
        rho = np.exp(log_normalise(np.log(rho) + theta * step, problem.weights))
    raise NumericalError(f"Gibbs fixed point did not converge to {tol} in {max_iter} iterations")
