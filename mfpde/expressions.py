r"""Safe numpy expressions for configuration files, their exact derivatives and compiled sums.

An expression such as ``"cos(x1) + 0.5*sin(2*x2)"`` is parsed with :mod:`ast` and evaluated by
walking the tree: only numbers, arithmetic operators, the variables of the context and the
functions in :data:`FUNCTIONS` are accepted. Nothing is executed, no attribute is accessed.
A string ``"python:module:function"`` names a user callable instead.

Calculus
--------
:meth:`Expression.derivative` differentiates the checked tree symbolically (sum, product,
quotient and chain rules; ``a**b`` with b free of the variable by n a^{n-1} a', otherwise by
a^b (b' log a + b a'/a); ``a % c`` by a' almost everywhere, c must be free of the variable;
``abs' = sign``) and simplifies trivial terms (0·a, 1·a, a + 0, pure-number subtrees are folded
with numpy's float64 arithmetic, exactly as they would be evaluated). The result is again an
:class:`Expression` whose ``text`` re-parses to the same tree. Derived expressions may call one
private function, ``sign``, which users' text cannot name. :meth:`Expression.gradient` stacks
the partial derivatives with respect to one point.

Compiled direct sums
--------------------
:func:`compile_pair_sum` turns a two-point expression W(x, y) into a numba kernel for

    S_i = Σ_j c_j W(t_i, s_j),   ∇_t S_i = Σ_j c_j ∇_t W(t_i, s_j),

an outer ``numba.prange`` over the targets t_i, an inner loop over the sources s_j and scalar
accumulators: O(NM) work, O(N + M) memory, no N × M array. :func:`compile_point_function`
compiles f(x) and ∇f(x) at points the same way. The kernels follow numpy's IEEE semantics
(``error_model="numpy"``, no fast-math: 1/0 is inf, log(-1) is nan, ``%`` is :func:`numpy.mod`,
a scalar exponent 0.5 takes the square root as numpy's power loop does), so their values equal
numpy's evaluation of the same expression up to round-off. Kernels are cached in-process by
(expression text, letters, dimensions, target letter).

Generating source code and compiling it keeps the promise that nothing from the user is
executed: the source is built only from the nodes of the tree that passed the whitelist check
of :class:`Expression` (numbers, the operators + − * / ** %, unary ±, whitelisted calls and
names). No text of the user is copied into it: coordinates become local variables named by the
generator (``a0``, ``b1``), numbers are printed by :func:`repr` of their float value, ``pi`` and
``e`` are inlined as numbers, and each function is mapped through a fixed table to ``math.*`` or
a helper of this module. Any other node is rejected before a line of source exists.
"""

from __future__ import annotations

import ast
import functools
import importlib
import itertools
import linecache
import math
import operator
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from mfpde.errors import InputError

__all__ = [
    "FUNCTIONS",
    "CONSTANTS",
    "Expression",
    "Gradient",
    "CompiledPairSum",
    "CompiledPointFunction",
    "compile_pair_sum",
    "compile_point_function",
    "parse",
    "coordinate_names",
]

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
#: Functions that only derived expressions may call (``abs' = sign``); users' text cannot.
_PRIVATE_FUNCTIONS: dict[str, Callable] = {"sign": np.sign}

_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
    ast.Mod: np.mod,
}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}


#: The longest expression accepted (characters); a longer text is an input error, not a stack
#: overflow. A sum of 1 500 terms (about 20 000 characters) is accepted.
MAX_LENGTH = 50_000
#: Python recursion allowed while parsing, checking, evaluating and differentiating a tree (the
#: trees of long sums are deep; Python 3.12 frames of pure-Python recursion use no C stack).
_RECURSION = 50_000

#: How many parsed expressions :func:`parse` keeps (a solve parses the same few texts again).
PARSED_EXPRESSIONS = 256

_python_allowed = False


def allow_python(enabled: bool = True) -> None:
    """Allow (or forbid again) ``"python:module:function"`` in expressions.

    Such a name imports the module (running its import-time code) and calls the function on
    the points: a configuration from someone else is then not safe to run. Off by default;
    ``mfpde run --allow-python`` and ``mfpde verify --allow-python`` switch it on.
    """
    global _python_allowed
    _python_allowed = bool(enabled)


