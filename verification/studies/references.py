r"""Exact solutions E1, E2, E3 of MATH §3.1, and the error bars of mesh references (MATH §8).

Each reference is a function ``reference(setup)`` of an
:class:`~mfpde.config.OptimisationSetup`: it checks that the configured problem is the case
(raising ``InputError`` naming what differs) and returns ``density(t)``, the exact density at
time t at the points of the setup's grid.

- **E1** (Fisher-Rao, γ = 0, potential V, any Ω): μ_t ∝ μ₀^{e^{−ασt}} (π e^{−V/σ})^{1−e^{−ασt}},
  normalised on the grid's quadrature (the finite-volume scheme is exact for it, so errors are
  at round-off).
- **E2** (Fokker-Planck, α = 0, V = 0, π uniform): the heat semigroup with diffusivity γσ applied
  to μ₀/∫μ₀. μ₀ is expanded on 64 samples per axis: a Fourier series on periodic axes (modes
  e^{iκ(x−a)}, κ = 2πm/L, FFT), a cosine series on walled axes (no flux: cos(κ(x−a)), κ = mπ/L,
  DCT-II of midpoint samples); mode κ decays as e^{−γσ|κ|²t}. Exact for trigonometric
  (cosine) polynomials of degree < 32 per axis, spectrally accurate for smooth data.
- **E3** (Gaussian family, 1-D interval, any γ, α): V = k x²/2, π = N(0, s²) (or uniform,
  1/s² = 0), μ₀ = N(m₀, 1/P₀); μ_t = N(h_t/P_t, 1/P_t) with dP/dt = σ(λ* − P)(2γP + α),
  dh/dt = σh(γ(λ* − 2P) − α), λ* = k/σ + 1/s², solved by DOP853 to rtol 1e-13. k, s², m₀, P₀
  are read off the configured expressions by fitting quadratics to V, log π and log μ₀ on the
  grid; a non-quadratic (or off-centre V, π) configuration is an error.

Where no exact solution exists a study compares with a *mesh reference* (the mean-field PDE
solved on the configured grid, e.g. ``propagation_of_chaos``). Its own discretisation error is
estimated by Richardson extrapolation: with a scheme of order p and a solve coarser by the
ratio r (:func:`coarser_grid`: half the cells; or twice the time step), the error of the fine
solve is ≈ |q_h − q_{rh}| / (r^p − 1) for any smooth functional q (:func:`richardson_error`).
:data:`FV_ORDER` = 2 for the finite volumes (Scharfetter-Gummel fluxes, midpoint quadrature of
the nonlocal sums, Strang splitting: MATH §8); a scheme converging faster makes the estimate
conservative (the coarse solve's error dominates the difference).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.fft import dct, fft
from scipy.integrate import solve_ivp

from mfpde.energies import as_function
from mfpde.errors import InputError
from mfpde.fv.grid import Grid
from mfpde.problem import log_normalise

__all__ = [
    "REFERENCES",
    "e1_fisher_rao",
    "e2_heat",
    "e3_gaussian",
    "FV_ORDER",
    "coarser_grid",
    "richardson_error",
]

#: Order of the finite-volume references in space and time (MATH §8), used by Richardson.
FV_ORDER = 2

#: Samples per axis of the E2 expansion of μ₀ (modes below 32 are exact).
E2_SAMPLES = 64
#: Relative misfit below which V, log π, log μ₀ count as exactly quadratic for E3 (round-off of
#: expression evaluation is ~1e-15 of their size).
QUADRATIC_TOL = 1e-9


def _bound(setup):
    grid = setup.grid
    return setup.problem.bind(grid)


def _require(condition: bool, case: str, what: str) -> None:
    if not condition:
        raise InputError(f"exact solution {case} (MATH §3.1) needs {what}")


def _initial(setup, points: np.ndarray) -> np.ndarray:
    """The configured (unnormalised) initial density μ₀ at ``points``."""
    values = as_function(setup.initial, points.shape[1])(points)
    return np.broadcast_to(np.asarray(values, dtype=float), (len(points),))


def e1_fisher_rao(setup) -> Callable[[float], np.ndarray]:
    """E1: Fisher-Rao with a potential (module docstring)."""
    bound = _bound(setup)
    _require(setup.flow.gamma == 0, "E1", "a Fisher-Rao flow (gamma = 0)")
    _require(bound.energy.linear, "E1", "a potential energy (no interaction)")
    _require(bound.sigma > 0, "E1", "sigma > 0")
    V = bound.energy.first_variation(np.ones(len(bound.weights)))
    log_mu0 = np.log(_initial(setup, setup.grid.points))
    log_gibbs = bound.log_pi - V / bound.sigma
    rate = setup.flow.alpha * bound.sigma

    def density(t: float) -> np.ndarray:
        decay = np.exp(-rate * t)
        return np.exp(log_normalise(decay * log_mu0 + (1 - decay) * log_gibbs, bound.weights))

    return density


def _axis_expansion(values: np.ndarray, axis: int, periodic: bool) -> np.ndarray:
    """Coefficients along one axis: FFT/M (periodic) or DCT-II scaled to a cosine series."""
    if periodic:
        return fft(values, axis=axis) / values.shape[axis]
    c = dct(values, type=2, axis=axis) / values.shape[axis]
    first = [slice(None)] * values.ndim
    first[axis] = 0
    c[tuple(first)] /= 2
    return c


def e2_heat(setup) -> Callable[[float], np.ndarray]:
    """E2: heat semigroup of μ₀ with diffusivity γσ (module docstring)."""
    bound, domain = _bound(setup), setup.grid.domain
    _require(setup.flow.alpha == 0, "E2", "a Fokker-Planck flow (alpha = 0)")
    field = bound.energy.first_variation(np.ones(len(bound.weights)))
    _require(bound.energy.linear and not np.any(field), "E2", "no energy (V = 0)")
    _require(np.ptp(bound.log_pi) == 0, "E2", 'reference = "uniform"')
    lower, lengths, M = np.asarray(domain.lower), domain.lengths, E2_SAMPLES
    axes, kappas = [], []
    for a, periodic in enumerate(domain.periodic):
        j = np.arange(M)
        axes.append(lower[a] + lengths[a] * (j if periodic else j + 0.5) / M)
        m = np.fft.fftfreq(M, 1 / M) if periodic else j
        kappas.append((2 if periodic else 1) * np.pi * m / lengths[a])
    samples = np.stack([g.ravel() for g in np.meshgrid(*axes, indexing="ij")], axis=-1)
    coefficients = _initial(setup, samples).reshape((M,) * domain.dim).astype(complex)
    for a, periodic in enumerate(domain.periodic):
        coefficients = _axis_expansion(coefficients, a, periodic)
    mass = coefficients[(0,) * domain.dim].real * np.prod(lengths)  # ∫ μ₀ = c₀ |Ω|
    shifted = setup.grid.points - lower
    diffusivity = setup.flow.gamma * bound.sigma
    letters = "abc"[: domain.dim]
    subscripts = ",".join(f"i{x}" for x in letters) + f",{letters}->i"

    def density(t: float) -> np.ndarray:
        bases = [
            (np.exp(1j * np.outer(x, k)) if periodic else np.cos(np.outer(x, k)))
            * np.exp(-diffusivity * k**2 * t)
            for x, k, periodic in zip(shifted.T, kappas, domain.periodic)
        ]
        return np.einsum(subscripts, *bases, coefficients, optimize=True).real / mass

    return density


def _quadratic(x: np.ndarray, values: np.ndarray, name: str) -> np.ndarray:
    """Coefficients (c₂, c₁, c₀) of values = c₂x² + c₁x + c₀; error if not quadratic."""
    c = np.polyfit(x, values, 2)
    misfit = np.abs(np.polyval(c, x) - values).max()
    _require(misfit <= QUADRATIC_TOL * (1 + np.abs(values).max()), "E3", f"a quadratic {name}")
    return c


def e3_gaussian(setup) -> Callable[[float], np.ndarray]:
    """E3: Gaussian family on an interval (module docstring)."""
    bound, grid = _bound(setup), setup.grid
    _require(grid.dim == 1 and not grid.domain.periodic[0], "E3", "an interval domain")
    _require(bound.energy.linear, "E3", "a potential energy (no interaction)")
    _require(bound.sigma > 0, "E3", "sigma > 0")
    x = grid.points[:, 0]
    V = bound.energy.first_variation(np.ones(len(x)))
    k2, k1, _ = _quadratic(x, V, "potential k x²/2")
    p2, p1, _ = _quadratic(x, bound.log_pi, "log reference −x²/(2s²) (or uniform)")
    log_mu0 = np.log(_initial(setup, grid.points))
    q2, q1, _ = _quadratic(x, log_mu0, "log initial density −P₀(x − m₀)²/2")
    scale = 1e-9 * (1 + abs(k2) + abs(p2))
    _require(abs(k1) <= scale and abs(p1) <= scale, "E3", "V and π centred at x = 0")
    _require(q2 < 0, "E3", "a Gaussian initial density")
    sigma, gamma, alpha = bound.sigma, setup.flow.gamma, setup.flow.alpha
    lam = 2 * k2 / sigma - 2 * p2  # λ* = k/σ + 1/s², with k = 2 c₂(V) and 1/s² = −2 c₂(log π)
    P0, h0 = -2 * q2, q1  # log μ₀ = −P₀x²/2 + P₀m₀x + c: h₀ = P₀m₀

    def rhs(t, y):
        P, h = y
        dP = sigma * (lam - P) * (2 * gamma * P + alpha)
        return [dP, sigma * h * (gamma * (lam - 2 * P) - alpha)]

    def density(t: float) -> np.ndarray:
        P, h = solve_ivp(rhs, (0, t), [P0, h0], method="DOP853", rtol=1e-13, atol=1e-14).y[:, -1]
        return np.sqrt(P / (2 * np.pi)) * np.exp(-P * (x - h / P) ** 2 / 2)

    return density


#: Reference solutions by their name in MATH §3.1 (``[study] exact``).
REFERENCES: dict[str, Callable] = {"E1": e1_fisher_rao, "E2": e2_heat, "E3": e3_gaussian}


def coarser_grid(grid: Grid) -> tuple[Grid, float]:
    """The grid of the same domain with ⌊n/2⌋ cells per axis, and the refinement ratio r.

    r = min over the axes of n/⌊n/2⌋ (2 for even n; the smaller ratio of odd axes makes the
    Richardson estimate conservative). Raises ``InputError`` below 6 cells on an axis (the
    coarse grid needs 3).
    """
    shape = np.asarray(grid.shape)
    if np.any(shape < 6):
        raise InputError(
            f"the error estimate of the mesh reference needs at least 6 cells per axis (a "
            f"solve on half of them), got {grid.shape}"
        )
    coarse = shape // 2
    return Grid(grid.domain, tuple(int(n) for n in coarse)), float(np.min(shape / coarse))


def richardson_error(
    fine: np.ndarray, coarse: np.ndarray, order: float = FV_ORDER, ratio: float = 2.0
) -> np.ndarray:
    r"""|q_h − q_{rh}| / (r^p − 1): Richardson's estimate of the error of the fine value q_h.

    With q_h = q + C h^p + o(h^p), q_{rh} − q_h = C h^p (r^p − 1) + o(h^p) (module docstring).
    """
    return np.abs(np.asarray(fine) - np.asarray(coarse)) / (ratio**order - 1)
