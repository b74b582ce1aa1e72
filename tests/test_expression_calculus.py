"""Exact derivatives and compiled direct sums of safe expressions (:mod:`mfpde.expressions`).

``Expression.derivative`` is checked against central finite differences with one Richardson
step; ``compile_pair_sum`` and ``compile_point_function`` against numpy's evaluation of the same
expressions (dense sums at small n, m), non-finite values included.
"""

from __future__ import annotations

import ast
import re

import numpy as np
import pytest

import mfpde
from mfpde.expressions import (
    CompiledPairSum,
    CompiledPointFunction,
    Expression,
    compile_pair_sum,
    compile_point_function,
)

#: (text, dims, letters, box (lo, hi) of each letter's coordinates). The boxes keep every point
#: and its finite-difference stencil away from singularities and kinks: log, sqrt, x**x and
#: negative powers see arguments ≥ 0.5, abs and % arguments stay ≥ 0.2 from their kinks
#: (0 for abs, multiples of the divisor for %), far beyond the largest step h = 5e-3.
CASES = [
    # 1-D, one point: every operator and every function of FUNCTIONS, x/x1 aliasing.
    ("x**3 - 2*x + 1", 1, "x", [(-1.5, 1.5)]),
    ("sin(x)*cos(2*x1)", 1, "x", [(-2.0, 2.0)]),
    ("tan(x/3) + arctan(3*x) - +x", 1, "x", [(-1.5, 1.5)]),
    ("exp(-x**2)/(1 + x**2)", 1, "x", [(-2.0, 2.0)]),
    ("log(1 + x**2) + sqrt(2 + x1)", 1, "x", [(-1.5, 1.5)]),
    ("x*abs(x - 0.3)", 1, "x", [(-2.0, 0.1)]),
    ("tanh(x) + sinh(x)*cosh(x1)", 1, "x", [(-1.5, 1.5)]),
    ("x**x + 2**x + x**pi + e**x", 1, "x", [(0.5, 2.0)]),
    ("x % 0.7 + 3*x1", 1, "x", [(0.2, 0.5)]),
    ("(x + 1)**-1.5 - 1/x", 1, "x", [(0.5, 2.0)]),
    # 2-D and 3-D.
    ("x1**2*x2 - x2/x1 + x1 % 1.3", 2, "x", [(0.6, 1.1)]),
    ("cos(x1)*sin(x2)**2 + sqrt(x1**2 + x2**2 + 1)", 2, "x", [(-2.0, 2.0)]),
    ("abs(x1*x2)**0.5 + x1**x2", 2, "x", [(0.5, 1.5)]),
    ("exp(-(x1**2 + x2**2 + x3**2)/2)*x3", 3, "x", [(-1.5, 1.5)]),
    ("log(x3)*x2 - x1/(x2 + x3)", 3, "x", [(0.5, 1.5)]),
    # Two points, equal and different dimensions.
    ("0.5*cos(x1 - y1)*cos(x2 - y2)", 2, "xy", [(-3.0, 3.0), (-3.0, 3.0)]),
    ("exp(-((x - y1)**2 + y2**2 + y3**2))*tanh(x*y3)", (1, 3), "xy", [(-1.0, 1.0), (-1.0, 1.0)]),
    ("abs(x1 - y1)**1.5 + log(1 + (x2 - y2)**2)", 2, "xy", [(1.5, 2.5), (0.0, 1.0)]),
    ("(x1 - y1) % 2.5*arctan(y2) + x2**y2", 2, "xy", [(1.5, 2.0), (0.0, 1.0)]),
    ("sinh(x - y1)/cosh(x1*y) - (x - y)**3", 1, "xy", [(-1.0, 1.0), (-1.0, 1.0)]),
]


def _expression(text, dims, letters):
    return Expression(text, dims, tuple(letters))


def _points(expression, boxes, rng, n):
    """n random points of each letter, uniform in its box."""
    return [rng.uniform(lo, hi, (n, d)) for (lo, hi), d in zip(boxes, expression.dims)]