def _shown(text: str, limit: int = 60) -> str:
    """The text for an error message: quoted, and shortened past ``limit`` characters."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}… ({len(text)} characters)"


def _deep(method: Callable) -> Callable:
    """Run a tree walk with a raised recursion limit; a tree still too deep is an InputError."""

    def wrapper(*args, **kwargs):
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(limit, _RECURSION))
        try:
            return method(*args, **kwargs)
        except RecursionError:
            raise InputError("expression is nested too deeply to be evaluated") from None
        finally:
            sys.setrecursionlimit(limit)

    wrapper.__name__, wrapper.__doc__ = method.__name__, method.__doc__
    return wrapper


def coordinate_names(dim: int, letter: str) -> tuple[str, ...]:
    """Names of the coordinates of a point: ``x`` in 1-D, ``x1, x2, x3`` otherwise.

    In 1-D both ``x`` and ``x1`` are accepted; this returns the canonical tuple of names.
    """
    return (letter,) if dim == 1 else tuple(f"{letter}{k + 1}" for k in range(dim))


def _check(
    node: ast.AST, names: frozenset[str], text: str, functions: Mapping[str, Callable] = FUNCTIONS
) -> None:
    """Reject every node that is not a number, a known name, arithmetic or a whitelisted call.

    ``functions`` are the callable names; derived expressions add the private ``sign``.
    """
    if isinstance(node, ast.Expression):
        _check(node.body, names, text, functions)
    elif isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise InputError(f"expression {_shown(text)}: only numeric constants are allowed")
    elif isinstance(node, ast.Name):
        if node.id not in names and node.id not in CONSTANTS:
            allowed = ", ".join(sorted(names | set(CONSTANTS)))
            raise InputError(
                f"expression {_shown(text)}: unknown name {_shown(node.id, 30)} "
                f"(allowed: {allowed})"
            )
    elif isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        _check(node.left, names, text, functions)
        _check(node.right, names, text, functions)
    elif isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        _check(node.operand, names, text, functions)
    elif isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in functions:
            raise InputError(
                f"expression {_shown(text)}: only the functions {', '.join(FUNCTIONS)} may be "
                "called"
            )
        if node.keywords or len(node.args) != 1:
            raise InputError(f"expression {_shown(text)}: functions take exactly one argument")
        _check(node.args[0], names, text, functions)
    else:
        raise InputError(f"expression {_shown(text)}: {type(node).__name__} is not allowed")


def _function(name: str) -> Callable:
    """The numpy function of a checked call (the private ones were admitted by the check)."""
    return FUNCTIONS[name] if name in FUNCTIONS else _PRIVATE_FUNCTIONS[name]


def _lower(node: ast.AST, names: frozenset[str]) -> Callable[[dict[str, np.ndarray]], Any]:
    """A checked tree as nested closures of the coordinates: ``_lower(tree, names)(env)``.

    Each node is dispatched once, here, instead of at every evaluation; the operations and their
    order are those of the tree. ``names`` are the coordinates (looked up in ``env``); any other
    name is a constant of :data:`CONSTANTS`.
    """
    if isinstance(node, ast.Expression):
        return _lower(node.body, names)
    # Constants are numpy scalars so that constant arithmetic follows IEEE rules like the arrays
    # do ("1/0" is inf, "(-1)**0.5" is nan, reported as non-finite by the caller) instead of
    # raising Python's ZeroDivisionError, OverflowError or producing a complex number.
    if isinstance(node, ast.Constant) or (isinstance(node, ast.Name) and node.id not in names):
        value = np.float64(node.value if isinstance(node, ast.Constant) else CONSTANTS[node.id])
        return lambda env: value
    if isinstance(node, ast.Name):
        name = node.id
        return lambda env: env[name]
    if isinstance(node, ast.BinOp):
        binary = _BINARY[type(node.op)]
        left, right = _lower(node.left, names), _lower(node.right, names)
        return lambda env: binary(left(env), right(env))
    if isinstance(node, ast.UnaryOp):
        unary, operand = _UNARY[type(node.op)], _lower(node.operand, names)
        return lambda env: unary(operand(env))
    assert isinstance(node, ast.Call)  # guaranteed by _check
    function, argument = _function(node.func.id), _lower(node.args[0], names)
    return lambda env: function(argument(env))


# ------------------------------------------------------------------------------------------------
# Building simplified trees
# ------------------------------------------------------------------------------------------------


def _number(node: ast.AST) -> np.float64 | None:
    """The value of a pure-number subtree (numbers, + − * / ** %, unary ±), else None.

    Computed with numpy float64 scalars exactly as an evaluation (:func:`_lower`) would; None
    also when the value is not finite (it could not be written back as a number literal).
    """
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            return None
        try:
            value = np.float64(node.value)
        except OverflowError:
            return None
    elif isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        operand = _number(node.operand)
        if operand is None:
            return None
        value = _UNARY[type(node.op)](operand)
    elif isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _number(node.left), _number(node.right)
        if left is None or right is None:
            return None
        with np.errstate(all="ignore"):
            value = _BINARY[type(node.op)](left, right)
    else:
        return None
    return value if np.isfinite(value) else None


def _const(value: float) -> ast.expr:
    """A number node: an integer literal when exact, a negative value as unary minus."""
    value = float(value)
    if value < 0 or math.copysign(1.0, value) < 0:
        return ast.UnaryOp(ast.USub(), _const(-value))
    if value.is_integer() and value <= 2.0**53:
        return ast.Constant(int(value))
    return ast.Constant(value)


def _literal(node: ast.expr) -> tuple[ast.expr, np.float64 | None]:
    """Fold a pure-number subtree into one number node; return the node and its value."""
    value = _number(node)
    return (node if value is None else _const(value)), value


def _fold(op: ast.operator, left: np.float64, right: np.float64) -> ast.expr | None:
    with np.errstate(all="ignore"):
        value = _BINARY[type(op)](left, right)
    return _const(value) if np.isfinite(value) else None


def _is_neg(node: ast.expr) -> bool:
    return isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub)


def _coefficient(node: ast.expr) -> tuple[np.float64 | None, ast.expr | None]:
    """Split node = c·rest, c the number at the left end of a product chain (None if none).

    ``rest`` is None when the node is a number; unary minus counts as the coefficient −1.
    """
    value = _number(node)
    if value is not None:
        return value, None
    if _is_neg(node):
        c, rest = _coefficient(node.operand)
        return (np.float64(-1.0), node.operand) if c is None else (-c, rest)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Div)):
        c, rest = _coefficient(node.left)
        if c is not None and rest is not None:
            return c, ast.BinOp(rest, node.op, node.right)
        if c is not None and isinstance(node.op, ast.Mult):
            return c, node.right
    return None, node


def _prepend(c: np.float64, node: ast.expr) -> ast.expr:
    """c·node with c multiplied into the leftmost factor (−1 as a unary minus): ``c*a*b``."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Div)):
        left = _number(node.left)
        if left is not None and (folded := _fold(ast.Mult(), c, left)) is not None:
            return ast.BinOp(folded, node.op, node.right)
        return ast.BinOp(_prepend(c, node.left), node.op, node.right)
    if c == -1:
        return ast.UnaryOp(ast.USub(), node)
    return ast.BinOp(_const(c), ast.Mult(), node)


def _scaled(c: np.float64, rest: ast.expr) -> ast.expr:
    return rest if c == 1 else _prepend(c, rest)


def _chain(a: ast.expr, b: ast.expr) -> ast.expr:
    """a·b with the factors of a product b appended to a one by one: ``a*b1*b2``."""
    if isinstance(b, ast.BinOp) and isinstance(b.op, ast.Mult):
        return ast.BinOp(_chain(a, b.left), ast.Mult(), b.right)
    return ast.BinOp(a, ast.Mult(), b)


