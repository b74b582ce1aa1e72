"""Domains Ω of MATH §1: intervals and boxes (no-flux walls), the torus T^d and the circle S^1.

A domain is geometry only; it knows nothing of how it is discretised. The finite-volume grids
(:mod:`mfpde.fv.grid`) and, later, the particle systems consume the same objects (the particles
use :meth:`Domain.project` to wrap or reflect positions).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mfpde.errors import InputError

__all__ = ["Domain", "Interval", "Box", "Torus", "Circle"]

TWO_PI = 2.0 * np.pi


@dataclass(frozen=True)
class Domain:
    """An axis-aligned box ``[lower, upper]`` in R^d, each axis either periodic or walled.

    Parameters
    ----------
    lower, upper : sequence of float
        Corners of the box; ``lower < upper`` on every axis.
    periodic : sequence of bool
        Which axes are periodic (torus, circle); the others have no-flux walls.
    kind : str
        The name used in configuration files.
    """

    lower: tuple[float, ...]
    upper: tuple[float, ...]
    periodic: tuple[bool, ...]
    kind: str = field(default="box")

    def __post_init__(self) -> None:
        lo = np.asarray(self.lower, dtype=float)
        hi = np.asarray(self.upper, dtype=float)
        if lo.ndim != 1 or lo.shape != hi.shape or len(self.periodic) != lo.size:
            raise InputError("domain: lower, upper and periodic must have one entry per axis")
        if not 1 <= lo.size <= 3:
            raise InputError(f"domain: dimension must be 1, 2 or 3, got {lo.size}")
        if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi)) and np.all(lo < hi)):
            raise InputError(f"domain: need finite lower < upper, got {self.lower}, {self.upper}")
        object.__setattr__(self, "lower", tuple(float(v) for v in lo))
        object.__setattr__(self, "upper", tuple(float(v) for v in hi))
        object.__setattr__(self, "periodic", tuple(bool(p) for p in self.periodic))

    @property
    def dim(self) -> int:
        """Dimension d."""
        return len(self.lower)

    @property
    def lengths(self) -> np.ndarray:
        """Side lengths ``upper - lower``."""
        return np.subtract(self.upper, self.lower)

    @property
    def volume(self) -> float:
        """|Ω|."""
        return float(np.prod(self.lengths))

    def project(self, points: np.ndarray) -> np.ndarray:
        """Map points back into Ω: wrap periodic axes, reflect at walls."""
        x = np.array(points, dtype=float)
        lo, length = np.asarray(self.lower), self.lengths
        for k in range(self.dim):
            if self.periodic[k]:
                x[..., k] = lo[k] + np.mod(x[..., k] - lo[k], length[k])
            else:
                y = np.mod(x[..., k] - lo[k], 2 * length[k])
                x[..., k] = lo[k] + np.where(y > length[k], 2 * length[k] - y, y)
        return x


def Interval(lower: float, upper: float) -> Domain:  # noqa: N802 (a domain constructor)
    """The interval [lower, upper] with no-flux ends."""
    return Domain((lower,), (upper,), (False,), kind="interval")


def Box(lower, upper) -> Domain:  # noqa: N802
    """The box Π [lower_k, upper_k] with no-flux walls."""
    lower, upper = np.atleast_1d(lower), np.atleast_1d(upper)
    return Domain(tuple(lower), tuple(upper), (False,) * lower.size, kind="box")


def Torus(dim: int = 1) -> Domain:  # noqa: N802
    """The flat torus T^d = [0, 2π)^d (MATH §1)."""
    if dim not in (1, 2, 3):
        raise InputError(f"torus: dimension must be 1, 2 or 3, got {dim}")
    return Domain((0.0,) * dim, (TWO_PI,) * dim, (True,) * dim, kind="torus")


def Circle() -> Domain:  # noqa: N802
    """The unit circle S^1, parametrised by the angle x ∈ [0, 2π)."""
    return Domain((0.0,), (TWO_PI,), (True,), kind="circle")
