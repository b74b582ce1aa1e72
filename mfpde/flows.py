"""The three optimisation flows as one operator with rates (γ, α) (MATH §3).

∂_t μ = γ ∇·(μ ∇g) − α μ (g − ⟨g⟩_μ),  g = δF^σ/δμ(μ_t, ·).

γ = 0 is Fisher-Rao (birth-death), α = 0 is Fokker-Planck (mean-field Langevin), both positive
is Wasserstein-Fisher-Rao. A :class:`Flow` only holds the rates; backends build the operator.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from mfpde.errors import InputError

__all__ = ["Flow", "fisher_rao", "fokker_planck", "wfr", "flow_from_name", "FLOW_DEFAULTS"]

#: Default rates of each named flow; a rate given as zero (or non-zero) against its kind is an
#: error, e.g. Fisher-Rao with γ ≠ 0.
FLOW_DEFAULTS: dict[str, dict[str, float]] = {
    "fisher_rao": {"gamma": 0.0, "alpha": 1.0},
    "fokker_planck": {"gamma": 1.0, "alpha": 0.0},
    "wfr": {"gamma": 1.0, "alpha": 1.0},
}


@dataclass(frozen=True)
class Flow:
    """Rates (γ, α) of the transport (Wasserstein) and reaction (Fisher-Rao) parts (MATH §3).

    Parameters
    ----------
    gamma : float
        Transport rate γ ≥ 0.
    alpha : float
        Reaction rate α ≥ 0.
    name : str
        The preset's name, stored in output files.
    """

    gamma: float
    alpha: float
    name: str = "wfr"

    def __post_init__(self) -> None:
        for key in ("gamma", "alpha"):
            v = getattr(self, key)
            if (
                isinstance(v, bool)
                or not isinstance(v, (int, float))
                or not np.isfinite(v)
                or v < 0
            ):
                raise InputError(f"flow {key} must be a finite number >= 0, got {v!r}")
        if self.gamma == 0 and self.alpha == 0:
            raise InputError("flow: gamma and alpha are both zero, nothing moves")


def fisher_rao(alpha: float = 1.0) -> Flow:
    """Fisher-Rao (birth-death) flow ∂_t μ = −α μ (g − ⟨g⟩_μ) (MATH §3.1)."""
    return flow_from_name("fisher_rao", alpha=alpha)


def fokker_planck(gamma: float = 1.0) -> Flow:
    """Fokker-Planck (mean-field Langevin) flow ∂_t μ = γ ∇·(μ∇g) (MATH §3.2)."""
    return flow_from_name("fokker_planck", gamma=gamma)


def wfr(gamma: float = 1.0, alpha: float = 1.0) -> Flow:
    """Wasserstein-Fisher-Rao flow, the sum of the two (MATH §3.3)."""
    return flow_from_name("wfr", gamma=gamma, alpha=alpha)


def flow_from_name(
    name: str,
    gamma: float | None = None,
    alpha: float | None = None,
    presets: Mapping[str, dict[str, float]] = FLOW_DEFAULTS,
) -> Flow:
    """Build a named flow, filling in its default rates and rejecting contradictory ones.

    ``presets`` maps names to default rates (:data:`FLOW_DEFAULTS`; the game flows of MATH §4
    pass their own table, :data:`mfpde.games.flows.GAME_FLOW_DEFAULTS`).
    """
    if name not in presets:
        raise InputError(f"unknown flow kind {name!r} (choose from {', '.join(presets)})")
    rates = dict(presets[name])
    for key, value in (("gamma", gamma), ("alpha", alpha)):
        if value is None:
            continue
        if (rates[key] == 0) != (value == 0):
            must = "0" if rates[key] == 0 else "> 0"
            raise InputError(f"flow {name!r} needs {key} {must}, got {key} = {value}")
        rates[key] = value
    return Flow(name=name, **rates)