def _neg(a: ast.expr) -> ast.expr:
    # −(c·r) = (−c)·r exactly: IEEE rounding is symmetric.
    a, va = _literal(a)
    if va is not None:
        return _const(-va)
    c, rest = _coefficient(a)
    return _scaled(-(np.float64(1.0) if c is None else c), a if rest is None else rest)


def _add(a: ast.expr, b: ast.expr) -> ast.expr:
    (a, va), (b, vb) = _literal(a), _literal(b)
    if va is not None and vb is not None and (folded := _fold(ast.Add(), va, vb)) is not None:
        return folded
    if va == 0:
        return b
    if vb == 0:
        return a
    c, rest = _coefficient(b)
    if c is not None and c < 0 and rest is not None:  # a + (−c)·r = a − c·r
        return _sub(a, _scaled(-c, rest))
    return ast.BinOp(a, ast.Add(), b)


def _sub(a: ast.expr, b: ast.expr) -> ast.expr:
    (a, va), (b, vb) = _literal(a), _literal(b)
    if va is not None and vb is not None and (folded := _fold(ast.Sub(), va, vb)) is not None:
        return folded
    if vb == 0:
        return a
    if va == 0:
        return _neg(b)
    c, rest = _coefficient(b)
    if c is not None and c < 0 and rest is not None:  # a − (−c)·r = a + c·r
        return _add(a, _scaled(-c, rest))
    return ast.BinOp(a, ast.Sub(), b)


def _mul(a: ast.expr, b: ast.expr) -> ast.expr:
    """a·b; the numbers of both factors are collected in front (re-association: round-off)."""
    (a, va), (b, vb) = _literal(a), _literal(b)
    if va is not None and vb is not None and (folded := _fold(ast.Mult(), va, vb)) is not None:
        return folded
    if va == 0 or vb == 0:
        return _const(0.0)
    (ca, ra), (cb, rb) = _coefficient(a), _coefficient(b)
    one = np.float64(1.0)
    with np.errstate(all="ignore"):
        c = (one if ca is None else ca) * (one if cb is None else cb)
    if not np.isfinite(c):
        return ast.BinOp(a, ast.Mult(), b)
    rest = ra if rb is None else (rb if ra is None else _chain(ra, rb))
    return _const(c) if rest is None else _scaled(c, rest)


def _div(a: ast.expr, b: ast.expr) -> ast.expr:
    (a, va), (b, vb) = _literal(a), _literal(b)
    if va is not None and vb is not None and (folded := _fold(ast.Div(), va, vb)) is not None:
        return folded
    if va == 0:
        return _const(0.0)
    if vb == 1:
        return a
    if vb is None and _is_neg(b):
        return _neg(_div(a, b.operand))
    c, rest = _coefficient(a)
    if c is not None and rest is not None:  # (c·r)/b, written c*r/b
        return _scaled(c, ast.BinOp(rest, ast.Div(), b))
    return ast.BinOp(a, ast.Div(), b)


def _pow(a: ast.expr, b: ast.expr) -> ast.expr:
    (a, va), (b, vb) = _literal(a), _literal(b)
    if va is not None and vb is not None and (folded := _fold(ast.Pow(), va, vb)) is not None:
        return folded
    if vb == 0 or va == 1:  # a**0 = 1**b = 1 in IEEE arithmetic, even for nan
        return _const(1.0)
    if vb == 1:
        return a
    return ast.BinOp(a, ast.Pow(), b)


def _call(name: str, a: ast.expr) -> ast.expr:
    return ast.Call(ast.Name(name, ast.Load()), [_literal(a)[0]], [])


def _depends(node: ast.AST, names: frozenset[str] | set[str]) -> bool:
    """Whether a name of ``names`` occurs in the tree."""
    return any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(node))


def _diff(node: ast.expr, names: frozenset[str], fail: Callable[[str], InputError]) -> ast.expr:
    """∂node/∂v, v spelt by any of ``names`` (``x`` and ``x1`` in 1-D); simplified."""
    if not _depends(node, names):
        return _const(0.0)
    if isinstance(node, ast.Name):
        return _const(1.0)
    if isinstance(node, ast.UnaryOp):
        d = _diff(node.operand, names, fail)
        return _neg(d) if isinstance(node.op, ast.USub) else d
    if isinstance(node, ast.BinOp):
        a, b, op = node.left, node.right, node.op
        da, db = _diff(a, names, fail), _diff(b, names, fail)
        if isinstance(op, ast.Add):
            return _add(da, db)
        if isinstance(op, ast.Sub):
            return _sub(da, db)
        if isinstance(op, ast.Mult):
            return _add(_mul(da, b), _mul(a, db))
        if isinstance(op, ast.Div):
            if not _depends(b, names):
                return _div(da, b)
            return _sub(_div(da, b), _div(_mul(a, db), _pow(b, _const(2.0))))
        if isinstance(op, ast.Pow):
            if not _depends(b, names):  # n a^(n−1) a'
                return _mul(_mul(b, _pow(a, _sub(b, _const(1.0)))), da)
            # a^b (b' log a + b a'/a)
            return _mul(node, _add(_mul(db, _call("log", a)), _div(_mul(b, da), a)))
        assert isinstance(op, ast.Mod)
        if _depends(b, names):
            raise fail("a % b can be differentiated only when b does not depend on it")
        return da  # a % c − a is piecewise constant: (a % c)' = a' almost everywhere
    assert isinstance(node, ast.Call)
    name, a = node.func.id, node.args[0]
    da = _diff(a, names, fail)
    rules: dict[str, Callable[[], ast.expr]] = {
        "sin": lambda: _mul(_call("cos", a), da),
        "cos": lambda: _mul(_neg(_call("sin", a)), da),
        "tan": lambda: _div(da, _pow(_call("cos", a), _const(2.0))),
        "exp": lambda: _mul(node, da),
        "log": lambda: _div(da, a),
        "sqrt": lambda: _mul(_const(0.5), _div(da, node)),
        "abs": lambda: _mul(_call("sign", a), da),
        "tanh": lambda: _div(da, _pow(_call("cosh", a), _const(2.0))),
        "sinh": lambda: _mul(_call("cosh", a), da),
        "cosh": lambda: _mul(_call("sinh", a), da),
        "arctan": lambda: _div(da, _add(_const(1.0), _pow(a, _const(2.0)))),
        "sign": lambda: _const(0.0),  # piecewise constant
    }
    if name not in rules:
        raise fail(f"no derivative is known for the function {name!r}")
    return rules[name]()


