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
  factorisations reused while (A, τ) is frozen (tridiagonal ones on a walled 1-D grid);
- ``"expm_multiply"``: SciPy's Taylor series, ∝ ‖τA‖₁ sparse mat-vecs;
- ``"separable"``: for a separable Φ = Σ_k φ_k(x_k) on a 2-D or 3-D grid A is the Kronecker sum
  of 1-D generators and e^{τA} = ⊗_k e^{τA_k} exactly, one dense n_k × n_k product per axis
  (:class:`~mfpde.fv.exponential.SeparableExponential`); Φ is separable when it differs from
  the sum of its axis means by at most :data:`SEPARABLE_TOLERANCE` (σ + max Φ − min Φ).

``"expm"`` (the default) chooses by structure, size and stiffness
(:meth:`FlowOperator.exponential_path`): "separable" when Φ is, on axes of at most
:data:`SEPARABLE_AXIS_CELLS` cells; "eigen" for an operator used a second time (frozen) on at
most :data:`EIGEN_CELLS` cells whose Gibbs state spans at most e^{:data:`EIGEN_RANGE`}; else
"rational" once ‖τA‖₁ exceeds :data:`RATIONAL_NORM` (frozen) or :data:`RATIONAL_NORM_MOVING` (a
new field every step) and the Gibbs state spans at most e^{:data:`RATIONAL_RANGE`} (on a walled
1-D grid, where the solves are tridiagonal and O(n), always, and eigen only up to
:data:`TRIDIAGONAL_EIGEN_CELLS`; on 2-D grids only beyond :data:`EXPM_MULTIPLY_NORM`, on 3-D
grids never: LU fill), else "expm_multiply" up to ‖τA‖₁ = :data:`EXPM_MULTIPLY_NORM`. The cost
of all but the last does not grow with τ/h²; a step stiffer than all (a strong interaction with a
large dt) is refused at once with a :class:`~mfpde.errors.NumericalError` instead of running 10⁶
mat-vecs.

