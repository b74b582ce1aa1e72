r"""Pseudo-spectral transport: spectral accuracy for smooth problems on tensor boxes.

The transport-diffusion part of the flow (MATH §3), γ∇·(σ∇ρ + ρ∇Φ) = γσ ∇·(m ∇(ρ/m)) with the
Gibbs state m ∝ e^{−Φ/σ} of the frozen potential Φ = h − σ log π, is collocated at the nodes of
a tensor grid with one differentiation matrix D_k per axis:

- a periodic axis: equispaced nodes (the cell centres of :class:`~mfpde.fv.grid.Grid`), the
  trapezoidal weights and the Fourier matrix (the derivative of the trigonometric interpolant;
  the Nyquist mode of an even axis is dropped, so D_k is real and skew-symmetric);
- a walled axis: the n Legendre-Gauss-Lobatto nodes (both walls and the roots of P′_{n−1}),
  their weights and the Lobatto derivative (Canuto, Hussaini, Quarteroni & Zang, *Spectral
  Methods* (2006), §2.3), which satisfy summation by parts exactly:
  W D_k + D_kᵀ W = diag(−1, 0, …, 0, 1).

On a periodic grid the Gibbs-weighted form

    A = γσ Σ_k D_k diag(m) D_k diag(m)^{-1}

has 1ᵀW A = 0 (mass), A m = 0 (the Gibbs state is the exact discrete equilibrium, D_k 1 = 0) and
W A diag(m) = −γσ Σ_k D_kᵀ W diag(m) D_k symmetric negative semi-definite, so A is similar to a
symmetric matrix (``FlowOperator.symmetriser``) whose exponential is well conditioned. With walls
the weights m/m' between distant nodes reach e^{spread} and a global polynomial mixes them, so
the flux is collocated directly, with P_k the identity except for zeros at the wall nodes of axis
k (no flux through the walls, J·n = 0):

    A = γ Σ_k D_k P_k (σ D_k + diag(D_k Φ)),

whose entries stay O(σn⁴/L² + |∇Φ| n²/L); 1ᵀW A = 0 still holds exactly (Σ_i w_i (D_k v)_i =
v_n − v_1 = 0 for a flux v vanishing at the walls), the Gibbs state is an equilibrium to
spectral accuracy. e^{τA} is computed exactly: axis by axis when Φ is separable (the separable
path of :mod:`mfpde.fv.exponential`, then up to :data:`SEPARABLE_NODES` nodes per axis in any
dimension; in 1-D always), else on the whole grid (the eigen path of the symmetric form on
periodic grids, one dense :func:`scipy.linalg.expm` with walls). The error is spectral (faster
than any power of 1/n for smooth data; measured by ``tests/test_spectral.py`` and
``tests/test_fast_transport.py``), but A is not an M-matrix: positivity is not guaranteed. A
negative density is clipped to zero and the mass restored
(:meth:`SpectralFlowOperator.check_negative`), which at most doubles the step's L¹ error, or,
beyond a negative mass of :data:`NEGATIVE_MASS` (an under-resolved solution), stops the run
(:class:`~mfpde.errors.NumericalError`). The Scharfetter-Gummel finite volumes of
:mod:`mfpde.fv.operator` stay the default.

Two spaces of :func:`mfpde.solve` use this operator: ``"fourier"`` on the cells of a periodic
:class:`~mfpde.fv.grid.Grid` (so that convolutions keep their exact FFT sums) and ``"legendre"``
on a :class:`LobattoGrid` (Lobatto nodes on walled axes, Fourier on periodic ones). The
reaction part is pointwise, as for the finite volumes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import scipy.sparse as sp
from scipy.special import eval_legendre, roots_jacobi

from mfpde.domains import Domain
from mfpde.errors import InputError, NumericalError
from mfpde.fv.exponential import AxisExponential, SeparableExponential
from mfpde.fv.grid import Grid
from mfpde.fv.operator import FlowOperator, FrozenTransport

__all__ = [
    "SpectralAxis",
    "LobattoGrid",
    "SpectralFlowOperator",
    "fourier_derivative",
    "lobatto",
    "DENSE_NODES",
    "SEPARABLE_NODES",
]

#: Largest negative mass Σ_i w_i max(−ρ_i, 0) a spectral step clips (module docstring).
NEGATIVE_MASS = 1e-3
#: Largest periodic grid of a non-separable potential (a dense eigendecomposition per field).
DENSE_NODES = 4096
#: Largest walled grid of a non-separable potential (a dense scipy.linalg.expm per step length:
#: about a second at 1024 nodes).
WALLED_DENSE_NODES = 1024
#: Largest axis of a separable potential (a dense exponential per axis).
SEPARABLE_NODES = 1024


def fourier_derivative(cells: int, period: float) -> np.ndarray:
    """The (cells, cells) Fourier differentiation matrix of equispaced nodes on one period."""
    k = np.fft.fftfreq(cells, d=period / (2 * np.pi * cells))
    if cells % 2 == 0:
        k[cells // 2] = 0.0  # the Nyquist mode has no real derivative
    identity = np.eye(cells)
    return np.real(np.fft.ifft(1j * k[:, None] * np.fft.fft(identity, axis=0), axis=0))


@dataclass(frozen=True)
class SpectralAxis:
    """Nodes, quadrature weights, differentiation matrix and wall mask of one axis (read-only:
    the axes of a size are built once and shared)."""

    nodes: np.ndarray
    weights: np.ndarray
    derivative: np.ndarray
    walled: bool

    def __post_init__(self) -> None:
        for array in (self.nodes, self.weights, self.derivative):
            array.setflags(write=False)

    @property
    def interior(self) -> np.ndarray:
        """P_k of the module docstring as a vector: 0 at the wall nodes, 1 elsewhere."""
        mask = np.ones(len(self.nodes))
        if self.walled:
            mask[[0, -1]] = 0.0
        return mask


@cache
def lobatto(n: int, lower: float, upper: float) -> SpectralAxis:
    """The n Legendre-Gauss-Lobatto nodes of [lower, upper], their weights and derivative.

    The interior nodes are the Gauss-Jacobi(1, 1) nodes (roots of P′_{n−1}, by the
    Golub-Welsch algorithm of :func:`scipy.special.roots_jacobi`), w_i = 2/(n(n−1)P_{n−1}(x_i)²)
    and D_ij = P_{n−1}(x_i)/(P_{n−1}(x_j)(x_i − x_j)) off the diagonal, the diagonal set so that
    each row sums to zero (D 1 = 0 to round-off), all scaled from [−1, 1].
    """
    x = np.concatenate([[-1.0], roots_jacobi(n - 2, 1.0, 1.0)[0], [1.0]])
    p = eval_legendre(n - 1, x)
    weights = 2.0 / (n * (n - 1) * p**2)
    with np.errstate(divide="ignore"):
        derivative = (p[:, None] / p[None, :]) / (x[:, None] - x[None, :])
    np.fill_diagonal(derivative, 0.0)
    np.fill_diagonal(derivative, -derivative.sum(axis=1))
    half = 0.5 * (upper - lower)
    return SpectralAxis(lower + half * (x + 1.0), half * weights, derivative / half, True)


@cache
def _fourier_axis(n: int, lower: float, upper: float) -> SpectralAxis:
    h = (upper - lower) / n
    return SpectralAxis(
        lower + (np.arange(n) + 0.5) * h, np.full(n, h), fourier_derivative(n, upper - lower), False
    )


def _axes_of(domain: Domain, shape: tuple[int, ...]) -> list[SpectralAxis]:
    return [
        (_fourier_axis if periodic else lobatto)(n, float(lo), float(hi))
        for n, lo, hi, periodic in zip(shape, domain.lower, domain.upper, domain.periodic)
    ]


class LobattoGrid:
    """Tensor grid of Lobatto nodes on walled axes and equispaced nodes on periodic ones.

    The quadrature of the ``"legendre"`` space: ``points`` (C order) and ``weights`` (products
    of the axes' Lobatto and trapezoidal weights, exact for polynomials of degree 2n − 3 on a
    walled axis).

    Parameters
    ----------
    domain : Domain
        Interval, box, torus, circle or a box with some periodic axes.
    cells : int or sequence of int
        Nodes per axis (at least 3).
    """

    def __init__(self, domain: Domain, cells: int | tuple[int, ...]):
        shape = tuple(np.broadcast_to(np.asarray(cells), (domain.dim,)).tolist())
        if not all(isinstance(n, int) and n >= 3 for n in shape):
            raise InputError(f"grid: need at least 3 nodes per axis, got {cells!r}")
        self.domain = domain
        self.shape: tuple[int, ...] = shape
        self.axes = _axes_of(domain, shape)
        mesh = np.meshgrid(*[a.nodes for a in self.axes], indexing="ij")
        self.points = np.stack([m.ravel() for m in mesh], axis=-1)
        weights = np.ones(1)
        for a in self.axes:
            weights = np.multiply.outer(weights, a.weights).ravel()
        self.weights = weights

    @property
    def size(self) -> int:
        """Number of nodes n."""
        return int(np.prod(self.shape))

    @property
    def dim(self) -> int:
        """Dimension d."""
        return self.domain.dim

    @property
    def periodic(self) -> bool:
        """True when every axis is periodic."""
        return all(self.domain.periodic)

    def integrate(self, values: np.ndarray) -> float:
        """Σ_i w_i f_i ≈ ∫ f dx."""
        return float(self.weights @ values)

    def __repr__(self) -> str:
        return f"LobattoGrid({self.domain.kind}, nodes={self.shape})"


def _kron_axis(matrix: np.ndarray, axis: int, shape: tuple[int, ...]) -> sp.csr_matrix:
    """I ⊗ … ⊗ M ⊗ … ⊗ I: ``matrix`` along ``axis`` of C-ordered nodes (sparse)."""
    out = sp.identity(1, format="csr")
    for k, n in enumerate(shape):
        out = sp.kron(out, matrix if k == axis else sp.identity(n), format="csr")
    return out


class SpectralFlowOperator(FlowOperator):
    """The flow operator of :class:`~mfpde.fv.operator.FlowOperator` with spectral transport.

    Same parameters; ``grid`` is a :class:`LobattoGrid` or a periodic
    :class:`~mfpde.fv.grid.Grid` (the ``"fourier"`` space), and the transport is exact in time
    (``scheme`` "expm", "eigen" or "separable"). A non-separable potential needs at most
    :data:`DENSE_NODES` nodes, a separable one at most :data:`SEPARABLE_NODES` per axis.
    """

    def __init__(
        self,
        grid: Grid | LobattoGrid,
        log_pi: np.ndarray,
        sigma: float,
        gamma: float,
        alpha: float,
        scheme: str = "expm",
        sigma_reaction: float | None = None,
    ):
        if isinstance(grid, LobattoGrid):
            self.axes = grid.axes
        elif grid.periodic:
            self.axes = _axes_of(grid.domain, grid.shape)
        else:
            raise InputError(
                f"space 'fourier' needs a periodic grid (torus, circle), got {grid}; "
                "space 'legendre' takes walls"
            )
        if max(grid.shape) > SEPARABLE_NODES:
            raise InputError(
                f"a spectral space has at most {SEPARABLE_NODES} nodes per axis, got {grid.shape}"
            )
        if scheme not in ("expm", "eigen", "separable"):
            raise InputError(
                f"a spectral space advances transport exactly: scheme 'expm', got {scheme!r}"
            )
        super().__init__(grid, log_pi, sigma, gamma, alpha, scheme, sigma_reaction)
        #: Periodic on every axis: the Gibbs-weighted form (module docstring).
        self.gibbs_weighted = grid.periodic

    #: A spectral generator is dense, never the tridiagonal Scharfetter-Gummel one.
    tridiagonal = False

    def separable(self, phi: np.ndarray) -> SeparableExponential | None:
        """The separable path in every dimension (in 1-D the axis is the whole grid).

        A non-separable Φ on a walled grid is one dense factor, the whole grid (at most
        :data:`WALLED_DENSE_NODES` nodes); on a periodic one the eigen path (at most
        :data:`DENSE_NODES`).
        """
        if self.scheme == "eigen":
            return None
        out = self.kronecker(phi)
        limit = DENSE_NODES if self.gibbs_weighted else WALLED_DENSE_NODES
        if out is None and self.grid.size > limit:
            raise InputError(
                f"a spectral space with a non-separable potential is dense: at most {limit} "
                f"nodes, got {self.grid.size} (use space 'fv')"
            )
        if out is None and not self.gibbs_weighted:
            return SeparableExponential(
                [AxisExponential(self.assemble(phi).toarray(), None)], (self.grid.size,)
            )
        return out

    def exponential_path(self, frozen: FrozenTransport, tau: float) -> str:
        """ "separable" when Φ is, else "eigen" (the operator is dense)."""
        return "separable" if frozen.separable is not None else "eigen"

    def check_negative(self, out: np.ndarray) -> np.ndarray:
        r"""Clip the negative values of a spectral step (the caller restores the mass).

        They exist only where the pointwise error is at least as large (the exact density is
        positive), so clipping does not increase the error anywhere, and restoring the mass
        1 + ε, ε = Σ_i w_i max(−ρ_i, 0) ≤ ‖ρ_h − ρ‖₁, adds at most ε: the clipped step's L¹ error
        is at most twice the unclipped one. A negative mass beyond :data:`NEGATIVE_MASS` is an
        under-resolved solution: NumericalError.
        """
        negative = float(self.weights @ np.maximum(-out, 0.0))
        if negative > NEGATIVE_MASS:
            raise NumericalError(
                f"spectral transport step under-resolved: negative mass {negative:.3g} > "
                f"{NEGATIVE_MASS:g} (use more nodes, or space 'fv')"
            )
        return np.maximum(out, 0.0)

    def axis_generator(self, axis: int, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A_k = γσ D_k P_k diag(m_k) D_k diag(m_k)^{-1} on one axis, and its weights."""
        a = self.axes[axis]
        return self._generator([a.derivative], [a.interior], phi), a.weights

    def assemble(self, phi: np.ndarray) -> np.ndarray:
        """A = γσ Σ_k D_k P_k diag(m) D_k diag(m)^{-1} on the whole grid (module docstring)."""
        shape = self.grid.shape
        derivatives = [_kron_axis(a.derivative, k, shape) for k, a in enumerate(self.axes)]
        masks = [
            _kron_axis(np.diag(a.interior), k, shape).diagonal() for k, a in enumerate(self.axes)
        ]
        return self._generator(derivatives, masks, phi)

    def _generator(self, derivatives: list, masks: list, phi: np.ndarray):
        """The sum over axes of the module docstring's form; ``derivatives`` dense (one axis) or
        sparse (the whole grid)."""
        scale = sp.diags if sp.issparse(derivatives[0]) else np.diag
        if self.gibbs_weighted:  # γσ Σ_k D_k P_k M D_k M^{-1}
            m = self.gibbs_root(phi) ** 2
            flux = sum(
                d @ (scale(mask * m) @ (d @ scale(1.0 / m))) for d, mask in zip(derivatives, masks)
            )
            return (self.gamma * self.sigma) * flux
        # γ Σ_k D_k P_k (σ D_k + diag(D_k Φ))
        flux = sum(
            d @ (scale(mask) @ (self.sigma * d + scale(d @ phi)))
            for d, mask in zip(derivatives, masks)
        )
        return self.gamma * flux
