r"""P1 finite-element flow operator (γ, α): Slotboom transport, shared reaction (MATH §8).

For one measure with density ρ and a field h (δF/δμ, MATH §3), g = h + σ log(ρ/π):

    ∂_t ρ = γ ∇·(ρ ∇g) − α ρ (g − ⟨g⟩_ρ).

*Transport-diffusion.* With h frozen over a step, γ∇·(ρ∇g) = γσ ∇·(π_g ∇u) in the Slotboom
variable u = ρ/π_g, π_g = π e^{−h/σ} (normalised). P1 elements with the lumped mass
M_L = diag(w) and the edge-averaged (exponentially fitted) stiffness matrix

    K[π_g]_ij = ω_ij K⁰_ij (i ≠ j),   K[π_g]_ii = −Σ_{j≠i} K[π_g]_ij,   K⁰_ij = ∫ ∇φ_i·∇φ_j dx,

with ω_ij = (∫_0^1 ds / π_g(s))^{-1} = π_i π_j / LM(π_i, π_j) the harmonic mean of π_g along the
edge ij when log π_g is linear on it (LM the logarithmic mean; Xu & Zikatanov 1999, "EAFE"): the
P1 analogue of the Scharfetter-Gummel fluxes of the finite volumes, exact for the equilibrium
flux along an edge however fast π_g varies (small σ: at σ = 0.1 the Langevin-DA sphere game
converges at order ≈ 1.8 from icosphere(3), where the P1 interpolant of π_g in ∫ π_g ∇φ_i·∇φ_j
gave order ≈ 0.3 until icosphere(5)). They give the semi-discrete generator
M_L ρ' = −γσ K[π_g] (ρ/π_g), and backward Euler over τ

    (M_L diag(π_g) + τγσ K[π_g]) u^{n+1} = M_L ρ^n,   ρ^{n+1} = π_g u^{n+1}.

The matrix is symmetric positive definite (ω_ij = ω_ji > 0); 1ᵀK = 0 conserves the mass
Σ_i w_i ρ_i exactly;
u = const (ρ ∝ π_g, the discrete Gibbs state) is an exact fixed point; on meshes whose stiffness
matrix is an M-matrix (non-obtuse, e.g. :func:`~mfpde.fem.meshes.box_mesh`, the icosphere) the
step is positivity preserving. First order in time (use τ ∝ h² in order studies), second order
in space in L². The matrix is assembled by DOLFINx and solved by PETSc (LU, MUMPS) over the
space's communicator; its factorisation is reused while (h, τ) are unchanged.

*Reaction.* Pointwise in log-variables with the lumped weights, inherited from
:class:`mfpde.operator.FlowOperatorBase` (the same code as the finite volumes; exact for E1).
"""

from __future__ import annotations

import dolfinx.fem.petsc
import numpy as np
import scipy.sparse as sp
import ufl
from dolfinx import fem
from petsc4py import PETSc

from mfpde.errors import InputError, NumericalError
from mfpde.fem.space import P1Space
from mfpde.lyapunov import spectral_gap
from mfpde.operator import FlowOperatorBase

__all__ = ["P1FlowOperator"]