# Python's precedence: + − < * / % < unary ± < ** < atoms.
_PRECEDENCE = {ast.Add: 1, ast.Sub: 1, ast.Mult: 2, ast.Div: 2, ast.Mod: 2, ast.Pow: 4}
_SYMBOL = {ast.Add: " + ", ast.Sub: " - ", ast.Mult: "*", ast.Div: "/", ast.Mod: " % "}


def _precedence(node: ast.AST) -> int:
    if isinstance(node, ast.BinOp):
        return _PRECEDENCE[type(node.op)]
    return 3 if isinstance(node, ast.UnaryOp) else 5


def _unparse(node: ast.AST) -> str:
    """Readable text of a checked tree that parses back to the same tree.

    Parentheses are written where Python's precedence needs them, and on the right of a
    left-associative operator of equal precedence (floating-point a + (b + c) ≠ a + b + c).
    """
    if isinstance(node, ast.Expression):
        return _unparse(node.body)
    if isinstance(node, ast.Constant):
        return "1e999" if node.value == math.inf else repr(node.value)
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Call):
        return f"{node.func.id}({_unparse(node.args[0])})"

    def wrap(child: ast.AST, parens: bool) -> str:
        return f"({_unparse(child)})" if parens else _unparse(child)

    if isinstance(node, ast.UnaryOp):
        sign = "-" if isinstance(node.op, ast.USub) else "+"
        return sign + wrap(node.operand, _precedence(node.operand) < 3)
    assert isinstance(node, ast.BinOp)
    if isinstance(node.op, ast.Pow):  # right-associative, binds tighter than a unary on its left
        left = wrap(node.left, _precedence(node.left) <= 4)
        return left + "**" + wrap(node.right, _precedence(node.right) < 3)
    p = _precedence(node)
    left = wrap(node.left, _precedence(node.left) < p)
    return left + _SYMBOL[type(node.op)] + wrap(node.right, _precedence(node.right) <= p)


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

    Examples
    --------
    >>> W = Expression("0.5*cos(x1 - y1)*cos(x2 - y2)", 2, ("x", "y"))
    >>> W.derivative("x1")
    Expression('-0.5*sin(x1 - y1)*cos(x2 - y2)')
    >>> Expression("x**3 + abs(x1)", 1).derivative("x").text
    '3*x**2 + sign(x1)'
    """

    def __init__(self, text: str, dim: int | Sequence[int], letters: Sequence[str] = ("x",)):
        self._setup(text, dim, letters, FUNCTIONS)

    @_deep
    def _setup(
        self,
        text: str,
        dim: int | Sequence[int],
        letters: Sequence[str],
        functions: Mapping[str, Callable],
    ) -> None:
        if not isinstance(text, str):
            raise InputError(f"expression must be a string, got {_shown(repr(text))}")
        if len(text) > MAX_LENGTH:
            raise InputError(
                f"expression {_shown(text)} is too long (at most {MAX_LENGTH} characters)"
            )
        self.text = text
        self.dim = dim
        self.letters = tuple(letters)
        self.dims = (dim,) * len(self.letters) if isinstance(dim, int) else tuple(dim)
        names = set()
        for letter, d in zip(self.letters, self.dims, strict=True):
            names.update(f"{letter}{k + 1}" for k in range(d))
            if d == 1:
                names.add(letter)
        self._names = frozenset(names)
        self._derivatives: dict[tuple[str, int], Expression] = {}
        try:
            self._tree = ast.parse(text.strip(), mode="eval")
        except (SyntaxError, MemoryError) as exc:
            reason = getattr(exc, "msg", "too complex")
            raise InputError(f"expression {_shown(text)}: syntax error ({reason})") from None
        _check(self._tree, self._names, text, functions)
        self._evaluate = _lower(self._tree, self._names)
        #: Per letter, each spelling of a coordinate and its index (``x1`` and ``x`` in 1-D).
        self._spellings = [
            [(f"{letter}{k + 1}", k) for k in range(d)] + ([(letter, 0)] if d == 1 else [])
            for letter, d in zip(self.letters, self.dims, strict=True)
        ]

    @classmethod
    def _derived(cls, tree: ast.expr, like: Expression) -> Expression:
        """The expression of a built tree, in the coordinates of ``like``; may call ``sign``."""
        new = cls.__new__(cls)
        new._setup(_unparse(tree), like.dim, like.letters, {**FUNCTIONS, **_PRIVATE_FUNCTIONS})
        assert ast.dump(new._tree.body) == ast.dump(tree), new.text  # the text is faithful
        return new

    def _coordinate(self, name: str) -> tuple[str, int, frozenset[str]]:
        """Letter, index and every spelling of a coordinate (``x`` and ``x1`` in 1-D)."""
        for letter, d in zip(self.letters, self.dims, strict=True):
            for k in range(d):
                spellings = {f"{letter}{k + 1}"} | ({letter} if d == 1 else set())
                if name in spellings:
                    return letter, k, frozenset(spellings)
        allowed = ", ".join(sorted(self._names))
        raise InputError(
            f"expression {_shown(self.text)}: no coordinate {name!r} to differentiate (allowed: "
            f"{allowed})"
        )

    @_deep
    def derivative(self, name: str) -> Expression:
        """The exact partial derivative ∂f/∂v with respect to one coordinate v.

        Built by the rules (a ± b)' = a' ± b', (ab)' = a'b + ab', (a/b)' = a'/b − ab'/b²,
        (a^n)' = n a^{n−1} a' for n free of v, (a^b)' = a^b (b' log a + b a'/a) otherwise,
        (a % c)' = a' (almost everywhere; c free of v) and the chain rule f(a)' = f'(a) a'
        for every function of :data:`FUNCTIONS` (abs' = sign).

        Parameters
        ----------
        name : str
            The coordinate: ``"x1"``, ``"y2"``, …; in 1-D ``"x"`` and ``"x1"`` are the same
            coordinate and both spellings in the text are differentiated.

        Returns
        -------
        Expression
            ∂f/∂v in the same coordinates, simplified (module docstring); its ``text`` is
            readable and re-parses to the same tree. ``abs`` differentiates to the private
            ``sign``; ``a % c`` to a' (almost everywhere).

        Raises
        ------
        InputError
            ``name`` is not a coordinate of the expression, or v occurs in the divisor c of
            some ``a % c``.
        """
        letter, k, spellings = self._coordinate(name)
        if (letter, k) not in self._derivatives:

            def fail(reason: str) -> InputError:
                return InputError(f"expression {_shown(self.text)}: d/d{name}: {reason}")

            tree = _diff(self._tree.body, spellings, fail)
            self._derivatives[letter, k] = Expression._derived(tree, self)
        return self._derivatives[letter, k]

    def gradient(self, letter: str = "x") -> Gradient:
        """∇ with respect to the point of one letter, as a vectorised callable.

        Parameters
        ----------
        letter : str
            Which point: ``"x"`` or, for a two-point function, ``"y"``.

        Returns
        -------
        Gradient
            Called with the same point arrays as the expression, returns the array of shape
            ``(..., d)`` of ∂f/∂letter_k, k = 1..d, d the dimension of that letter.
        """
        return Gradient(self, letter)

    @_deep
    def __call__(self, *points: np.ndarray) -> np.ndarray:
        env: dict[str, np.ndarray] = {}
        shapes = []
        for spellings, p in zip(self._spellings, points, strict=True):
            p = np.asarray(p, dtype=float)
            shapes.append(p.shape[:-1])
            for name, k in spellings:
                env[name] = p[..., k]
        out = np.empty(shapes[0] if len(shapes) == 1 else np.broadcast_shapes(*shapes))
        with np.errstate(all="ignore"):  # non-finite values are reported by the caller
            out[...] = self._evaluate(env)  # a new array even for a coordinate or a number
        return out

    def __repr__(self) -> str:
        return f"Expression({_shown(self.text)})"


class Gradient:
    """∇_z f = (∂f/∂z_1, …, ∂f/∂z_d) of an :class:`Expression`, z the point of one letter.

    Parameters
    ----------
    expression : Expression
        f.
    letter : str
        The letter of z.

    Attributes
    ----------
    components : tuple of Expression
        ∂f/∂z_k, k = 1..d.
    """

    def __init__(self, expression: Expression, letter: str = "x"):
        if letter not in expression.letters:
            raise InputError(
                f"expression {expression.text!r}: no point {letter!r} (letters: "
                f"{', '.join(expression.letters)})"
            )
        self.expression = expression
        self.letter = letter
        d = expression.dims[expression.letters.index(letter)]
        self.components = tuple(expression.derivative(f"{letter}{k + 1}") for k in range(d))

    def __call__(self, *points: np.ndarray) -> np.ndarray:
        """The gradient at the points (one array ``(..., d_letter)`` per letter).

        Returns
        -------
        numpy.ndarray
            Shape ``(..., d)``: the leading axes broadcast as for the expression, d the
            dimension of ``letter``.
        """
        return np.stack([c(*points) for c in self.components], axis=-1)

    def __repr__(self) -> str:
        return f"Gradient({self.expression.text!r}, {self.letter!r})"


# ------------------------------------------------------------------------------------------------
# Code generation and compiled kernels
# ------------------------------------------------------------------------------------------------

#: Whitelisted function → the name it has in the generated source (fixed; never user text).
_COMPILED_FUNCTIONS = {
    "sin": "math.sin",
    "cos": "math.cos",
    "tan": "math.tan",
    "exp": "math.exp",
    "log": "math.log",
    "sqrt": "math.sqrt",
    "abs": "math.fabs",
    "tanh": "math.tanh",
    "sinh": "math.sinh",
    "cosh": "math.cosh",
    "arctan": "math.atan",
    "sign": "_sign",
}
_COMPILED_OPERATORS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Mod: "%"}


def _sign(a: float) -> float:  # pragma: no cover - compiled
    """numpy's sign: ±1, +0 at ±0, nan at nan."""
    if a > 0.0:
        return 1.0
    if a < 0.0:
        return -1.0
    return a if a != a else 0.0


def _pow_scalar(a: float, b: float) -> float:  # pragma: no cover - compiled
    """a**b as numpy's power loop computes it for an array a and a scalar exponent b."""
    if b == 2.0:
        return a * a
    if b == 0.5:
        return math.sqrt(a)
    if b == 1.0:
        return a
    if b == 0.0:
        return 1.0
    if b == -1.0:
        return 1.0 / a
    return a**b


_HELPERS: dict[str, Any] = {}
_LOCK = threading.RLock()
_KERNELS: dict[tuple, Any] = {}
_SOURCE_COUNTER = itertools.count()


def _numba() -> Any:
    """numba and the compiled helpers, imported on first use (``import mfpde`` stays light)."""
    import numba

    with _LOCK:
        if not _HELPERS:
            jit = numba.njit(error_model="numpy", fastmath=False, inline="always")
            _HELPERS.update(_sign=jit(_sign), _pow_scalar=jit(_pow_scalar))
    return numba


def _number_source(value: int | float) -> str:
    try:
        value = float(value)
    except OverflowError:
        raise InputError(f"number {value} is too large for a float") from None
    return "math.inf" if value == math.inf else repr(value)


class _Emitter:
    """Straight-line source of checked trees: one temporary per distinct subtree.

    Parameters
    ----------
    local : dict
        Coordinate name (every spelling) → generated local variable.
    inner : set of str
        The coordinate names that change in the inner (source) loop; subtrees free of them are
        computed once per target, in the outer loop.
    """

    def __init__(self, local: Mapping[str, str], inner: frozenset[str] = frozenset()):
        self.local = dict(local)
        self.coordinates = frozenset(local)
        self.inner_names = inner
        self.outer: list[str] = []
        self.inner: list[str] = []
        self._done: dict[str, tuple[str, bool]] = {}
        self._count = itertools.count()

    def __call__(self, node: ast.AST) -> str:
        return self._visit(node)[0]

    def _temporary(self, code: str, inner: bool) -> tuple[str, bool]:
        name = f"t{next(self._count)}"
        (self.inner if inner else self.outer).append(f"{name} = {code}")
        return name, inner

    def _visit(self, node: ast.AST) -> tuple[str, bool]:
        key = ast.dump(node)
        if key not in self._done:
            self._done[key] = self._emit(node)
        return self._done[key]

    def _emit(self, node: ast.AST) -> tuple[str, bool]:
        if isinstance(node, ast.Expression):
            return self._visit(node.body)
        if isinstance(node, ast.Constant) and not isinstance(node.value, bool):
            if isinstance(node.value, (int, float)):
                return _number_source(node.value), False
        elif isinstance(node, ast.Name):
            if node.id in self.local:
                return self.local[node.id], node.id in self.inner_names
            if node.id in CONSTANTS:
                return repr(CONSTANTS[node.id]), False
        elif isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            operand, inner = self._visit(node.operand)
            if isinstance(node.op, ast.UAdd):
                return operand, inner
            return self._temporary(f"-{operand}", inner)
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            return self._power(node)
        elif isinstance(node, ast.BinOp) and type(node.op) in _COMPILED_OPERATORS:
            (left, li), (right, ri) = self._visit(node.left), self._visit(node.right)
            return self._temporary(f"{left} {_COMPILED_OPERATORS[type(node.op)]} {right}", li or ri)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in _COMPILED_FUNCTIONS
            and len(node.args) == 1
            and not node.keywords
        ):
            argument, inner = self._visit(node.args[0])
            return self._temporary(f"{_COMPILED_FUNCTIONS[node.func.id]}({argument})", inner)
        raise InputError(f"cannot compile {type(node).__name__} {ast.dump(node)[:60]}")

    def _power(self, node: ast.BinOp) -> tuple[str, bool]:
        """a**b; numpy's power loop takes fast paths when a is an array and b a scalar.

        numpy evaluates a subtree free of coordinates to a scalar, one with coordinates to an
        array; for an array base and a scalar exponent in {2, 0.5, 1, 0, −1} it computes a·a,
        sqrt(a), a, 1, 1/a (sqrt(−inf) = nan, but pow(−inf, 0.5) = inf). The kernel does the
        same, so that the compiled values equal numpy's also at non-finite points.
        """
        (base, bi), (exponent, ei) = self._visit(node.left), self._visit(node.right)
        inner = bi or ei
        if not (
            _depends(node.left, self.coordinates) and not _depends(node.right, self.coordinates)
        ):
            return self._temporary(f"{base} ** {exponent}", inner)
        value = _number(node.right)
        if value is None:  # a scalar known only at run time (pi, sin(1), …): decide there
            return self._temporary(f"_pow_scalar({base}, {exponent})", inner)
        fast = {
            2.0: f"{base} * {base}",
            0.5: f"math.sqrt({base})",
            1.0: base,
            0.0: "1.0",
            -1.0: f"1.0 / {base}",
        }
        return self._temporary(fast.get(float(value), f"{base} ** {exponent}"), inner)


