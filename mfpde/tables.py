"""Checked TOML tables shared by every configuration reader (README "Configuration files").

:class:`Table` checks a table's keys and types and raises :class:`~mfpde.errors.InputError` with a
one-line message naming the key; :func:`domain_from_table` and :func:`time_options` read the
``[domain]`` and ``[time]`` tables every backend shares. The problem readers
(:mod:`mfpde.config`), the DOLFINx ``[domain]`` reader (:mod:`mfpde.fem.config`) and the particle
tables (:mod:`mfpde.particles.config`) build on this module, which imports none of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from mfpde.domains import Box, Circle, Domain, Interval, Torus
from mfpde.errors import InputError
from mfpde.resources import check_grid_size, require_steps

__all__ = [
    "Table",
    "DOMAIN_KINDS",
    "domain_from_table",
    "time_options",
    "Run",
    "Discretisation",
]


#: The largest magnitude of a number in a configuration: rates, σ, lengths, times beyond it
#: overflow the solvers' arithmetic (e^{-V/σ}, γσ/h², t/dt) long before they mean anything.
MAX_NUMBER = 1e12


class Table:
    """A TOML table whose keys are checked against those the reader asks for."""

    def __init__(self, data: dict[str, Any], name: str, allowed: set[str]):
        if not isinstance(data, dict):
            raise InputError(f"[{name}] must be a table")
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise InputError(
                f"unknown key {unknown[0]!r} in [{name}] (allowed: {', '.join(sorted(allowed))})"
            )
        self.data, self.name = data, name

    def number(
        self,
        key: str,
        default: float | None = None,
        *,
        minimum: float | None = None,
        positive: bool = False,
    ) -> float | None:
        value = self.data.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
            raise InputError(f"[{self.name}] {key} must be a finite number, got {value!r}")
        if abs(value) > MAX_NUMBER:
            raise InputError(
                f"[{self.name}] {key} = {value:g} is out of range (at most {MAX_NUMBER:g} in size)"
            )
        if positive and value <= 0:
            raise InputError(f"[{self.name}] {key} must be > 0, got {value}")
        if minimum is not None and value < minimum:
            raise InputError(f"[{self.name}] {key} must be >= {minimum}, got {value}")
        return float(value)

    def integer(self, key: str, default: int | None = None) -> int | None:
        value = self.data.get(key, default)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise InputError(f"[{self.name}] {key} must be a positive integer, got {value!r}")
        return value

    def string(self, key: str, default: str | None = None, choices=None) -> str | None:
        value = self.data.get(key, default)
        if value is None:
            return None
        if not isinstance(value, str):
            raise InputError(f"[{self.name}] {key} must be a string, got {value!r}")
        if choices is not None and value not in choices:
            raise InputError(f"[{self.name}] {key} = {value!r} (choose from {', '.join(choices)})")
        return value

    def expression(self, key: str, default: str | None = None) -> str | None:
        """An expression or ``python:module:function``; a plain number is a constant."""
        value = self.data.get(key, default)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return repr(float(value))
        return self.string(key, default)

    def required(self, key: str) -> Any:
        if key not in self.data:
            raise InputError(f"[{self.name}] needs the key {key!r}")
        return self.data[key]


DOMAIN_KINDS = ("interval", "box", "torus", "circle", "product")
#: The axis kinds of ``kind = "product"``.
AXIS_KINDS = ("interval", "circle")


def domain_from_table(data: dict, name: str = "domain") -> tuple[Domain, tuple[int, ...]]:
    """Read ``[domain]``: kind, cells and (interval, box) lower, upper or (torus) dim, or
    (product) ``axes``: a list of inline tables ``{ kind = "interval", lower = a, upper = b }``
    or ``{ kind = "circle" }`` (walled and periodic axes mixed, e.g. interval × circle)."""
    if not isinstance(data, dict) or "kind" not in data:
        raise InputError(f"[{name}] needs the key 'kind' ({', '.join(DOMAIN_KINDS)})")
    kind = Table(data, name, set(data)).string("kind", None, DOMAIN_KINDS)
    keys = {
        "interval": {"lower", "upper"},
        "box": {"lower", "upper"},
        "torus": {"dim"},
        "circle": set(),
        "product": {"axes"},
    }
    t = Table(data, name, {"kind", "cells"} | keys[kind])
    cells = t.required("cells")
    cells_list = cells if isinstance(cells, list) else [cells]
    if not cells_list or not all(
        isinstance(c, int) and not isinstance(c, bool) and c >= 3 for c in cells_list
    ):
        raise InputError(f"[{name}] cells must be an integer >= 3 or a list of them, got {cells!r}")
    if kind == "interval":
        domain = Interval(t.number("lower", 0.0), t.number("upper", 1.0))
    elif kind == "box":
        lower, upper = t.required("lower"), t.required("upper")
        if not (isinstance(lower, list) and isinstance(upper, list)):
            raise InputError(f"[{name}] lower and upper of a box are lists, one entry per axis")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in lower + upper):
            raise InputError(f"[{name}] lower and upper must be lists of numbers")
        domain = Box(lower, upper)
    elif kind == "torus":
        domain = Torus(t.integer("dim", len(cells_list)))
    elif kind == "product":
        domain = _product(t.required("axes"), name)
    else:
        domain = Circle()
    if len(cells_list) not in (1, domain.dim):
        raise InputError(
            f"[{name}] cells has {len(cells_list)} entries for a {domain.dim}-D domain"
        )
    shape = tuple(cells_list) * (domain.dim if len(cells_list) == 1 else 1)
    check_grid_size(float(np.prod(np.asarray(shape, dtype=float))), f"[{name}] cells = {cells}")
    return domain, shape


def _product(axes, name: str) -> Domain:
    """The product of the axes of ``kind = "product"`` (:func:`domain_from_table`)."""
    if not isinstance(axes, list) or not 1 <= len(axes) <= 3:
        raise InputError(f"[{name}] axes must be a list of 1 to 3 axis tables")
    bounds = []  # (lower, upper, periodic) per axis
    for k, axis in enumerate(axes):
        where = f"{name}.axes[{k}]"
        if not isinstance(axis, dict):
            raise InputError(f'[{where}] must be a table like {{ kind = "circle" }}')
        kind = Table(axis, where, set(axis)).string("kind", None, AXIS_KINDS)
        if kind is None:
            raise InputError(f"[{where}] needs the key 'kind' ({', '.join(AXIS_KINDS)})")
        if kind == "circle":
            Table(axis, where, {"kind"})
            bounds.append((0.0, 2 * np.pi, True))
        else:
            a = Table(axis, where, {"kind", "lower", "upper"})
            bounds.append((a.number("lower", 0.0), a.number("upper", 1.0), False))
    lower, upper, periodic = zip(*bounds)
    return Domain(lower, upper, periodic, kind="product")


TIME_KEYS = {"t_end", "dt", "save_every", "tolerance", "scheme"}


def time_options(data: dict) -> dict[str, Any]:
    """Read ``[time]``: t_end, dt (or tolerance for adaptive steps), save_every, scheme."""
    t = Table(data, "time", TIME_KEYS)
    options = {
        "t_end": t.number("t_end", positive=True) if "t_end" in data else t.required("t_end"),
        "dt": t.number("dt", positive=True),
        "tolerance": t.number("tolerance", positive=True),
        "save_every": t.integer("save_every", 1),
        "scheme": t.string("scheme", "expm", ("expm", "implicit_euler")),
    }
    if options["dt"] is None and options["tolerance"] is None:
        raise InputError("[time] needs dt, or tolerance for adaptive steps")
    if options["dt"] is not None:
        require_steps(options["t_end"] / options["dt"], "[time] t_end/dt")
    return options


@dataclass
class Run:
    """A configured run: ``execute()`` solves and returns an object with ``save(path, config)``.

    ``parallel`` runs share their work over MPI ranks themselves (DOLFINx meshes, particle
    replicas; rank 0 writes); under ``mpiexec`` any other run is computed by rank 0 only.
    """

    execute: Callable[[bool], Any]
    text: str
    parallel: bool = False


@dataclass
class Discretisation:
    """A read ``[domain]``: the problem's domain, its grid (or P1 space) and the backend's solvers.

    ``solve`` has the signature of :func:`mfpde.solve` and ``solve_game`` that of
    :func:`mfpde.games.solve_game` (grids as keywords ``grid``, ``grid_mu``, ``grid_nu``).
    """

    domain: Any
    grid: Any
    solve: Callable
    solve_game: Callable