class P1FlowOperator(FlowOperatorBase):
    """One measure's flow ∂_t ρ = γ∇·(ρ∇g) − αρ(g − ⟨g⟩_ρ) with P1 elements (module docstring).

    Same interface as :class:`mfpde.fv.operator.FlowOperator` (``weights``, ``g``, ``rhs``,
    ``reaction``, ``transport``), on global density vectors of a :class:`P1Space`, so
    :class:`mfpde.stepper.System`, the observers and the Gibbs minimiser work unchanged.

    Parameters
    ----------
    space : P1Space
        The distributed P1 space; its lumped masses are the weights.
    log_pi : ndarray
        log of the normalised reference density at the nodes (global order).
    sigma, gamma, alpha : float
        Entropy weight and the rates of MATH §3; transport needs σ > 0.
    scheme : {"implicit_euler"}
        The only transport scheme (backward Euler in the Slotboom variable).
    sigma_reaction : float, optional
        Entropy weight of the reaction (default σ; 0 for a kernelised field,
        :func:`mfpde.kernels.solve_kernelised`).
    """

    def __init__(
        self,
        space: P1Space,
        log_pi: np.ndarray,
        sigma: float,
        gamma: float,
        alpha: float,
        scheme: str = "implicit_euler",
        sigma_reaction: float | None = None,
    ):
        if scheme != "implicit_euler":
            raise InputError(
                f"the dolfinx backend's transport scheme is 'implicit_euler', got {scheme!r}"
            )
        if gamma and not sigma > 0:
            raise InputError(
                "a flow with transport (gamma > 0) needs sigma > 0 (Slotboom form); "
                "for sigma = 0 use the upwind operator (mfpde.fem.UpwindFlowOperator)"
            )
        super().__init__(space.weights, log_pi, sigma, gamma, alpha, sigma_reaction)
        self.space, self.scheme = space, scheme
        u, v = ufl.TrialFunction(space.V), ufl.TestFunction(space.V)
        form = fem.form(ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx)
        # K⁰ once; K[π_g] and the system matrix (same sparsity) and one LU solver are refilled
        # when the field or τ change: PETSc then redoes only the numerical factorisation.
        self._stiffness = dolfinx.fem.petsc.assemble_matrix(form)
        self._stiffness.assemble()
        self._system = self._stiffness.duplicate(copy=True)
        indptr, columns, values = self._stiffness.getValuesCSR()
        self._csr = (indptr, columns, values.copy())
        owned_rows = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
        self._row_of_entry = owned_rows
        self._ends = (
            space.global_index[: space.n_owned][owned_rows],  # i of each entry, global order
            space._petsc_to_global[columns],  # j of each entry, global order
        )
        self._diagonal = self._ends[0] == self._ends[1]
        self._ksp = PETSc.KSP().create(space.comm)
        self._ksp.setType("preonly")
        self._ksp.getPC().setType("lu")
        self._ksp.getPC().setFactorSolverType("mumps")
        self._x, self._y = space.petsc_vector(), space.petsc_vector()  # work vectors
        self._assembled: tuple[np.ndarray, np.ndarray] | None = None  # (field, π_g) of K
        self._factorised: tuple[np.ndarray, float] | None = None  # (field, τ) of the LU

    def slotboom_weight(self, field: np.ndarray) -> np.ndarray:
        """π_g = π e^{−h/σ}, scaled to maximum 1 (the scale cancels in the scheme)."""
        log_pi_g = self.log_pi - field / self.sigma
        return np.exp(log_pi_g - log_pi_g.max())

    def edge_weights(self, log_pi_g: np.ndarray) -> np.ndarray:
        """ω_ij = π_i π_j / LM(π_i, π_j) = e^{min(l_i, l_j)} d/(1 − e^{−d}), d = |l_i − l_j|,
        l = log π_g, for every stored entry (i, j) of K⁰ (module docstring; no overflow)."""
        left, right = log_pi_g[self._ends[0]], log_pi_g[self._ends[1]]
        d = np.abs(left - right)
        with np.errstate(invalid="ignore", divide="ignore"):
            bernoulli = np.where(d > 1e-12, d / -np.expm1(-d), 1.0 + d / 2)
        return np.exp(np.minimum(left, right)) * bernoulli

    def _assemble(self, field: np.ndarray) -> np.ndarray:
        """Fill K[π_g] for ``field`` unless it was the last one (linear energies); π_g."""
        if self._assembled is None or self._assembled[0] is not field:
            pi_g = self.slotboom_weight(field)
            indptr, columns, stiffness = self._csr
            values = stiffness * self.edge_weights(np.log(pi_g))
            values[self._diagonal] = 0.0
            row_sums = np.bincount(self._row_of_entry, weights=values, minlength=len(indptr) - 1)
            values[self._diagonal] = -row_sums[self._row_of_entry[self._diagonal]]
            self._stiffness.setValuesCSR(indptr, columns, values)
            self._stiffness.assemble()
            self._assembled = (field, pi_g)
        return self._assembled[1]

    def transport_rhs(self, rho: np.ndarray, field: np.ndarray) -> np.ndarray:
        """γ∇·(ρ∇g) ≈ −γσ M_L^{-1} K[π_g] (ρ/π_g): one distributed product and a gather.

        Σ_i w_i (transport_rhs)_i = 0 (mass), and it vanishes at ρ ∝ π_g (equilibrium).
        """
        pi_g = self._assemble(field)
        self._stiffness.mult(self.space.scatter(rho / pi_g, self._x), self._y)
        return -self.gamma * self.sigma * self.space.gather(self._y.array_r) / self.weights

    def transport_matrix(self, field: np.ndarray) -> sp.csr_matrix:
        """The generator A = −γσ M_L^{-1} K[π_g] diag(1/π_g) (ρ' = Aρ) as a global scipy matrix."""
        pi_g = self._assemble(field)
        stiffness = self.space.gather_matrix(self._stiffness)
        scale = -self.gamma * self.sigma
        return (sp.diags(scale / self.weights) @ stiffness @ sp.diags(1 / pi_g)).tocsr()

    def spectral_gap(self, field: np.ndarray) -> float:
        """λ₁ = γσ × the least non-zero eigenvalue of K[π_g] v = λ M_L diag(π_g) v (MATH §5.3).

        :func:`mfpde.lyapunov.spectral_gap` symmetrises A by D^{-1/2} A D^{1/2}; with D =
        diag(π_g/w) this is −γσ (M_L Π_g)^{-1/2} K[π_g] (M_L Π_g)^{-1/2}, symmetric.
        """
        return spectral_gap(self.transport_matrix(field), self._assemble(field) / self.weights)

    def _factorise(self, field: np.ndarray, tau: float) -> np.ndarray:
        """Set the LU solver to M_L diag(π_g) + τγσ K[π_g] unless (field, τ) are unchanged."""
        pi_g = self._assemble(field)
        key = self._factorised
        if key is None or key[0] is not field or key[1] != tau:
            self._stiffness.copy(self._system, PETSc.Mat.Structure.SAME_NONZERO_PATTERN)
            self._system.scale(tau * self.gamma * self.sigma)
            diagonal = self.space.scatter(self.weights * pi_g, self._x)
            self._system.setDiagonal(diagonal, addv=PETSc.InsertMode.ADD_VALUES)
            self._ksp.setOperators(self._system)
            self._factorised = (field, tau)
        return pi_g

    def transport(self, rho: np.ndarray, tau: float, field: np.ndarray) -> np.ndarray:
        """Backward Euler step of length τ in the Slotboom variable (module docstring)."""
        if not self.gamma:
            return rho
        pi_g = self._factorise(field, tau)
        self._ksp.solve(self.space.scatter(self.weights * rho, self._x), self._y)
        if self._ksp.getConvergedReason() < 0:
            raise NumericalError(f"PETSc solve failed (reason {self._ksp.getConvergedReason()})")
        out = pi_g * self.space.gather(self._y.array_r)
        # On M-matrix meshes the step is positive; elsewhere allow round-off-sized negatives only.
        if out.min() < -1e-12 * out.max():
            raise NumericalError(f"transport step produced a negative density ({out.min():.3e})")
        return np.maximum(out, 1e-300)