def _indent(lines: Sequence[str], level: int) -> list[str]:
    return [" " * (4 * level) + line for line in lines]


def _locals(expression: Expression, letter: str, prefix: str) -> dict[str, str]:
    """Every spelling of the coordinates of one letter → ``prefix`` + index."""
    d = expression.dims[expression.letters.index(letter)]
    names = {f"{letter}{k + 1}": f"{prefix}{k}" for k in range(d)}
    if d == 1:
        names[letter] = f"{prefix}0"
    return names


def _jit(source: str) -> Callable:
    """Compile generated source (built from checked trees only) into a numba kernel."""
    numba = _numba()
    filename = f"<mfpde.expressions kernel {next(_SOURCE_COUNTER)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {"np": np, "math": math, "numba": numba, **_HELPERS}
    exec(compile(source, filename, "exec"), namespace)  # our source; see the module docstring
    return numba.njit(parallel=True, error_model="numpy", fastmath=False)(namespace["_kernel"])


def _pair_source(expression: Expression, target: str, source: str, gradient: bool) -> str:
    """Source of Σ_j c_j W(t_i, s_j) (and Σ_j c_j ∇_t W) with prange over the targets i."""
    t_local, s_local = _locals(expression, target, "a"), _locals(expression, source, "b")
    d_t = len(set(t_local.values()))
    d_s = len(set(s_local.values()))
    emit = _Emitter({**t_local, **s_local}, inner=frozenset(s_local))
    trees = [expression] + (list(expression.gradient(target).components) if gradient else [])
    results = [emit(e._tree) for e in trees]
    accumulators = ["acc"] + [f"acc{k}" for k in range(len(results) - 1)]
    body = [
        "def _kernel(targets, sources, strengths):",
        "    n = targets.shape[0]",
        "    m = sources.shape[0]",
        "    values = np.empty(n)",
        f"    grads = np.empty(({'n' if gradient else 0}, {d_t}))",
        "    for i in numba.prange(n):",
        *_indent([f"a{k} = targets[i, {k}]" for k in range(d_t)], 2),
        *_indent(emit.outer, 2),
        *_indent([f"{acc} = 0.0" for acc in accumulators], 2),
        "        for j in range(m):",
        *_indent([f"b{k} = sources[j, {k}]" for k in range(d_s)], 3),
        "            c = strengths[j]",
        *_indent(emit.inner, 3),
        *_indent([f"{acc} += c * {r}" for acc, r in zip(accumulators, results)], 3),
        "        values[i] = acc",
        *_indent([f"grads[i, {k}] = acc{k}" for k in range(len(results) - 1)], 2),
        "    return values, grads",
    ]
    return "\n".join(body) + "\n"


