"""Lyapunov functionals, theorem rates and rate fits (MATH §5).

The observers record KL(μ*|μ_t) and F^σ(μ_t) − F^σ(μ*); this module holds what is compared with
them: the rate constants of the theorems and the fit of an exponential rate on the window of
MATH §5 (where the functional lies between 1e-2 and 1e-9 of its initial value).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from scipy.sparse.linalg import eigsh

from mfpde.equilibrium import gibbs_minimiser
from mfpde.errors import InputError
from mfpde.fv.grid import Grid
from mfpde.fv.operator import FlowOperator
from mfpde.problem import OptimisationProblem

__all__ = ["fit_rate", "spectral_gap", "fokker_planck_gap", "game_rate_bound"]


def fit_rate(
    times: np.ndarray, values: np.ndarray, window: tuple[float, float] = (1e-9, 1e-2)
) -> float:
    """Exponential decay rate r of ``values`` ≈ C e^{−r t}, fitted by least squares on log values.

    Only samples with ``window[0] <= values/values[0] <= window[1]`` are used (MATH §5); at least
    three are needed, otherwise NaN is returned (the functional has not decayed into the
    window). ``times`` and ``values`` must be finite 1-D sequences of the same length ≥ 2, else
    :class:`~mfpde.errors.InputError`.
    """
    try:
        times = np.asarray(times, dtype=float)
        values = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise InputError("fit_rate: times and values must be sequences of numbers") from None
    if times.ndim != 1 or values.ndim != 1 or times.size != values.size:
        raise InputError(
            f"fit_rate: times and values must be 1-D of the same length, got shapes "
            f"{times.shape} and {values.shape}"
        )
    if values.size < 2:
        raise InputError(f"fit_rate: a rate needs at least 2 samples, got {values.size}")
    if not (np.all(np.isfinite(times)) and np.all(np.isfinite(values))):
        raise InputError("fit_rate: times and values must be finite (no NaN or inf)")
    if values[0] <= 0:
        return float("nan")  # started at the equilibrium: no decay to fit
    ratio = values / values[0]
    use = (ratio >= window[0]) & (ratio <= window[1]) & (values > 0)
    if use.sum() < 3:
        return float("nan")
    slope = np.polyfit(times[use], np.log(values[use]), 1)[0]
    return float(-slope)


def game_rate_bound(sigma: float, alpha_mu: float, alpha_nu: float) -> float:
    r"""σ min(α_μ, α_ν): the rate of the Fisher-Rao min-max Lyapunov bound (MATH §5.2).

    With two time scales it bounds the *weighted* L^w_t = KL(μ*|μ_t)/α_μ + KL(ν*|ν_t)/α_ν:
    d/dt L^w_t ≤ −σ (KL(μ*|μ_t) + KL(ν*|ν_t)) ≤ −σ min(α_μ, α_ν) L^w_t, so
    L^w_t ≤ e^{−σ min(α_μ, α_ν) t} L^w_0; the plain sum obeys no such pointwise bound.
    """
    return sigma * min(alpha_mu, alpha_nu)


def spectral_gap(matrix: sp.spmatrix, rho_star: np.ndarray) -> float:
    """Spectral gap λ₁ of the discrete Fokker-Planck generator at equilibrium (MATH §5.3).

    ``matrix`` is the transport matrix A (ρ' = Aρ) whose kernel is ρ*. Detailed balance
    (zero Scharfetter-Gummel flux at ρ*) makes S = D^{-1/2} A D^{1/2}, D = diag(ρ*), symmetric
    with eigenvalues 0 > −λ₁ ≥ …; the decay of KL(μ*|μ_t) is asymptotically e^{−2λ₁ t}.
    """
    d = np.sqrt(rho_star)
    s = sp.diags(1 / d) @ matrix @ sp.diags(d)
    s = 0.5 * (s + s.T)
    if s.shape[0] <= 2000:
        eig = scipy.linalg.eigvalsh(s.toarray())
    else:
        eig = eigsh(s.tocsc(), k=3, sigma=1.0, which="LM", return_eigenvectors=False)
    eig = np.sort(eig)[::-1]
    return float(-eig[1])


def fokker_planck_gap(problem: OptimisationProblem, grid: Grid, gamma: float) -> float:
    """λ₁ of the finite-volume Fokker-Planck generator of ``problem`` at its minimiser (MATH §5.3).

    The Scharfetter-Gummel matrix with the field h = δF/δμ(μ*) is exactly the transport part the
    stepper advances, so 2λ₁ is the asymptotic rate of KL(μ*|μ_t) of the discrete flow for
    linear F.
    """
    bound = problem.bind(grid)
    rho_star = gibbs_minimiser(bound)
    operator = FlowOperator(grid, bound.log_pi, bound.sigma, gamma, 0.0)
    return spectral_gap(operator.transport_matrix(bound.energy.first_variation(rho_star)), rho_star)