def _richardson(f, points, letter, k, h):
    """∂f/∂(letter_k) by central differences D(h) and one Richardson step (4 D(h/2) − D(h))/3.

    D(h) = f' + h² f'''/6 + h⁴ f⁽⁵⁾/120 + O(h⁶), so the extrapolation leaves −h⁴ f⁽⁵⁾/480.
    """

    def central(step):
        plus = [p.copy() for p in points]
        minus = [p.copy() for p in points]
        plus[letter][:, k] += step
        minus[letter][:, k] -= step
        return (f(*plus) - f(*minus)) / (2 * step)

    return (4 * central(h / 2) - central(h)) / 3


def _number(node):
    """The value of a number node (a literal or a negated literal), else None."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _number(node.operand)
        return None if inner is None else -inner
    return float(node.value) if isinstance(node, ast.Constant) else None


def _trivial_terms(tree):
    """Subtrees a simplifier removes: number∘number, 0·a, 1·a, a ± 0, 0/a, a/1, a**0, a**1, −−a."""
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.UnaryOp) and isinstance(node.operand, ast.UnaryOp):
            bad.append(node)
        if not isinstance(node, ast.BinOp):
            continue
        left, right, op = _number(node.left), _number(node.right), node.op
        if left is not None and right is not None:
            bad.append(node)
        elif isinstance(op, ast.Mult) and {left, right} & {0.0, 1.0}:
            bad.append(node)
        elif isinstance(op, (ast.Add, ast.Sub)) and 0.0 in (left, right):
            bad.append(node)
        elif isinstance(op, ast.Div) and (left == 0 or right == 1):
            bad.append(node)
        elif isinstance(op, ast.Pow) and right in (0.0, 1.0):
            bad.append(node)
    return [ast.unparse(node) for node in bad]


@pytest.mark.parametrize("text, dims, letters, boxes", CASES, ids=[c[0] for c in CASES])
def test_derivatives_match_richardson_finite_differences(text, dims, letters, boxes):
    """Every partial derivative equals Richardson-extrapolated central differences.

    h = 5e-3: truncation h⁴|f⁽⁵⁾|/480 ≈ 1.3e-12·|f⁽⁵⁾| (|f⁽⁵⁾| ≲ 1.5·10⁴ on these boxes, the
    largest from arctan(3x): 3⁵·24) and round-off ≈ 3ε|f|/h ≈ 1.3e-13·|f|, so ≲ 2e-8 against
    the tolerance 1e-7·(1 + |f| + |f'|) (measured at most 1.7e-9 of it), while a wrong rule is
    off by O(|f'|).
    """
    expression = _expression(text, dims, letters)
    rng = np.random.default_rng(7 + CASES.index((text, dims, letters, boxes)))
    points = _points(expression, boxes, rng, 40)
    value = np.abs(expression(*points))
    names = [
        (index, k, f"{letter}{k + 1}")
        for index, (letter, d) in enumerate(zip(expression.letters, expression.dims))
        for k in range(d)
    ]
    for index, k, name in names:
        derivative = expression.derivative(name)
        exact = derivative(*points)
        approximate = _richardson(expression, points, index, k, 5e-3)
        assert np.all(np.abs(exact - approximate) <= 1e-7 * (1 + value + np.abs(exact))), name
        # The text is valid and readable: it re-parses to the tree, and a fresh parse of it
        # evaluates to the same numbers (bitwise: the same tree, the same numpy calls).
        tree = ast.parse(derivative.text, mode="eval")
        assert ast.dump(tree) == ast.dump(derivative._tree)
        if "sign" not in derivative.text:
            again = Expression(derivative.text, expression.dim, expression.letters)
            np.testing.assert_array_equal(again(*points), exact)
        assert not _trivial_terms(derivative._tree), derivative.text


def test_second_derivatives_and_sign():
    """A derivative can be differentiated again; sign' = 0 (almost everywhere).

    d²/dx² (x·|x|³) = 12 x|x| … checked against Richardson differences of the first
    derivative (tolerance as in the test above).
    """
    f = Expression("x*abs(x)**3", 1)
    first = f.derivative("x")
    assert "sign(x)" in first.text
    second = first.derivative("x")
    x = (
        np.random.default_rng(3).uniform(0.3, 1.5, (30, 1))
        * np.array([[-1.0]]) ** np.arange(30)[:, None]
    )
    np.testing.assert_allclose(second(x), 12 * x[:, 0] * np.abs(x[:, 0]), rtol=1e-13)
    approximate = _richardson(first, [x], 0, 0, 5e-3)
    assert np.all(np.abs(second(x) - approximate) <= 1e-7 * (1 + np.abs(second(x))))
    assert Expression("abs(x)", 1).derivative("x").derivative("x").text == "0"


@pytest.mark.parametrize(
    "text, dims, letters, name, expected",
    [
        ("0.5*cos(x1 - y1)*cos(x2 - y2)", 2, "xy", "x1", "-0.5*sin(x1 - y1)*cos(x2 - y2)"),
        ("0.5*cos(x1 - y1)*cos(x2 - y2)", 2, "xy", "y2", "0.5*cos(x1 - y1)*sin(x2 - y2)"),
        ("x**3 - 2*x + 1", 1, "x", "x", "3*x**2 - 2"),
        ("3*x1 + 2", 1, "x", "x", "3"),
        ("y1", 2, "xy", "x1", "0"),
        ("1/x", 1, "x", "x1", "-1/x**2"),
        ("abs(x)", 1, "x", "x", "sign(x)"),
        ("x**x", 1, "x", "x", "x**x*(log(x) + x/x)"),
        ("2**x", 1, "x", "x", "2**x*log(2)"),
        ("(x + 1)**-1.5", 1, "x", "x", "-1.5*(x + 1)**-2.5"),
        ("sqrt(x1**2 + x2**2)", 2, "x", "x2", "x2/sqrt(x1**2 + x2**2)"),
        ("x % 0.7", 1, "x", "x", "1"),
        ("-x**2*2 - +x", 1, "x", "x", "-4*x - 1"),
        ("exp(2*3*x)", 1, "x", "x", "6*exp(2*3*x)"),
    ],
)
def test_derivative_text_is_simplified_and_readable(text, dims, letters, name, expected):
    assert Expression(text, dims, tuple(letters)).derivative(name).text == expected


def test_x_and_x1_are_one_coordinate_in_one_dimension():
    """In 1-D both spellings are differentiated, whichever spelling names the variable."""
    f = Expression("x*x1 + sin(x)", 1)
    assert f.derivative("x") is f.derivative("x1")
    x = np.linspace(-1, 1, 5)[:, None]
    np.testing.assert_allclose(f.derivative("x")(x), 2 * x[:, 0] + np.cos(x[:, 0]), rtol=1e-15)
    W = Expression("x*y - x1*y1", 1, ("x", "y"))  # ≡ 0
    assert W.derivative("y").text == "x - x1"
    np.testing.assert_array_equal(W.derivative("y1")(x, x), 0.0)


@pytest.mark.parametrize(
    "text, dims, letters, name, message",
    [
        ("x1 + x2", 2, "x", "x", "no coordinate 'x'"),
        ("x1 + x2", 2, "x", "x3", "no coordinate 'x3'"),
        ("x1 + x2", 2, "x", "y1", "no coordinate 'y1'"),
        ("x % (1 + x)", 1, "x", "x", "a % b can be differentiated only when b"),
        ("x1 % y1", 1, "xy", "y", "a % b can be differentiated only when b"),
    ],
)
def test_derivative_errors_are_one_line_input_errors(text, dims, letters, name, message):
    with pytest.raises(mfpde.InputError, match=re.escape(message)) as info:
        Expression(text, dims, tuple(letters)).derivative(name)
    assert "\n" not in str(info.value)


def test_mod_derivative_in_the_dividend_only():
    """x1 % y1: ∂/∂x1 = 1 a.e.; ∂/∂y1 does not exist as a rule (the divisor depends on y1)."""
    W = Expression("x1 % y1", 1, ("x", "y"))
    assert W.derivative("x").text == "1"


def test_sign_is_private_to_derived_expressions():
    """Users cannot call sign; a derived expression that calls it passes the same check."""
    with pytest.raises(mfpde.InputError, match="only the functions") as info:
        Expression("sign(x)", 1)
    assert "sign" not in str(info.value).split("only the functions")[1]
    derived = Expression("abs(x1)*x2", 2).derivative("x1")
    assert derived.text == "sign(x1)*x2"
    with pytest.raises(mfpde.InputError, match="only the functions"):
        Expression(derived.text, 2)


def test_gradient_shape_and_broadcasting():
    """∇_x and ∇_y of W(x, y) with d_x = 1, d_y = 3 broadcast like W and stack the partials."""
    W = Expression("exp(-((x - y1)**2 + y2**2 + y3**2))*tanh(x*y3)", (1, 3), ("x", "y"))
    rng = np.random.default_rng(11)
    x = rng.uniform(-1, 1, (5, 1, 1))
    y = rng.uniform(-1, 1, (1, 4, 3))
    gx, gy = W.gradient("x")(x, y), W.gradient("y")(x, y)
    assert gx.shape == (5, 4, 1) and gy.shape == (5, 4, 3)
    for k in range(3):
        np.testing.assert_array_equal(gy[..., k], W.derivative(f"y{k + 1}")(x, y))
    np.testing.assert_array_equal(gx[..., 0], W.derivative("x")(x, y))
    # One point of each letter (no leading axes): shape (d,).
    assert W.gradient("y")(x[0, 0], y[0, 0]).shape == (3,)
    V = Expression("x1*x2**2", 2)
    np.testing.assert_array_equal(V.gradient()(np.array([[2.0, 3.0]])), [[9.0, 12.0]])
    with pytest.raises(mfpde.InputError, match="no point 'y'"):
        V.gradient("y")


def _dense_sum(W, target, targets, sources, strengths):
    """numpy reference: the n × m matrices of W and ∇_t W (exact derivatives), times c."""
    if target == W.letters[0]:
        args = (targets[:, None], sources[None, :])
        matrix, grads = W(*args), W.gradient(target)(*args)
    else:
        args = (sources[:, None], targets[None, :])
        matrix = W(*args).T
        grads = np.swapaxes(W.gradient(target)(*args), 0, 1)
    with np.errstate(all="ignore"):
        return (
            matrix @ strengths,
            np.einsum("ijk,j->ik", grads, strengths),
            np.abs(matrix) @ np.abs(strengths),
            np.einsum("ijk,j->ik", np.abs(grads), np.abs(strengths)),
        )


PAIR_CASES = [
    ("0.5*cos(x1 - y1)*cos(x2 - y2)", 2, "x"),
    ("0.5*cos(x1 - y1)*cos(x2 - y2)", 2, "y"),
    (
        "exp(-((x - y1)**2 + y2**2 + y3**2))*tanh(x*y3) + (x*y2) % 1.7"
        " + abs(y3 - x)**1.5/(1 + y1**2) - sqrt(2 + sin(x))*y1**2",
        (1, 3),
        "x",
    ),
    (
        "exp(-((x - y1)**2 + y2**2 + y3**2))*tanh(x*y3) + (x*y2) % 1.7"
        " + abs(y3 - x)**1.5/(1 + y1**2) - sqrt(2 + sin(x))*y1**2",
        (1, 3),
        "y",
    ),
]


@pytest.mark.parametrize("text, dims, target", PAIR_CASES)
def test_compiled_pair_sum_equals_the_dense_numpy_sum(text, dims, target):
    """Values and gradients to 1e-12 of Σ_j |c_j W_ij| (resp. Σ_j |c_j ∂W_ij|).

    Both sides add the same m = 300 terms; the terms differ by a few ulp (libm against numpy's
    SIMD functions) and the orders of summation differ, an error ≤ m·ε·Σ|terms| ≈ 3e-14·Σ|terms|:
    1e-12 leaves a margin of 30.
    """
    W = Expression(text, dims, ("x", "y"))
    rng = np.random.default_rng(29 + PAIR_CASES.index((text, dims, target)))
    d_t = W.dims[W.letters.index(target)]
    d_s = W.dims[1 - W.letters.index(target)]
    targets, sources = rng.uniform(-2, 2, (250, d_t)), rng.uniform(-2, 2, (300, d_s))
    strengths = rng.standard_normal(300)
    pair = compile_pair_sum(W, target)
    values, grads = pair(targets, sources, strengths, gradient=True)
    only, none = pair(targets, sources, strengths)
    ref, ref_grads, scale, grad_scale = _dense_sum(W, target, targets, sources, strengths)
    assert values.shape == (250,) and grads.shape == (250, d_t) and none is None
    assert np.all(np.abs(values - ref) <= 1e-12 * scale)
    assert np.all(np.abs(grads - ref_grads) <= 1e-12 * grad_scale)
    np.testing.assert_array_equal(only, values)  # the same loop, the same order of additions


def test_pair_sum_in_one_dimension_accepts_flat_arrays():
    W = Expression("exp(-(x - y)**2)", 1, ("x", "y"))
    t, s, c = np.linspace(-1, 1, 7), np.linspace(-2, 2, 9), np.linspace(0, 1, 9)
    values, grads = compile_pair_sum(W)(t, s, c, gradient=True)
    ref = np.exp(-((t[:, None] - s[None]) ** 2))
    np.testing.assert_allclose(values, ref @ c, rtol=1e-14)  # 9 terms of size ≤ 1: ~10 ε
    np.testing.assert_allclose(grads[:, 0], (-2 * (t[:, None] - s[None]) * ref) @ c, atol=1e-14)
    with pytest.raises(mfpde.InputError, match="strengths must have shape"):
        compile_pair_sum(W)(t, s, c[:-1])
    with pytest.raises(mfpde.InputError, match="targets must have shape"):
        compile_pair_sum(W)(np.zeros((3, 2)), s, c)


def _same_ieee(a, b):
    """nan where nan, ±inf where ±inf, signed zeros equal, finite values to a few ulp."""
    a, b = np.asarray(a), np.asarray(b)
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_array_equal(np.isposinf(a), np.isposinf(b))
    np.testing.assert_array_equal(np.isneginf(a), np.isneginf(b))
    finite = np.isfinite(a)
    np.testing.assert_array_equal(np.signbit(a[a == 0]), np.signbit(b[a == 0]))
    # libm against numpy's SIMD transcendental functions: a few ulp of each value.
    np.testing.assert_allclose(a[finite], b[finite], rtol=1e-14, atol=0)


SPECIAL = np.array([-np.inf, -2.5, -1.0, -0.0, 0.0, 0.5, 1.0, 3.0, np.inf, np.nan])
#: One expression per IEEE behaviour, so that a nan of one term does not hide the others.
NON_FINITE = [
    "1/x1 + 0*x2",
    "x2/x1",
    "log(x1)",
    "sqrt(x1)",
    "x1**0.5",
    "x1**2 - x1**-1",
    "x1**x2",
    "x1**(0.25*2)",
    "x1 % x2",
    "exp(x1)*tan(x2) + cosh(x1) - arctan(x2)",
    "abs(x1)*sinh(x2) - tanh(x1)",
    "(x1 - x2)**pi",
    "10.0**400*x1",
]


def test_compiled_point_function_has_numpy_ieee_semantics():
    """1/0 = inf, log(−1) = nan, % as numpy.mod, a**0.5 as numpy's sqrt fast path, …

    Every pair of special values (±inf, ±0, nan, negatives) for each expression; the compiled
    values equal numpy's evaluation of the same expression value by value (module
    docstring), the gradients those of the derived expressions.
    """
    points = np.array([(a, b) for a in SPECIAL for b in SPECIAL])
    for text in NON_FINITE:
        f = Expression(text, 2)
        compiled = compile_point_function(f)
        differentiable = "%" not in text  # x1 % x2 has no derivative rule in x2
        values, grads = compiled(points, gradient=differentiable)
        _same_ieee(values, f(points))
        if differentiable:
            _same_ieee(grads, f.gradient()(points))


def test_compiled_pair_sum_has_numpy_ieee_semantics():
    """Coinciding points give 1/0 = inf, log(0) = −inf, inf − inf = nan, log(−2) = nan, y % 0 = nan.

    The sums have the same inf/nan pattern as numpy's (which does not depend on the order of
    the additions) and the same finite values.
    """
    W = Expression(
        "1/(x1 - y1)**2 + log(x2 - y2) + abs(x1 - y1)**0.5 + y1 % (x1 - 1)", 2, ("x", "y")
    )
    targets = np.array([(a, b) for a in (0.0, 0.5, 1.0, 2.0) for b in (-2.0, 0.0, 1.0)])
    sources = np.array([(0.0, 0.0), (1.0, 0.0), (2.5, -1.0)])
    strengths = np.array([0.5, 1.0, 2.0])
    values, _ = compile_pair_sum(W)(targets, sources, strengths)
    with np.errstate(all="ignore"):
        ref = (W(targets[:, None], sources[None]) * strengths).sum(axis=1)
    assert np.isnan(ref).any() and np.isposinf(ref).any() and np.isneginf(ref).any()
    assert np.isfinite(ref).any()
    np.testing.assert_array_equal(np.isnan(values), np.isnan(ref))
    np.testing.assert_array_equal(np.isposinf(values), np.isposinf(ref))
    np.testing.assert_array_equal(np.isneginf(values), np.isneginf(ref))
    finite = np.isfinite(ref)
    np.testing.assert_allclose(values[finite], ref[finite], rtol=1e-14)  # 3 terms: a few ε


def test_compiled_point_function_values_and_gradients():
    """A 3-D potential: values and gradients equal numpy's to a few ulp (no sums)."""
    V = Expression("exp(-(x1**2 + x2**2 + x3**2)/2)*x3 + log(1 + x1**2)*cos(x2)", 3)
    points = np.random.default_rng(17).uniform(-2, 2, (400, 3))
    compiled = compile_point_function(V)
    values, grads = compiled(points, gradient=True)
    np.testing.assert_allclose(values, V(points), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(grads, V.gradient()(points), rtol=1e-14, atol=1e-15)
    assert compiled(points)[1] is None
    np.testing.assert_array_equal(compiled(points)[0], values)


def test_kernels_are_cached_by_text_dims_and_target():
    W = Expression("0.5*cos(x1 - y1)*cos(x2 - y2)", 2, ("x", "y"))
    pair = compile_pair_sum(W)
    assert isinstance(pair, CompiledPairSum)
    assert compile_pair_sum(Expression(W.text, 2, ("x", "y"))) is pair
    assert compile_pair_sum(W, "y") is not pair
    assert compile_pair_sum(Expression(W.text, 3, ("x", "y"))) is not pair
    V = Expression("x1*x2", 2)
    point = compile_point_function(V)
    assert isinstance(point, CompiledPointFunction)
    assert compile_point_function(Expression("x1*x2", 2)) is point
    assert compile_point_function(Expression("x1*x2", 3)) is not point


def test_generated_source_holds_no_user_text():
    """Names become generated locals and constants numbers: no identifier of the text is copied."""
    W = Expression("pi*cos(x1 - y1)*e**y2 + abs(x2)", 2, ("x", "y"))
    pair = compile_pair_sum(W)
    pair(np.zeros((2, 2)), np.zeros((3, 2)), np.ones(3), gradient=True)
    for code in pair.sources_code.values():
        names = {n.id for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Name)}
        assert not names & {"x1", "x2", "y1", "y2", "pi", "e"}, names
        assert repr(np.pi) in code