def _point_source(expression: Expression, letter: str, gradient: bool) -> str:
    """Source of f(p_i) (and ∇f(p_i)) with prange over the points i."""
    local = _locals(expression, letter, "a")
    d = len(set(local.values()))
    emit = _Emitter(local)
    trees = [expression] + (list(expression.gradient(letter).components) if gradient else [])
    results = [emit(e._tree) for e in trees]
    body = [
        "def _kernel(points):",
        "    n = points.shape[0]",
        "    values = np.empty(n)",
        f"    grads = np.empty(({'n' if gradient else 0}, {d}))",
        "    for i in numba.prange(n):",
        *_indent([f"a{k} = points[i, {k}]" for k in range(d)], 2),
        *_indent(emit.outer, 2),
        f"        values[i] = {results[0]}",
        *_indent([f"grads[i, {k}] = {r}" for k, r in enumerate(results[1:])], 2),
        "    return values, grads",
    ]
    return "\n".join(body) + "\n"


def _points(array: np.ndarray, d: int, what: str) -> np.ndarray:
    """A C-contiguous float array (n, d); (n,) is accepted when d = 1."""
    array = np.asarray(array, dtype=float)
    if array.ndim == 1 and d == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[1] != d:
        raise InputError(f"{what} must have shape (n, {d}), got {array.shape}")
    return np.ascontiguousarray(array)


