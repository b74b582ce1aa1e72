"""Nonlocal sums S(x_i) = Σ_j c_j k(x_i, y_j) (:mod:`mfpde.sums`): each fast method against the
direct sum at the tolerance it was asked for.

The contract (:mod:`mfpde.sums`): a fast sum misses the direct sum by at most about
``tolerance`` × max|k| × Σ_j|c_j|. With positive strengths c_j ∈ [0.5, 1.5] the values S are not
near zero, so the tests assert the tighter max|S_fast − S_direct| ≤ tolerance × max|S_direct|, for
``over_y`` (S at the x's) and ``over_x`` (T at the y's), at the tolerances 1e-6, 1e-10 and the
default (1e-10). Gradients are asserted twice: against the contract's own scale, tolerance ×
max|∇k| × Σ|c|, and against the tighter tolerance × max|∇S_direct| (∇S of positive strengths
cancels: max|∇S| is 1/3 to 1/30 of max|∇k| Σ|c| here). The reference is the dense numpy sum of the
expression and of its exact symbolic gradient (:meth:`mfpde.expressions.Expression.gradient`),
the formula of the stored rows of :class:`mfpde.sums.DirectSum`. Every random test is seeded.

Two bugs this file found in :mod:`mfpde.sums.tensor` are fixed there: the mode 0 of a
Chebyshev axis was looked up at the wrong index (no separable sum existed on walled axes), and
the truncation kept too few modes for the gradients (it now weighs each mode by its growth under
d/dx, 2π|k|/P or 2k²/(b − a), with a margin of 0.01). Measured worst cases of this file, as
fractions of the bounds asserted: Fourier sums 0.09 (values), 0.13 (gradients against
tolerance × max|∇S|); separable sums 0.10 and 0.10.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np
import pytest

import mfpde
from mfpde.domains import Sphere
from mfpde.expressions import parse
from mfpde.games import sphere_game
from mfpde.kernels import Kernel
from mfpde.quadrature import Quadrature
from mfpde.sums import DirectSum, FeatureSum, GridConvolution, pair_kernel
from mfpde.sums.direct import DENSE_ENTRIES
from mfpde.sums.gaussian import GaussianDirectSum, von_mises_fisher

#: The requested tolerances; None asks for the default of :func:`mfpde.sums.pair_kernel`.
TOLERANCES = [1e-6, 1e-10, None]
DEFAULT_TOLERANCE = 1e-10
#: Targets and sources: a few hundred each (75 000 pairs, far below 2^22).
N, M = 300, 250

MIXED = mfpde.Domain((0.0, 0.0), (1.0, 2 * np.pi), (False, True))
MIXED_3D = mfpde.Domain((0.0, 0.0, 0.0), (1.0, 2 * np.pi, 1.0), (False, True, False))


def requested(tolerance: float | None) -> tuple[dict, float]:
    """The keyword of a requested tolerance (none for the default) and its value."""
    if tolerance is None:
        return {}, DEFAULT_TOLERANCE
    return {"tolerance": tolerance}, tolerance


def strengths(rng: np.random.Generator, n: int) -> np.ndarray:
    """Positive strengths, so that the sums are not near zero."""
    return rng.uniform(0.5, 1.5, n)


class Errors(NamedTuple):
    """max|fast − direct| of one direction, relative to the scales of the module docstring."""

    value: float  # / max|S_direct|
    gradient: float  # / max|∇S_direct|
    gradient_contract: float  # / (max|∇k| Σ|c|)


def dense_errors(bound, k, x: np.ndarray, y: np.ndarray, seed: int) -> dict[str, Errors]:
    """The errors of ``bound.over_y`` and ``bound.over_x`` against the dense numpy sums of k."""
    rng = np.random.default_rng(seed)
    c_y, c_x = strengths(rng, len(y)), strengths(rng, len(x))
    shape = (len(x), len(y))
    K = np.broadcast_to(k(x[:, None], y[None]), shape)
    grad_x = np.broadcast_to(k.gradient("x")(x[:, None], y[None]), (*shape, x.shape[1]))
    grad_y = np.broadcast_to(k.gradient("y")(x[:, None], y[None]), (*shape, y.shape[1]))
    exact = {
        "over_y": (c_y, K @ c_y, np.einsum("imd,m->id", grad_x, c_y), grad_x),
        "over_x": (c_x, c_x @ K, np.einsum("imd,i->md", grad_y, c_x), grad_y),
    }
    out = {}
    for direction, (c, values, grads, grad_k) in exact.items():
        fast_values, fast_grads = getattr(bound, direction)(c, True)
        assert np.all(np.isfinite(fast_values)) and np.all(np.isfinite(fast_grads))
        error = np.abs(fast_grads - grads).max()
        out[direction] = Errors(
            float(np.abs(fast_values - values).max() / np.abs(values).max()),
            float(error / np.abs(grads).max()),
            float(error / (np.abs(grad_k).max() * c.sum())),
        )
    return out


def bind_points(kernel, x: np.ndarray, y: np.ndarray):
    """The sums of a kernel between bare point sets (stored rows if it falls back to direct)."""
    return kernel.bind(Quadrature(x, np.ones(len(x))), Quadrature(y, np.ones(len(y))))


# ------------------------------------------------------------------------------------------------
# 1. Fourier sums of translation-invariant kernels and 2. separable expansions of smooth ones


@functools.cache
def fast_errors(text: str, X, Y, method: str, tolerance: float | None):
    """Errors of the sums of k asked for by name (method, tolerance) at seeded random points, or
    the InputError of building them (cached: each kernel is built once for both tests)."""
    k = parse(text, (X.dim, Y.dim), ("x", "y"))
    options, _ = requested(tolerance)
    try:
        kernel = pair_kernel(k, X, None if Y is X else Y, method=method, **options)
    except mfpde.InputError as error:
        return error
    assert kernel.method == method and kernel.translation == (method == "fourier")
    rng = np.random.default_rng(1)
    x, y = X.uniform(rng, N), Y.uniform(rng, M)
    bound = bind_points(kernel, x, y)
    assert isinstance(bound, FeatureSum)  # named: the fast path even below 2^22 pairs
    return dense_errors(bound, k, x, y, seed=2)


def errors_of(text, X, Y, method, tolerance) -> dict[str, Errors]:
    result = fast_errors(text, X, X if Y is None else Y, method, tolerance)
    if isinstance(result, Exception):
        raise result
    return result


FOURIER = [
    ("torus1", "exp(cos(x - y))", mfpde.Torus(1)),
    ("torus2", "0.5*cos(x1 - y1)*cos(x2 - y2)", mfpde.Torus(2)),
    ("torus3", "exp(cos(x1 - y1) + 0.5*sin(x2 - y2) + 0.3*cos(x3 - y3))", mfpde.Torus(3)),
    # Walled axes, w decayed inside the domain (made periodic with period L + r); uneven w:
    ("interval-uneven", "exp(-(x - y - 0.1)**2/0.01)", mfpde.Interval(0, 1)),
    ("box-gaussian", "exp(-((x1 - y1)**2 + (x2 - y2)**2)/0.02)", mfpde.Box([0, 0], [1, 2])),
    ("mixed", "exp(-(x1 - y1)**2/0.02 + cos(x2 - y2))", MIXED),
]


def fourier_params(tight: bool):
    out = []
    for name, text, domain in FOURIER:
        for tolerance in TOLERANCES:
            out.append(pytest.param(text, domain, tolerance, id=f"{name}-{tolerance}"))
    return out


@pytest.mark.parametrize("text, domain, tolerance", fourier_params(tight=False))
def test_fourier_sums_match_the_direct_sum(text, domain, tolerance):
    """The NUFFT of w's Fourier coefficients, asked for by name, to the requested tolerance.

    Values (over_y, and over_x with w(x − y) not even for the uneven kernels) within tolerance ×
    max|S_direct|; gradients within tolerance × max|∇k| Σ|c|. The modes are kept to 0.1
    tolerance × max|w| and the NUFFT runs at tolerance/10: measured ≤ 0.10 of the value bound
    and ≤ 0.04 of the gradient one.
    """
    _, tol = requested(tolerance)
    for direction, e in errors_of(text, domain, None, "fourier", tolerance).items():
        assert e.value <= tol, (direction, e)
        assert e.gradient_contract <= tol, (direction, e)


@pytest.mark.parametrize("text, domain, tolerance", fourier_params(tight=True))
def test_fourier_gradients_to_the_tolerance_of_the_sum(text, domain, tolerance):
    """∇S within tolerance × max|∇S_direct| (modes kept for the gradient too, weighed by their
    growth 2π|k|/P): measured ≤ 0.13 of the bound."""
    _, tol = requested(tolerance)
    for direction, e in errors_of(text, domain, None, "fourier", tolerance).items():
        assert e.gradient <= tol, (direction, e)


@pytest.mark.parametrize(
    "text, domain",
    [
        pytest.param("exp(0.5*cos(x1 + y1) + 0.3*sin(x2)*sin(y2))", mfpde.Torus(2), id="not-ti"),
        pytest.param("cos(x)*cos(y)", mfpde.Torus(1), id="product"),
        # w(x − y) on a walled axis that has not decayed inside it: no period L + r exists.
        pytest.param("exp(-(x - y)**2)", mfpde.Interval(0, 1), id="no-decay"),
    ],
)
def test_fourier_by_name_refuses_kernels_without_a_fourier_sum(text, domain):
    k = parse(text, domain.dim, ("x", "y"))
    with pytest.raises(mfpde.InputError, match='no "fourier" sum'):
        pair_kernel(k, domain, method="fourier")


def test_interaction_at_points_uses_the_named_fourier_sum():
    """Interaction.bind at weighted points (particles): δF/δμ and its gradient by the Fourier sum
    equal the dense Σ_j w_j ρ_j W(x_i, x_j) and its exact gradient to 1e-10 × max (the default
    tolerance, as above; measured 0.05 and 0.06 of it)."""
    text = "0.5*cos(x1 - y1)*cos(x2 - y2)"
    domain = mfpde.Torus(2)
    rng = np.random.default_rng(3)
    x, w, rho = domain.uniform(rng, N), strengths(rng, N), strengths(rng, N)
    bound = mfpde.Interaction(text, method="fourier").bind(Quadrature(x, w, domain))
    assert isinstance(bound.sums, FeatureSum)
    values, grads = bound.first_variation_with_gradient(rho)
    W = parse(text, 2, ("x", "y"))
    exact = W(x[:, None], x[None]) @ (w * rho)
    exact_grads = np.einsum("imd,m->id", W.gradient("x")(x[:, None], x[None]), w * rho)
    assert np.abs(values - exact).max() <= 1e-10 * np.abs(exact).max()
    assert np.abs(grads - exact_grads).max() <= 1e-10 * np.abs(exact_grads).max()


SEPARABLE = [
    ("torus2", "exp(0.5*cos(x1 + y1) + 0.3*sin(x2)*sin(y2))", mfpde.Torus(2), TOLERANCES),
    ("interval", "exp(-(x - y)**2) + x*y", mfpde.Interval(0, 1), [1e-6, 1e-10]),
    ("box", "x1*y2 + x2*y1 + cos(x1*y1)", mfpde.Box([0, 0], [1, 2]), TOLERANCES),
    ("mixed", "exp(-(x1 - y1)**2)*cos(x2 - y2 + x1*y1)", MIXED, [1e-6, 1e-10]),
]


def separable_params():
    out = []
    for name, text, domain, tolerances in SEPARABLE:
        for tolerance in tolerances:
            out.append(pytest.param(text, domain, tolerance, id=f"{name}-{tolerance}"))
    return out


@pytest.mark.parametrize("text, domain, tolerance", separable_params())
def test_separable_sums_match_the_direct_sum(text, domain, tolerance):
    """The separable expansion, asked for by name, to the requested tolerance.

    Values within tolerance × max|S_direct| (coefficients kept to 0.01 tolerance × max|k|, NUFFT
    at tolerance/10; measured ≤ 0.10 of the bound); gradients within tolerance × max|∇k| Σ|c|
    (measured ≤ 0.02 of it).
    """
    _, tol = requested(tolerance)
    for direction, e in errors_of(text, domain, None, "separable", tolerance).items():
        assert e.value <= tol, (direction, e)
        assert e.gradient_contract <= tol, (direction, e)


@pytest.mark.parametrize("text, domain, tolerance", separable_params())
def test_separable_gradients_to_the_tolerance_of_the_sum(text, domain, tolerance):
    """∇S within tolerance × max|∇S_direct|, as asked of the Fourier sums (measured ≤ 0.10 of
    the bound: the truncation weighs each mode by its growth under d/dx)."""
    _, tol = requested(tolerance)
    for direction, e in errors_of(text, domain, None, "separable", tolerance).items():
        assert e.gradient <= tol, (direction, e)


@pytest.mark.parametrize(
    "text, domain",
    [
        pytest.param(
            "exp(-(x - y)**2) + x*y", mfpde.Interval(0, 1), id="interval",
        ),
        pytest.param(
            "x1*y2 + x2*y1 + cos(x1*y1)", mfpde.Box([0, 0], [1, 2]), id="box",
        ),
    ],
)  # fmt: skip
def test_separable_sums_at_the_walls(text, domain):
    """Targets and sources exactly on the walls and corners (Chebyshev t = ±1, θ = 0 or π).

    The derivative is taken on the coefficients (no division by sin θ), so the walls are as
    accurate as the interior: finite, values within 1e-10 × max|S| and gradients within
    1e-10 × max|∇k| Σ|c| (measured 0.06 and 0.03 of the bounds).
    """
    tol = 1e-10
    k = parse(text, domain.dim, ("x", "y"))
    kernel = pair_kernel(k, domain, method="separable", tolerance=tol)
    rng = np.random.default_rng(6)
    lower, upper = np.asarray(domain.lower), np.asarray(domain.upper)
    points = []
    for n in (200, 150):
        p = domain.uniform(rng, n)
        p[:40] = np.where(rng.random((40, domain.dim)) < 0.5, lower, upper)  # corners
        for a in range(domain.dim):  # faces
            p[40 + 20 * a : 50 + 20 * a, a] = lower[a]
            p[50 + 20 * a : 60 + 20 * a, a] = upper[a]
        points.append(p)
    x, y = points
    for direction, e in dense_errors(bind_points(kernel, x, y), k, x, y, seed=7).items():
        assert e.value <= tol, (direction, e)
        assert e.gradient_contract <= tol, (direction, e)


@pytest.mark.parametrize(
    "text, X, Y, tolerance",
    [
        pytest.param(
            "exp(0.5*cos(x - y1) + 0.3*sin(x)*sin(y2))", mfpde.Circle(), mfpde.Torus(2), tolerance,
            id=f"circle-torus2-{tolerance}",
        )
        for tolerance in TOLERANCES
    ]
    + [
        pytest.param(
            "exp(x*cos(y1 - y2)) + x**2*sin(y1)", mfpde.Interval(0, 1), mfpde.Torus(2), 1e-10,
            id="interval-torus2-1e-10",
        ),
    ],
)  # fmt: skip
def test_separable_game_payoff_fields(text, X, Y, tolerance):
    """A payoff ℓ(x, y) with x in 1-D and y in 2-D (Bilinear, method="separable"): V_x = over_y
    and the transposed V_y = over_x with their gradients (shapes (n, 1) and (m, 2)), bounded as
    in test_separable_sums_match_the_direct_sum."""
    ell = parse(text, (1, 2), ("x", "y"))
    options, tol = requested(tolerance)
    payoff = mfpde.Bilinear(text, method="separable", **options)
    rng = np.random.default_rng(8)
    x, y = X.uniform(rng, N), Y.uniform(rng, M)
    wx, wy = strengths(rng, N), strengths(rng, M)
    bound = payoff.bind(Quadrature(x, wx, X), Quadrature(y, wy, Y))
    assert bound.kernel.method == "separable" and isinstance(bound.sums, FeatureSum)
    for direction, e in dense_errors(bound.sums, ell, x, y, seed=9).items():
        assert e.value <= tol, (direction, e)
        assert e.gradient_contract <= tol, (direction, e)
    mu, nu = strengths(rng, N), strengths(rng, M)
    (V_x, dV_x), (V_y, dV_y) = bound.fields_with_gradients(mu, nu)
    assert dV_x.shape == (N, 1) and dV_y.shape == (M, 2)
    L = ell(x[:, None], y[None])
    assert np.abs(V_x - L @ (wy * nu)).max() <= tol * np.abs(L @ (wy * nu)).max()
    assert np.abs(V_y - (wx * mu) @ L).max() <= tol * np.abs((wx * mu) @ L).max()


# ------------------------------------------------------------------------------------------------
# 3. Exact FFT convolutions on finite-volume grids

#: A wide Gaussian, not decayed across the box (W = e^{-2} at distance 1): a circular instead of a
#: zero-padded convolution would be off by O(0.1) relative. One energy for both box tests: its
#: sums are chosen once per domain.
WIDE_GAUSSIAN = "exp(-((x1 - y1)**2 + (x2 - y2)**2)/0.5)"
BOX_ENERGY = mfpde.Interaction(WIDE_GAUSSIAN)

GRIDS = [
    pytest.param("exp(cos(x1 - y1) + 0.5*cos(x2 - y2))", mfpde.Torus(2), (24, 20), id="torus2"),
    pytest.param(WIDE_GAUSSIAN, mfpde.Box([0, 0], [1, 2]), (20, 30), id="box"),
    pytest.param("exp(-(x1 - y1)**2/0.02 + cos(x2 - y2))", MIXED, (16, 18), id="mixed"),
    # Growing on both walled axes: only the linear (zero-padded) convolution is right.
    pytest.param(
        "exp(cos(x2 - y2)) + (x1 - y1)**2 + (x3 - y3)**2", MIXED_3D, (8, 9, 10), id="mixed3"
    ),
]


@pytest.mark.parametrize("text, domain, cells", GRIDS)
def test_grid_interaction_is_the_exact_dense_sum(text, domain, cells):
    """An Interaction bound to a grid convolves by FFT and equals Σ_j w_j ρ_j W(x_i, x_j).

    Both are the same finite sum: the FFT adds round-off ~1e-16 × log n relative to
    max|W| Σ w ρ, which is max|S| for positive W and ρ; 1e-13 leaves a factor ~100 (measured
    ≤ 1.5e-15). over_x is the transposed sum, the energy ½ Σ w ρ δF/δμ.
    """
    grid = mfpde.Grid(domain, cells)
    energy = BOX_ENERGY if text == WIDE_GAUSSIAN else mfpde.Interaction(text)
    bound = energy.bind(Quadrature.of(grid))
    assert bound.sums.method == "fft" and isinstance(bound.sums, GridConvolution)
    rho = strengths(np.random.default_rng(10), grid.size)
    W = parse(text, domain.dim, ("x", "y"))
    K = W(grid.points[:, None], grid.points[None])
    exact = K @ (grid.weights * rho)
    values = bound.first_variation(rho)
    assert np.abs(values - exact).max() <= 1e-13 * np.abs(exact).max()
    transposed = bound.sums.over_x(grid.weights * rho)[0]
    assert np.abs(transposed - (grid.weights * rho) @ K).max() <= 1e-13 * np.abs(exact).max()
    assert bound.value(rho) == pytest.approx(0.5 * (grid.weights * rho) @ exact, rel=1e-13)
    with pytest.raises(mfpde.InputError, match="no gradient"):
        bound.first_variation_with_gradient(rho)


def test_grid_convolution_of_an_uneven_kernel_both_ways():
    """w(x − y) not even (W not symmetric, so bound by pair_kernel, not Interaction): over_y uses
    w(s) and over_x w(−s), along a periodic and a walled axis; exact to 1e-13 as above."""
    domain = mfpde.Domain((0, 0), (2 * np.pi, 1), (True, False))
    grid = mfpde.Grid(domain, (20, 15))
    q = Quadrature.of(grid)
    k = parse("exp(sin(x1 - y1) - (x2 - y2 - 0.2)**2/0.02)", 2, ("x", "y"))
    sums = pair_kernel(k, domain).bind(q, q)
    assert sums.method == "fft"
    c = strengths(np.random.default_rng(11), grid.size)
    K = k(grid.points[:, None], grid.points[None])
    assert np.abs(sums.over_y(c)[0] - K @ c).max() <= 1e-13 * np.abs(K @ c).max()
    assert np.abs(sums.over_x(c)[0] - c @ K).max() <= 1e-13 * np.abs(c @ K).max()


def test_grid_interaction_on_256_by_256_box():
    """A 256 × 256 box (65 536 cells; the dense matrix would hold 2^32 entries, 32 GB): one first
    variation by FFT, checked against the dense sum on 50 random rows (numpy on those rows
    only), to 1e-13 relative as above (measured 4e-16)."""
    grid = mfpde.Grid(mfpde.Box([0, 0], [1, 2]), (256, 256))
    bound = BOX_ENERGY.bind(Quadrature.of(grid))
    assert bound.sums.method == "fft"
    rng = np.random.default_rng(12)
    rho = strengths(rng, grid.size)
    values = bound.first_variation(rho)
    rows = rng.choice(grid.size, 50, replace=False)
    W = parse(WIDE_GAUSSIAN, 2, ("x", "y"))
    exact = W(grid.points[rows, None], grid.points[None]) @ (grid.weights * rho)
    assert np.abs(values[rows] - exact).max() <= 1e-13 * np.abs(exact).max()


# ------------------------------------------------------------------------------------------------
# 4. Smoothing kernels K_h (periodised Gaussians, von Mises-Fisher on S²)

SMOOTHING_DOMAINS = [
    pytest.param(mfpde.Torus(1), id="torus1"),
    pytest.param(mfpde.Torus(2), id="torus2"),
    pytest.param(mfpde.Box([0, 0], [1, 2]), id="box"),
    pytest.param(MIXED_3D, id="mixed3"),
    pytest.param(Sphere(), id="sphere"),
]


def tangent(x: np.ndarray, v: np.ndarray) -> np.ndarray:
    """P_x v = v − (x·v) x on S² (written here, not mfpde's)."""
    return v - np.sum(x * v, axis=-1, keepdims=True) * x


@pytest.mark.parametrize("tolerance", TOLERANCES)
@pytest.mark.parametrize("h", [0.3, 0.1])
@pytest.mark.parametrize("domain", SMOOTHING_DOMAINS)
def test_smoothing_kernel_fast_sums_match_the_direct_sums(domain, h, tolerance):
    """K_h*c by the exact-coefficient Fourier sum against the fused direct loops.

    Fast vs direct within tolerance × max|S| and tolerance × max|∇S| (modes kept to 0.1
    tolerance, NUFFT at tolerance/10; measured ≤ 0.05 and ≤ 0.17 of the bounds). On S² the R³
    gradients of the two differ by a normal component (the Gaussian of R³ and the vMF agree only
    on the sphere): their tangent parts are compared. The direct sums equal the dense matrices
    (``Kernel.pairwise``, and ``von_mises_fisher(x @ y.T, h)`` on S²) to the round-off of 250
    positive terms, 1e-13 (measured ≤ 5e-15); the transposed sum of the symmetric K_h is checked
    on the flat domains.
    """
    options, tol = requested(tolerance)
    fast = Kernel("density", h, "fast", **options).pair_kernel(domain)
    direct = Kernel("density", h, "direct", **options).pair_kernel(domain)
    assert fast.method == "fourier" and direct.method == "direct"
    rng = np.random.default_rng(13)
    x, y = domain.uniform(rng, N), domain.uniform(rng, M)
    c = strengths(rng, M)
    values, grads = fast.sum(x, y, c, gradient=True)
    exact, exact_grads = direct.sum(x, y, c, gradient=True)
    sphere = isinstance(domain, Sphere)
    if sphere:
        grads, exact_grads = tangent(x, grads), tangent(x, exact_grads)
        dense = von_mises_fisher(x @ y.T, h) @ c
    else:
        dense = Kernel("density", h).pairwise(domain, x, y) @ c
    assert np.abs(exact - dense).max() <= 1e-13 * np.abs(dense).max()
    assert np.abs(values - exact).max() <= tol * np.abs(exact).max()
    assert np.abs(grads - exact_grads).max() <= tol * np.abs(exact_grads).max()
    if sphere:
        assert np.abs(values - dense).max() <= tol * np.abs(dense).max()
        return
    qx, qy = Quadrature(x, np.ones(N)), Quadrature(y, np.ones(M))
    bound, reference = fast.bind(qx, qy), direct.bind(qx, qy)
    assert isinstance(bound, FeatureSum) and isinstance(reference, GaussianDirectSum)
    c_x = strengths(rng, N)
    (t, dt), (t_exact, dt_exact) = bound.over_x(c_x, True), reference.over_x(c_x, True)
    assert np.abs(t - t_exact).max() <= tol * np.abs(t_exact).max()
    assert np.abs(dt - dt_exact).max() <= tol * np.abs(dt_exact).max()


# ------------------------------------------------------------------------------------------------
# 5. Features: the polynomial sphere games


def complex_step(ell, x: np.ndarray, y: np.ndarray, letter: str) -> np.ndarray:
    """∇_letter ℓ(x_i, y_j), shape (n, m, 3), by complex steps: Im ℓ(z + iεe_k)/ε = ∂_k ℓ(z) to
    round-off for an analytic ℓ such as these polynomials (no difference is taken)."""
    eps = 1e-30
    out = []
    for e in np.eye(3):
        if letter == "x":
            out.append(ell((x + 1j * eps * e)[:, None], y[None]).imag / eps)
        else:
            out.append(ell(x[:, None], (y + 1j * eps * e)[None]).imag / eps)
    return np.stack(out, axis=-1)


@pytest.mark.parametrize("name", ["ell_a", "ell_b"])
def test_sphere_game_feature_sums_are_exact(name):
    """ℓ = φ(x)ᵀCφ(y) with the ten monomials of degree ≤ 2 is exact, so the feature sums equal the
    dense Σ_j c_j ℓ(x_i, y_j) (and ∇ in R³, by complex steps) up to round-off of sums of 250
    O(10) terms: 1e-12 relative (measured ≤ 8e-16 values, ≤ 1.2e-15 gradients)."""
    payoff = sphere_game(name, 7)
    rng = np.random.default_rng(14)
    sphere = Sphere()
    x, y = sphere.uniform(rng, N), sphere.uniform(rng, M)
    wx, wy = strengths(rng, N), strengths(rng, M)
    bound = payoff.bind(Quadrature(x, wx, sphere), Quadrature(y, wy, sphere))
    assert bound.kernel.method == "features" and bound.sums.method == "features"
    L = payoff.ell(x[:, None], y[None])
    grad_x = complex_step(payoff.ell, x, y, "x")
    grad_y = complex_step(payoff.ell, x, y, "y")
    c_y, c_x = strengths(rng, M), strengths(rng, N)
    checks = [
        (bound.sums.over_y(c_y, True), L @ c_y, np.einsum("imd,m->id", grad_x, c_y)),
        (bound.sums.over_x(c_x, True), c_x @ L, np.einsum("imd,i->md", grad_y, c_x)),
    ]
    for (values, grads), exact, exact_grads in checks:
        assert np.abs(values - exact).max() <= 1e-12 * np.abs(exact).max()
        assert np.abs(grads - exact_grads).max() <= 1e-12 * np.abs(exact_grads).max()
    mu, nu = strengths(rng, N), strengths(rng, M)
    V_x, V_y = bound.fields(mu, nu)
    assert np.abs(V_x - L @ (wy * nu)).max() <= 1e-12 * np.abs(L @ (wy * nu)).max()
    assert np.abs(V_y - (wx * mu) @ L).max() <= 1e-12 * np.abs((wx * mu) @ L).max()


# ------------------------------------------------------------------------------------------------
# 6. The "auto" choice


@pytest.mark.parametrize(
    "text, domain, method, translation",
    [
        pytest.param("exp(cos(x - y))", mfpde.Torus(1), "fourier", True, id="ti-periodic"),
        pytest.param(
            "exp(-((x1 - y1)**2 + (x2 - y2)**2)/0.02)", mfpde.Box([0, 0], [1, 2]), "fourier",
            True, id="ti-decaying-box",
        ),
        pytest.param(
            "exp(0.5*cos(x1 + y1) + 0.3*sin(x2)*sin(y2))", mfpde.Torus(2), "separable", False,
            id="smooth-torus",
        ),
        pytest.param(
            "x1*y2 + x2*y1 + cos(x1*y1)", mfpde.Box([0, 0], [1, 2]), "separable", False,
            id="smooth-box",
        ),
        # w(x − y) not decayed inside the interval: no Fourier sum, but a separable one.
        pytest.param(
            "exp(-(x - y)**2)", mfpde.Interval(0, 1), "separable", True, id="ti-no-decay",
        ),
        # |x − y| is not smooth: its coefficients decay like k^-2 and miss the sample budget
        # (the sensible outcome). It is w(x − y) on the interval.
        pytest.param("abs(x - y)", mfpde.Interval(0, 1), "direct", True, id="non-smooth"),
    ],
)  # fmt: skip
def test_auto_chooses_by_the_structure_of_the_kernel(text, domain, method, translation):
    kernel = pair_kernel(parse(text, domain.dim, ("x", "y")), domain)
    assert (kernel.method, kernel.translation) == (method, translation)


def test_auto_sums_exactly_below_dense_entries_and_fast_above():
    """method="auto" binds up to 2^22 pairs to the exact direct sum (stored rows: equal to the
    dense numpy sum to round-off, 1e-14 relative), a method named binds to the fast path at any
    size, and above 2^22 pairs auto is fast too (checked on 50 rows to 1e-10 × max|S|, as for
    the Fourier sums)."""
    text = "exp(cos(x - y))"
    k = parse(text, 1, ("x", "y"))
    auto = pair_kernel(k, mfpde.Torus(1))
    named = pair_kernel(k, mfpde.Torus(1), method="fourier")
    assert auto.method == named.method == "fourier"
    rng = np.random.default_rng(15)
    x, y = mfpde.Torus(1).uniform(rng, N), mfpde.Torus(1).uniform(rng, M)
    small = bind_points(auto, x, y)
    assert isinstance(small, DirectSum) and small.method == "direct" and small.dense
    assert isinstance(bind_points(named, x, y), FeatureSum)
    c = strengths(rng, M)
    exact = k(x[:, None], y[None]) @ c
    assert np.abs(small.over_y(c)[0] - exact).max() <= 1e-14 * np.abs(exact).max()
    side = 2**11  # side² = 2^22 = DENSE_ENTRIES: the largest exact binding
    assert side * side == DENSE_ENTRIES
    x, y = mfpde.Torus(1).uniform(rng, side), mfpde.Torus(1).uniform(rng, side + 1)
    assert isinstance(bind_points(auto, x, y[:side]), DirectSum)
    large = bind_points(auto, x, y)
    assert isinstance(large, FeatureSum)
    c = strengths(rng, side + 1)
    values = large.over_y(c)[0]
    rows = rng.choice(side, 50, replace=False)
    exact = k(x[rows, None], y[None]) @ c
    assert np.abs(values[rows] - exact).max() <= 1e-10 * np.abs(exact).max()


# ------------------------------------------------------------------------------------------------
# 7. Errors


def test_a_kernel_that_is_not_finite_is_reported_by_name():
    """1/(x − y)² is infinite on the diagonal: every sum of it (compiled loop of PairKernel.sum,
    stored rows, FFT on a grid) raises InputError with one line naming the interaction; the
    separable expansion refuses it when asked by name."""
    k = parse("1/(x - y)**2", 1, ("x", "y"))
    domain = mfpde.Interval(0, 1)
    kernel = pair_kernel(k, domain, name="interaction")
    assert kernel.method == "direct"
    x = domain.uniform(np.random.default_rng(16), 40)
    c = np.ones(len(x))
    messages = []
    with pytest.raises(mfpde.InputError, match="interaction") as compiled:
        kernel.sum(x, x, c)
    messages.append(str(compiled.value))
    with pytest.raises(mfpde.InputError, match="interaction") as stored:
        bind_points(kernel, x, x).over_y(c)
    messages.append(str(stored.value))
    grid = mfpde.Grid(domain, 16)
    with pytest.raises(mfpde.InputError, match="interaction") as fft:
        mfpde.Interaction("1/(x - y)**2").bind(Quadrature.of(grid))
    messages.append(str(fft.value))
    for message in messages:
        assert "not finite" in message and "\n" not in message, message
    with pytest.raises(mfpde.InputError, match='the interaction has no "separable" sum'):
        pair_kernel(k, domain, method="separable", name="interaction")


@pytest.mark.parametrize("method", ["fast", "Fourier", "fft", "features", None])
def test_an_unknown_method_is_an_input_error(method):
    k = parse("exp(cos(x - y))", 1, ("x", "y"))
    with pytest.raises(mfpde.InputError, match="unknown kernel sum"):
        pair_kernel(k, mfpde.Torus(1), method=method)
    with pytest.raises(mfpde.InputError, match="unknown interaction sum"):
        mfpde.Interaction("exp(cos(x - y))", method=method)


@pytest.mark.parametrize("tolerance", [0, 1, "1e-10", True, 1e-15, 0.1, float("nan"), -1e-10])
def test_a_bad_tolerance_is_an_input_error(tolerance):
    k = parse("exp(cos(x - y))", 1, ("x", "y"))
    with pytest.raises(mfpde.InputError, match="tolerance must be a number in"):
        pair_kernel(k, mfpde.Torus(1), tolerance=tolerance)
