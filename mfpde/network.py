r"""The mean-field loss of a two-layer network, teacher-student (MATH §2.1; [002]).

A neuron is a parameter θ = (a, z) of the domain Ω: a ∈ R is its first coordinate (a walled
axis, e.g. the interval [−A, A]) and z the others. It contributes the function
x ↦ a φ(x, z) with

    φ(x, z) = act(⟨x, w(z)⟩ + b),   w(z) = (cos z, sin z) if z is one periodic axis (the circle,
                                    data x ∈ R²), w(z) = z otherwise (data x ∈ R^{dim z}),

and a measure μ ∈ P(Ω) of neurons is the network f(x; μ) = ∫ a φ(x, z) μ(dθ) (the particles
μ_N = Σ_j w_j δ_{θ_j} give f = Σ_j w_j a_j φ(x, z_j), the mean-field scaling of [002]). With
data ν̂ = Σ_m q_m δ_{x_m} and targets f*_m = f*(x_m) (given, or a teacher network),

    F(μ) = ½ Σ_m q_m (f(x_m; μ) − f*_m)² + λ ∫ a² μ(dθ),

    δF/δμ(μ, θ) = Σ_m q_m r_m a φ(x_m, z) + λ a²,   r_m = f(x_m; μ) − f*_m,
    ∂_a δF/δμ   = Σ_m q_m r_m φ(x_m, z) + 2λ a,
    ∂_z δF/δμ   = Σ_m q_m r_m a act'(⟨x_m, w(z)⟩ + b) ⟨x_m, ∂_z w(z)⟩.

Expanding the square, F = ½ E_ν̂ f*² − ∫ F₁ dμ + ½ ∫∫ U₂ dμ dμ + λ ∫ a² dμ with [002]'s
F₁(θ) = a E_ν̂[f* φ(·, z)] and U₂(θ, θ') = a a' E_ν̂[φ(x, z) φ(x, z')] (half its
C − 2∫F₁ dμ + ∫∫U₂ dμ dμ): a potential V(θ) = −a E_ν̂[f* φ(·, z)] + λa² plus an interaction
whose kernel is a feature map, U₂(θ, θ') = Σ_m q_m ψ_m(θ) ψ_m(θ') with ψ_m(θ) = a φ(x_m, z).
U₂ is positive semi-definite, so F is convex in μ (MATH §2.1) although not in θ.

The sums go through these L features (:class:`NetworkFeatures`, a
:class:`~mfpde.sums.features.Features`): the outputs f_m = Σ_j c_j ψ_m(θ_j) are its moments,
δF/δμ − λa² = Σ_m r̃_m ψ_m(θ_i) (r̃ = q ⊙ r) its combination. Both are fused numba loops over
(neuron, datum) pairs, O(N L) work and O(N + L) memory, never an N × L array (MATH §6): the
moments run over :data:`CHUNKS` chunks of neurons in parallel, each chunk accumulating its own
L outputs, and the chunks' sums are added at the end in a fixed order (the result does not
depend on the number of threads); the combinations run over neurons in parallel, their sums
over the data vectorised (the compiler may reorder those additions). A pair of callables
(act, act') is evaluated with numpy on blocks of neurons instead. The arithmetic is exact to
round-off: no expansion, no finite differences; tanh is computed from expm1, within 3 ulp of
libm's. Cost on two cores, N = 10⁵ neurons and L = 1000 data, one field with gradient: 0.13 s
for relu, about 1.5 s for tanh (two passes of 10⁸ scalar transcendental calls).

Readouts (MATH §7, [002]): :meth:`TwoLayerNetwork.readout` gives f(x; μ) of a mesh density or a
quadrature, :meth:`~TwoLayerNetwork.particle_readout` of particle measures along trajectories
and replicas, :meth:`~TwoLayerNetwork.output_loss` their loss, and
:meth:`~TwoLayerNetwork.squared_distance` the ‖f^n_t − f_t‖²_{L²(ν̂)} of [002]'s dynamical CLT
between particle networks and the mesh network.
"""

