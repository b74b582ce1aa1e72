r"""Observables of particle replicas against the mesh solution (MATH §7).

For a test function φ, replicas r = 1…R of μ^N_t give ⟨φ, μ^N_t⟩_r; the mesh gives
⟨φ, μ_t⟩ = Σ_i w_i ρ_i φ(x_i). :func:`compare` returns their difference in standard errors
(the replicas' sample standard deviation / √R); :func:`rmse` the root-mean-square error over the
replicas, which propagation of chaos predicts to decay like N^{−1/2}.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from mfpde.particles.trajectory import Trajectory

__all__ = [
    "replica_expectations",
    "mesh_expectation",
    "compare",
    "rmse",
    "Comparison",
    "time_average",
    "time_average_weights",
]

Observable = Callable[[np.ndarray], np.ndarray]


def replica_expectations(trajectories: Sequence[Trajectory], phi: Observable) -> np.ndarray:
    """⟨φ, μ^N_t⟩ per replica and saved time, shape (R, n_saved)."""
    return np.array([t.expectation(phi) for t in trajectories])


def mesh_expectation(points: np.ndarray, weights: np.ndarray, rho: np.ndarray, phi) -> float:
    """⟨φ, μ⟩ = Σ_i w_i ρ_i φ(x_i) on a quadrature."""
    return float(weights @ (rho * phi(points)))


class Comparison:
    """Replica mean, standard error and difference to a reference, per saved time."""

    def __init__(self, values: np.ndarray, reference: np.ndarray):
        self.values, self.reference = values, np.asarray(reference)
        self.mean = values.mean(axis=0)
        self.standard_error = values.std(axis=0, ddof=1) / np.sqrt(len(values))
        self.difference = self.mean - self.reference

    @property
    def z(self) -> np.ndarray:
        """The difference in standard errors."""
        return self.difference / self.standard_error

    def __repr__(self) -> str:
        return f"Comparison(difference={self.difference}, standard_error={self.standard_error})"


def compare(values: np.ndarray, reference: np.ndarray) -> Comparison:
    """Compare replica values (R, n_saved) with reference values (n_saved,)."""
    return Comparison(np.asarray(values, dtype=float), reference)


def rmse(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """√(mean_r (value_r − reference)²) per saved time."""
    return np.sqrt(np.mean((np.asarray(values) - reference) ** 2, axis=0))


def time_average(times: np.ndarray, values: np.ndarray) -> np.ndarray:
    """(1/t) ∫_0^t ⟨φ, μ_s⟩ ds by the trapezoidal rule over the saved times, for every saved t
    after the first ([003] Alg. 2 outputs the time-averaged measures; MATH §5.5).

    ``values`` has the saved times on its last axis; the result has one entry fewer.
    """
    steps = np.diff(times)
    integral = np.cumsum(0.5 * steps * (values[..., 1:] + values[..., :-1]), axis=-1)
    return integral / (times[1:] - times[0])


def time_average_weights(times: np.ndarray) -> np.ndarray:
    """c_k with Σ_k c_k f(t_k) = (1/(t_K − t_0)) ∫_{t_0}^{t_K} f ds by the trapezoidal rule over
    the saved times t_0 … t_K (the weights of the time-averaged measure μ̄ = Σ_k c_k μ_{t_k},
    [003] Alg. 2, MATH §5.5); [1] for a single time. Σ_k c_k = 1.
    """
    times = np.asarray(times, dtype=float)
    if len(times) == 1:
        return np.ones(1)
    steps = np.diff(times)
    c = np.zeros(len(times))
    c[:-1] += 0.5 * steps
    c[1:] += 0.5 * steps
    return c / (times[-1] - times[0])
