r"""Finite-volume flow operator with rates (γ, α) on a tensor grid (MATH §3, §4, §8).

For one measure with density ρ and a *field* h (δF/δμ for a minimising player, −δF/δν for a
maximising one, MATH §4), with g = h + σ log(ρ/π):

    ∂_t ρ = γ ∇·(ρ ∇g) − α ρ (g − ⟨g⟩_ρ).

Transport-diffusion, γ ∇·(ρ∇g) = γ ∇·(σ∇ρ + ρ∇Φ) with Φ = h − σ log π, is discretised with
Scharfetter-Gummel fluxes across each face between cells l and r (MATH §8):

    J_{l→r} = (γ/h) [σB(δ) ρ_l − σB(−δ) ρ_r],  δ = (Φ_r − Φ_l)/σ,  B(z) = z/(e^z − 1),

which conserve mass exactly, give an M-matrix (positivity), vanish on the discrete Gibbs state
ρ ∝ e^{−Φ/σ} (exact equilibrium) and reduce to upwinding as σ → 0. With h frozen over a step the
semi-discrete system is linear, ρ' = A ρ, and is advanced either exactly, ρ ← e^{τA} ρ (e^{τA}
is entrywise non-negative and column-stochastic), or by backward Euler (``"implicit_euler"``,
first order). The exact exponential has three paths (:mod:`mfpde.fv.exponential`):

- ``"eigen"``: the eigendecomposition of the symmetric Slotboom form of A, computed once while the
  field is frozen (a linear energy, :attr:`FlowOperator.linear`, or the same field array passed
  again), then two dense mat-vecs per step;
- ``"rational"``: the Carathéodory-Fejér rational approximation, 7 sparse LU solves per step, the
  factorisations reused while (A, τ) is frozen;
- ``"expm_multiply"``: SciPy's Taylor series, ∝ ‖τA‖₁ sparse mat-vecs.

``"expm"`` (the default) chooses by size and stiffness (:meth:`FlowOperator.exponential_path`):
"eigen" for a frozen operator on at most :data:`EIGEN_CELLS` cells whose Gibbs state spans at most
e^{:data:`EIGEN_RANGE`}, else "rational" once ‖τA‖₁ exceeds :data:`RATIONAL_NORM` (frozen) or
:data:`RATIONAL_NORM_MOVING` (a new field every step) and the Gibbs state spans at most
e^{:data:`RATIONAL_RANGE`} (on 2-D grids only beyond :data:`EXPM_MULTIPLY_NORM`, on 3-D
grids never: LU fill), else "expm_multiply" up to ‖τA‖₁ = :data:`EXPM_MULTIPLY_NORM`. The
cost of the first two does not grow with τ/h²; a step stiffer than all three (a strong
interaction with a large dt) is refused at once with a :class:`~mfpde.errors.NumericalError`
instead of running 10⁶ mat-vecs.

The reaction part is shared by all backends (:mod:`mfpde.operator`).
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as data_field

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve

from mfpde.errors import InputError, NumericalError
from mfpde.fv.exponential import (
    RationalExponential,
    SymmetricExponential,
    expm_multiply_deterministic,
)
from mfpde.fv.grid import Grid
from mfpde.operator import FlowOperatorBase

__all__ = ["FlowOperator", "bernoulli", "TRANSPORT_SCHEMES", "EXPONENTIAL_PATHS"]

EXPONENTIAL_PATHS = ("eigen", "rational", "expm_multiply")
TRANSPORT_SCHEMES = ("expm", *EXPONENTIAL_PATHS, "implicit_euler")
#: Largest grid of the eigen path: there two dense mat-vecs per step are faster than 7 sparse
#: LU solves (measured on one thread: 0.36 against 0.35 ms at 1024 cells in 1-D, 0.34 against
#: 1.1 ms on 32²), and the eigendecomposition takes 0.3 s and 8 MiB.
EIGEN_CELLS = 1024
#: Largest spread max Φ/σ − min Φ/σ of the Gibbs exponent on the eigen path: the round-off of
#: e^{τA} = diag(s) e^{τS} diag(s)^{-1} grows like max s/min s = e^{spread/2} (measured against
#: expm_multiply, a bump at the edge of an Ornstein-Uhlenbeck well: 4e-13 at spread 24.5, a
#: negative density at 49).
EIGEN_RANGE = 30.0
#: Largest spread on the rational path, whose error grows with the non-normality of A (the same
#: test: 2e-12 at spread 24.5, 3e-11 at 82, 2e-10 at 245).
RATIONAL_RANGE = 100.0
#: Largest ‖τA‖₁ of expm_multiply (its cost grows like ‖τA‖₁: 2·10⁴ sparse mat-vecs, about a
#: second). Beyond it, with a Gibbs spread beyond :data:`RATIONAL_RANGE`, the step is refused.
EXPM_MULTIPLY_NORM = 2e4
#: ‖τA‖₁ from which a frozen operator takes the rational path (7 LU solves cost about as much as
#: expm_multiply at this norm, measured on 1-D to 3-D grids).
RATIONAL_NORM = 20.0
#: The same for an operator that changes every step (7 LU factorisations per step).
RATIONAL_NORM_MOVING = 100.0
#: Both hold in 1-D, where the LU factors of a (periodic) tridiagonal matrix have no fill. On 2-D
#: grids the fill makes 7 complex LUs slower than expm_multiply (measured for one step: 0.54 s
#: against 0.28 s on 128², 6.1 s against 1.9 s on 256²), so the rational path is taken only
#: beyond :data:`EXPM_MULTIPLY_NORM`; on 3-D grids never automatically (80 s against 0.04 s on
#: 32³).


def bernoulli(z: np.ndarray) -> np.ndarray:
    """B(z) = z/(e^z − 1), with B(0) = 1, evaluated without overflow or cancellation."""
    z = np.asarray(z, dtype=float)
    small = np.abs(z) < 1e-8
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        out = z / np.expm1(z)
    out[small] = 1.0 - 0.5 * z[small]
    return out


def _sigma_bernoulli(dphi: np.ndarray, sigma: float) -> np.ndarray:
    """σ B(ΔΦ/σ), with its σ → 0 limit max(−ΔΦ, 0) (upwinding)."""
    if sigma == 0:
        return np.maximum(-dphi, 0.0)
    return sigma * bernoulli(dphi / sigma)


@dataclass(eq=False)
class FrozenTransport:
    """The transport generator A of one field h, Φ = h − σ log π, and the exponentials of A.

    ``uses`` counts the transport substeps with this same field array: from the second one on the
    operator is frozen (a linear energy) and a one-off factorisation pays.
    """

    field: np.ndarray
    phi: np.ndarray
    matrix: sp.csr_matrix | np.ndarray
    uses: int = 0
    eigen: SymmetricExponential | None = None
    rational: dict[float, RationalExponential] = data_field(default_factory=dict)

    @property
    def norm(self) -> float:
        """‖A‖₁ = 2 max_i |A_ii| (zero column sums, non-negative off-diagonal entries)."""
        return 2.0 * float(np.max(np.abs(self.matrix.diagonal())))


class FlowOperator(FlowOperatorBase):
    """One measure's flow ∂_t ρ = γ∇·(ρ∇g) − αρ(g − ⟨g⟩_ρ) on a finite-volume grid.

    Parameters
    ----------
    grid : Grid
        The discretisation of Ω.
    log_pi : ndarray
        log of the normalised reference density at the cell centres.
    sigma, gamma, alpha : float
        Entropy weight and the rates of MATH §3.
    scheme : {"expm", "eigen", "rational", "expm_multiply", "implicit_euler"}
        How the transport-diffusion substep is advanced (see the module docstring).
    sigma_reaction : float, optional
        Entropy weight of the reaction part (default σ; see :class:`FlowOperatorBase`).
    """

    def __init__(
        self,
        grid: Grid,
        log_pi: np.ndarray,
        sigma: float,
        gamma: float,
        alpha: float,
        scheme: str = "expm",
        sigma_reaction: float | None = None,
    ):
        if scheme not in TRANSPORT_SCHEMES:
            raise InputError(
                f"unknown transport scheme {scheme!r} (choose from {', '.join(TRANSPORT_SCHEMES)})"
            )
        super().__init__(grid.weights, log_pi, sigma, gamma, alpha, sigma_reaction)
        self.grid, self.scheme = grid, scheme
        #: True when the field does not depend on the density (a linear energy, ``System.linear``):
        #: the operator is frozen from the first step on. Set by :func:`mfpde.solve`.
        self.linear = False
        self._frozen: FrozenTransport | None = None

    def assemble(self, phi: np.ndarray) -> sp.csr_matrix:
        """The Scharfetter-Gummel matrix A of the potential Φ (module docstring).

        Columns sum to zero (mass), off-diagonals are ≥ 0 (positivity).
        """
        f = self.grid.faces
        dphi = phi[f.right] - phi[f.left]
        c_lr = self.gamma * f.inv_h2 * _sigma_bernoulli(dphi, self.sigma)  # l → r
        c_rl = self.gamma * f.inv_h2 * _sigma_bernoulli(-dphi, self.sigma)  # r → l
        n = self.grid.size
        rows = np.concatenate([f.left, f.right, f.right, f.left])
        cols = np.concatenate([f.left, f.right, f.left, f.right])
        vals = np.concatenate([-c_lr, -c_rl, c_lr, c_rl])
        return sp.csr_matrix((vals, (rows, cols)), shape=(n, n))

    def frozen(self, field: np.ndarray) -> FrozenTransport:
        """The generator of ``field`` with its exponentials, kept while the same array is passed."""
        if self._frozen is None or self._frozen.field is not field:
            phi = field - self.sigma * self.log_pi
            self._frozen = FrozenTransport(field, phi, self.assemble(phi))
        return self._frozen

    def transport_matrix(self, field: np.ndarray) -> sp.csr_matrix:
        """The matrix A with ρ' = Aρ for the transport part, h = ``field`` (cached)."""
        return self.frozen(field).matrix

    def transport_rhs(self, rho: np.ndarray, field: np.ndarray) -> np.ndarray:
        """γ∇·(ρ∇g) as the transport matrix applied to ρ."""
        return self.transport_matrix(field) @ rho

    def exponential_path(self, frozen: FrozenTransport, tau: float) -> str:
        """The path of e^{τA} for ``scheme = "expm"`` (module docstring), else the scheme."""
        if self.scheme in EXPONENTIAL_PATHS:
            return self.scheme
        moving = not self.linear and frozen.uses < 2
        spread = np.ptp(frozen.phi) / self.sigma if self.sigma > 0 else np.inf
        if not moving and self.grid.size <= EIGEN_CELLS and spread <= EIGEN_RANGE:
            return "eigen"
        norm = tau * frozen.norm
        threshold = RATIONAL_NORM_MOVING if moving else RATIONAL_NORM
        if self.grid.dim > 1:  # LU fill: only where expm_multiply would be refused
            threshold = EXPM_MULTIPLY_NORM if self.grid.dim == 2 else np.inf
        if norm > threshold and spread <= RATIONAL_RANGE:
            return "rational"
        if norm > EXPM_MULTIPLY_NORM:
            raise NumericalError(
                f"transport step too stiff for an exact exponential: |tau A|_1 = {norm:.3g} with "
                f"a Gibbs state spanning e^{spread:.3g}; reduce dt or use scheme 'implicit_euler'"
            )
        return "expm_multiply"

    def exponential(self, rho: np.ndarray, tau: float, frozen: FrozenTransport) -> np.ndarray:
        """e^{τA}ρ by the path :meth:`exponential_path` chooses."""
        path = self.exponential_path(frozen, tau)
        if path == "eigen":
            if frozen.eigen is None:
                frozen.eigen = SymmetricExponential(frozen.matrix, self.gibbs_root(frozen.phi))
            return frozen.eigen.apply(rho, tau)
        if path == "rational":
            if tau not in frozen.rational:
                frozen.rational = {tau: RationalExponential(frozen.matrix, tau)}
            return frozen.rational[tau].apply(rho)
        return expm_multiply_deterministic(tau * frozen.matrix, rho)

    def gibbs_root(self, phi: np.ndarray) -> np.ndarray:
        """s = e^{−(Φ − min Φ)/(2σ)}, the square root of the Gibbs state (max 1)."""
        if self.sigma <= 0:
            raise InputError("the eigen transport path needs sigma > 0")
        s = np.exp(-(phi - phi.min()) / (2 * self.sigma))
        if s.min() < 1e-150:
            raise NumericalError(
                f"eigen transport path: the Gibbs state spans e^{np.ptp(phi) / self.sigma:.3g}, "
                "beyond double precision (use scheme 'rational' or 'expm')"
            )
        return s

    def transport(self, rho: np.ndarray, tau: float, field: np.ndarray) -> np.ndarray:
        """Transport-diffusion substep of length τ for frozen h (module docstring)."""
        if not self.gamma:
            return rho
        frozen = self.frozen(field)
        frozen.uses += 1
        if self.scheme == "implicit_euler":
            identity = sp.identity(self.grid.size, format="csc")
            out = spsolve(identity - tau * frozen.matrix.tocsc(), rho)
        else:
            out = self.exponential(rho, tau, frozen)
        # e^{τA} and (I − τA)^{-1} are non-negative matrices; negative entries can only be
        # round-off (of expm_multiply, of the rational approximation, 3e-14 relative, or of the
        # eigenvectors) of densities that are zero to working precision relative to the maximum.
        if not np.all(np.isfinite(out)):
            raise NumericalError("transport step produced a non-finite density")
        if out.min() < -1e-12 * out.max():
            raise NumericalError(f"transport step produced a negative density ({out.min():.3e})")
        out = np.maximum(out, 1e-300)
        # Every path conserves Σ w_i ρ_i up to round-off (zero column sums; r(0) = 1 − 3e-14 for
        # the rational one); the drift (~1e-15 per step, 4e-12 after 2000 steps on 256 cells
        # with expm_multiply) is removed here so that mass stays 1 to round-off on long runs.
        return out * ((self.weights @ rho) / (self.weights @ out))
