r"""Game flows: one (γ, α) flow per player, with named presets (MATH §4).

    ∂_t μ = γ_x ∇·(μ ∇a) − α_x μ (a − ⟨a⟩_μ),   a = δF/δμ + σ log(μ/π),
    ∂_t ν = −γ_y ∇·(ν ∇b) + α_y ν (b − ⟨b⟩_ν),  b = δF/δν − σ log(ν/ρ).

The ν-equation is the optimisation flow of MATH §3 with g = −b, so each player is an ordinary
:class:`~mfpde.flows.Flow`; rates may differ between the players (two-scale descent-ascent).
Presets, built by :func:`~mfpde.flows.flow_from_name` from :data:`GAME_FLOW_DEFAULTS`:

- ``fisher_rao``: γ = 0, σ > 0 (Lascu–Majka–Szpruch [000]);
- ``mirror_descent``: γ = 0, σ = 0 (continuous mirror descent-ascent);
- ``langevin_da``: α = 0, σ > 0 (Langevin descent-ascent, [003] eq. (7));
- ``wfr_da``: γ, α > 0, σ ≥ 0 (WFR descent-ascent, [003] eq. (8); σ = 0 there). With σ = 0 the
  finite-volume transport is the σ → 0 limit of Scharfetter-Gummel, upwinding (first order in
  space, still positive and mass-conserving, :func:`mfpde.fv.operator._sigma_bernoulli`).
"""

from __future__ import annotations

from dataclasses import dataclass

from mfpde.errors import InputError
from mfpde.flows import Flow, flow_from_name

__all__ = ["GameFlow", "game_flow", "GAME_FLOW_DEFAULTS"]

#: Default rates of the game presets (the same for both players unless given per player).
GAME_FLOW_DEFAULTS: dict[str, dict[str, float]] = {
    "fisher_rao": {"gamma": 0.0, "alpha": 1.0},
    "mirror_descent": {"gamma": 0.0, "alpha": 1.0},
    "langevin_da": {"gamma": 1.0, "alpha": 0.0},
    "wfr_da": {"gamma": 1.0, "alpha": 1.0},
}

#: What each preset requires of σ: True (σ > 0), False (σ = 0), None (σ ≥ 0, MATH §4).
#: ``langevin_da`` with σ = 0 would be pure transport without diffusion or reaction, and
#: ``fisher_rao`` with σ = 0 is ``mirror_descent``: both are refused.
_ENTROPIC = {"fisher_rao": True, "mirror_descent": False, "langevin_da": True, "wfr_da": None}


@dataclass(frozen=True)
class GameFlow:
    """The rates of the two players and the preset's name (MATH §4)."""

    mu: Flow
    nu: Flow
    name: str

    def check(self, sigma: float) -> None:
        """Raise :class:`InputError` if σ contradicts the preset."""
        entropic = _ENTROPIC[self.name]
        if entropic and sigma == 0:
            raise InputError(f"flow {self.name!r} needs sigma > 0")
        if entropic is False and sigma != 0:
            raise InputError(
                f"flow 'mirror_descent' is the sigma = 0 flow, got sigma = {sigma} "
                "(use 'fisher_rao' for sigma > 0)"
            )


def game_flow(
    name: str = "fisher_rao",
    gamma: float | None = None,
    alpha: float | None = None,
    gamma_nu: float | None = None,
    alpha_nu: float | None = None,
) -> GameFlow:
    """Build a named game flow; ν's rates default to μ's (one time scale).

    A rate contradicting the preset (e.g. ``fisher_rao`` with γ ≠ 0, ``langevin_da`` with
    α_ν ≠ 0) raises :class:`~mfpde.errors.InputError`.
    """
    mu = flow_from_name(name, gamma, alpha, presets=GAME_FLOW_DEFAULTS)
    try:
        nu = flow_from_name(
            name,
            mu.gamma if gamma_nu is None else gamma_nu,
            mu.alpha if alpha_nu is None else alpha_nu,
            presets=GAME_FLOW_DEFAULTS,
        )
    except InputError as exc:
        raise InputError(f"{exc} (rates of nu: gamma_nu, alpha_nu)") from None
    return GameFlow(mu, nu, name)