The reaction part is shared by all backends (:mod:`mfpde.operator`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as data_field
from functools import cached_property, partial

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve

from mfpde.domains import Domain
from mfpde.errors import InputError, NumericalError
from mfpde.fv.exponential import (
    AxisExponential,
    RationalExponential,
    SeparableExponential,
    SymmetricExponential,
    TridiagonalRationalExponential,
    expm_multiply_deterministic,
)
from mfpde.fv.grid import Faces, Grid
from mfpde.operator import FlowOperatorBase

__all__ = ["FlowOperator", "bernoulli", "TRANSPORT_SCHEMES", "EXPONENTIAL_PATHS"]

EXPONENTIAL_PATHS = ("separable", "eigen", "rational", "expm_multiply")
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
#: Largest walled 1-D grid of the eigen path. There the rational path's 7 tridiagonal solves are
#: O(n) (one thread, factorised: 0.034, 0.045, 0.065, 0.094 ms per step at 64, 128, 256, 512
#: cells, against 0.004, 0.007, 0.018, 0.093 ms for the eigen path's two dense mat-vecs), and
#: cheaper than expm_multiply at any ‖τA‖₁ (with the factorisation: 0.07 against 0.54 ms at 64
#: cells and ‖τA‖₁ = 0.5, 0.42 against 0.96 ms at 1024), so they are taken on every step except
#: on small grids from the second use of a field on (the eigendecomposition, 2 ms at 128 cells,
#: pays after ~50 steps).
TRIDIAGONAL_EIGEN_CELLS = 128
#: Largest axis of the separable path (a dense n_k × n_k exponential per axis: 0.2 s at 1024).
SEPARABLE_AXIS_CELLS = 1024
#: Relative distance of Φ to the sum of its axis means below which Φ is separable: the Gibbs
#: factors e^{−Φ/σ} of the two differ by at most this many ulps × (1 + spread), i.e. round-off.
SEPARABLE_TOLERANCE = 1e-12
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


def separable_parts(phi: np.ndarray, shape: tuple[int, ...], scale: float) -> list | None:
    """φ_k with Φ = Σ_k φ_k(x_k) + const on a tensor grid (the axis means), or None.

    None when Φ differs from that sum by more than :data:`SEPARABLE_TOLERANCE` × ``scale``.
    """
    values = phi.reshape(shape)
    d = len(shape)
    parts = [values.mean(axis=tuple(j for j in range(d) if j != k)) for k in range(d)]
    fit = sum(p.reshape([-1 if j == k else 1 for j in range(d)]) for k, p in enumerate(parts))
    residual = np.abs(values - fit + (d - 1) * values.mean()).max()
    return parts if residual <= SEPARABLE_TOLERANCE * scale else None


@dataclass(eq=False)
class FrozenTransport:
    """The transport generator A of one field h, Φ = h − σ log π, and the exponentials of A.

    ``uses`` counts the transport substeps with this same field array: from the second one on the
    operator is frozen (a linear energy) and a one-off factorisation pays. ``matrix`` is assembled
    when first needed (never on the separable path, where A is ``separable``'s Kronecker sum, nor
    on the rational path of a walled 1-D grid, which takes the three diagonals ``bands``).
    """

    field: np.ndarray
    phi: np.ndarray
    build: Callable[[], sp.csr_matrix | np.ndarray]
    separable: SeparableExponential | None = None
    bands: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    uses: int = 0
    eigen: SymmetricExponential | None = None
    rational: dict[float, RationalExponential | TridiagonalRationalExponential] = data_field(
        default_factory=dict
    )

    @cached_property
    def matrix(self) -> sp.csr_matrix | np.ndarray:
        """A."""
        return self.build()

    @property
    def norm(self) -> float:
        """‖A‖₁ = 2 max_i |A_ii| (zero column sums, non-negative off-diagonal entries)."""
        if self.separable is not None:
            return sum(2.0 * np.abs(a.generator.diagonal()).max() for a in self.separable.axes)
        diagonal = self.matrix.diagonal() if self.bands is None else self.bands[1]
        return 2.0 * float(np.max(np.abs(diagonal)))


def scharfetter_gummel(
    faces: Faces, size: int, phi: np.ndarray, gamma: float, sigma: float
) -> sp.csr_matrix:
    """The Scharfetter-Gummel matrix A of Φ on cells joined by ``faces`` (module docstring).

    Columns sum to zero (mass), off-diagonals are ≥ 0 (positivity).
    """
    dphi = phi[faces.right] - phi[faces.left]
    c_lr = gamma * faces.inv_h2 * _sigma_bernoulli(dphi, sigma)  # l → r
    c_rl = gamma * faces.inv_h2 * _sigma_bernoulli(-dphi, sigma)  # r → l
    rows = np.concatenate([faces.left, faces.right, faces.right, faces.left])
    cols = np.concatenate([faces.left, faces.right, faces.left, faces.right])
    vals = np.concatenate([-c_lr, -c_rl, c_lr, c_rl])
    return sp.csr_matrix((vals, (rows, cols)), shape=(size, size))


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

    #: Whether A is the Gibbs-weighted form whose entries span e^{spread} (pseudo-spectral,
    #: periodic): its axis exponentials then go through the symmetric form (AxisExponential).
    gibbs_weighted = False

    def assemble(self, phi: np.ndarray) -> sp.csr_matrix:
        """The Scharfetter-Gummel matrix A of the potential Φ (:func:`scharfetter_gummel`)."""
        return scharfetter_gummel(self.grid.faces, self.grid.size, phi, self.gamma, self.sigma)

    def axis_generator(self, axis: int, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The dense 1-D generator A_k of φ_k on ``axis`` and the axis' quadrature weights."""
        domain = self.grid.domain
        line = Grid(
            Domain(
                (domain.lower[axis],), (domain.upper[axis],), (domain.periodic[axis],),
                kind="interval",
            ),
            self.grid.shape[axis],
        )  # fmt: skip
        return self.generator_on(line, phi).toarray(), line.weights

    def generator_on(self, grid: Grid, phi: np.ndarray) -> sp.csr_matrix:
        """The Scharfetter-Gummel matrix of Φ on another grid (an axis of this one)."""
        return scharfetter_gummel(grid.faces, grid.size, phi, self.gamma, self.sigma)

    def separable(self, phi: np.ndarray) -> SeparableExponential | None:
        """The Kronecker form of e^{τA} when Φ is separable (module docstring), else None."""
        shape = self.grid.shape
        if self.scheme not in ("expm", "separable") or max(shape) > SEPARABLE_AXIS_CELLS:
            return None
        if len(shape) < 2 and self.scheme == "expm":
            return None  # 1-D: the tridiagonal paths are cheaper than a dense exponential
        return self.kronecker(phi)

    def kronecker(self, phi: np.ndarray) -> SeparableExponential | None:
        """⊗_k e^{τA_k} from the axis parts φ_k of Φ, or None if Φ is not separable."""
        parts = separable_parts(phi, self.grid.shape, self.sigma + np.ptp(phi))
        if parts is None:
            if self.scheme == "separable":
                raise InputError(
                    "scheme 'separable' needs a separable potential Phi = h - sigma*log(pi) "
                    "(a sum of functions of one coordinate each)"
                )
            return None
        axes = []
        for k, part in enumerate(parts):
            generator, weights = self.axis_generator(k, part)
            s = self.symmetriser(part, weights) if self.gibbs_weighted else None
            axes.append(AxisExponential(generator, s))
        return SeparableExponential(axes, self.grid.shape)

    def frozen(self, field: np.ndarray) -> FrozenTransport:
        """The generator of ``field`` with its exponentials, kept while the same array is passed."""
        if self._frozen is None or self._frozen.field is not field:
            phi = field - self.sigma * self.log_pi
            bands = self.bands(phi) if self.tridiagonal else None
            self._frozen = FrozenTransport(
                field, phi, partial(self.assemble, phi), self.separable(phi), bands
            )
        return self._frozen

    def bands(self, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The sub-, main and super-diagonal of A on a walled 1-D grid, without a sparse matrix
        (the same numbers as :func:`scharfetter_gummel`, 60 µs cheaper at 64 cells)."""
        dphi = np.diff(phi)
        inv_h2 = 1.0 / self.grid.h[0] ** 2
        c_lr = self.gamma * inv_h2 * _sigma_bernoulli(dphi, self.sigma)  # i → i + 1
        c_rl = self.gamma * inv_h2 * _sigma_bernoulli(-dphi, self.sigma)  # i + 1 → i
        main = np.zeros(len(phi))
        main[:-1] -= c_lr
        main[1:] -= c_rl
        return c_lr, main, c_rl

    def transport_matrix(self, field: np.ndarray) -> sp.csr_matrix:
        """The matrix A with ρ' = Aρ for the transport part, h = ``field`` (cached)."""
        return self.frozen(field).matrix

    def transport_rhs(self, rho: np.ndarray, field: np.ndarray) -> np.ndarray:
        """γ∇·(ρ∇g) as the transport matrix applied to ρ (axis by axis when separable)."""
        frozen = self.frozen(field)
        if frozen.separable is not None:
            return frozen.separable.matvec(rho)
        return frozen.matrix @ rho

    def exponential_path(self, frozen: FrozenTransport, tau: float) -> str:
        """The path of e^{τA} for ``scheme = "expm"`` (module docstring), else the scheme."""
        if self.scheme in EXPONENTIAL_PATHS:
            return self.scheme
        if frozen.separable is not None:
            return "separable"
        moving = not self.linear and frozen.uses < 2
        spread = np.ptp(frozen.phi) / self.sigma if self.sigma > 0 else np.inf
        cells = TRIDIAGONAL_EIGEN_CELLS if self.tridiagonal else EIGEN_CELLS
        if frozen.uses >= 2 and self.grid.size <= cells and spread <= EIGEN_RANGE:
            return "eigen"
        norm = tau * frozen.norm
        threshold = RATIONAL_NORM_MOVING if moving else RATIONAL_NORM
        if self.tridiagonal:
            threshold = 0.0
        elif self.grid.dim > 1:  # LU fill: only where expm_multiply would be refused
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
        if path == "separable":
            if frozen.separable is None:
                raise InputError(
                    f"scheme 'separable' takes at most {SEPARABLE_AXIS_CELLS} cells per axis"
                )
            return frozen.separable.apply(rho, tau)
        if path == "eigen":
            if frozen.eigen is None:
                s = self.symmetriser(frozen.phi, self.weights)
                frozen.eigen = SymmetricExponential(frozen.matrix, s)
            return frozen.eigen.apply(rho, tau)
        if path == "rational":
            if tau not in frozen.rational:
                frozen.rational = {tau: self.rational_exponential(frozen, tau)}
            return frozen.rational[tau].apply(rho)
        return expm_multiply_deterministic(tau * frozen.matrix, rho)

    def check_negative(self, out: np.ndarray) -> np.ndarray:
        """Raise NumericalError on a negative density beyond round-off, else return ``out``.

        e^{τA} and (I − τA)^{-1} are non-negative matrices; negative entries can only be
        round-off (of expm_multiply, of the rational approximation, 3e-14 relative, or of the
        eigenvectors) of densities that are zero to working precision relative to the maximum.
        """
        if out.min() < -1e-12 * out.max():
            raise NumericalError(f"transport step produced a negative density ({out.min():.3e})")
        return out

    @property
    def tridiagonal(self) -> bool:
        """True on a walled 1-D grid, where A is tridiagonal."""
        return self.grid.dim == 1 and not self.grid.domain.periodic[0]

    def rational_exponential(
        self, frozen: FrozenTransport, tau: float
    ) -> RationalExponential | TridiagonalRationalExponential:
        """The rational approximation of e^{τA}: tridiagonal solves on a walled 1-D grid."""
        if frozen.bands is not None:
            return TridiagonalRationalExponential(*frozen.bands, tau)
        return RationalExponential(frozen.matrix, tau)

    def symmetriser(self, phi: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """s with diag(s)^{-1} A diag(s) symmetric: (e^{−Φ/σ}/w)^{1/2}, up to scale.

        Detailed balance of A with respect to the Gibbs state m in the quadrature's inner product
        (W A M symmetric, W = diag(w)) makes the similarity by s = (m/w)^{1/2} symmetric; on a
        uniform grid s is the square root of the Gibbs state.
        """
        return self.gibbs_root(phi) / np.sqrt(weights / weights.max())

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
        if not np.all(np.isfinite(out)):
            raise NumericalError("transport step produced a non-finite density")
        out = np.maximum(self.check_negative(out), 1e-300)
        # Every path conserves Σ w_i ρ_i up to round-off (zero column sums; r(0) = 1 − 3e-14 for
        # the rational one); the drift (~1e-15 per step, 4e-12 after 2000 steps on 256 cells
        # with expm_multiply) is removed here so that mass stays 1 to round-off on long runs.
        return out * ((self.weights @ rho) / (self.weights @ out))