class _Compiled:
    """Generated kernels, ``"values"`` (built at once) and ``"gradient"`` (on first use).

    The gradient kernel is generated only when asked for, so that an expression whose
    derivative does not exist (``x % y`` in y) still has its values compiled.
    """

    expression: Expression

    def _generate(self, gradient: bool) -> str:
        raise NotImplementedError

    def _start(self) -> None:
        self.sources_code: dict[str, str] = {"values": self._generate(gradient=False)}
        self._kernels: dict[str, Callable] = {}

    @_deep
    def _kernel(self, gradient: bool) -> Callable:
        kind = "gradient" if gradient else "values"
        with _LOCK:
            if kind not in self._kernels:
                if kind not in self.sources_code:
                    self.sources_code[kind] = self._generate(gradient=True)
                self._kernels[kind] = _jit(self.sources_code[kind])
        return self._kernels[kind]


class CompiledPairSum(_Compiled):
    r"""Direct sum S_i = Σ_j c_j W(t_i, s_j) and ∇_t S_i by a compiled kernel.

    With W(x, y) and ``target="x"`` the targets are points x and the sources points y:

    .. math:: S_i = \sum_j c_j W(x_i, y_j), \qquad \nabla_x S_i = \sum_j c_j \nabla_x W(x_i, y_j);

    with ``target="y"`` the transposed sum T_j = Σ_i c_i W(x_i, y_j), ∇_y T_j. The gradient uses
    the exact symbolic derivatives (:meth:`Expression.derivative`). O(NM) work in a numba
    ``prange`` over the targets, O(N + M) memory. Made by :func:`compile_pair_sum`, which caches
    it; each kernel (values only, or values and gradients) compiles on its first call.

    Parameters
    ----------
    expression : Expression
        W, a function of two points.
    target : str
        The letter of the targets.

    Attributes
    ----------
    expression : Expression
        W.
    target, source : str
        The letters of the targets and of the sources.
    dims : tuple of int
        (d_target, d_source).
    sources_code : dict
        The generated source of the kernels, ``"values"`` and, once used, ``"gradient"``.
    """

    def __init__(self, expression: Expression, target: str = "x"):
        if not isinstance(expression, Expression):
            raise InputError(f"a compiled pair sum needs an Expression, got {expression!r}")
        if len(expression.letters) != 2 or target not in expression.letters:
            raise InputError(
                f"expression {expression.text!r}: a pair sum needs a function of two points and "
                f"a target letter among them (letters: {', '.join(expression.letters)}, target: "
                f"{target!r})"
            )
        self.expression = expression
        self.target = target
        self.source = next(letter for letter in expression.letters if letter != target)
        index = expression.letters.index
        self.dims = (expression.dims[index(target)], expression.dims[index(self.source)])
        self._start()

    @property
    def derivatives(self) -> tuple[Expression, ...]:
        """∂W/∂t_k, k = 1..d_target (InputError if W has none, e.g. ``x % y`` in y)."""
        return self.expression.gradient(self.target).components

    def _generate(self, gradient: bool) -> str:
        return _pair_source(self.expression, self.target, self.source, gradient)

    def __call__(
        self,
        targets: np.ndarray,
        sources: np.ndarray,
        strengths: np.ndarray,
        gradient: bool = False,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The sum at every target.

        Parameters
        ----------
        targets : numpy.ndarray
            (n, d_target) points t_i (``(n,)`` in 1-D).
        sources : numpy.ndarray
            (m, d_source) points s_j (``(m,)`` in 1-D).
        strengths : numpy.ndarray
            (m,) weights c_j.
        gradient : bool
            Also return ∇_t S.

        Returns
        -------
        values : numpy.ndarray
            (n,) S_i = Σ_j c_j W(t_i, s_j) (arguments in the order of the expression's letters).
        grads : numpy.ndarray or None
            (n, d_target) ∇_t S_i = Σ_j c_j ∇_t W(t_i, s_j), or None without ``gradient``.
        """
        t = _points(targets, self.dims[0], "targets")
        s = _points(sources, self.dims[1], "sources")
        c = np.ascontiguousarray(np.asarray(strengths, dtype=float))
        if c.shape != (s.shape[0],):
            raise InputError(f"strengths must have shape ({s.shape[0]},), got {c.shape}")
        values, grads = self._kernel(gradient)(t, s, c)
        return values, (grads if gradient else None)

    def __repr__(self) -> str:
        return f"CompiledPairSum({self.expression.text!r}, target={self.target!r})"


class CompiledPointFunction(_Compiled):
    """f(p_i) and ∇f(p_i) at points by a compiled kernel (a potential V(x)).

    Made by :func:`compile_point_function`, which caches it. Values equal numpy's evaluation
    of the expression up to round-off, non-finite values included; the gradient uses the exact
    symbolic derivatives. A ``prange`` over the points.

    Parameters
    ----------
    expression : Expression
        f, a function of one point.
    letter : str
        Its letter.

    Attributes
    ----------
    expression : Expression
        f.
    letter : str
        Its letter.
    dim : int
        Dimension d of the points.
    sources_code : dict
        The generated source of the kernels, ``"values"`` and, once used, ``"gradient"``.
    """

    def __init__(self, expression: Expression, letter: str = "x"):
        if not isinstance(expression, Expression):
            raise InputError(f"a compiled point function needs an Expression, got {expression!r}")
        if expression.letters != (letter,):
            raise InputError(
                f"expression {expression.text!r}: a point function needs one point {letter!r} "
                f"(letters: {', '.join(expression.letters)})"
            )
        self.expression = expression
        self.letter = letter
        self.dim = expression.dims[0]
        self._start()

    @property
    def derivatives(self) -> tuple[Expression, ...]:
        """∂f/∂p_k, k = 1..d."""
        return self.expression.gradient(self.letter).components

    def _generate(self, gradient: bool) -> str:
        return _point_source(self.expression, self.letter, gradient)

    def __call__(
        self, points: np.ndarray, gradient: bool = False
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """f and optionally ∇f at the points.

        Parameters
        ----------
        points : numpy.ndarray
            (n, d) points (``(n,)`` in 1-D).
        gradient : bool
            Also return ∇f.

        Returns
        -------
        values : numpy.ndarray
            (n,) f(p_i).
        grads : numpy.ndarray or None
            (n, d) ∇f(p_i), or None without ``gradient``.
        """
        p = _points(points, self.dim, "points")
        values, grads = self._kernel(gradient)(p)
        return values, (grads if gradient else None)

    def __repr__(self) -> str:
        return f"CompiledPointFunction({self.expression.text!r}, letter={self.letter!r})"


def _cached(key: tuple, make: Callable[[], Any]) -> Any:
    with _LOCK:
        if key not in _KERNELS:
            _KERNELS[key] = make()
        return _KERNELS[key]


def compile_pair_sum(expression: Expression, target: str = "x") -> CompiledPairSum:
    r"""The compiled direct sum of a two-point expression W (cached in-process).

    .. math:: S_i = \sum_j c_j W(t_i, s_j), \qquad \nabla_t S_i = \sum_j c_j \nabla_t W(t_i, s_j)

    in a numba ``prange`` over the targets t_i and a loop over the sources s_j (module
    docstring); see :class:`CompiledPairSum` for the call.

    Parameters
    ----------
    expression : Expression
        W(x, y), two letters (their dimensions may differ).
    target : str
        The letter of the targets: ``"x"`` gives S_i = Σ_j c_j W(x_i, y_j); ``"y"`` the
        transposed T_j = Σ_i c_i W(x_i, y_j) (a game payoff ℓ(x, y) seen from the second
        player).

    Returns
    -------
    CompiledPairSum
        The same object for every call with the same (text, letters, dimensions, target).
    """
    if not isinstance(expression, Expression):
        raise InputError(f"a compiled pair sum needs an Expression, got {expression!r}")
    key = ("pair", expression.text, expression.letters, expression.dims, target)
    return _cached(key, lambda: CompiledPairSum(expression, target))


def compile_point_function(expression: Expression, letter: str = "x") -> CompiledPointFunction:
    """The compiled evaluation of a one-point expression f and of ∇f (cached in-process).

    f(p_i) and ∇f(p_i) = (∂f/∂p_1, …, ∂f/∂p_d)(p_i) in a numba ``prange`` over the points;
    see :class:`CompiledPointFunction` for the call.

    Parameters
    ----------
    expression : Expression
        f(x), a function of one point.
    letter : str
        Its letter.

    Returns
    -------
    CompiledPointFunction
        The same object for every call with the same (text, letter, dimension).
    """
    if not isinstance(expression, Expression):
        raise InputError(f"a compiled point function needs an Expression, got {expression!r}")
    key = ("point", expression.text, expression.letters, expression.dims, letter)
    return _cached(key, lambda: CompiledPointFunction(expression, letter))


def _import_callable(spec: str) -> Callable:
    if not _python_allowed:
        raise InputError(
            f"{_shown(spec)} would import and run that Python code: allow it with "
            "--allow-python (or mfpde.expressions.allow_python() in Python)"
        )
    try:
        _, module_name, function_name = spec.split(":")
    except ValueError:
        raise InputError(f"{_shown(spec)}: a callable is named 'python:module:function'") from None
    try:
        function = getattr(importlib.import_module(module_name), function_name)
    except (ImportError, AttributeError) as exc:
        raise InputError(f"{_shown(spec)}: cannot import ({_shown(str(exc), 80)})") from None
    if not callable(function):
        raise InputError(f"{_shown(spec)} is not callable")
    return _Checked(function, spec)


class _Checked:
    """A user callable whose values are checked: numbers of the shape of the points' batch."""

    def __init__(self, function: Callable, spec: str):
        self.function, self.spec = function, spec

    def __call__(self, *points: np.ndarray) -> np.ndarray:
        shape = np.broadcast_shapes(*(np.shape(p)[:-1] for p in points))
        try:
            values = np.asarray(self.function(*points), dtype=float)
        except (TypeError, ValueError) as exc:
            raise InputError(f"{_shown(self.spec)} failed: {_shown(str(exc), 80)}") from None
        if values.shape != shape:
            raise InputError(
                f"{_shown(self.spec)} must return numbers of shape {shape} for points of shape "
                f"{np.shape(points[0])}, got shape {values.shape}"
            )
        return values


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
    if not isinstance(text, str):
        return Expression(text, dim, letters)  # the one-line error of a non-string
    return _parsed(text, dim if isinstance(dim, int) else tuple(dim), tuple(letters))


@functools.lru_cache(maxsize=PARSED_EXPRESSIONS)
def _parsed(text: str, dim: int | tuple[int, ...], letters: tuple[str, ...]) -> Expression:
    """The expression of (text, dim, letters), parsed and checked once per process.

    An :class:`Expression` does not change after it is built (its derivatives are cached in
    it), so one object serves every binding of a problem; errors are raised, not cached.
    """
    return Expression(text, dim, letters)
