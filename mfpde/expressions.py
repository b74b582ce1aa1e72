"""Safe numpy expressions for configuration files.

An expression such as ``"cos(x1) + 0.5*sin(2*x2)"`` is parsed with :mod:`ast` and evaluated by
walking the tree: only numbers, arithmetic operators, the variables of the context and the
functions in :data:`FUNCTIONS` are accepted. Nothing is executed, no attribute is accessed.
A string ``"python:module:function"`` names a user callable instead.
"""

from __future__ import annotations

import ast
import importlib
import operator
from collections.abc import Callable, Sequence

import numpy as np

from mfpde.errors import InputError

__all__ = ["FUNCTIONS", "CONSTANTS", "Expression", "parse", "coordinate_names"]

FUNCTIONS: dict[str, Callable] = {
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "exp": np.exp,
    "log": np.log,
    "sqrt": np.sqrt,
    "abs": np.abs,
    "tanh": np.tanh,
    "sinh": np.sinh,
    "cosh": np.cosh,
    "arctan": np.arctan,
}
CONSTANTS: dict[str, float] = {"pi": float(np.pi), "e": float(np.e)}

_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
    ast.Mod: np.mod,
}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}


def coordinate_names(dim: int, letter: str) -> tuple[str, ...]:
    """Names of the coordinates of a point: ``x`` in 1-D, ``x1, x2, x3`` otherwise.

    In 1-D both ``x`` and ``x1`` are accepted; this returns the canonical tuple of names.
    """
    return (letter,) if dim == 1 else tuple(f"{letter}{k + 1}" for k in range(dim))


def _check(node: ast.AST, names: frozenset[str], text: str) -> None:
    """Reject every node that is not a number, a known name, arithmetic or a whitelisted call."""
    if isinstance(node, ast.Expression):
        _check(node.body, names, text)
    elif isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise InputError(f"expression {text!r}: only numeric constants are allowed")
    elif isinstance(node, ast.Name):
        if node.id not in names and node.id not in CONSTANTS:
            allowed = ", ".join(sorted(names | set(CONSTANTS)))
            raise InputError(f"expression {text!r}: unknown name {node.id!r} (allowed: {allowed})")
    elif isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        _check(node.left, names, text)
        _check(node.right, names, text)
    elif isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        _check(node.operand, names, text)
    elif isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            raise InputError(
                f"expression {text!r}: only the functions {', '.join(FUNCTIONS)} may be called"
            )
        if node.keywords or len(node.args) != 1:
            raise InputError(f"expression {text!r}: functions take exactly one argument")
        _check(node.args[0], names, text)
    else:
        raise InputError(f"expression {text!r}: {type(node).__name__} is not allowed")


def _evaluate(node: ast.AST, env: dict[str, np.ndarray]) -> np.ndarray | float:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body, env)
    # Constants are numpy scalars so that constant arithmetic follows IEEE rules like the arrays
    # do ("1/0" is inf, "(-1)**0.5" is nan, reported as non-finite by the caller) instead of
    # raising Python's ZeroDivisionError, OverflowError or producing a complex number.
    if isinstance(node, ast.Constant):
        return np.float64(node.value)
    if isinstance(node, ast.Name):
        return env[node.id] if node.id in env else np.float64(CONSTANTS[node.id])
    if isinstance(node, ast.BinOp):
        return _BINARY[type(node.op)](_evaluate(node.left, env), _evaluate(node.right, env))
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_evaluate(node.operand, env))
    assert isinstance(node, ast.Call)  # guaranteed by _check
    return FUNCTIONS[node.func.id](_evaluate(node.args[0], env))


class Expression:
    """A parsed expression in the coordinates of one or two points.

    Parameters
    ----------
    text : str
        The expression, e.g. ``"cos(x - y)"``.
    dim : int or sequence of int
        Dimension of the points, or one dimension per letter (a game payoff ℓ(x, y) on
        X × Y with dim X ≠ dim Y, MATH §2.2).
    letters : sequence of str
        One letter per point: ``("x",)`` for a function of one point, ``("x", "y")`` for a
        two-point function such as an interaction ``W(x, y)``.

    Calling the object with one array of shape ``(..., dim)`` per letter returns the values
    broadcast over the leading axes.
    """

    def __init__(self, text: str, dim: int | Sequence[int], letters: Sequence[str] = ("x",)):
        if not isinstance(text, str):
            raise InputError(f"expression must be a string, got {text!r}")
        self.text = text
        self.dim = dim
        self.letters = tuple(letters)
        self.dims = (dim,) * len(self.letters) if isinstance(dim, int) else tuple(dim)
        names = set()
        for letter, d in zip(self.letters, self.dims, strict=True):
            names.update(f"{letter}{k + 1}" for k in range(d))
            if d == 1:
                names.add(letter)
        try:
            self._tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError as exc:
            raise InputError(f"expression {text!r}: syntax error ({exc.msg})") from None
        _check(self._tree, frozenset(names), text)

    def __call__(self, *points: np.ndarray) -> np.ndarray:
        env: dict[str, np.ndarray] = {}
        shape: tuple[int, ...] = ()
        for letter, d, p in zip(self.letters, self.dims, points, strict=True):
            p = np.asarray(p, dtype=float)
            shape = np.broadcast_shapes(shape, p.shape[:-1])
            for k in range(d):
                env[f"{letter}{k + 1}"] = p[..., k]
            if d == 1:
                env[letter] = p[..., 0]
        with np.errstate(all="ignore"):  # non-finite values are reported by the caller
            value = _evaluate(self._tree, env)
        return np.broadcast_to(np.asarray(value, dtype=float), shape).copy()

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"


def _import_callable(spec: str) -> Callable:
    try:
        _, module_name, function_name = spec.split(":")
    except ValueError:
        raise InputError(f"{spec!r}: a callable is named 'python:module:function'") from None
    try:
        function = getattr(importlib.import_module(module_name), function_name)
    except (ImportError, AttributeError) as exc:
        raise InputError(f"{spec!r}: cannot import ({exc})") from None
    if not callable(function):
        raise InputError(f"{spec!r} is not callable")
    return function


def parse(
    text: str, dim: int | Sequence[int], letters: Sequence[str] = ("x",)
) -> Callable[..., np.ndarray]:
    """Parse a config value into a vectorised function of ``len(letters)`` point arrays.

    ``"python:module:function"`` imports a user callable taking the same point arrays of shape
    ``(..., dim)``; anything else is parsed as a safe :class:`Expression`.
    """
    if isinstance(text, str) and text.startswith("python:"):
        return _import_callable(text)
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        text = repr(float(text))
    return Expression(text, dim, letters)
