r"""Fitted slopes with 95 % intervals: decay rates and convergence orders (MATH §5, §7, §8).

A slope b of y ≈ a + b x is fitted by least squares (``np.polyfit``). Its interval is either

- ``"regression"``: the Student-t interval b ± t_{0.975, n−2} · se(b) of ordinary least squares,
  for few points (an order fitted over 3-6 refinement levels), or
- ``"bootstrap"``: the 2.5 % and 97.5 % percentiles of the slopes refitted on resampled pairs
  (x_i, y_i) (``resamples`` draws from a seeded generator, so the interval is reproducible), for
  many points (a rate fitted over a time window, an error against N over replicas).

For a deterministic curve the interval measures how far the data are from a straight line on
the fitted range (pre-asymptotic curvature), not noise.

For an error measured over iid replicas at each of several sizes N (MATH §7),
:func:`fit_replica_slope` fits the slope of log S against log N, S a statistic of the replicas
(the RMSE, a mean), and resamples the *replicas* (the independent units) instead of the points.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats

from mfpde.errors import InputError

__all__ = [
    "SlopeFit",
    "fit_slope",
    "fit_decay_rate",
    "fit_order",
    "fit_replica_slope",
    "replica_band",
    "INTERVAL_METHODS",
]

INTERVAL_METHODS = ("regression", "bootstrap")
#: Bootstrap resamples: the percentiles of 2000 slopes move by ≲ 1 % of the interval's width.
RESAMPLES = 2000


@dataclass(frozen=True)
class SlopeFit:
    """A fitted slope, its 95 % interval [low, high], the intercept and the points used."""

    slope: float
    low: float
    high: float
    intercept: float
    count: int
    method: str

    @property
    def half_width(self) -> float:
        """Half the width of the interval."""
        return 0.5 * (self.high - self.low)

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies in [low, high]."""
        return bool(self.low <= value <= self.high)


def fit_slope(
    x: np.ndarray,
    y: np.ndarray,
    method: str = "regression",
    seed: int = 0,
    resamples: int = RESAMPLES,
) -> SlopeFit:
    """Least-squares slope of y against x with a 95 % interval (module docstring).

    Needs at least 3 points; with fewer, or non-finite data, raises ``InputError``.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if method not in INTERVAL_METHODS:
        raise InputError(f"interval method {method!r} (choose from {', '.join(INTERVAL_METHODS)})")
    if x.size < 3 or not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise InputError(f"a slope with an interval needs >= 3 finite points, got {x.size}")
    slope, intercept = np.polyfit(x, y, 1)
    if method == "regression":
        residual = y - (intercept + slope * x)
        se = np.sqrt(residual @ residual / (x.size - 2) / np.sum((x - x.mean()) ** 2))
        half = stats.t.ppf(0.975, x.size - 2) * se
        low, high = slope - half, slope + half
    else:
        rng = np.random.default_rng(seed)
        picks = rng.integers(0, x.size, size=(resamples, x.size))
        xs, ys = x[picks], y[picks]
        xc = xs - xs.mean(axis=1, keepdims=True)
        sxx = np.sum(xc**2, axis=1)
        ok = sxx > 0  # a resample of one repeated x has no slope
        slopes = np.sum(xc * ys, axis=1)[ok] / sxx[ok]
        low, high = np.percentile(slopes, [2.5, 97.5])
    return SlopeFit(float(slope), float(low), float(high), float(intercept), x.size, method)


def fit_decay_rate(
    times: np.ndarray,
    values: np.ndarray,
    window: tuple[float, float] = (1e-9, 1e-2),
    seed: int = 0,
) -> SlopeFit:
    """Decay rate r of values ≈ C e^{−r t} on the window of MATH §5, bootstrap interval.

    The same samples as :func:`mfpde.lyapunov.fit_rate` (``window[0] <= L_t/L_0 <= window[1]``),
    so ``slope`` equals its rate; the fit is of −log L_t against t (a positive slope). Raises
    ``InputError`` if fewer than 3 samples lie in the window (run longer or save more often).
    """
    values = np.asarray(values, dtype=float)
    ratio = values / values[0]
    use = (ratio >= window[0]) & (ratio <= window[1]) & (values > 0)
    if use.sum() < 3:
        raise InputError(
            f"only {int(use.sum())} saved values lie in the fit window {window} of L_t/L_0 "
            f"(L_T/L_0 = {ratio[-1]:.2e}): increase t_end or save more often"
        )
    return fit_slope(np.asarray(times)[use], -np.log(values[use]), "bootstrap", seed)


def fit_order(steps: np.ndarray, errors: np.ndarray, method: str = "regression") -> SlopeFit:
    """Convergence order p of errors ≈ C h^p: the slope of log(error) against log(h)."""
    return fit_slope(np.log(steps), np.log(errors), method)


def _slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least-squares slopes of the columns of y (len(x), …) against x."""
    xc = x - x.mean()
    return np.tensordot(xc, y, axes=(0, 0)) / (xc @ xc)