from __future__ import annotations

from collections.abc import Callable

import numba
import numpy as np

from mfpde.domains import Domain, Sphere
from mfpde.energies import BoundEnergy, Energy, Field, finite_values
from mfpde.errors import InputError
from mfpde.quadrature import Quadrature
from mfpde.sums.features import Features

__all__ = ["ACTIVATIONS", "NetworkFeatures", "BoundNetwork", "TwoLayerNetwork"]

#: The activations by name; each has its exact derivative (relu' = 1 on u > 0, 0 on u ≤ 0).
ACTIVATIONS = ("relu", "tanh", "sigmoid", "softplus", "identity", "sin", "cos")
#: Chunks of neurons whose output moments are accumulated separately (then added in a fixed
#: order): a constant, so that the sums do not depend on the number of threads.
CHUNKS = 64
#: Pre-activations held at once by the numpy path of callable activations (16 MB).
BLOCK_ENTRIES = 2**21

Activation = str | tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]


# --- compiled kernels ------------------------------------------------------------------------


@numba.njit(cache=True)
def _activate(code, u, phi, dphi, derivative):  # pragma: no cover (compiled)
    """φ = act(u) and, if ``derivative``, dφ = act'(u), in place (codes: ACTIVATIONS order)."""
    n = u.size
    if code == 0:  # relu
        for m in range(n):
            phi[m] = u[m] if u[m] > 0.0 else 0.0
        if derivative:
            for m in range(n):
                dphi[m] = 1.0 if u[m] > 0.0 else 0.0
    elif code == 1:  # tanh(u) = sign(u) (−t)/(t + 2), t = expm1(−2|u|): within 3 ulp of libm
        for m in range(n):
            t = np.expm1(-2.0 * abs(u[m]))
            phi[m] = -t / (t + 2.0) if u[m] >= 0.0 else t / (t + 2.0)
        if derivative:
            for m in range(n):
                dphi[m] = 1.0 - phi[m] * phi[m]
    elif code == 2:  # sigmoid, without overflow: e = exp(−|u|)
        for m in range(n):
            e = np.exp(-abs(u[m]))
            phi[m] = 1.0 / (1.0 + e) if u[m] >= 0.0 else e / (1.0 + e)
        if derivative:
            for m in range(n):
                dphi[m] = phi[m] * (1.0 - phi[m])
    elif code == 3:  # softplus log(1 + e^u) = max(u, 0) + log1p(e^{−|u|}); derivative sigmoid
        for m in range(n):
            e = np.exp(-abs(u[m]))
            phi[m] = max(u[m], 0.0) + np.log1p(e)
            if derivative:
                dphi[m] = 1.0 / (1.0 + e) if u[m] >= 0.0 else e / (1.0 + e)
    elif code == 4:  # identity
        for m in range(n):
            phi[m] = u[m]
        if derivative:
            for m in range(n):
                dphi[m] = 1.0
    elif code == 5:  # sin
        for m in range(n):
            phi[m] = np.sin(u[m])
        if derivative:
            for m in range(n):
                dphi[m] = np.cos(u[m])
    else:  # cos
        for m in range(n):
            phi[m] = np.cos(u[m])
        if derivative:
            for m in range(n):
                dphi[m] = -np.sin(u[m])


@numba.njit(cache=True, fastmath={"reassoc"})
def _dot(x, y):  # pragma: no cover (compiled)
    """Σ_m x_m y_m, vectorised (the order of the additions is the compiler's)."""
    s = 0.0
    for m in range(x.size):
        s += x[m] * y[m]
    return s


@numba.njit(cache=True, fastmath={"reassoc"})
def _dot3(x, y, z):  # pragma: no cover (compiled)
    """Σ_m x_m y_m z_m, vectorised."""
    s = 0.0
    for m in range(x.size):
        s += x[m] * y[m] * z[m]
    return s


