r"""The backend-free part of the flow operator with rates (γ, α) (MATH §3, §4, §8).

For one measure with density vector ρ on a quadrature (weights w_i) and a *field* h (δF/δμ for a
minimising player, −δF/δν for a maximising one, MATH §4), with g = h + σ log(ρ/π):

    ∂_t ρ = γ ∇·(ρ ∇g) − α ρ (g − ⟨g⟩_ρ).

The reaction part is pointwise and identical for every backend; it is solved exactly in
log-variables for frozen h:

    log ρ ← e^{−ασ τ} log ρ + (1 − e^{−ασ τ}) log π − α τ φ(ασ τ) h,  φ(z) = (1 − e^{−z})/z,

then normalised (Σ w_i ρ_i = 1): exact for linear F (MATH §3.1 E1) and positive by construction.
The reaction may use its own entropy weight σ_r (``sigma_reaction``, default σ) and, through
:class:`mfpde.stepper.System`, its own field: σ_r = 0 with the field g_h of a kernelised flow
(MATH §3.2) gives log ρ ← log ρ − ατ g_h.
Backends (finite volumes :mod:`mfpde.fv.operator`, finite elements) subclass
:class:`FlowOperatorBase` and provide the transport-diffusion part.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from mfpde.problem import log_normalise

__all__ = ["FlowOperatorBase"]


class FlowOperatorBase(ABC):
    """One measure's flow ∂_t ρ = γ∇·(ρ∇g) − αρ(g − ⟨g⟩_ρ); backends add the transport part.

    Parameters
    ----------
    weights : ndarray
        Quadrature weights w_i (cell volumes, lumped masses).
    log_pi : ndarray
        log of the normalised reference density at the quadrature points.
    sigma, gamma, alpha : float
        Entropy weight and the rates of MATH §3.
    sigma_reaction : float, optional
        The entropy weight of the reaction part if it differs from σ (default σ). The
        kernelised flows of MATH §3.2 put the whole of g in the reaction's field and use 0.
    """

    def __init__(
        self,
        weights: np.ndarray,
        log_pi: np.ndarray,
        sigma: float,
        gamma: float,
        alpha: float,
        sigma_reaction: float | None = None,
    ):
        self.weights, self.log_pi = weights, log_pi
        self.sigma, self.gamma, self.alpha = sigma, gamma, alpha
        self.sigma_reaction = sigma if sigma_reaction is None else sigma_reaction

    def g(self, rho: np.ndarray, field: np.ndarray) -> np.ndarray:
        """g = h + σ log(ρ/π), the first variation of F^σ (MATH §2.1)."""
        return field + self.sigma * (np.log(rho) - self.log_pi)

    @abstractmethod
    def transport_rhs(self, rho: np.ndarray, field: np.ndarray) -> np.ndarray:
        """The semi-discrete transport-diffusion term γ∇·(ρ∇g)."""

    @abstractmethod
    def transport(self, rho: np.ndarray, tau: float, field: np.ndarray) -> np.ndarray:
        """Transport-diffusion substep of length τ for frozen h."""

    def rhs(
        self, rho: np.ndarray, field: np.ndarray, reaction_field: np.ndarray | None = None
    ) -> np.ndarray:
        """The semi-discrete right-hand side ∂_t ρ (the reaction's field defaults to ``field``)."""
        out = self.transport_rhs(rho, field) if self.gamma else np.zeros_like(rho)
        if self.alpha:
            h = field if reaction_field is None else reaction_field
            g = h + self.sigma_reaction * (np.log(rho) - self.log_pi)
            out -= self.alpha * rho * (g - self.weights @ (rho * g))
        return out

    def reaction(self, rho: np.ndarray, tau: float, field: np.ndarray) -> np.ndarray:
        """Exact reaction substep of length τ for frozen h (module docstring)."""
        if not self.alpha:
            return rho
        z = self.alpha * self.sigma_reaction * tau
        decay = np.exp(-z)
        phi = -np.expm1(-z) / z if z > 0 else 1.0
        log_rho = decay * np.log(rho) + (1 - decay) * self.log_pi - self.alpha * tau * phi * field
        return np.exp(log_normalise(log_rho, self.weights))
