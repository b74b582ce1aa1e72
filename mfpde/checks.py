"""Argument checks of the Python API: a bad argument is an InputError with one clear line.

The configuration readers check their tables (:mod:`mfpde.tables`); the public functions and
classes check their arguments here, so that ``mfpde.solve(problem, "wfr", ...)`` or
``OptimisationProblem(domain, "cos(x)", 0.5)`` fail at once with a message naming the argument,
not later with a traceback from deep inside (README "Exit codes and the error model").
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mfpde.errors import InputError

__all__ = ["number", "integer", "instance"]


def number(
    name: str,
    value: Any,
    *,
    minimum: float | None = None,
    positive: bool = False,
    maximum: float = 1e12,
) -> float:
    """``value`` as a float: a finite real number (not a bool or a string) within the bounds."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InputError(f"{name} must be a number, got {_shown(value)}")
    value = float(value)
    if not math.isfinite(value):
        raise InputError(f"{name} must be a finite number, got {value}")
    if positive and value <= 0:
        raise InputError(f"{name} must be > 0, got {value:g}")
    if minimum is not None and value < minimum:
        raise InputError(f"{name} must be >= {minimum:g}, got {value:g}")
    if abs(value) > maximum:
        raise InputError(f"{name} = {value:g} is out of range (at most {maximum:g} in size)")
    return value


def integer(name: str, value: Any, *, minimum: int = 1) -> int:
    """``value`` as an int: an integer (not a bool or a float) ≥ ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}, got {_shown(value)}")
    return int(value)


def instance(name: str, value: Any, types: type | tuple[type, ...], what: str) -> Any:
    """``value`` if it is one of ``types``, else InputError("name must be WHAT, got ...")."""
    if not isinstance(value, types):
        raise InputError(f"{name} must be {what}, got {_shown(value)}")
    return value


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:60]}… ({type(value).__name__})"