@numba.njit(cache=True)
def _preactivate(theta, circle, xt, bias, w, dw, u):  # pragma: no cover (compiled)
    """w(z), ∂_z w(z) (circle only) and u_m = ⟨x_m, w(z)⟩ + b for one neuron θ = (a, z)."""
    p, n = xt.shape
    if circle:
        w[0] = np.cos(theta[1])
        w[1] = np.sin(theta[1])
        dw[0] = -w[1]
        dw[1] = w[0]
    else:
        for k in range(p):
            w[k] = theta[1 + k]
    w0 = w[0]
    for m in range(n):
        u[m] = xt[0, m] * w0
    for k in range(1, p):
        wk = w[k]
        for m in range(n):
            u[m] += xt[k, m] * wk
    for m in range(n):
        u[m] += bias


@numba.njit(parallel=True, cache=True)
def _moments(thetas, strengths, xt, bias, code, circle, chunks):  # pragma: no cover (compiled)
    """f_m = Σ_j c_j a_j φ(x_m, z_j): chunks of neurons in parallel, one sum of L per chunk."""
    n = thetas.shape[0]
    p, size = xt.shape
    partial = np.zeros((chunks, size))
    for c in numba.prange(chunks):
        u = np.empty(size)
        phi = np.empty(size)
        w = np.empty(p)
        dw = np.empty(p)
        for j in range(c * n // chunks, (c + 1) * n // chunks):
            _preactivate(thetas[j], circle, xt, bias, w, dw, u)
            _activate(code, u, phi, phi, False)
            s = strengths[j] * thetas[j, 0]
            for m in range(size):
                partial[c, m] += s * phi[m]
    out = np.zeros(size)
    for c in range(chunks):
        for m in range(size):
            out[m] += partial[c, m]
    return out


@numba.njit(parallel=True, cache=True)
def _combine(thetas, r, xt, bias, code, circle, gradient, chunks):  # pragma: no cover (compiled)
    """Σ_m r_m a_i φ(x_m, z_i) and its θ-gradient, neurons in parallel (chunks of them)."""
    n, d = thetas.shape
    p, size = xt.shape
    values = np.empty(n)
    grads = np.empty((n, d)) if gradient else np.empty((0, d))
    for c in numba.prange(chunks):
        u = np.empty(size)
        phi = np.empty(size)
        dphi = np.empty(size)
        w = np.empty(p)
        dw = np.empty(p)
        g = np.empty(p)
        for i in range(c * n // chunks, (c + 1) * n // chunks):
            _preactivate(thetas[i], circle, xt, bias, w, dw, u)
            _activate(code, u, phi, dphi, gradient)
            s0 = _dot(r, phi)
            a = thetas[i, 0]
            values[i] = a * s0
            if gradient:
                grads[i, 0] = s0
                for k in range(p):
                    g[k] = _dot3(r, dphi, xt[k])
                if circle:
                    grads[i, 1] = a * (dw[0] * g[0] + dw[1] * g[1])
                else:
                    for k in range(p):
                        grads[i, 1 + k] = a * g[k]
    return values, grads


# --- features --------------------------------------------------------------------------------


class NetworkFeatures(Features):
    r"""The features ψ_m(θ) = a φ(x_m, z), m = 1..L, of a two-layer network (module docstring).

    ``moments(θ, c)`` gives the outputs f_m = Σ_j c_j ψ_m(θ_j); ``combine(θ, r, gradient)`` gives
    Σ_m r_m ψ_m(θ_i) and its gradient in θ = (a, z): (Σ_m r_m φ_m, a Σ_m r_m act'(u_m)
    ⟨x_m, ∂_z w(z)⟩), u_m = ⟨x_m, w(z)⟩ + b. Fused numba loops for named activations, numpy
    blocks of neurons for callables; memory O(N + L) (MATH §6).

    Parameters
    ----------
    data : ndarray, shape (L, p)
        The input points x_m.
    activation : str or (callable, callable)
        A name of :data:`ACTIVATIONS` or vectorised (act, act').
    bias : float
        b.
    circle : bool
        θ = (a, z) with z an angle and w(z) = (cos z, sin z) (then p = 2); else w(z) = z.
    """

    def __init__(self, data: np.ndarray, activation: Activation, bias: float, circle: bool):
        self.data = np.ascontiguousarray(data, dtype=float)
        self.xt = np.ascontiguousarray(self.data.T)
        self.size = len(self.data)
        self.p = self.data.shape[1]
        self.activation, self.bias, self.circle = activation, float(bias), bool(circle)
        self.code = ACTIVATIONS.index(activation) if isinstance(activation, str) else -1
        #: Dimension of θ = (a, z).
        self.dim = 2 if circle else 1 + self.p

    def _thetas(self, points: np.ndarray) -> np.ndarray:
        thetas = np.ascontiguousarray(points, dtype=float)
        if thetas.ndim != 2 or thetas.shape[1] != self.dim:
            raise InputError(
                f"network neurons must be an array (N, {self.dim}) of θ = (a, z), got shape "
                f"{np.shape(points)}"
            )
        return thetas

    def moments(self, points, strengths):
        thetas = self._thetas(points)
        c = np.ascontiguousarray(strengths, dtype=float)
        if len(thetas) == 0:
            return np.zeros(self.size)
        if self.code >= 0:
            chunks = min(CHUNKS, len(thetas))
            return _moments(thetas, c, self.xt, self.bias, self.code, self.circle, chunks)
        out = np.zeros(self.size)
        for lo in range(0, len(thetas), self._block()):
            block = thetas[lo : lo + self._block()]
            phi = self._call(0, self._preactivation(block)[0])
            out += (c[lo : lo + len(block)] * block[:, 0]) @ phi
        return out

    def combine(self, points, coefficients, gradient=False):
        thetas = self._thetas(points)
        r = np.ascontiguousarray(coefficients, dtype=float)
        if self.code >= 0 and len(thetas):
            chunks = min(CHUNKS, len(thetas))
            values, grads = _combine(
                thetas, r, self.xt, self.bias, self.code, self.circle, bool(gradient), chunks
            )
            return values, (grads if gradient else None)
        values = np.empty(len(thetas))
        grads = np.empty(thetas.shape) if gradient else None
        for lo in range(0, len(thetas), self._block()):
            block = thetas[lo : lo + self._block()]
            rows = slice(lo, lo + len(block))
            u, dw = self._preactivation(block)
            s0 = self._call(0, u) @ r
            values[rows] = block[:, 0] * s0
            if gradient:
                g = (self._call(1, u) * r) @ self.data  # Σ_m r_m act'(u_m) x_m, shape (B, p)
                grads[rows, 0] = s0
                if self.circle:
                    grads[rows, 1] = block[:, 0] * np.sum(g * dw, axis=1)
                else:
                    grads[rows, 1:] = block[:, :1] * g
        return values, grads

    # numpy path of callable activations

    def _block(self) -> int:
        return max(1, BLOCK_ENTRIES // max(self.size, 1))

    def _preactivation(self, block: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """u (B, L) and, on the circle, ∂_z w(z) (B, 2)."""
        if self.circle:
            w = np.stack([np.cos(block[:, 1]), np.sin(block[:, 1])], axis=1)
            dw = np.stack([-w[:, 1], w[:, 0]], axis=1)
        else:
            w, dw = block[:, 1:], None
        return w @ self.xt + self.bias, dw

    def _call(self, which: int, u: np.ndarray) -> np.ndarray:
        name = ("activation", "activation derivative")[which]
        out = np.asarray(self.activation[which](u), dtype=float)
        if out.shape != u.shape:
            raise InputError(
                f"the {name} must map an array to an array of the same shape, got {out.shape} "
                f"for {u.shape}"
            )
        if not np.all(np.isfinite(out)):
            raise InputError(f"the {name} is not finite at some pre-activation")
        return out


# --- energy ----------------------------------------------------------------------------------


def _parametrisation(domain, dim: int) -> bool:
    """Whether θ = (a, angle) on interval × circle (True) or (a, z) with w(z) = z (False)."""
    if domain is None:
        raise InputError(
            "the network energy needs the quadrature's domain (interval × circle or a box)"
        )
    if isinstance(domain, Sphere) or getattr(domain, "kind", None) == "sphere":
        raise InputError("the network energy needs θ = (a, z) in a box, not the sphere")
    if isinstance(domain, Domain):
        periodic = domain.periodic
    elif hasattr(domain, "points"):  # an unstructured mesh: every coordinate flat
        periodic = (False,) * dim
    else:
        raise InputError(f"the network energy needs a Domain or a mesh, got {domain!r}")
    if len(periodic) != dim:
        raise InputError(f"network: the domain has dimension {len(periodic)}, the points {dim}")
    if dim < 2:
        raise InputError("network: θ = (a, z) needs a domain of dimension >= 2 (a, then z)")
    if periodic[0]:
        raise InputError(
            "network: the first axis of the domain is the output weight a and must be walled "
            "(e.g. an interval [-A, A]), not periodic"
        )
    circle = dim == 2 and periodic[1]
    if not circle and any(periodic[1:]):
        raise InputError(
            "network: a periodic z axis is allowed only as the single angle of interval × circle"
        )
    return circle


def _array(name: str, values, ndim: int) -> np.ndarray:
    try:
        out = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"network {name} must be an array of numbers") from None
    if out.ndim != ndim or out.shape[0] == 0 or (ndim == 2 and out.shape[1] == 0):
        shape = "(L, p)" if name == "data" else "(K, 1 + p) or (K, 2)" if ndim == 2 else "(n,)"
        raise InputError(f"network {name} must be a non-empty array {shape}, got {out.shape}")
    if not np.all(np.isfinite(out)):
        raise InputError(f"network {name} must be finite")
    return out


def _number(name: str, value, minimum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InputError(f"network {name} must be a number, got {value!r}")
    if not np.isfinite(value) or (minimum is not None and value < minimum):
        bound = f" >= {minimum:g}" if minimum is not None else ""
        raise InputError(f"network {name} must be a finite number{bound}, got {value!r}")
    return float(value)


def _activation(activation) -> Activation:
    if isinstance(activation, str):
        if activation not in ACTIVATIONS:
            raise InputError(
                f"unknown activation {activation!r} (choose from {', '.join(ACTIVATIONS)}, or "
                "pass a pair of callables (act, act'))"
            )
        return activation
    if (
        isinstance(activation, (tuple, list))
        and len(activation) == 2
        and all(callable(f) for f in activation)
    ):
        return (activation[0], activation[1])
    raise InputError(
        f"activation must be one of {', '.join(ACTIVATIONS)} or a pair of callables (act, act'), "
        f"got {activation!r}"
    )


def _particles(positions, weights) -> tuple[np.ndarray, np.ndarray]:
    """Particle measures (..., n, d) and (..., n) with matching shapes, as float arrays."""
    X, w = np.asarray(positions, dtype=float), np.asarray(weights, dtype=float)
    if X.ndim < 2 or w.shape != X.shape[:-1] or w.shape[-1] == 0:
        raise InputError(
            f"network particles need positions (..., n, d) and weights (..., n), got shapes "
            f"{X.shape} and {w.shape}"
        )
    return X, w


class BoundNetwork(BoundEnergy):
    """The network energy on neurons θ_i with weights w_i (MATH §2.1; module docstring).

    Each call computes the outputs f_m = Σ_i w_i ρ_i a_i φ(x_m, z_i) once (the features'
    moments), then the weighted residuals r̃ = q ⊙ (f − f*) and their combination.
    """

    linear = False

    def __init__(self, network: TwoLayerNetwork, quadrature: Quadrature, circle: bool):
        self.network, self.quadrature = network, quadrature
        self.features = network.features(circle)
        self.points = self.features._thetas(quadrature.points)
        self.weights = quadrature.weights
        self.a = self.points[:, 0]

    def outputs(self, rho: np.ndarray) -> np.ndarray:
        """f(x_m; μ) at the data points, shape (L,)."""
        f = self.features.moments(self.points, self.weights * rho)
        return finite_values("network output", f, self.network.data)

    def residuals(self, rho: np.ndarray) -> np.ndarray:
        """r̃_m = q_m (f(x_m; μ) − f*_m), shape (L,)."""
        return self.network.data_weights * (self.outputs(rho) - self.network.targets)

    def value(self, rho):
        loss = float(self.network.output_loss(self.outputs(rho)))
        decay = self.network.weight_decay
        return loss + (decay * float(self.weights @ (rho * self.a**2)) if decay else 0.0)

    def field(self, rho, gradient) -> Field:
        values, grads = self.features.combine(self.points, self.residuals(rho), gradient)
        decay = self.network.weight_decay
        if decay:
            values = values + decay * self.a**2
            if gradient:
                grads[:, 0] += 2 * decay * self.a
        values = finite_values("network first variation", values, self.points)
        return values, grads


class TwoLayerNetwork(Energy):
    r"""F(μ) = ½ E_ν̂ |f(x; μ) − f*(x)|² + λ ∫ a² dμ, f(x; μ) = ∫ a φ(x, z) μ(dθ) (MATH §2.1).

    The two-layer network of [002] in its mean-field (teacher-student) form: θ = (a, z) is the
    point of the domain (a its first, walled, coordinate) and
    φ(x, z) = act(⟨x, w(z)⟩ + b), with w(z) = (cos z, sin z) on interval × circle
    (``Domain((-A, 0.0), (A, 2*np.pi), (False, True))``, data x ∈ R²) and w(z) = z otherwise
    (data x ∈ R^{dim z}). With r_m = f(x_m; μ) − f*_m,

    .. math::

        δF/δμ(μ, θ) = Σ_m q_m r_m a φ(x_m, z) + λ a², \quad
        ∂_a δF/δμ = Σ_m q_m r_m φ(x_m, z) + 2λa, \quad
        ∂_z δF/δμ = Σ_m q_m r_m a\, act'(⟨x_m, w(z)⟩ + b) ⟨x_m, ∂_z w(z)⟩.

    It is the potential −a E_ν̂[f* φ(·, z)] + λa² (−F₁ of [002], plus the decay) and the
    interaction ½∫∫U₂ dμ dμ with the feature-map kernel U₂(θ, θ') = a a' E_ν̂[φ(x, z) φ(x, z')]
    ([002]; positive semi-definite, so F is convex in μ). Sums: :class:`NetworkFeatures`, exact
    to round-off, O(N L) work and O(N + L) memory (MATH §6). The domain (hence the
    parametrisation) is that of the quadrature the energy is bound to.

    Parameters
    ----------
    data : ndarray, shape (L, p), or Quadrature
        The data points x_m (p = 2 on interval × circle, p = dim Ω − 1 otherwise), or a
        quadrature of ν̂ (its points and weights).
    targets : ndarray, shape (L,), optional
        f*(x_m). Give exactly one of ``targets`` and ``teacher``.
    teacher : ndarray, shape (K, 1 + p) or (K, 2), optional
        Teacher neurons θ_k = (a_k, z_k): z_k ∈ R^p (w(z) = z), or, with p = 2 and two
        columns, an angle (w(z) = (cos z, sin z)); f*(x_m) = Σ_k c_k a_k φ(x_m, z_k).
    teacher_weights : ndarray, shape (K,), optional
        c_k (default 1/K).
    data_weights : ndarray, shape (L,), optional
        q_m ≥ 0 (default 1/L); not with a quadrature (which brings its weights).
    activation : str or (callable, callable)
        One of :data:`ACTIVATIONS` (each with its exact derivative) or vectorised (act, act').
    bias : float
        b (default 0).
    weight_decay : float
        λ ≥ 0 (default 0).
    """

    def __init__(
        self,
        data: np.ndarray | Quadrature,
        *,
        targets: np.ndarray | None = None,
        teacher: np.ndarray | None = None,
        teacher_weights: np.ndarray | None = None,
        data_weights: np.ndarray | None = None,
        activation: Activation = "relu",
        bias: float = 0.0,
        weight_decay: float = 0.0,
    ):
        if isinstance(data, Quadrature):
            if data_weights is not None:
                raise InputError("network: data as a quadrature brings its weights")
            data, data_weights = data.points, data.weights
        self.data = _array("data", data, 2)
        L, p = self.data.shape
        if data_weights is None:
            self.data_weights = np.full(L, 1.0 / L)
        else:
            self.data_weights = _array("data weights", data_weights, 1)
            if self.data_weights.shape != (L,) or np.any(self.data_weights < 0):
                raise InputError(
                    f"network data weights must be {L} numbers >= 0, got shape "
                    f"{self.data_weights.shape}"
                )
        self.activation = _activation(activation)
        self.bias = _number("bias", bias)
        self.weight_decay = _number("weight decay", weight_decay, minimum=0.0)
        if (targets is None) == (teacher is None):
            raise InputError("network: give exactly one of targets (f* at the data) and teacher")
        if teacher_weights is not None and teacher is None:
            raise InputError("network: teacher_weights without a teacher")
        self.teacher = self.teacher_weights = None
        if targets is not None:
            self.targets = _array("targets", targets, 1)
            if self.targets.shape != (L,):
                raise InputError(
                    f"network targets must be {L} values f*(x_m), got shape {self.targets.shape}"
                )
        else:
            self.teacher = _array("teacher", teacher, 2)
            K, columns = self.teacher.shape
            if columns not in (1 + p, 2 if p == 2 else -1):
                raise InputError(
                    f"network teacher neurons (a_k, z_k) for data in R^{p} need {1 + p} columns"
                    + (" (or 2: a and an angle)" if p == 2 else "")
                    + f", got {columns}"
                )
            if teacher_weights is None:
                self.teacher_weights = np.full(K, 1.0 / K)
            else:
                self.teacher_weights = _array("teacher weights", teacher_weights, 1)
                if self.teacher_weights.shape != (K,):
                    raise InputError(
                        f"network teacher weights must be {K} numbers, got shape "
                        f"{self.teacher_weights.shape}"
                    )
            teacher_features = self.features(circle=columns == 2 and p == 2)
            self.targets = finite_values(
                "teacher output",
                teacher_features.moments(self.teacher, self.teacher_weights),
                self.data,
            )

    def features(self, circle: bool, data: np.ndarray | None = None) -> NetworkFeatures:
        """The features ψ_m(θ) = a φ(x_m, z) at the data (or at other inputs ``data``)."""
        x = self.data if data is None else data
        return NetworkFeatures(x, self.activation, self.bias, circle)

    def _circle(self, q: Quadrature) -> bool:
        circle = _parametrisation(q.domain, q.dim)
        p = self.data.shape[1]
        need = 2 if circle else q.dim - 1
        if p != need:
            where = "interval × circle" if circle else f"a {q.dim}-D domain"
            raise InputError(f"network data in R^{p}, but neurons on {where} need data in R^{need}")
        return circle

    def bind(self, quadrature) -> BoundNetwork:
        q = Quadrature.of(quadrature)
        return BoundNetwork(self, q, self._circle(q))

    def readout(self, quadrature, rho: np.ndarray | None, x: np.ndarray) -> np.ndarray:
        r"""The network f(x; μ) = Σ_i w_i ρ_i a_i φ(x, z_i) at inputs x (M, p), shape (M,).

        Parameters
        ----------
        quadrature : Quadrature or Grid
            The neurons θ_i and weights w_i (a grid's cells, or particles with their weights).
        rho : ndarray, shape (n,), or None
            The density on the quadrature (None: ρ ≡ 1, particles).
        x : ndarray, shape (M, p)
            Inputs (e.g. test data, to measure ‖f^N_t − f_t‖² between a particle system and its
            mean-field limit, MATH §7).
        """
        q = Quadrature.of(quadrature)
        circle = self._circle(q)
        x = _array("readout inputs", x, 2)
        if x.shape[1] != self.data.shape[1]:
            raise InputError(
                f"network readout inputs must be (M, {self.data.shape[1]}), got {x.shape}"
            )
        rho = np.ones(q.size) if rho is None else np.asarray(rho, dtype=float)
        if rho.shape != (q.size,):
            raise InputError(f"network readout density must have shape ({q.size},)")
        return self.features(circle, x).moments(q.points, q.weights * rho)

    def output_loss(self, f: np.ndarray) -> np.ndarray:
        r"""½ Σ_m q_m (f_m − f*_m)² of outputs f at the data, shape (..., L) → (...) (MATH §2.1).

        The loss F without its weight decay, e.g. of particle networks
        (:meth:`particle_readout`) along a trajectory.
        """
        f = np.asarray(f, dtype=float)
        if f.ndim == 0 or f.shape[-1] != len(self.targets):
            raise InputError(f"network outputs must have shape (..., {len(self.targets)})")
        return 0.5 * (f - self.targets) ** 2 @ self.data_weights

    def particle_readout(
        self,
        domain: Domain,
        positions: np.ndarray,
        weights: np.ndarray,
        x: np.ndarray | None = None,
    ) -> np.ndarray:
        r"""The networks f(x; μ^n) = Σ_j w_j a_j φ(x, z_j) of particle measures (MATH §2.1, §7).

        Parameters
        ----------
        domain : Domain
            The neurons' domain (interval × circle or a box).
        positions : ndarray, shape (..., n, dim Ω)
            Neurons θ_j = (a_j, z_j), with any leading axes (saved times, replicas).
        weights : ndarray, shape (..., n)
            w_j (Σ_j w_j = 1 for a probability measure; 1/n for [002]'s f^n_t).
        x : ndarray, shape (M, p), optional
            Inputs (default: the data x_m of ν̂).

        Returns
        -------
        ndarray, shape (..., M)
        """
        X, w = _particles(positions, weights)
        x = self.data if x is None else x
        out = [
            self.readout(Quadrature(Xk, wk, domain, reuse=False), None, x)
            for Xk, wk in zip(X.reshape(-1, *X.shape[-2:]), w.reshape(-1, w.shape[-1]))
        ]
        return np.reshape(out, (*w.shape[:-1], -1))

    def squared_distance(
        self, positions: np.ndarray, weights: np.ndarray, reference, rho: np.ndarray
    ) -> np.ndarray:
        r"""‖f^n_t − f_t‖²_{L²(ν̂)} between particle networks and mesh networks (MATH §7, [002]).

        .. math::

            ‖f(·; μ^n) − f(·; μ)‖²_{L²(ν̂)} = Σ_m q_m (f(x_m; μ^n) − f(x_m; μ))²,

        with μ^n = Σ_j w_j δ_{θ_j} and μ the density ρ on the mesh ``reference``: the quantity
        whose n-fold, n E‖f^n_t − f_t‖², stays bounded uniformly in t by [002]'s dynamical CLT.

        Parameters
        ----------
        positions, weights : ndarray, shapes (..., n, dim Ω) and (..., n)
            The particle measures, as for :meth:`particle_readout`.
        reference : Grid or Quadrature
            The mesh (its domain is the particles' domain).
        rho : ndarray, shape (cells,) or (..., cells)
            The mesh densities, broadcast against the leading axes of the particles (e.g.
            (T, cells) for saved times and particles (T, R, n, d): use ``rho[:, None]``).

        Returns
        -------
        ndarray, shape of the broadcast leading axes
        """
        q = Quadrature.of(reference)
        rho = np.asarray(rho, dtype=float)
        if rho.ndim == 0 or rho.shape[-1] != q.size:
            raise InputError(f"network mesh densities must have shape (..., {q.size})")
        mesh = np.reshape(
            [self.readout(q, r, self.data) for r in rho.reshape(-1, q.size)],
            (*rho.shape[:-1], -1),
        )
        f = self.particle_readout(q.domain, positions, weights)
        return (f - mesh) ** 2 @ self.data_weights
