r"""The unregularised NI error of weighted point clouds (particles, time averages; MATH §2.2).

For a bilinear payoff and μ = Σ_i u_i δ_{x_i}, ν = Σ_j v_j δ_{y_j} (weights summing to one),

    NI(μ, ν) = sup_{y ∈ Y} V_y[μ](y) − inf_{x ∈ X} V_x[ν](x) ≥ 0   ([003] eq. (2)),

V_x[ν] = ∫ ℓ(·, y) ν(dy), V_y[μ] = ∫ ℓ(x, ·) μ(dx). Two inner optimisations over the strategy
spaces, solved here in one of two ways (:func:`ni_error_empirical` chooses by the payoff):

- **exact** for the sphere games of [003] §5.1 (:class:`~mfpde.games.sphere.SphereGame`, any
  d): V_x, V_y are quadratic forms uᵀQu + bᵀu + c whose coefficients are moments of the other
  player (MATH §2.2), so each optimisation is the trust-region subproblem
  min_{|u|=1} uᵀQu + bᵀu, solved by :func:`trust_region` to round-off;
- **sampled** for any other :class:`~mfpde.games.Bilinear` on a :class:`~mfpde.domains.Domain`
  or a :class:`~mfpde.domains.Sphere`: the best of ``samples`` seeded uniform points, refined
  from the best ``starts`` of them by L-BFGS (boxes: within the walls; periodic axes: wrapped;
  spheres: over z ∈ R^d with u = z/|z|). Every value it returns is attained at a point of the
  domain, so each optimum is approached from the inside (sup from below, inf from above) and
  converges to the true one as ``samples`` grows (the best sample of a continuous function
  on a compact set converges, and the refinement only improves it). Its accuracy is estimated
  by doing it twice, with ``samples``/4 and with ``samples`` points (independent seeds), and
  reporting the change of the NI.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq, minimize

from mfpde import checks
from mfpde.domains import Domain, Sphere
from mfpde.errors import InputError, NumericalError
from mfpde.games.problem import Bilinear
from mfpde.games.sphere import SphereGame, moments
from mfpde.quadrature import Quadrature

__all__ = ["EmpiricalNI", "ni_error_empirical", "sphere_ni", "trust_region"]

#: Relative size below which β on the eigenspace of λ_min counts as zero (the hard case), and
#: eigenvalues count as equal to λ_min.
_HARD = 1e-12


@dataclass(frozen=True)
class EmpiricalNI:
    """NI = sup_y V_y[μ] − inf_x V_x[ν] and where its optima are attained.

    Attributes
    ----------
    value : float
        The NI error.
    sup_y, inf_x : float
        sup_y V_y[μ](y) and inf_x V_x[ν](x).
    y, x : ndarray
        The maximiser of V_y[μ] and the minimiser of V_x[ν] found.
    accuracy : float
        An estimate of |value − NI|: round-off for the exact trust-region solution (a few ulps
        of the fields' size), the change between two sample budgets for the sampled one.
    method : str
        ``"trust-region"`` (exact) or ``"sampled"``.
    """

    value: float
    sup_y: float
    inf_x: float
    y: np.ndarray
    x: np.ndarray
    accuracy: float
    method: str

    def __float__(self) -> float:
        return self.value


def trust_region(Q: np.ndarray, b: np.ndarray) -> tuple[float, np.ndarray]:
    r"""min_{|u|=1} uᵀQu + bᵀu and a minimiser u, exactly (MATH §2.2).

    With Q = UΛUᵀ (λ_1 ≤ … ≤ λ_d) and β = Uᵀb, a global minimiser is u = −(Q − λI)^{−1}b/2 for
    the λ ≤ λ_1 with |u| = 1 (Q − λI ⪰ 0 is the global optimality condition). Writing
    λ = λ_1 − t, t ≥ 0 solves the secular equation

        φ(t) = Σ_i β_i² / (4(λ_i − λ_1 + t)²) − 1 = 0,

    φ decreasing on t > 0, φ(|β_E|/2) ≥ 0 and φ(|b|/2) ≤ 0 (E the eigenspace of λ_1): a
    bracketed root (:func:`scipy.optimize.brentq`, to relative 4 ulps). Hard case: β_E = 0
    (below 1e-12 |b|) and φ(0⁺) ≤ 0; then λ = λ_1, u = p + τ e with p = −Σ_{i∉E} β_i U_i /
    (2(λ_i − λ_1)), e ∈ E a unit vector and τ = √(1 − |p|²). The value is evaluated at u/|u|,
    a point of the sphere.

    Parameters
    ----------
    Q : ndarray, shape (d, d)
        Symmetric (its symmetric part is used).
    b : ndarray, shape (d,)
    """
    Q, b = 0.5 * (np.asarray(Q, float) + np.asarray(Q, float).T), np.asarray(b, float)
    lam, U = np.linalg.eigh(Q)
    beta = U.T @ b
    scale = max(float(np.abs(lam).max()), float(np.linalg.norm(b)), np.finfo(float).tiny)
    E = lam - lam[0] <= _HARD * scale
    gaps = lam - lam[0]
    beta_E = float(np.linalg.norm(beta[E]))
    if beta_E <= _HARD * max(float(np.linalg.norm(b)), scale):
        p = np.zeros_like(beta)
        p[~E] = -beta[~E] / (2 * gaps[~E])
        if p @ p <= 1.0:  # hard case: λ = λ_1
            coordinates = p.copy()
            coordinates[np.flatnonzero(E)[0]] = np.sqrt(1.0 - p @ p)
            return _value(Q, b, U @ coordinates)
        beta = np.where(E, 0.0, beta)

    def phi(t: float) -> float:
        return float(np.sum(beta**2 / (4 * (gaps + t) ** 2)) - 1.0)

    high = 0.5 * float(np.linalg.norm(b))
    low = 0.5 * beta_E if beta_E > 0 else high
    while phi(low) < 0:  # only without β_E (the near-hard case): φ(0⁺) > 0 there
        low *= 0.5
    t = low if phi(low) == 0 else brentq(phi, low, high, xtol=1e-300, rtol=4 * np.finfo(float).eps)
    return _value(Q, b, U @ (-beta / (2 * (gaps + t))))


def _value(Q: np.ndarray, b: np.ndarray, u: np.ndarray) -> tuple[float, np.ndarray]:
    u = u / np.linalg.norm(u)
    return float(u @ Q @ u + b @ u), u


def sphere_ni(
    game: SphereGame, moments_mu: tuple[np.ndarray, np.ndarray], moments_nu
) -> EmpiricalNI:
    """The exact NI of measures given by their moments (m, S) = (E x, E[xxᵀ]) (module docstring).

    The moments of a time average are the time averages of the moments, so this gives the NI
    of time-averaged particle measures at the cost of one trust-region solve.
    """
    Q_y, b_y, c_y = game.field_y(*moments_mu)
    Q_x, b_x, c_x = game.field_x(*moments_nu)
    neg_sup, y = trust_region(-Q_y, -b_y)
    inf, x = trust_region(Q_x, b_x)
    sup_y, inf_x = c_y - neg_sup, c_x + inf
    size = sum(float(np.abs(Q).sum() + np.abs(b).sum() + abs(c))
               for Q, b, c in ((Q_y, b_y, c_y), (Q_x, b_x, c_x)))  # fmt: skip
    return EmpiricalNI(sup_y - inf_x, sup_y, inf_x, y, x, 64 * np.finfo(float).eps * size,
                       "trust-region")  # fmt: skip


def ni_error_empirical(
    payoff: Bilinear,
    mu: tuple[np.ndarray, np.ndarray],
    nu: tuple[np.ndarray, np.ndarray],
    domains: tuple | None = None,
    *,
    samples: int = 4096,
    starts: int = 8,
    seed: int = 0,
) -> EmpiricalNI:
    """The unregularised NI error of μ = Σ u_i δ_{x_i} and ν = Σ v_j δ_{y_j} (module docstring).

    Parameters
    ----------
    payoff : Bilinear
        A sphere game of :func:`~mfpde.games.sphere_game` (exact), or any bilinear payoff
        (sampled inner optimisation).
    mu, nu : (ndarray (n, d_X), ndarray (n,)) and (ndarray (m, d_Y), ndarray (m,))
        Points and weights (non-negative, normalised here); time averages are the clouds of
        all saved times with the weights of the time quadrature.
    domains : (Domain or Sphere, Domain or Sphere), optional
        X and Y, needed by the sampled optimisation (spheres of the points' dimension if
        omitted for a sphere game).
    samples, starts, seed
        The sampled optimisation: uniform points per optimisation, local refinements, seed.

    Returns
    -------
    EmpiricalNI
    """
    (X, u), (Y, v) = (_cloud(name, *m) for name, m in (("mu", mu), ("nu", nu)))
    if isinstance(payoff, SphereGame):
        for name, P in (("mu", X), ("nu", Y)):
            if P.shape[1] != payoff.dim:
                raise InputError(f"points of {name} have dimension {P.shape[1]}, the game "
                                 f"{payoff.dim}")  # fmt: skip
        return sphere_ni(payoff, moments(X, u), moments(Y, v))
    checks.instance("payoff", payoff, Bilinear, "a Bilinear payoff")
    if domains is None or len(domains) != 2:
        raise InputError("the NI error of a general payoff needs its domains (X, Y)")
    samples = checks.integer("samples", samples, minimum=8)
    starts = checks.integer("starts", starts, minimum=1)
    rng = np.random.default_rng(seed)
    coarse, fine = (_sampled(payoff, X, u, Y, v, domains, m, starts, rng)
                    for m in (max(samples // 4, 8), samples))  # fmt: skip
    value = fine.sup_y - fine.inf_x
    accuracy = abs(value - (coarse.sup_y - coarse.inf_x))
    return EmpiricalNI(value, fine.sup_y, fine.inf_x, fine.y, fine.x, accuracy, "sampled")


def _cloud(name: str, points, weights) -> tuple[np.ndarray, np.ndarray]:
    points, weights = np.asarray(points, dtype=float), np.asarray(weights, dtype=float)
    if points.ndim != 2 or weights.shape != (len(points),) or len(points) == 0:
        raise InputError(f"{name}: need points (n, d) and weights (n,), got {points.shape} and "
                         f"{weights.shape}")  # fmt: skip
    if not (np.all(np.isfinite(points)) and np.all(weights >= 0) and weights.sum() > 0):
        raise InputError(f"{name}: points must be finite and weights non-negative, not all zero")
    return points, weights / weights.sum()


@dataclass
class _Optima:
    sup_y: float
    inf_x: float
    y: np.ndarray
    x: np.ndarray


def _sampled(payoff, X, u, Y, v, domains, samples, starts, rng) -> _Optima:
    """sup_y V_y[μ] and inf_x V_x[ν] by sampling and local refinement (module docstring)."""
    domain_x, domain_y = domains

    # V_y[μ](y) = Σ_i u_i ℓ(x_i, y): the sums over the first argument of the bound payoff.
    def field_y(points):
        bound = payoff.bind(
            Quadrature(X, u, domain_x, reuse=False),
            Quadrature(points, np.ones(len(points)), domain_y, reuse=False),
        )
        return bound.sums.over_x(u, True)  # fmt: skip

    def field_x(points):
        bound = payoff.bind(
            Quadrature(points, np.ones(len(points)), domain_x, reuse=False),
            Quadrature(Y, v, domain_y, reuse=False),
        )
        return bound.sums.over_y(v, True)  # fmt: skip

    neg_sup, y = _minimise(lambda p: tuple(-f for f in field_y(p)), domain_y, samples, starts, rng)
    inf_x, x = _minimise(field_x, domain_x, samples, starts, rng)
    return _Optima(-neg_sup, inf_x, y, x)


def _minimise(f: Callable, domain, samples: int, starts: int, rng) -> tuple[float, np.ndarray]:
    """min f over the domain: the best of the samples, refined from the best ``starts``."""
    if not isinstance(domain, (Domain, Sphere)):
        raise InputError("the sampled NI error needs domains that are a Domain or a Sphere")
    points = domain.uniform(rng, samples)
    values = f(points)[0]
    best = int(np.argmin(values))
    result = (float(values[best]), points[best])
    for start in points[np.argsort(values)[:starts]]:
        refined = _refine(f, domain, start)
        if refined[0] < result[0]:
            result = refined
    if not np.isfinite(result[0]):
        raise NumericalError("the NI error's inner optimisation met a non-finite payoff field")
    return result


def _refine(f: Callable, domain, start: np.ndarray) -> tuple[float, np.ndarray]:
    """A local minimum of f from ``start`` by L-BFGS: walls as bounds, periodic axes wrapped,
    the sphere through u = z/|z| (∇_z = (∇f − (u·∇f)u)/|z|); the result is a point of Ω."""
    if isinstance(domain, Sphere):

        def objective(z):
            r = np.linalg.norm(z)
            value, grad = f((z / r)[None])
            g = grad[0]
            return float(value[0]), (g - (z / r @ g) * z / r) / r

        found = minimize(objective, start, jac=True, method="L-BFGS-B")
        point = domain.project(found.x)
    else:
        bounds = [(None, None) if p else (lo, hi)
                  for lo, hi, p in zip(domain.lower, domain.upper, domain.periodic)]  # fmt: skip

        def objective(z):
            value, grad = f(domain.project(z[None]))
            return float(value[0]), grad[0]

        found = minimize(objective, start, jac=True, method="L-BFGS-B", bounds=bounds)
        point = domain.project(found.x[None])[0]
    return float(f(point[None])[0][0]), point
