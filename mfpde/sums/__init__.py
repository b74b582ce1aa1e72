r"""Nonlocal sums S(x_i) = Σ_j c_j k(x_i, y_j), chosen by the structure of the kernel (MATH §2, §8).

Interactions ∫ W(·, y) μ(dy), game payoffs V_x[ν] = ∫ ℓ(·, y) ν(dy) and V_y[μ], and the
kernel smoothings K_h*μ of MATH §3.2 are all such sums, over the cells of a grid, the nodes of a
mesh or particles. :func:`pair_kernel` looks at k once and returns a :class:`PairKernel`;
:meth:`PairKernel.bind` attaches it to two point sets (:class:`~mfpde.quadrature.Quadrature`)
and returns an object with ``over_y(c, gradient)`` (S at the x's, and ∇_x S) and
``over_x(c, gradient)`` (T(y_j) = Σ_i c_i k(x_i, y_j)). The methods, in the order tried:

=============  ==========================================================  ===================
method         when                                                        cost of a sum
=============  ==========================================================  ===================
``fft``        k(x, y) = w(x − y) on one finite-volume grid: exact          O(n log n)
               circular FFT on periodic axes, zero-padded linear FFT on
               walled ones (:class:`~mfpde.sums.grid.GridConvolution`)
``fourier``    w(x − y) at points: Fourier coefficients of w (sampled, or  O(N + K^d log K)
               exact for the Gaussian smoothing kernels), NUFFT type 1 →
               ŵ → type 2; a walled axis is made periodic with period
               L + r where w has decayed below the tolerance by r < L
               (:mod:`mfpde.sums.tensor`)
``separable``  any smooth k on tensor boxes: Fourier (periodic) ×          O((N + M)·w^d + R²)
               Chebyshev (walled) coefficients from samples, truncated
               below the tolerance
``features``   kernels given by their features (polynomial payoffs,        O((N + M)·F)
               networks)
``direct``     anything else, and up to 2^22 pairs: stored rows (meshes),  O(NM), memory
               compiled exact loops (expressions) or row blocks            O(N + M) (or NM
               (callables), rows split over MPI ranks                      stored, meshes)
               (:mod:`mfpde.sums.direct`)
=============  ==========================================================  ===================

Every fast method is built to a relative ``tolerance`` (default 1e-10): its sums differ from
the direct sum by at most about ``tolerance`` × max|k| × Σ|c_j| (tests/test_sums.py checks
each against the direct sum). A sampled expansion is measured against k on random pairs before
it is used and dropped (for the next method) if it misses. The sphere S² is summed in the cube
[−1, 1]³ that holds it (S^{d−1} ⊂ R^d with d > 3 has no tensor bases: direct sums, or the
features a payoff brings, such as the sphere games), an unstructured mesh in the bounding box
of its nodes. Sampling needs k off the point sets, inside those boxes: expressions always allow
it, a Python callable only on a tensor domain (elsewhere it is summed directly).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mfpde.domains import Domain
from mfpde.errors import InputError
from mfpde.expressions import Expression
from mfpde.quadrature import Quadrature, bounding_box
from mfpde.sums.direct import DENSE_ENTRIES, DirectSum
from mfpde.sums.features import Features, FeatureSum, Monomials
from mfpde.sums.grid import GridConvolution
from mfpde.sums.tensor import Expansion, axes_of, expand, translation_invariant

__all__ = [
    "METHODS",
    "PairKernel",
    "pair_kernel",
    "feature_kernel",
    "Features",
    "FeatureSum",
    "Monomials",
    "DirectSum",
    "GridConvolution",
    "difference_function",
]

#: The ``method`` names a user may ask for ("auto" tries them in the order of the table).
METHODS = ("auto", "fourier", "separable", "direct")
#: Pairs sampled to decide whether k depends on x − y only.
_PAIRS = 512
#: Tensor (Fourier, Chebyshev) expansions are tried on boxes of at most this many axes.
_MAX_AXES = 3


class PairKernel:
    """k(x, y) on X × Y and the representation its structure allowed (module docstring).

    Binding to fewer than :data:`~mfpde.sums.direct.DENSE_ENTRIES` pairs sums exactly (stored
    rows) unless a fast ``method`` was ``requested`` by name. ``direct(x, y, comm)``, if given,
    makes the direct sums (the smoothing kernels' fused
    loops, :mod:`mfpde.sums.gaussian`) in place of :class:`~mfpde.sums.direct.DirectSum`.

    Attributes
    ----------
    method : str
        ``"fourier"``, ``"separable"``, ``"features"`` or ``"direct"`` (at points); on a grid a
        translation-invariant kernel binds to ``"fft"`` instead.
    translation : bool
        Whether k(x, y) = w(x − y) on one box (checked on sampled pairs).
    """

    def __init__(self, k: Callable | None, box_x: Domain, box_y: Domain, *, method: str,
                 translation: bool = False, expansion: Expansion | None = None,
                 features: tuple[Features, object, Features] | None = None,
                 direct: Callable | None = None, requested: str = "auto",
                 name: str = "kernel"):  # fmt: skip
        self.k, self.box_x, self.box_y, self.direct, self.name = k, box_x, box_y, direct, name
        self.method, self.translation, self.requested = method, translation, requested
        if expansion is not None:
            features = (expansion.phi, expansion.coupling, expansion.psi)
        self.features = features
        self.scale = float(max(box_x.lengths.max(), box_y.lengths.max()))

    def bind(self, x: Quadrature, y: Quadrature) -> FeatureSum | GridConvolution | DirectSum:
        """The sums between the points of ``x`` (first argument) and ``y`` (second)."""
        if self.translation and x.same_grid(y):
            return GridConvolution(self.k, x.grid, self.name)
        small = self.k is not None and x.size * y.size <= DENSE_ENTRIES
        if (
            self.features is not None
            and self.method != "direct"
            and not (small and self.requested == "auto")
        ):
            phi, coupling, psi = self.features
            return FeatureSum(phi, coupling, psi, x.points, y.points)
        if self.direct is not None:
            return self.direct(x.points, y.points, x.comm)
        reuse = x.reuse and y.reuse
        return DirectSum(self.k, x.points, y.points, self.scale, x.comm, reuse, self.name)

    def sum(self, x: np.ndarray, y: np.ndarray, strengths: np.ndarray, gradient: bool = False):
        """S(x_i) = Σ_j c_j k(x_i, y_j) (and ∇_x S) at bare points: :meth:`bind` + ``over_y``."""
        qx = Quadrature(x, np.ones(len(x)), reuse=False)
        qy = Quadrature(y, np.ones(len(y)), reuse=False)
        return self.bind(qx, qy).over_y(np.asarray(strengths, dtype=float), gradient)


def _same(a, b) -> bool:
    """Whether two domains are equal (identity for those without a value equality)."""
    if a is b:
        return True
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # e.g. meshes compare arrays
        return False


def _realise(s: np.ndarray, box: Domain) -> tuple[np.ndarray, np.ndarray]:
    """Two points a, b of the box with a − b = s (mod the period on periodic axes), |s| ≤ L."""
    lo = np.asarray(box.lower)
    periodic = np.asarray(box.periodic)
    wrapped = np.mod(s, box.lengths)
    a = lo + np.where(periodic, wrapped, np.maximum(s, 0.0))
    b = lo + np.where(periodic, 0.0, np.maximum(-s, 0.0))
    return a, b


def difference_function(k: Callable, box: Domain) -> Callable[[np.ndarray], np.ndarray]:
    """w(s) = k(a, b) for points a − b = s of the box (for a translation-invariant k)."""

    def w(s: np.ndarray) -> np.ndarray:
        a, b = _realise(np.asarray(s, dtype=float), box)
        return np.asarray(k(a, b), dtype=float)

    return w


def _samples(box: Domain, rng: np.random.Generator, m: int) -> np.ndarray:
    return np.asarray(box.lower) + box.lengths * rng.random((m, box.dim))


def _is_translation_invariant(k: Callable, box: Domain) -> bool:
    rng = np.random.default_rng(0)
    x, y = _samples(box, rng, _PAIRS), _samples(box, rng, _PAIRS)
    direct = np.asarray(k(x, y), dtype=float)
    shifted = np.asarray(difference_function(k, box)(x - y), dtype=float)
    if not (np.all(np.isfinite(direct)) and np.all(np.isfinite(shifted))):
        return False
    scale = max(float(np.abs(direct).max()), np.finfo(float).tiny)
    return bool(np.abs(direct - shifted).max() <= 1e-12 * scale)


def _periods(w: Callable, box: Domain, tolerance: float) -> list[float] | None:
    """The period per axis of a Fourier sum of w: L (periodic), L + r (walled, w decayed by r).

    r is the smallest sampled |s_a| beyond which |w| ≤ tolerance/10 × max|w| (over the other
    offsets, 64 samples per axis of [−L, L]); None if w has not decayed inside the box.
    """
    n = max(8, int(round((2**20) ** (1 / box.dim))) // 2 * 2)
    n = min(n, 64)
    grids = [
        np.linspace(0, L, n // 2 + 1) if p else np.linspace(-L, L, n + 1)
        for L, p in zip(box.lengths, box.periodic)
    ]
    s = np.stack(np.meshgrid(*grids, indexing="ij"), axis=-1)
    values = np.abs(w(s))
    if not np.all(np.isfinite(values)):
        return None
    small = values <= 0.1 * tolerance * values.max()
    periods = []
    for a, (L, p) in enumerate(zip(box.lengths, box.periodic)):
        if p:
            periods.append(float(L))
            continue
        offsets = np.abs(grids[a])
        tail = np.moveaxis(small, a, 0)
        beyond = [float(r) for r in np.unique(offsets) if tail[offsets >= r].all()]
        r = min(beyond) if beyond else np.inf
        if not r < L:
            return None
        periods.append(float(L + r))
    return periods


def pair_kernel(
    k: Callable,
    domain_x,
    domain_y=None,
    *,
    method: str = "auto",
    tolerance: float = 1e-10,
    name: str = "kernel",
) -> PairKernel:
    """Choose the sums of k(x, y) on X × Y (module docstring); ``domain_y`` defaults to X.

    Parameters
    ----------
    k : Expression or callable
        k(x, y) on broadcasting point arrays of shapes (..., d_x), (..., d_y).
    domain_x, domain_y : Domain, Sphere or mesh
        X and Y.
    method : {"auto", "fourier", "separable", "direct"}
        "auto" takes the first of the table that applies; another name insists on it (an
        :class:`~mfpde.errors.InputError` if the kernel does not allow it).
    tolerance : float
        Relative accuracy of the fast sums, in [1e-14, 1e-2].
    name : str
        What k is called in error messages (``"interaction"``, ``"payoff"``).
    """
    if method not in METHODS:
        raise InputError(f"unknown {name} sum {method!r} (choose from {', '.join(METHODS)})")
    if isinstance(tolerance, bool) or not (
        isinstance(tolerance, (int, float)) and 1e-14 <= tolerance <= 1e-2
    ):
        raise InputError(
            f"{name} sum tolerance must be a number in [1e-14, 1e-2], got {tolerance!r}"
        )
    same = domain_y is None or _same(domain_x, domain_y)
    domain_y = domain_x if domain_y is None else domain_y
    box_x, box_y = bounding_box(domain_x), bounding_box(domain_y)
    if max(box_x.dim, box_y.dim) > _MAX_AXES:  # e.g. S^{d−1} ⊂ R^d, d > 3: no tensor bases
        if method not in ("auto", "direct"):
            raise InputError(
                f'the {name} has no "{method}" sum on points of dimension '
                f"{max(box_x.dim, box_y.dim)} > {_MAX_AXES} (use auto or direct)"
            )
        return PairKernel(k, box_x, box_y, method="direct", requested=method, name=name)
    # Sampling off the point sets needs k defined on the whole box (module docstring).
    samplable = isinstance(k, Expression) or (
        isinstance(domain_x, Domain) and isinstance(domain_y, Domain)
    )
    translation = same and samplable and _is_translation_invariant(k, box_x)
    if method in ("auto", "fourier") and translation:
        w = difference_function(k, box_x)
        periods = _periods(w, box_x, tolerance)
        if periods is not None:
            expansion = translation_invariant(w, periods, list(box_x.lower), tolerance)
            if expansion is not None:
                return PairKernel(k, box_x, box_y, method="fourier", translation=True,
                                  expansion=expansion, requested=method, name=name)  # fmt: skip
    if method == "fourier":
        raise InputError(
            f'the {name} has no "fourier" sum: it is not a function of x − y that is periodic '
            "or decays inside the domain (use auto, separable or direct)"
        )
    if method in ("auto", "separable") and samplable:
        expansion = expand(k, axes_of(box_x), axes_of(box_y), tolerance)
        if expansion is not None:
            return PairKernel(k, box_x, box_y, method="separable", translation=translation,
                              expansion=expansion, requested=method, name=name)  # fmt: skip
    if method == "separable":
        raise InputError(
            f'the {name} has no "separable" sum within the sample budget at tolerance '
            f"{tolerance:g} (use auto or direct)"
        )
    return PairKernel(k, box_x, box_y, method="direct", translation=translation,
                      requested=method, name=name)  # fmt: skip


def feature_kernel(phi: Features, coupling, psi: Features, domain_x, domain_y=None) -> PairKernel:
    """The kernel k(x, y) = φ(x)ᵀ C ψ(y) of given features (method ``"features"``)."""
    domain_y = domain_x if domain_y is None else domain_y
    return PairKernel(None, bounding_box(domain_x), bounding_box(domain_y), method="features",
                      features=(phi, coupling, psi))  # fmt: skip