def fit_replica_slope(
    sizes: np.ndarray,
    samples: np.ndarray,
    statistic: Callable[[np.ndarray], np.ndarray],
    seed: int = 0,
    resamples: int = RESAMPLES,
) -> SlopeFit:
    r"""Slope of log S(N) against log N, S = ``statistic`` of the replicas, bootstrap interval.

    Parameters
    ----------
    sizes : array, shape (m,)
        The sizes N (m ≥ 3).
    samples : array, shape (m, R)
        A per-replica quantity at each size (an error, a squared error, an MMD², …).
    statistic : callable
        Reduces the last (replica) axis, e.g. ``lambda e: np.sqrt(np.mean(e**2, -1))``.
    seed, resamples
        The bootstrap draws R replicas with replacement, independently at each size (the
        replicas of different sizes are independent runs), ``resamples`` times from
        ``default_rng(seed)``; the interval is the 2.5 %-97.5 % percentile range of the refitted
        slopes.
    """
    sizes, samples = np.asarray(sizes, dtype=float), np.asarray(samples, dtype=float)
    if sizes.size < 3 or samples.shape[0] != sizes.size or samples.shape[1] < 2:
        raise InputError(f"a slope over N needs >= 3 sizes and >= 2 replicas, got {samples.shape}")
    x = np.log(sizes)
    y = np.log(statistic(samples))
    if not np.all(np.isfinite(y)):
        raise InputError("the error statistic is zero or not finite at some N")
    slope, intercept = np.polyfit(x, y, 1)
    rng = np.random.default_rng(seed)
    replicas = samples.shape[1]
    picks = rng.integers(0, replicas, size=(sizes.size, resamples, replicas))
    resampled = np.take_along_axis(samples[:, None, :], picks, axis=2)  # (m, B, R)
    with np.errstate(divide="ignore"):
        logs = np.log(statistic(resampled))  # (m, B)
    slopes = _slopes(x, logs)
    low, high = np.percentile(slopes[np.isfinite(slopes)], [2.5, 97.5])
    return SlopeFit(
        float(slope), float(low), float(high), float(intercept), sizes.size, "bootstrap"
    )


def replica_band(
    samples: np.ndarray,
    statistic: Callable[[np.ndarray], np.ndarray],
    seed: int = 0,
    resamples: int = RESAMPLES,
) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap 95 % band of ``statistic`` over the replicas (last axis) of ``samples`` (m, R).

    The same resampling as :func:`fit_replica_slope`; returns the 2.5 % and 97.5 % percentiles
    per row (the bands of the error-against-N plots).
    """
    samples = np.asarray(samples, dtype=float)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, samples.shape[1], size=(samples.shape[0], resamples, samples.shape[1]))
    values = statistic(np.take_along_axis(samples[:, None, :], picks, axis=2))
    low, high = np.percentile(values, [2.5, 97.5], axis=1)
    return low, high
