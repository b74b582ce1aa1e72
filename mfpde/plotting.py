"""Plots of solutions and Lyapunov functionals (MATH §3, §5), with matplotlib.

The functions draw on a given :class:`matplotlib.axes.Axes` (from ``plt.subplots()`` in a
notebook, say) or, with ``ax=None``, on a new :class:`matplotlib.figure.Figure` that is not
registered with pyplot: it renders with the Agg backend on ``savefig`` and never opens a window,
so scripts and tests run headless without changing the user's backend.

Example
-------
>>> import numpy as np
>>> t = np.linspace(0.0, 10.0, 101)
>>> ax = plot_lyapunov(t, np.exp(-2.0 * t), {"theory 2": 2.0}, label="L")
>>> [line.get_label() for line in ax.get_lines()]
['L', 'theory 2: 2']
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from mfpde.errors import InputError

__all__ = ["new_axes", "plot_density_slices", "plot_densities", "plot_lyapunov", "save_figure"]

#: The fit window of MATH §5 (values relative to the initial one), shared with
#: :func:`mfpde.lyapunov.fit_rate`.
FIT_WINDOW = (1e-9, 1e-2)


def new_axes(ncols: int = 1, width: float = 4.8, height: float = 3.6) -> list[Axes]:
    """A new pyplot-free figure with ``ncols`` side-by-side axes (Agg-rendered on save)."""
    fig = Figure(figsize=(width * ncols, height), layout="constrained")
    return list(np.atleast_1d(fig.subplots(1, ncols)))


def save_figure(ax: Axes, path, dpi: int = 120):
    """Save the figure holding ``ax`` as an image (format from the suffix); return the path."""
    ax.figure.savefig(path, dpi=dpi)
    return path


def _nearest(times: np.ndarray, wanted: Sequence[float]) -> list[int]:
    """Indices of the saved times nearest to ``wanted``, without repeats, in time order."""
    return sorted({int(np.abs(times - t).argmin()) for t in wanted})


def plot_density_slices(
    points: np.ndarray,
    times: np.ndarray,
    density: np.ndarray,
    *,
    slices: Sequence[float] | None = None,
    reference: np.ndarray | None = None,
    reference_label: str = r"$\mu^*$",
    ax: Axes | None = None,
) -> Axes:
    """Draw a 1-D density ρ(t, x) at a few saved times, and optionally a reference density.

    Parameters
    ----------
    points : ndarray, shape (n, 1)
        Quadrature points (cell centres).
    times, density : ndarray
        Saved times (m,) and densities (m, n).
    slices : sequence of float, optional
        Times to draw (the nearest saved ones); default: 0 and t_end/16, /8, /4, /1.
    reference : ndarray, optional
        A density drawn dashed in black, e.g. the minimiser μ*.
    reference_label : str
        Its legend entry.
    ax : Axes, optional
        Where to draw; a new figure if omitted.
    """
    if points.ndim != 2 or points.shape[1] != 1:
        raise InputError(f"density plots are 1-D; got points of shape {points.shape}")
    ax = ax if ax is not None else new_axes()[0]
    t_end = float(times[-1])
    default = [0.0, *(t_end / k for k in (16, 8, 4, 1))]
    chosen = _nearest(times, slices if slices is not None else default)
    x = points[:, 0]
    colours = matplotlib.colormaps["viridis"](np.linspace(0.0, 0.85, len(chosen)))
    for colour, i in zip(colours, chosen):
        ax.plot(x, density[i], color=colour, label=f"t = {times[i]:.3g}")
    if reference is not None:
        ax.plot(x, reference, "k--", lw=1.5, label=reference_label)
    ax.set_xlabel("x")
    ax.set_ylabel("density")
    ax.set_xlim(x.min(), x.max())
    ax.set_ylim(bottom=0)
    ax.legend(fontsize="small")
    return ax


def plot_densities(solution, ax: Axes | None = None, slices: Sequence[float] | None = None) -> Axes:
    """Draw a :class:`~mfpde.solver.Solution`'s 1-D densities at a few times and its μ*.

    See :func:`plot_density_slices`; the title names the flow.
    """
    ax = plot_density_slices(
        solution.grid.points,
        solution.times,
        solution.density,
        slices=slices,
        reference=solution.minimiser,
        ax=ax,
    )
    ax.set_title(f"{solution.flow.name}: densities")
    return ax


def plot_lyapunov(
    times: np.ndarray,
    values: np.ndarray,
    rates: Mapping[str, float],
    ax: Axes | None = None,
    *,
    label: str = r"$\mathrm{KL}(\mu^*|\mu_t)$",
    bounds: Mapping[str, float] | None = None,
    window: tuple[float, float] = FIT_WINDOW,
) -> Axes:
    r"""Draw a decaying functional L_t on a log scale with exponential rate lines (MATH §5).

    Each rate r in ``rates`` is drawn (black, on top) as C e^{−r t} through the first saved value
    inside the fit window ``window`` (relative to L_0), where :func:`mfpde.lyapunov.fit_rate`
    starts fitting, so its slope compares with the measured asymptotic decay. Each rate in
    ``bounds`` is drawn as L_0 e^{−r t} from t = 0: a theorem's bound, e.g. e^{−ασt} KL(μ*|μ_0)
    for Fisher-Rao.
    Non-positive values (round-off once L_t is at machine precision) are left out.

    Parameters
    ----------
    times, values : ndarray
        Saved times and L_t.
    rates, bounds : mapping of label to rate
        Asymptotic rate lines and bound lines (legend label → rate r).
    ax : Axes, optional
        Where to draw; a new figure if omitted. Call again on the same axes to add curves.
    label : str
        Legend entry of the curve.
    window : (float, float)
        The fit window, relative to L_0.
    """
    ax = ax if ax is not None else new_axes()[0]
    earlier = ax.get_ylim() if ax.get_yscale() == "log" else None  # curves drawn before
    times, values = np.asarray(times, dtype=float), np.asarray(values, dtype=float)
    positive = values > 0
    ax.plot(times[positive], values[positive], lw=2, label=label)
    inside = np.flatnonzero(positive & (values <= window[1] * values[0]))
    anchor = inside[0] if inside.size else 0
    styles = itertools.cycle(["--", ":", "-."])
    for name, rate in rates.items():
        line = values[anchor] * np.exp(-rate * (times - times[anchor]))
        ax.plot(times, line, next(styles), color="k", lw=1, zorder=3, label=f"{name}: {rate:.4g}")
    for name, rate in (bounds or {}).items():
        ax.plot(times, values[0] * np.exp(-rate * times), color="0.45", lw=1.2, label=name)
    ax.set_yscale("log")
    shown = values[positive]
    low, high = max(shown.min(), 1e-16 * shown.max()) / 3, shown.max() * 3
    if earlier is not None:
        low, high = min(low, earlier[0]), max(high, earlier[1])
    ax.set_ylim(low, high)
    ax.set_xlim(times[0], times[-1])
    ax.set_xlabel("t")
    ax.legend(fontsize="small")
    return ax