def test_mod_with_a_variable_divisor_compiles_values_but_not_gradients():
    W = Expression("x1 % y1", 1, ("x", "y"))
    pair = compile_pair_sum(W, "y")
    values, _ = pair(np.array([1.0, 2.5]), np.array([3.5, -3.5]), np.array([1.0, 2.0]))
    expected = [np.mod(3.5, y) + 2 * np.mod(-3.5, y) for y in (1.0, 2.5)]  # [1.5, 4.0]
    np.testing.assert_array_equal(values, expected)
    with pytest.raises(mfpde.InputError, match="a % b can be differentiated only when b"):
        pair(np.array([1.0]), np.array([3.5]), np.array([1.0]), gradient=True)
    assert (
        compile_pair_sum(W, "x")(np.array([3.5]), np.array([2.0]), np.ones(1), True)[1][0, 0] == 1
    )


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: compile_pair_sum(Expression("x1", 2)), "needs a function of two points"),
        (lambda: compile_pair_sum(Expression("x - y", 1, ("x", "y")), "z"), "target letter"),
        (lambda: compile_pair_sum(lambda x, y: x), "needs an Expression"),
        (lambda: compile_point_function(Expression("x - y", 1, ("x", "y"))), "one point 'x'"),
        (lambda: compile_point_function(Expression("x", 1), "y"), "one point 'y'"),
    ],
)
def test_compile_errors(make, message):
    with pytest.raises(mfpde.InputError, match=message):
        make()
