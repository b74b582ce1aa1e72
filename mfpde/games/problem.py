r"""Entropic two-player games F^σ(μ, ν) = F(μ, ν) + σ KL(μ|π) − σ KL(ν|ρ) (MATH §2.2).

μ ∈ P(X) minimises, ν ∈ P(Y) maximises; X and Y are domains of their own (an interval and a
torus, say, possibly of different dimensions). F is a payoff: :class:`Bilinear`,
F(μ, ν) = ∫∫ ℓ(x, y) μ(dx) ν(dy), or a general convex-concave :class:`ConvexConcave` given by
its value and its two first variations. :meth:`GameProblem.bind` attaches the game to one
weighted point set per player (:class:`~mfpde.quadrature.Quadrature`: grid cells, P1 nodes or
the particles of each player) and returns a :class:`BoundGame`, which gives the two fields

    V_x = δF/δμ(μ, ν, ·) on the points of X,   V_y = δF/δν(μ, ν, ·) on the points of Y,

(and their gradients, for transport at particles) for density vectors μ, ν. For a bilinear
payoff they are the sums

    V_x(x_i) = Σ_j w^Y_j ν_j ℓ(x_i, y_j),   V_y(y_j) = Σ_i w^X_i μ_i ℓ(x_i, y_j),

chosen once per pair of domains by the structure of ℓ (:func:`mfpde.sums.pair_kernel`: FFT on
grids when ℓ depends on x − y, Fourier or separable expansions summed by NUFFT, the moments of
polynomial payoffs such as the sphere games, compiled direct sums otherwise).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from mfpde import checks
from mfpde.domains import Domain
from mfpde.energies import BoundEnergy, _key, finite_values
from mfpde.errors import InputError
from mfpde.expressions import parse
from mfpde.problem import BoundProblem, Reference, kl_divergence
from mfpde.quadrature import Quadrature
from mfpde.sums import METHODS, PairKernel, pair_kernel

__all__ = ["Bilinear", "ConvexConcave", "GameProblem", "BoundGame", "Quadrature"]


class _BoundBilinear:
    """ℓ on two point sets; :meth:`fields` returns (V_x, V_y), :meth:`fields_with_gradients`
    also ∇V_x at the x's and ∇V_y at the y's."""

    #: F is linear in each player: the best responses are explicit Gibbs measures.
    linear = True

    def __init__(self, kernel: PairKernel, x: Quadrature, y: Quadrature):
        self.kernel, self.x, self.y = kernel, x, y
        self.sums = kernel.bind(x, y)

    def _fields(self, mu, nu, gradient):
        V_x = self.sums.over_y(self.y.weights * nu, gradient)
        V_y = self.sums.over_x(self.x.weights * mu, gradient)
        finite_values("payoff field V_x", V_x[0], self.x.points)
        finite_values("payoff field V_y", V_y[0], self.y.points)
        return V_x, V_y

    def fields(self, mu: np.ndarray, nu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """V_x[ν] at the points of X and V_y[μ] at those of Y (MATH §2.2)."""
        V_x, V_y = self._fields(mu, nu, False)
        return V_x[0], V_y[0]

    def fields_with_gradients(self, mu: np.ndarray, nu: np.ndarray):
        """((V_x, ∇V_x), (V_y, ∇V_y)), the gradients of shapes (n_x, d_X) and (n_y, d_Y)."""
        return self._fields(mu, nu, True)

    def value(self, mu: np.ndarray, nu: np.ndarray) -> float:
        return float(self.x.weights @ (mu * self.sums.over_y(self.y.weights * nu)[0]))


class Bilinear:
    r"""Bilinear payoff F(μ, ν) = ∫∫ ℓ(x, y) μ(dx) ν(dy) (MATH §2.2, [003]).

    δF/δμ = V_x[ν] = ∫ ℓ(·, y) ν(dy) and δF/δν = V_y[μ] = ∫ ℓ(x, ·) μ(dx). F is linear in each
    player, so the game is convex-concave for every ℓ and its NI error is explicit
    (:func:`mfpde.games.ni_error`).

    Parameters
    ----------
    ell : str or callable
        An expression in the coordinates of both players (``"cos(x - y)"``, ``"x1*y + x2"``:
        ``x``/``x1, x2, x3`` for X, ``y``/``y1, y2, y3`` for Y), or a callable ``ell(x, y)`` on
        point arrays of shapes ``(..., d_X)`` and ``(..., d_Y)`` that broadcast.
    method : {"auto", "fourier", "separable", "direct"}
        The payoff sums (:data:`mfpde.sums.METHODS`); "auto" chooses.
    tolerance : float
        Relative accuracy of the fast sums (default 1e-10).
    kernel : callable, optional
        ``kernel(domain_x, domain_y) -> PairKernel``: the sums of a payoff known by its
        features (e.g. the polynomial sphere games, :func:`mfpde.games.sphere_game`).
    """

    def __init__(self, ell: str | Callable, method: str = "auto", tolerance: float = 1e-10,
                 kernel: Callable | None = None):  # fmt: skip
        if method not in METHODS:
            raise InputError(f"unknown payoff sum {method!r} (choose from {', '.join(METHODS)})")
        self.ell, self.method, self.tolerance, self.features = ell, method, tolerance, kernel
        self._kernels: dict = {}

    def function(self, dims: tuple[int, int]) -> Callable:
        """ℓ as a vectorised callable of point arrays of dimensions ``dims``."""
        return self.ell if callable(self.ell) else parse(self.ell, dims, ("x", "y"))

    def kernel(self, x: Quadrature, y: Quadrature) -> PairKernel:
        """The sums of ℓ on X × Y (made once per pair of domains)."""
        key = (_key(x.domain), _key(y.domain), x.dim, y.dim)
        if key not in self._kernels:
            if self.features is not None:
                kernel = self.features(x.domain, y.domain)
            else:
                kernel = pair_kernel(
                    self.function((x.dim, y.dim)),
                    x.domain,
                    y.domain,
                    method=self.method,
                    tolerance=self.tolerance,
                    name="payoff",
                )
            self._kernels[key] = kernel
        return self._kernels[key]

    def bind(self, x: Quadrature, y: Quadrature) -> _BoundBilinear:
        return _BoundBilinear(self.kernel(x, y), x, y)


class _BoundConvexConcave:
    linear = False

    def __init__(self, payoff: ConvexConcave, x: Quadrature, y: Quadrature):
        self.payoff, self.x, self.y = payoff, x, y

    def _args(self, mu, nu):
        return self.x.points, self.x.weights, mu, self.y.points, self.y.weights, nu

    def fields(self, mu, nu):
        args = self._args(mu, nu)
        return (
            finite_values("first variation in mu", self.payoff.first_variation_mu(*args), args[0]),
            finite_values("first variation in nu", self.payoff.first_variation_nu(*args), args[3]),
        )

    def fields_with_gradients(self, mu, nu):
        raise InputError(
            "a ConvexConcave payoff gives no gradients: games with transport need Bilinear"
        )

    def value(self, mu, nu):
        return float(self.payoff.value(*self._args(mu, nu)))


class ConvexConcave:
    r"""A general payoff F(μ, ν), convex in μ and concave in ν, given by callables (MATH §2.2).

    Each callable takes ``(x, wx, mu, y, wy, nu)``: the points and weights of both quadratures
    and the two density vectors, i.e. μ = Σ_i wx_i mu_i δ_{x_i} and ν = Σ_j wy_j nu_j δ_{y_j}.

    Parameters
    ----------
    value : callable
        F(μ, ν), a float.
    first_variation_mu : callable
        δF/δμ(μ, ν, x_i), shape ``(n_x,)``.
    first_variation_nu : callable
        δF/δν(μ, ν, y_j), shape ``(n_y,)``.
    """

    def __init__(self, value: Callable, first_variation_mu: Callable, first_variation_nu: Callable):
        self.value = value
        self.first_variation_mu = first_variation_mu
        self.first_variation_nu = first_variation_nu

    def bind(self, x: Quadrature, y: Quadrature) -> _BoundConvexConcave:
        return _BoundConvexConcave(self, x, y)


def reference_in_y(reference: Reference) -> Reference:
    """ν's reference with an expression read in ν's coordinates ``y``/``y1, y2, y3``."""
    density = reference.density
    if not isinstance(density, str) or density == "uniform" or density.startswith("python:"):
        return reference
    return Reference(lambda y: parse(density, y.shape[-1], ("y",))(y))


@dataclass(frozen=True)
class GameProblem:
    r"""The entropic game min_μ max_ν F(μ, ν) + σ KL(μ|π) − σ KL(ν|ρ) (MATH §2.2).

    Parameters
    ----------
    domain_mu, domain_nu : Domain
        X (minimising player μ) and Y (maximising player ν).
    payoff : Bilinear or ConvexConcave
        F.
    sigma : float
        Entropy weight σ ≥ 0 (σ = 0 only for mirror descent-ascent, MATH §4).
    reference_mu, reference_nu : Reference
        π on X and ρ on Y (uniform by default). An expression for ρ is in ν's coordinates
        ``y``/``y1, y2, y3``, e.g. ``Reference("exp(-y**2)")``.
    """

    domain_mu: Domain
    domain_nu: Domain
    payoff: Bilinear | ConvexConcave
    sigma: float = 1.0
    reference_mu: Reference = field(default_factory=Reference)
    reference_nu: Reference = field(default_factory=Reference)

    def __post_init__(self) -> None:
        for name in ("domain_mu", "domain_nu"):
            domain = getattr(self, name)
            if not hasattr(domain, "dim") or isinstance(domain, str):
                raise InputError(f"{name} must be a Domain, a Sphere or a mesh, got {domain!r:.60}")
        checks.instance(
            "payoff", self.payoff, (Bilinear, ConvexConcave), "a Bilinear or ConvexConcave"
        )
        for name in ("reference_mu", "reference_nu"):
            checks.instance(name, getattr(self, name), Reference, "a Reference")
        object.__setattr__(self, "sigma", checks.number("sigma", self.sigma, minimum=0.0))

    def bind(self, x, y) -> BoundGame:
        """Attach the game to weighted point sets of X (for μ) and Y (for ν): grids, P1 spaces
        or :class:`~mfpde.quadrature.Quadrature` objects."""
        x, y = Quadrature.of(x, self.domain_mu), Quadrature.of(y, self.domain_nu)
        for name, q, domain in (("mu", x, self.domain_mu), ("nu", y, self.domain_nu)):
            if q.points.shape[1] != domain.dim:
                raise InputError(
                    f"quadrature of {name} has dimension {q.points.shape[1]}, "
                    f"its domain {domain.dim}"
                )
        payoff = self.payoff.bind(x, y)  # first: a payoff not matching X × Y is the likely slip
        return BoundGame(
            sigma=float(self.sigma),
            x=x,
            y=y,
            log_pi=self.reference_mu.log_density(x.points, x.weights),
            log_rho=reference_in_y(self.reference_nu).log_density(y.points, y.weights),
            payoff=payoff,
        )


class _FrozenEnergy(BoundEnergy):
    """±F with one player frozen: the energy of a best-response problem (MATH §2.2)."""

    def __init__(self, game: BoundGame, player: int, other: np.ndarray):
        self.game, self.player, self.other = game, player, other
        self.linear = game.payoff.linear

    def _pair(self, rho):
        return (rho, self.other) if self.player == 0 else (self.other, rho)

    def value(self, rho):
        sign = 1.0 if self.player == 0 else -1.0
        return sign * self.game.payoff.value(*self._pair(rho))

    def field(self, rho, gradient):
        if not gradient:
            return self.game.fields(*self._pair(rho))[self.player], None
        pair = self.game.payoff.fields_with_gradients(*self._pair(rho))[self.player]
        sign = 1.0 if self.player == 0 else -1.0  # the field of ν is −δF/δν
        return sign * pair[0], sign * pair[1]


@dataclass
class BoundGame:
    """A game on two quadratures: the vectors F^σ, the fields and the best responses use."""

    sigma: float
    x: Quadrature
    y: Quadrature
    log_pi: np.ndarray
    log_rho: np.ndarray
    payoff: _BoundBilinear | _BoundConvexConcave

    @property
    def weights(self) -> list[np.ndarray]:
        """[w^X, w^Y]."""
        return [self.x.weights, self.y.weights]

    def fields(self, mu: np.ndarray, nu: np.ndarray) -> list[np.ndarray]:
        """The fields h of the flow operators (MATH §4): [δF/δμ, −δF/δν] = [V_x, −V_y].

        The maximising player ν follows the same operator as a minimiser with h_ν = −δF/δν,
        so that g_ν = −δF/δν + σ log(ν/ρ) = −b (MATH §4).
        """
        V_x, V_y = self.payoff.fields(mu, nu)
        return [V_x, -V_y]

    def free_energy(self, mu: np.ndarray, nu: np.ndarray) -> float:
        """F^σ(μ, ν) = F(μ, ν) + σ KL(μ|π) − σ KL(ν|ρ) (MATH §2.2)."""
        return (
            self.payoff.value(mu, nu)
            + self.sigma * kl_divergence(mu, np.exp(self.log_pi), self.x.weights)
            - self.sigma * kl_divergence(nu, np.exp(self.log_rho), self.y.weights)
        )

    def best_response_problem(self, player: int, other: np.ndarray) -> BoundProblem:
        """The entropic optimisation problem of one player against a frozen other (MATH §2.2).

        Player 0 (μ): minimise F(·, ν) + σ KL(·|π); player 1 (ν): minimise −F(μ, ·) + σ KL(·|ρ),
        i.e. maximise F^σ(μ, ·). Both are convex; their Gibbs minimisers are the best responses.
        """
        quadrature, log_ref = (self.x, self.log_pi) if player == 0 else (self.y, self.log_rho)
        return BoundProblem(
            sigma=self.sigma,
            weights=quadrature.weights,
            log_pi=log_ref,
            energy=_FrozenEnergy(self, player, other),
        )
