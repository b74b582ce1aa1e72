"""Time stepping: Strang splitting of reaction and transport, fixed or adaptive steps (MATH §8).

The stepper advances a :class:`System`: one flow operator per measure (one for optimisation,
two for a game, MATH §4) and a function returning each measure's field h from the current
densities. A step of length τ is R(τ/2) T(τ) R(τ/2), second order; each substep freezes the
fields, taken at the substep's midpoint by a predictor when they depend on the state (nonlinear
energies, games), so second order is kept. Observers see the state every step; the guard stops
with a clear error at the first non-finite or non-positive density, and a non-finite observer
value is a :class:`~mfpde.errors.NumericalError` too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from mfpde import checks
from mfpde.errors import InputError, NumericalError
from mfpde.resources import require_steps

__all__ = ["System", "strang_step", "integrate", "Observer", "check_time"]

Densities = list[np.ndarray]


@dataclass
class System:
    """Densities' flow operators and the map from densities to their fields h.

    ``reaction_fields`` (default: ``fields``) gives the reaction substeps a field of their own,
    e.g. the whole kernelised g_h of MATH §3.2 with the operators' ``sigma_reaction = 0``.
    """

    operators: Sequence
    fields: Callable[[Densities], Densities]
    linear: bool
    reaction_fields: Callable[[Densities], Densities] | None = None

    @property
    def weights(self) -> list[np.ndarray]:
        return [op.weights for op in self.operators]


class Observer:
    """Watches a run: :meth:`step` after every accepted step, ``__call__`` at save times."""

    name: str = "observer"

    def step(self, t: float, rhos: Densities) -> None:  # noqa: B027 (optional hook)
        """Called after every accepted step (and once at the initial time)."""

    def __call__(self, t: float, rhos: Densities) -> float:
        raise NotImplementedError


def _substep(system: System, method: str, rhos: Densities, tau: float) -> Densities:
    field_map = system.fields
    if method == "reaction" and system.reaction_fields is not None:
        field_map = system.reaction_fields
    fields = field_map(rhos)
    if not system.linear:  # midpoint predictor for state-dependent fields
        mid = [
            getattr(op, method)(r, tau / 2, f) for op, r, f in zip(system.operators, rhos, fields)
        ]
        fields = field_map(mid)
    return [getattr(op, method)(r, tau, f) for op, r, f in zip(system.operators, rhos, fields)]


def strang_step(system: System, rhos: Densities, tau: float) -> Densities:
    """One Strang step R(τ/2) T(τ) R(τ/2) (second order)."""
    reacts = any(op.alpha for op in system.operators)
    moves = any(op.gamma for op in system.operators)
    if reacts and moves:
        rhos = _substep(system, "reaction", rhos, tau / 2)
        rhos = _substep(system, "transport", rhos, tau)
        return _substep(system, "reaction", rhos, tau / 2)
    return _substep(system, "reaction" if reacts else "transport", rhos, tau)


def _guard(t: float, rhos: Densities) -> None:
    for k, rho in enumerate(rhos):
        low, high = rho.min(), rho.max()  # a nan or an infinity shows in one of the two
        if not (math.isfinite(low) and math.isfinite(high)):
            raise NumericalError(f"density {k} became non-finite at t = {t:.6g}")
        if low <= 0:
            raise NumericalError(f"density {k} became non-positive at t = {t:.6g}")


def check_time(
    t_end: float, dt: float | None, tolerance: float | None, save_every: int
) -> tuple[float, float | None, float | None, int]:
    """The time arguments of :func:`integrate`, checked before any work (one-line InputError).

    t_end, dt and tolerance are numbers > 0 (dt or tolerance given), save_every an integer ≥ 1,
    and the step count t_end/dt of a fixed-step run within the limit of :mod:`mfpde.resources`.
    """
    t_end = checks.number("t_end", t_end, positive=True)
    if dt is None and tolerance is None:
        raise InputError("give dt (fixed steps) or tolerance (adaptive steps)")
    dt = None if dt is None else checks.number("dt", dt, positive=True)
    tolerance = None if tolerance is None else checks.number("tolerance", tolerance, positive=True)
    if isinstance(save_every, bool) or not isinstance(save_every, int) or save_every < 1:
        raise InputError(f"save_every must be a positive integer (steps), got {save_every!r}")
    if dt is not None:
        require_steps(t_end / dt, f"t_end/dt = {t_end:g}/{dt:g}")
    return t_end, dt, tolerance, save_every


def _observe(observer: Observer, t: float, rhos: Densities) -> float:
    """The observer's value at t; a non-finite value is a numerical failure, never stored."""
    value = float(observer(t, rhos))
    if not np.isfinite(value):
        raise NumericalError(f"observer {observer.name!r} became {value} at t = {t:.6g}")
    return value


def integrate(
    system: System,
    rhos: Densities,
    t_end: float,
    dt: float | None = None,
    *,
    tolerance: float | None = None,
    save_every: int = 1,
    observers: Sequence[Observer] = (),
    progress: bool = True,
) -> tuple[np.ndarray, list[Densities], dict[str, np.ndarray]]:
    """Advance ``rhos`` to ``t_end``, saving every ``save_every`` accepted steps and at t_end.

    Parameters
    ----------
    dt : float, optional
        Fixed step (the last step is shortened to land on t_end). Initial step if adaptive.
    tolerance : float, optional
        If given, steps are adapted by step doubling so that the L¹ difference between one
        step of τ and two of τ/2 stays below ``tolerance`` (the two half steps are kept).
    save_every : int
        Store the state every this many accepted steps.
    progress : bool
        Show a tqdm bar (it appears only if the run lasts more than 2 s).

    Returns
    -------
    times, states, observed
        Saved times, saved densities and the observers' values at those times.
    """
    t_end, dt, tolerance, save_every = check_time(t_end, dt, tolerance, save_every)
    tau = dt if dt is not None else t_end / 1000
    t, steps = 0.0, 0
    _guard(t, rhos)
    times, states = [], []
    observed: dict[str, list[float]] = {o.name: [] for o in observers}

    def save() -> None:
        times.append(t)
        states.append([r.copy() for r in rhos])
        for o in observers:
            observed[o.name].append(_observe(o, t, rhos))

    for o in observers:
        o.step(t, rhos)
    save()
    bar = tqdm(total=t_end, delay=2.0, unit="t", leave=False) if progress else None
    while t < t_end * (1 - 1e-12):
        tau = min(tau, t_end - t)
        if tolerance is None:
            new = strang_step(system, rhos, tau)
        else:
            big = strang_step(system, rhos, tau)
            new = strang_step(system, strang_step(system, rhos, tau / 2), tau / 2)
            err = max(float(w @ np.abs(a - b)) for w, a, b in zip(system.weights, big, new))
            factor = min(2.0, max(0.2, 0.9 * (tolerance / max(err, 1e-300)) ** (1 / 3)))
            if err > tolerance:
                tau *= factor
                if tau < 1e-12 * t_end:
                    raise NumericalError(f"adaptive step fell below {tau:.3e} at t = {t:.6g}")
                continue
        _guard(t + tau, new)
        rhos, t, steps = new, t + tau, steps + 1
        if bar is not None:
            bar.update(tau)
        for o in observers:
            o.step(t, rhos)
        if steps % save_every == 0 or t >= t_end * (1 - 1e-12):
            save()
        if tolerance is not None:
            tau *= factor
    if bar is not None:
        bar.close()
    return np.array(times), states, {k: np.array(v) for k, v in observed.items()}
