"""Safe expressions of configuration files (:mod:`mfpde.expressions`).

Accepted: numbers, + − * / ** %, the functions of ``FUNCTIONS``, ``pi`` and ``e``, and the
coordinates of each point (``x`` or ``x1`` in 1-D, ``x1, x2, x3`` otherwise; ``y...`` for the
second point of a two-point function). Anything else is an :class:`InputError` at parse time.
"""

from __future__ import annotations

import sys
import textwrap

import numpy as np
import pytest
from conftest import assert_invariants

import mfpde
import mfpde.expressions
from mfpde.expressions import FUNCTIONS, Expression, parse
from mfpde.quadrature import Quadrature

POINTS_1D = np.linspace(0.1, 2.0, 7)[:, None]


def test_every_function_matches_numpy():
    """Each whitelisted function evaluates as its numpy counterpart (exactly: same ufunc)."""
    x = POINTS_1D[:, 0]
    for name, function in FUNCTIONS.items():
        np.testing.assert_array_equal(parse(f"{name}(x)", 1)(POINTS_1D), function(x))


@pytest.mark.parametrize(
    "text, expected",
    [
        ("pi * x**2 - e", lambda x: np.pi * x**2 - np.e),
        ("x1 / 2 + x % 0.5", lambda x: x / 2 + np.mod(x, 0.5)),
        ("-x**2 + +3", lambda x: -(x**2) + 3),
        ("exp(-sin(x) * cos(2*x)) ** 0.5", lambda x: np.exp(-np.sin(x) * np.cos(2 * x)) ** 0.5),
        ("2", lambda x: np.full_like(x, 2.0)),
    ],
)
def test_arithmetic_constants_and_coordinates(text, expected):
    """Operator precedence and the constants follow Python/numpy (exact equality)."""
    np.testing.assert_array_equal(parse(text, 1)(POINTS_1D), expected(POINTS_1D[:, 0]))


def test_coordinates_in_two_dimensions():
    """``x1, x2`` in 2-D; plain ``x`` is a 1-D name only."""
    p = np.array([[0.5, 2.0], [1.0, -1.0]])
    np.testing.assert_array_equal(parse("x1 * x2**2", 2)(p), p[:, 0] * p[:, 1] ** 2)
    with pytest.raises(mfpde.InputError, match="unknown name 'x'"):
        parse("x + x1", 2)
    with pytest.raises(mfpde.InputError, match="unknown name 'x3'"):
        parse("x3", 2)


def test_two_point_functions_broadcast():
    """W(x, y) on arrays of shapes (n, 1, d) and (1, m, d) gives the (n, m) matrix."""
    x = np.array([[0.0], [1.0], [2.0]])
    y = np.array([[0.5], [1.5]])
    W = parse("cos(x - y) + x*y", 1, ("x", "y"))
    matrix = W(x[:, None], y[None, :])
    np.testing.assert_array_equal(matrix, np.cos(x - y.T) + x * y.T)
    p, q = np.array([[1.0, 2.0]]), np.array([[3.0, 5.0]])
    assert parse("x1*y2 - x2*y1", 2, ("x", "y"))(p, q)[0] == 1.0 * 5.0 - 2.0 * 3.0
    with pytest.raises(mfpde.InputError, match="unknown name 'y'"):
        parse("x - y", 1)


def test_constant_arithmetic_is_ieee_not_python():
    """Constant sub-expressions give inf/nan like arrays do (reported later as non-finite).

    Before the fix, "1/0" raised ZeroDivisionError, "10.0**400" OverflowError and "(-1)**0.5"
    returned a complex number: the CLI crashed with a traceback instead of exit code 2.
    """
    values = [parse(t, 1)(POINTS_1D[:1])[0] for t in ("1/0", "10.0**400", "(-1)**0.5", "1e400")]
    assert values[0] == np.inf and values[1] == np.inf and np.isnan(values[2])
    assert values[3] == np.inf
    with pytest.raises(mfpde.InputError, match="potential is not finite"):
        mfpde.Potential("1/0").bind(Quadrature(POINTS_1D, np.ones(len(POINTS_1D))))


@pytest.mark.parametrize(
    "text, message",
    [
        ("__import__('os')", "only the functions"),
        ("__import__('os').system('true')", "only the functions"),
        ("x.real", "Attribute is not allowed"),
        ("open", "unknown name 'open'"),
        ("z + 1", "unknown name 'z'"),
        ("lambda x: x", "Lambda is not allowed"),
        ("x[0]", "Subscript is not allowed"),
        ("'x'", "only numeric constants"),
        ("True", "only numeric constants"),
        ("1j", "only numeric constants"),
        ("[x]", "List is not allowed"),
        ("x if x else 1", "IfExp is not allowed"),
        ("x < 1", "Compare is not allowed"),
        ("(x)(x)", "only the functions"),
        ("sin(x, x)", "exactly one argument"),
        ("sin(x=1)", "exactly one argument"),
        ("x @ x", "BinOp is not allowed"),
        ("x; 1", "syntax error"),
        ("", "syntax error"),
    ],
)
def test_unsafe_or_unknown_input_is_rejected(text, message):
    """Nothing outside the grammar parses; the message names the problem in one line."""
    with pytest.raises(mfpde.InputError, match=message) as info:
        parse(text, 1)
    assert "\n" not in str(info.value)


def test_non_string_expression_is_rejected():
    with pytest.raises(mfpde.InputError, match="must be a string"):
        Expression(None, 1)


def test_python_callable(tmp_path, monkeypatch):
    """``python:module:function`` imports a user callable (only after the opt-in
    :func:`mfpde.expressions.allow_python`); the solver then uses it like text."""
    (tmp_path / "user_energy.py").write_text(
        textwrap.dedent(
            """
            import numpy as np

            def V(points):
                return np.cos(points[..., 0])

            NOT_CALLABLE = 3
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "user_energy", raising=False)
    with pytest.raises(mfpde.InputError, match="would import and run that Python code"):
        parse("python:user_energy:V", 1)  # not without the opt-in
    assert "user_energy" not in sys.modules  # refused before importing anything
    monkeypatch.setattr(mfpde.expressions, "_python_allowed", True)
    V = parse("python:user_energy:V", 1)
    np.testing.assert_array_equal(V(POINTS_1D), np.cos(POINTS_1D[:, 0]))
    problem = mfpde.OptimisationProblem(mfpde.Torus(1), energy=mfpde.Potential("cos(x)"))
    by_callable = mfpde.OptimisationProblem(
        mfpde.Torus(1), energy=mfpde.Potential("python:user_energy:V")
    )
    runs = [
        mfpde.solve(p, mfpde.wfr(), "exp(sin(x))", cells=16, t_end=0.2, dt=0.1, progress=False)
        for p in (problem, by_callable)
    ]
    for run in runs:
        assert_invariants(run)
    np.testing.assert_array_equal(runs[0].density, runs[1].density)
    for spec, message in [
        ("python:user_energy", "python:module:function"),
        ("python:no_such_module_xyz:V", "cannot import"),
        ("python:user_energy:W", "cannot import"),
        ("python:user_energy:NOT_CALLABLE", "is not callable"),
    ]:
        with pytest.raises(mfpde.InputError, match=message):
            parse(spec, 1)
