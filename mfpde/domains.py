"""Domains Ω of MATH §1: intervals and boxes (no-flux walls), T^d, the circle S^1, spheres S^{d−1}.

A domain is geometry only; it knows nothing of how it is discretised. The finite-volume grids
(:mod:`mfpde.fv.grid`), the meshes of :mod:`mfpde.fem` and the particle systems consume the same
objects. Particles step in the tangent space and retract (MATH §6.3): :meth:`Domain.tangent`
projects a step onto the tangent space (the identity on flat domains), :meth:`Domain.project`
wraps or reflects positions (normalises them on S^{d−1}), :meth:`Domain.uniform` samples the uniform
law.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mfpde.checks import integer, number
from mfpde.errors import InputError

__all__ = ["Domain", "Interval", "Box", "Torus", "Circle", "Sphere"]

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

    def tangent(self, points: np.ndarray, steps: np.ndarray) -> np.ndarray:
        """The tangent part of ``steps`` at ``points``: the steps themselves (Ω is flat)."""
        return steps

    def uniform(self, rng: np.random.Generator, m: int) -> np.ndarray:
        """m iid draws from the uniform law on Ω, shape (m, d)."""
        return np.asarray(self.lower) + self.lengths * rng.random((m, self.dim))


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


@dataclass(frozen=True)
class Sphere:
    r"""The unit sphere S^{d−1} ⊂ R^d, d ≥ 2 (MATH §1, §6.3); points x ∈ R^d with |x| = 1.

    ``dim`` is d, the dimension of the points (as for every domain): ``Sphere()`` is S² ⊂ R³,
    ``Sphere(5)`` is S⁴ ⊂ R⁵. Particles live on every S^{d−1}; the mesh backends have S² only
    (the icosphere of :func:`mfpde.fem.icosphere`; S¹ is the :func:`Circle` of finite volumes).

    Langevin steps (MATH §6.3) move in the tangent space and retract: x ↦ (x + P_x Δ)/|x + P_x Δ|
    with Δ = −ηγ∇g + √(2γση) ξ. Since |x + P_xΔ|^{−1} = 1 − |P_xΔ|²/2 + O(|Δ|⁴) and
    E|P_x ξ|² = d − 1, the retraction adds the drift −(d − 1)γση x of Brownian motion on S^{d−1}
    embedded in R^d, so that degree-one harmonics x·e decay at the rate (d − 1)γσ of the heat
    flow (the eigenvalue l(l + d − 2) of −Δ at l = 1).
    """

    dim: int = 3
    kind: str = "sphere"

    def __post_init__(self) -> None:
        object.__setattr__(self, "dim", integer("sphere dimension d (S^(d-1) in R^d)", self.dim,
                                                minimum=2))  # fmt: skip

    @property
    def lengths(self) -> np.ndarray:
        """Side lengths of the bounding cube [−1, 1]^d (the scale of finite-difference steps)."""
        return np.full(self.dim, 2.0)

    @staticmethod
    def project(points: np.ndarray) -> np.ndarray:
        """Retract points of R^d \\ {0} onto S^{d−1} (x ↦ x/|x|)."""
        x = np.asarray(points, dtype=float)
        return x / np.linalg.norm(x, axis=-1, keepdims=True)

    @staticmethod
    def tangent(points: np.ndarray, steps: np.ndarray) -> np.ndarray:
        """P_x v = v − (x·v) x, the projection of steps v onto the tangent spaces at x."""
        return steps - np.sum(points * steps, axis=-1, keepdims=True) * points

    def uniform(self, rng: np.random.Generator, m: int) -> np.ndarray:
        """m iid uniform points on S^{d−1} (normalised standard normal vectors), shape (m, d)."""
        return self.project(rng.standard_normal((m, self.dim)))

    def von_mises_fisher(
        self, rng: np.random.Generator, m: int, mean: np.ndarray, kappa: float
    ) -> np.ndarray:
        r"""m iid draws of the von Mises-Fisher law ∝ e^{κ mean·x} on S^{d−1}, shape (m, d).

        Wood's (1994) rejection sampler, as implemented by :data:`scipy.stats.vonmises_fisher`;
        κ = 0 is the uniform law. Its mean resultant length is E[mean·x] = I_{d/2}(κ)/I_{d/2−1}(κ).

        Parameters
        ----------
        rng : numpy.random.Generator
        m : int
        mean : array_like, shape (d,)
            The mean direction (normalised here; must be non-zero).
        kappa : float
            The concentration κ ≥ 0.
        """
        mean = np.asarray(mean, dtype=float)
        if mean.shape != (self.dim,) or not np.all(np.isfinite(mean)) or not mean.any():
            raise InputError(
                f"von Mises-Fisher mean must be a non-zero vector of length {self.dim}"
            )
        kappa = number("von Mises-Fisher kappa", kappa, minimum=0.0)
        if kappa == 0:
            return self.uniform(rng, m)
        from scipy.stats import vonmises_fisher  # scipy.stats takes ~0.3 s to import: on use

        return vonmises_fisher(mean / np.linalg.norm(mean), kappa).rvs(m, random_state=rng)
