r"""Study ``discretisation_order``: the order of convergence under refinement (MATH §8).

One item per level: the configured problem is solved with ``[domain] cells`` (and
``[domain_nu] cells`` for a game) and/or ``[time] dt`` replaced by the level's values; only the
final state is kept. The error of a level is the L¹ distance Σ_i w_i |ρ_i − ρ_ref(x_i)| at t_end
(summed over the players of a game), against

- an exact solution of MATH §3.1 when ``exact`` names one (``E1``, ``E2``, ``E3``;
  :mod:`mfpde.verification.studies.references`), or
- the finest level (self-convergence), restricted to the level's grid by cell averages (the
  grids must be nested: every level's cells divide the finest level's); the finest level is
  the reference, so it is not fitted and at least 4 levels are needed.

The order p is the slope of log(error) against log(h) (``np.polyfit``), with h the largest cell
size when ``cells`` is refined (jointly with ``dt`` if both are lists), else h = dt; its 95 %
interval is the regression (Student t) or bootstrap one (:mod:`mfpde.verification.studies.stats`).
Verdict: the expected order lies in the interval widened by ``tolerance`` at both ends, and the
interval is conclusive: its half-width is at most :data:`CONCLUSIVE` (0.5), so that it can tell
neighbouring orders apart (a fit with the interval [−11.6, 18.3] contains any order and fails). The
widening allows for the pre-asymptotic bias of a fitted order: the next term of the error
expansion (C₁h^p + C₂h^{p+1} + …) bends the log-log line, which the interval of a straight-line
fit does not see (e.g. local orders 2.034, 2.017, 2.011 of Strang splitting, fitted 2.020 with
interval [2.004, 2.036]). If every error is below 1e-11 the scheme is exact for the case (as for
E1) and the claim holds trivially.

``[study]`` keys: ``cells`` (a list of levels, each an integer or a list per axis), ``dt`` (a
list of steps), at least 3 levels; ``exact``; ``expected_order`` (default 2, or 1 for time
refinement with ``scheme = "implicit_euler"``); ``interval`` (``regression``, default, or
``bootstrap``); ``tolerance`` (≥ 0, default 0.05).
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
from matplotlib.ticker import NullFormatter

from mfpde.errors import InputError
from mfpde.fv.grid import Grid
from mfpde.plotting import new_axes
from mfpde.tables import Table
from mfpde.verification.studies.base import Check, Item, Outcome, Study, register_study, save_png
from mfpde.verification.studies.references import REFERENCES
from mfpde.verification.studies.report import Heading, TableBlock
from mfpde.verification.studies.stats import INTERVAL_METHODS, fit_order

__all__ = ["DiscretisationOrder", "restrict"]

#: Largest half-width of a conclusive order interval (module docstring).
CONCLUSIVE = 0.5

#: Errors below this are round-off: the scheme is exact for the case (E1: measured ~1e-15).
ROUND_OFF = 1e-11
#: Default widening of the order interval (module docstring): the bias of fitted orders over
#: 3-4 levels of the solvers' tests is ≤ 0.04 (E2 1.98-2.02, E3 1.99, Strang 2.02).
DEFAULT_TOLERANCE = 0.05
#: save_every for the level runs: only t_end is stored.
_FINAL_ONLY = 2**62


def restrict(density: np.ndarray, fine: tuple[int, ...], coarse: tuple[int, ...]) -> np.ndarray:
    """Cell averages of a density on a uniform grid of shape ``fine`` over the nested ``coarse``."""
    blocks = []
    for n_fine, n_coarse in zip(fine, coarse):
        blocks += [n_coarse, n_fine // n_coarse]
    averaged = density.reshape(blocks).mean(axis=tuple(range(1, 2 * len(fine), 2)))
    return averaged.ravel()


def _levels(study: Table, key: str, check) -> list | None:
    value = study.data.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(check(v) for v in value):
        raise InputError(f"[study] {key} must be a list of levels, got {value!r}")
    return value


def _is_cells(v) -> bool:
    entries = v if isinstance(v, list) else [v]
    return bool(entries) and all(
        isinstance(c, int) and not isinstance(c, bool) and c >= 3 for c in entries
    )


def _is_step(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) and v > 0


@register_study
class DiscretisationOrder(Study):
    """Order of the L¹ error at t_end under refinement (module docstring)."""

    kind = "discretisation_order"
    keys = frozenset({"cells", "dt", "exact", "expected_order", "interval", "tolerance"})
    title = "order of convergence under refinement (MATH §8)"

    def __init__(self, cfg: dict, study: Table, problem_kind: str):
        super().__init__(cfg, study, problem_kind)
        cells = _levels(study, "cells", _is_cells)
        steps = _levels(study, "dt", _is_step)
        self.exact = study.string("exact", None, tuple(REFERENCES))
        if self.exact and problem_kind != "optimisation":
            raise InputError(f"[study] exact = {self.exact!r} is an optimisation case (MATH §3.1)")
        lengths = {len(v) for v in (cells, steps) if v is not None}
        if not lengths:
            raise InputError("[study] needs cells or dt: a list of refinement levels")
        if len(lengths) > 1:
            raise InputError("[study] cells and dt must have the same number of levels")
        count = lengths.pop()
        needed = 3 if self.exact else 4
        if count < needed:
            raise InputError(
                f"[study] needs >= {needed} levels "
                f"({'the finest is the reference, ' if not self.exact else ''}got {count})"
            )
        self.refine = "space" if cells is not None else "time"
        scheme = self.cfg.get("time", {}).get("scheme", "expm")
        default = 1.0 if self.refine == "time" and scheme == "implicit_euler" else 2.0
        self.expected = study.number("expected_order", default, positive=True)
        self.method = study.string("interval", "regression", INTERVAL_METHODS)
        self.tolerance = study.number("tolerance", DEFAULT_TOLERANCE, minimum=0.0)
        self.levels = [
            {
                "cells": None if cells is None else cells[i],
                "dt": None if steps is None else steps[i],
            }
            for i in range(count)
        ]
        self.setups = [self.setup(self._level_cfg(level)) for level in self.levels]
        if not all(isinstance(g, Grid) for g in self._grids(self.setups[0])):
            raise InputError("discretisation_order needs the finite-volume backend (tensor grids)")
        if self.exact:
            REFERENCES[self.exact](self.setups[0])  # checks the case before any work
        else:
            finest = [g.shape for g in self._grids(self.setups[-1])]
            for setup in self.setups[:-1]:
                for grid, fine in zip(self._grids(setup), finest):
                    if any(f % c for f, c in zip(fine, grid.shape)):
                        raise InputError(
                            f"[study] cells: {grid.shape} does not divide the finest {fine}"
                        )

    def _level_cfg(self, level: dict) -> dict:
        cfg = copy.deepcopy(self.cfg)
        if level["cells"] is not None:
            for table in ("domain", "domain_nu"):
                if table in cfg or table == "domain":
                    cfg.setdefault(table, {})["cells"] = level["cells"]
        time = cfg.setdefault("time", {})
        if level["dt"] is not None:
            time["dt"] = level["dt"]
            time.pop("tolerance", None)
        time["save_every"] = _FINAL_ONLY
        return cfg

    def _grids(self, setup) -> list:
        return setup.grids if self.problem_kind == "game" else [setup.grid]

    def _step(self, i: int) -> float:
        if self.refine == "space":
            return float(max(self._grids(self.setups[i])[0].h))
        return float(self.levels[i]["dt"])

    def items(self) -> list[Item]:
        return [Item(f"level{i}", level) for i, level in enumerate(self.levels)]

    def compute(self, item: Item, progress: bool) -> dict[str, np.ndarray]:
        i = int(item.key.removeprefix("level"))
        setup = self.setups[i]
        solution = setup.execute(progress)
        if self.problem_kind == "game":
            finals = [solution.density_mu[-1], solution.density_nu[-1]]
        else:
            finals = [solution.density[-1]]
        result = {"t_end": np.float64(solution.times[-1]), "h": np.float64(self._step(i))}
        for name, grid, final in zip(("mu", "nu"), self._grids(setup), finals):
            result[f"density_{name}"] = final
            result[f"weights_{name}"] = grid.weights
            result[f"points_{name}"] = grid.points
        if self.exact:
            result["exact_mu"] = REFERENCES[self.exact](setup)(float(solution.times[-1]))
        return result

    def _errors(self, results) -> tuple[np.ndarray, np.ndarray]:
        """(h, L¹ errors) of the fitted levels."""
        keys = [item.key for item in self.items()]
        players = ("mu", "nu") if self.problem_kind == "game" else ("mu",)
        if self.exact:
            fitted = keys
            errors = [
                results[k]["weights_mu"] @ np.abs(results[k]["density_mu"] - results[k]["exact_mu"])
                for k in keys
            ]
        else:
            fitted, finest = keys[:-1], results[keys[-1]]
            fine_grids = self._grids(self.setups[-1])
            errors = []
            for i, k in enumerate(fitted):
                error = 0.0
                for p, grid, fine in zip(players, self._grids(self.setups[i]), fine_grids):
                    reference = restrict(finest[f"density_{p}"], fine.shape, grid.shape)
                    error += results[k][f"weights_{p}"] @ np.abs(
                        results[k][f"density_{p}"] - reference
                    )
                errors.append(error)
        h = np.array([float(results[k]["h"]) for k in fitted])
        return h, np.array(errors)

    def analyse(self, results, folder: Path) -> Outcome:
        h, errors = self._errors(results)
        against = f"exact solution {self.exact}" if self.exact else "the finest level"
        variable = {"space": "h (cell size)", "time": "dt"}[self.refine]
        data = {"h": h, "errors": errors, "expected_order": self.expected}
        if errors.max() <= ROUND_OFF:
            fit = None
            check = Check(
                f"order {self.expected:g} in {variable}",
                f"errors ≤ {errors.max():.2g}: exact to round-off",
                "—",
                True,
                ROUND_OFF - errors.max(),
                "exact",
            )
        else:
            fit = fit_order(h, errors, self.method)
            inside = self.tolerance + min(self.expected - fit.low, fit.high - self.expected)
            # An interval too wide to tell neighbouring orders apart proves nothing: it must be
            # at most CONCLUSIVE wide on each side of the fit (order 1 vs 2 are then told apart).
            conclusive = CONCLUSIVE - 0.5 * (fit.high - fit.low)
            margin = min(inside, conclusive)
            check = Check(
                f"order {self.expected:g} in {variable} lies in the 95 % interval "
                f"± tolerance {self.tolerance:g}, an interval of half-width ≤ {CONCLUSIVE:g}",
                f"{fit.slope:.4f}",
                f"[{fit.low:.4f}, {fit.high:.4f}] ({fit.method})",
                margin >= 0,
                margin,
                f"{margin:+.3g} (inside the widened interval and conclusive if ≥ 0)"
                if conclusive >= 0
                else f"{margin:+.3g} (inconclusive: the interval is too wide)",
            )
            data.update(order=fit.slope, order_low=fit.low, order_high=fit.high)
        local = np.log(errors[1:] / errors[:-1]) / np.log(h[1:] / h[:-1])
        rows = [
            [
                str(level["cells"]) if level["cells"] is not None else "config",
                f"{level['dt']:g}" if level["dt"] is not None else "config",
                f"{h[i]:.4g}",
                f"{errors[i]:.4e}",
                f"{local[i - 1]:.3f}" if i else "",
            ]
            for i, level in enumerate(self.levels[: len(h)])
        ]
        ax = new_axes()[0]
        ax.loglog(h, errors, "o-", lw=2, label=f"L¹ error vs {against}")
        if fit is not None:
            ax.loglog(h, np.exp(fit.intercept) * h**fit.slope, "k--", label=f"fit: {fit.slope:.3f}")
            ax.loglog(
                h,
                errors[-1] * (h / h[-1]) ** self.expected,
                ":",
                color="0.4",
                label=f"slope {self.expected:g}",
            )
        ax.xaxis.set_minor_formatter(NullFormatter())  # decade labels only: no overlaps
        ax.set_xlabel(variable)
        ax.set_ylabel("L¹ error at t_end")
        ax.legend(fontsize="small")
        ax.set_title(f"{self.setups[0].flow.name}: refinement in {self.refine}")
        image = save_png(ax, folder, "order.png", f"L¹ error against {variable} (log-log)")
        blocks = [
            Heading("Measurement"),
            f"Refinement in {self.refine}; L¹ error of the density at t_end = "
            f"{float(results['level0']['t_end']):g} against {against}.",
            TableBlock(["cells", "dt", variable, "L¹ error", "local order"], rows),
            image,
        ]
        return Outcome([check], blocks, data)
