"""Resource bounds: refuse a run whose size or step count is out of reach, before allocating.

A configuration states the sizes (cells, nodes, particles, replicas, saved states) and the step
count (t_end/dt) of its run; :func:`require_memory` and :func:`require_steps` compare estimates
made from them with the limits and raise :class:`~mfpde.errors.InputError` with the estimate and
the limit (a run of 10⁹ cells, of 10¹² particles or of 10³⁰⁰ steps is refused at once instead of
exhausting the machine or running forever). The limits are 75 % of the machine's memory and
10⁸ steps; :func:`set_limits` (``mfpde run --max-memory GIB --max-steps N``) changes them.

The estimates are upper bounds of the working set per unit, measured on the project's machine:
:data:`BYTES_PER_CELL` for a finite-volume cell or a P1 node (operators, work vectors of the
time stepper and of the nonlocal sums), :data:`BYTES_PER_PARTICLE` for a particle of one step
(positions, fields, gradients, kernel sums), and 8 bytes per stored number.
"""

from __future__ import annotations

from mfpde.errors import InputError

__all__ = [
    "BYTES_PER_CELL",
    "BYTES_PER_PARTICLE",
    "set_limits",
    "limits",
    "require_memory",
    "require_steps",
]

#: Working set of one finite-volume cell or P1 node (measured ≈ 2 KiB on a 256² box with an
#: interaction, 0.9 KiB on a 64³ torus; rounded up).
BYTES_PER_CELL = 4096
#: Working set of one particle in one step (measured ≈ 300 B at 10⁶ particles on T²).
BYTES_PER_PARTICLE = 1024


def _memory_total() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 16 * 1024**3


_limits = {"memory": int(0.75 * _memory_total()), "steps": 10**8}


def set_limits(memory: float | None = None, steps: int | None = None) -> None:
    """Set the memory limit (bytes) and the step limit; None keeps a limit as it is."""
    if memory is not None:
        if not memory > 0:
            raise InputError(f"the memory limit must be > 0, got {memory}")
        _limits["memory"] = int(memory)
    if steps is not None:
        if not steps >= 1:
            raise InputError(f"the step limit must be >= 1, got {steps}")
        _limits["steps"] = int(steps)


def limits() -> dict[str, int]:
    """The current limits: ``{"memory": bytes, "steps": count}``."""
    return dict(_limits)


def _gib(n: float) -> str:
    return f"{n / 1024**3:.3g} GiB"


def require_memory(estimate: float, what: str) -> None:
    """Raise InputError if ``estimate`` bytes exceed the memory limit."""
    if estimate > _limits["memory"]:
        raise InputError(
            f"{what} needs about {_gib(estimate)} of memory, above the limit of "
            f"{_gib(_limits['memory'])} (--max-memory GIB changes it)"
        )


def require_steps(steps: float, what: str) -> None:
    """Raise InputError if ``steps`` exceed the step limit."""
    if steps > _limits["steps"]:
        raise InputError(
            f"{what} takes {steps:.3g} steps, above the limit of {_limits['steps']:.3g} "
            "(--max-steps N changes it)"
        )


def saved_states(t_end: float, dt: float | None, save_every: int) -> float:
    """How many states a fixed-step run stores (adaptive runs: unknown, counted as 1)."""
    if dt is None:
        return 1.0
    return (t_end / dt) / save_every + 2


def check_run(cells: float, time: dict, players: int = 1, what: str = "the run") -> None:
    """The bounds of a mesh run: its steps, its working set and its stored states."""
    if time.get("dt") is not None:
        require_steps(time["t_end"] / time["dt"], what)
    stored = 8.0 * cells * players * saved_states(time["t_end"], time.get("dt"), time["save_every"])
    require_memory(BYTES_PER_CELL * cells * players + stored, what)


def check_grid_size(cells: float, what: str) -> None:
    """Refuse a grid or mesh whose working set alone exceeds the limit (before it is built)."""
    require_memory(BYTES_PER_CELL * cells, what)


def check_particles(n: float, replicas: int, dim: int, saves: float, what: str) -> None:
    """The bounds of particle replicas: one step's working set and the stored trajectories."""
    stored = 8.0 * n * replicas * (dim + 1) * saves
    require_memory(BYTES_PER_PARTICLE * n + stored, what)
