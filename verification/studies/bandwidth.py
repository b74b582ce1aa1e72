r"""Study ``bandwidth``: the kernelised flow tends to the plain flow as h → 0 (MATH §3.2).

Items: the plain flow of the configuration (``plain``, :func:`mfpde.solve`) and, for each
bandwidth h of ``bandwidths``, the kernelised flow of the chosen ``kernel`` variant with K_h
(``h<i>``, :func:`mfpde.kernels.solve_kernelised`), on the same grid and time steps, so that the
discretisation errors of the two largely cancel and the difference is the kernelisation's. At each
of the ``times`` the error is the L¹ distance Σ_i w_i |ρ^h_i(t) − ρ_i(t)|.

Orders (*derived here*, for smooth positive μ and the Gaussian K_h, K_h*f = f + (h²/2) f'' +
O(h⁴)): ``density`` log(K_h*μ) = log μ + (h²/2) μ''/μ + O(h⁴), order 2; ``smoothed_kl``
K_h*[log K_h*μ + 1] = log μ + 1 + O(h²), order 2; ``blob``
log(K_h*μ) + K_h*(μ/K_h*μ) = log μ + (h²/2)μ''/μ + 1 − (h²/2)μ''/μ + O(h⁴) = log μ + 1 + O(h⁴):
the h² terms cancel and the order is 4 (measured on T¹, V = cos x + ½ cos 2x, σ = ½, Fisher-Rao,
t = 2: local orders 1.91, 1.98, 1.99 (density), 1.80, 1.95, 1.99 (smoothed_kl), 3.38, 3.79,
3.88 (blob) for h = 0.4 → 0.05; the constant 1 cancels in g − ⟨g⟩ and in ∇g).

Checks at each time: the error decreases strictly as h decreases, and the expected order lies in
the regression 95 % interval of the fitted order (slope of log error against log h,
:func:`~mfpde.verification.studies.stats.fit_order`) widened by ``tolerance`` (default 0.1: the next
term of the expansion bends the log-log line over a decade of h, e.g. 1.91 → 1.99 above).

``[study]`` keys: ``kernel`` (variant, required), ``bandwidths`` (≥ 3, required), ``times``
(default ``[t_end]``), ``expected_order`` (default 2, 4 for ``blob``), ``tolerance`` (0.1),
``kernelised_transport`` (default true; false: the plain transport of ``wfr_jump``). The grid's
cells should be several times smaller than the smallest h (the convolutions are quadratures).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.ticker import NullFormatter

from mfpde.errors import InputError
from mfpde.fv.grid import Grid
from mfpde.kernels import VARIANTS, Kernel, solve_kernelised
from mfpde.plotting import new_axes
from mfpde.tables import Table
from mfpde.verification.studies.base import Check, Item, Outcome, Study, register_study, save_png
from mfpde.verification.studies.report import Heading, TableBlock
from mfpde.verification.studies.stats import fit_order

__all__ = ["Bandwidth", "EXPECTED_ORDERS"]

#: Order of the kernelisation error of each variant (module docstring).
EXPECTED_ORDERS = {"density": 2.0, "smoothed_kl": 2.0, "blob": 4.0}
#: Relative tolerance of matching the requested times with the saved ones.
_TIME_MATCH = 1e-9


@register_study
class Bandwidth(Study):
    """L¹ distance of the kernelised to the plain flow as h → 0 (module docstring)."""

    kind = "bandwidth"
    keys = frozenset(
        {"kernel", "bandwidths", "times", "expected_order", "tolerance", "kernelised_transport"}
    )
    title = "kernelised against plain flow as the bandwidth h → 0 (MATH §3.2)"

    def __init__(self, cfg: dict, study: Table, problem_kind: str, setup_override=None):
        super().__init__(cfg, study, problem_kind, setup_override)
        if problem_kind != "optimisation":
            raise InputError("bandwidth: optimisation problems only (MATH §3.2)")
        self.run = run = self.setup()
        if not isinstance(run.grid, Grid):
            raise InputError("bandwidth needs the finite-volume backend (tensor grids)")
        if run.problem.sigma <= 0:
            raise InputError("bandwidth: the kernelisation concerns σ log μ, so sigma must be > 0")
        self.variant = study.string("kernel", None, VARIANTS)
        if self.variant is None:
            raise InputError(f"[study] needs kernel ({', '.join(VARIANTS)})")
        h = study.required("bandwidths")
        if (
            not isinstance(h, list)
            or len(set(h)) < 3
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in h)
            or min(h) <= 0
        ):
            raise InputError(f"[study] bandwidths must be a list of >= 3 distinct h > 0, got {h!r}")
        self.bandwidths = sorted({float(v) for v in h}, reverse=True)
        for v in self.bandwidths:
            Kernel(self.variant, v)
        t_end = run.time["t_end"]
        times = study.data.get("times", [t_end])
        if not isinstance(times, list) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v <= t_end
            for v in times
        ):
            raise InputError(f"[study] times must be a list of times in (0, t_end], got {times!r}")
        self.times = sorted(float(v) for v in times)
        self.expected = study.number("expected_order", EXPECTED_ORDERS[self.variant], positive=True)
        self.tolerance = study.number("tolerance", 0.1, minimum=0.0)
        transport = study.data.get("kernelised_transport", True)
        if not isinstance(transport, bool):
            raise InputError(
                f"[study] kernelised_transport must be true or false, got {transport!r}"
            )
        self.kernelised_transport = transport

    def items(self) -> list[Item]:
        levels = [Item(f"h{i}", {"bandwidth": h}) for i, h in enumerate(self.bandwidths)]
        return [Item("plain"), *levels]

    def compute(self, item: Item, progress: bool) -> dict[str, np.ndarray]:
        run = self.run
        options = {k: run.time[k] for k in ("t_end", "dt", "tolerance", "save_every")}
        if item.key == "plain":
            solution = run.solve(
                run.problem, run.flow, run.initial, grid=run.grid, progress=progress, **options
            )
        else:
            solution = solve_kernelised(
                run.problem,
                run.flow,
                run.initial,
                Kernel(self.variant, item.params["bandwidth"]),
                grid=run.grid,
                kernelised_transport=self.kernelised_transport,
                progress=progress,
                **options,
            )
        wanted = np.array(self.times)
        index = np.abs(solution.times[:, None] - wanted[None, :]).argmin(axis=0)
        if np.any(np.abs(solution.times[index] - wanted) > _TIME_MATCH * wanted):
            raise InputError("[study] times must be saved times (multiples of dt × save_every)")
        return {"time": solution.times[index], "density": solution.density[index]}

    def analyse(self, results, folder: Path) -> Outcome:
        plain, weights = results["plain"]["density"], self.run.grid.weights
        h = np.array(self.bandwidths)
        errors = np.array(
            [np.abs(results[f"h{i}"]["density"] - plain) @ weights for i in range(len(h))]
        )  # (bandwidths, times)
        checks, data = [], {"bandwidths": h, "times": np.array(self.times), "errors": errors}
        ax = new_axes()[0]
        for k, t in enumerate(self.times):
            e = errors[:, k]
            steps = np.diff(e)
            checks.append(
                Check(
                    f"L¹ distance at t = {t:g} decreases strictly as h decreases",
                    f"largest ratio of successive errors {np.max(e[1:] / e[:-1]):.3g}",
                    "—",
                    bool(np.all(steps < 0)),
                    float(-steps.max()),
                    f"{-steps.max():+.3g}",
                )
            )
            fit = fit_order(h, e)
            margin = self.tolerance + min(self.expected - fit.low, fit.high - self.expected)
            checks.append(
                Check(
                    f"order {self.expected:g} in h at t = {t:g} lies in the 95 % interval "
                    f"± tolerance {self.tolerance:g}",
                    f"{fit.slope:.3f}",
                    f"[{fit.low:.3f}, {fit.high:.3f}] (regression)",
                    margin >= 0,
                    margin,
                    f"{margin:+.3g}",
                )
            )
            data.update({f"order_t{k}": fit.slope, f"order_low_t{k}": fit.low})
            data[f"order_high_t{k}"] = fit.high
            ax.loglog(h, e, "o-", label=f"t = {t:g}: order {fit.slope:.2f}")
        ax.loglog(
            h,
            errors[-1, -1] * (h / h[-1]) ** self.expected,
            "k--",
            label=f"slope {self.expected:g}",
        )
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("bandwidth h")
        ax.set_ylabel("L¹ distance to the plain flow")
        ax.set_title(f"{self.variant} kernelisation, {self.run.flow.name}")
        ax.legend(fontsize="small")
        image = save_png(ax, folder, "bandwidth.png", "L¹ distance against h (log-log)")
        rows = [[f"{v:g}", *(f"{e:.4e}" for e in errors[i])] for i, v in enumerate(self.bandwidths)]
        blocks = [
            Heading("Measurement"),
            f"Kernelisation `{self.variant}` of flow `{self.run.flow.name}` on "
            f"{self.run.grid.shape} cells against the plain flow on the same grid and steps; "
            f"expected order {self.expected:g} (module docstring of "
            "`verification/studies/bandwidth.py`).",
            TableBlock(["h", *(f"L¹ at t = {t:g}" for t in self.times)], rows),
            image,
        ]
        return Outcome(checks, blocks, data)
