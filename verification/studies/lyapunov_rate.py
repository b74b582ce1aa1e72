r"""Study ``lyapunov_rate``: the decay rate of a Lyapunov functional against a theorem (MATH §5).

One item: the configured flow is solved once; the rate r̂ of the chosen functional L_t is fitted
on the window of MATH §5 (L_t/L_0 between 1e-2 and 1e-9, the samples of
:func:`mfpde.lyapunov.fit_rate`) with a seeded bootstrap 95 % interval
(:func:`~mfpde.verification.studies.stats.fit_decay_rate`). The theorem's rate r depends on the
flow:

- Fisher-Rao optimisation, F convex (MATH §5.1): KL(μ*|μ_t) ≤ e^{−ασt} KL(μ*|μ_0), r = ασ
  (for linear F the asymptotic rate is 2ασ, reported);
- Fisher-Rao min-max game, F convex-concave (MATH §5.2): the weighted
  L^w_t = KL(μ*|μ_t)/α_μ + KL(ν*|ν_t)/α_ν ≤ e^{−rt} L^w_0, r = σ min(α_μ, α_ν)
  (:func:`mfpde.lyapunov.game_rate_bound`); for one time scale L^w_t = L_t/α with the plain
  sum L_t = KL(μ*|μ_t) + KL(ν*|ν_t). With two time scales (α_μ ≠ α_ν) the plain sum obeys no
  pointwise bound: it can be checked (``functional = "lyapunov"``) and fails the bound check
  although the flow is right (``tests/test_two_time_scales.py``: ratio 2.83 at σ = 0.02,
  α = (1, 4));
- mean-field Langevin / Fokker-Planck, F convex (MATH §5.3): F^σ(μ_t) − F^σ(μ*) ≤
  e^{−2C_LS γσt}(…)_0. C_LS ≤ C_P and 2λ₁ = 2γσC_P is the asymptotic rate for linear F, with λ₁
  the spectral gap of the discrete generator at μ* (:func:`mfpde.lyapunov.spectral_gap`): the
  rate check is r̂ ≥ 2λ₁. For linear F on a 1-D interval whose Gibbs potential
  Φ = −log μ* is uniformly convex, Bakry-Émery gives C_LS ≥ κ = min Φ'' (computed by second
  differences on the grid), and the bound is checked with r = min(2κγσ, 2λ₁): C_LS ≤ C_P, and
  the discrete C_P = λ₁/(γσ) lies O(h²) below the continuous one (1 % for OU with h = 0.16),
  so 2κγσ alone would be violated by the discrete flow at late times;
- WFR (MATH §5.4): against both parts, r̂ ≥ max(ασ, 2λ₁), and the Fisher-Rao bound with ασ;
  for linear F the asymptotic rate 2(λ₁ + ασ) is reported (main job, MATH §5.4).

Verdicts: the rate check passes if r̂ ≥ r − δ, δ the half-width of the bootstrap interval (how
far the window is from a pure exponential); the bound check passes if L_t ≤ e^{−rt} L_0 (1 +
1e-9) at every saved t > 0 with L_t/L_0 ≥ 1e-9 (below, L_t is at the round-off level of the
KL sums). ``claimed_rate`` replaces the theorem's r in both checks (to test a claim, or a flow
the theorems do not cover).

``[study]`` keys: ``functional`` (``lyapunov`` = KL(μ*|μ_t) (games: the plain sum over
players), ``lyapunov_weighted`` (games with α_μ, α_ν > 0: L^w_t, the default for them) or
``energy_gap`` = F^σ(μ_t) − F^σ(μ*); default ``energy_gap`` for Fokker-Planck, else
``lyapunov``), ``claimed_rate`` (> 0), ``seed`` (bootstrap seed, default 0).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mfpde.equilibrium import gibbs_minimiser
from mfpde.errors import InputError
from mfpde.fv.grid import Grid
from mfpde.lyapunov import fokker_planck_gap, game_rate_bound
from mfpde.plotting import FIT_WINDOW, plot_lyapunov
from mfpde.tables import Table
from mfpde.verification.studies.base import Check, Item, Outcome, Study, register_study, save_png
from mfpde.verification.studies.report import Heading, TableBlock
from mfpde.verification.studies.stats import fit_decay_rate

__all__ = ["LyapunovRate", "bakry_emery_constant", "bound_ratio"]

#: Relative slack of the bound check: L_t and e^{−rt} L_0 are sums of O(n) rounded terms.
BOUND_ROUND_OFF = 1e-9


def bakry_emery_constant(setup) -> float | None:
    """κ = min Φ'' of Φ = −log μ* on a 1-D interval grid for linear F, else None (MATH §5.3).

    Φ'' by second differences (exact for quadratic Φ). κ > 0 implies C_LS ≥ κ (Bakry-Émery, on a
    convex domain); None when F is not linear, the grid not a 1-D interval, or κ ≤ 0.
    """
    grid = setup.grid
    if grid.dim != 1 or grid.domain.periodic[0]:
        return None
    bound = setup.problem.bind(grid)
    if not bound.energy.linear:
        return None
    phi = -np.log(gibbs_minimiser(bound))
    kappa = float(np.min(np.diff(phi, 2)) / grid.h[0] ** 2)
    return kappa if kappa > 0 else None


def bound_ratio(times: np.ndarray, values: np.ndarray, rate: float) -> tuple[float, int]:
    """max L_t / (e^{−rt} L_0) over the saved t > 0 with L_t/L_0 ≥ 1e-9 (module docstring),
    and the number of those times."""
    use = (times > 0) & (values >= FIT_WINDOW[0] * values[0])
    ratio = values[use] / (values[0] * np.exp(-rate * times[use]))
    return float(ratio.max()), int(use.sum())


@register_study
class LyapunovRate(Study):
    """Rate of L_t against the theorem's constant (module docstring)."""

    kind = "lyapunov_rate"
    keys = frozenset({"functional", "claimed_rate", "seed"})
    title = "decay rate of a Lyapunov functional (MATH §5)"

    def __init__(self, cfg: dict, study: Table, problem_kind: str, setup_override=None):
        super().__init__(cfg, study, problem_kind, setup_override)
        self.run = self.setup()
        flow = self.run.flow
        self.game = problem_kind == "game"
        if self.game:
            gammas = (flow.mu.gamma, flow.nu.gamma)
            default, choices = "lyapunov", ("lyapunov",)
            if flow.mu.alpha and flow.nu.alpha:
                default, choices = "lyapunov_weighted", ("lyapunov_weighted", "lyapunov")
        else:
            gammas = (flow.gamma,)
            default = "energy_gap" if flow.alpha == 0 else "lyapunov"
            choices = ("lyapunov", "energy_gap")
        if self.run.problem.sigma <= 0:
            raise InputError("lyapunov_rate: the rates of MATH §5 need sigma > 0")
        self.functional = study.string("functional", default, choices)
        self.claimed = study.number("claimed_rate", positive=True)
        self.seed = study.integer("seed") or 0
        if self.game and any(gammas) and self.claimed is None:
            raise InputError(
                f"lyapunov_rate: no rate theorem for the game flow {flow.name!r} (MATH §5.2 "
                "covers fisher_rao); give [study] claimed_rate"
            )
        if not self.game:
            if flow.gamma and not isinstance(self.run.grid, Grid):
                raise InputError("lyapunov_rate: the spectral gap needs the finite-volume backend")
            grid = self.run.grid
            self.linear = self.run.problem.bind(grid).energy.linear

    def items(self) -> list[Item]:
        return [Item("run")]

    def compute(self, item: Item, progress: bool) -> dict[str, np.ndarray]:
        solution = self.run.execute(progress)
        result = {"time": solution.times}
        result.update({f"observer_{k}": v for k, v in solution.observers.items()})
        if self.game:
            result.update(
                final_mu=solution.density_mu[-1],
                final_nu=solution.density_nu[-1],
                mne_mu=solution.equilibrium.mu,
                mne_nu=solution.equilibrium.nu,
            )
        else:
            result.update(final_mu=solution.density[-1], minimiser_mu=solution.minimiser)
        if not self.game and self.run.flow.gamma:
            result["spectral_gap"] = np.float64(
                fokker_planck_gap(self.run.problem, self.run.grid, self.run.flow.gamma)
            )
            kappa = bakry_emery_constant(self.run)
            if kappa is not None:
                result["bakry_emery"] = np.float64(kappa)
        return result

    def _theory(self, result) -> tuple[float, str, float | None, str, list[list[str]]]:
        """(rate of the rate check, its formula, rate of the bound check or None, its formula,
        rows of the reference-rate table)."""
        sigma, flow = self.run.problem.sigma, self.run.flow
        if self.game:
            if flow.mu.gamma or flow.nu.gamma:  # no theorem: only a claimed rate (checked above)
                return np.nan, "", None, "", []
            r = game_rate_bound(sigma, flow.mu.alpha, flow.nu.alpha)
            rows = [["Fisher-Rao game bound (MATH §5.2)", "σ min(α_μ, α_ν)", f"{r:.6g}"]]
            return r, "σ min(α_μ, α_ν) (MATH §5.2)", r, "σ min(α_μ, α_ν)", rows
        gamma, alpha, linear = flow.gamma, flow.alpha, self.linear
        ac, rows = alpha * sigma, []
        if alpha:
            rows.append(["Fisher-Rao bound (MATH §5.1)", "ασ", f"{ac:.6g}"])
            if linear:
                rows.append(["Fisher-Rao, linear F, asymptotic", "2ασ", f"{2 * ac:.6g}"])
        if not gamma:
            return ac, "ασ (MATH §5.1)", ac, "ασ", rows
        lam = float(result["spectral_gap"])
        rows.append(["mean-field Langevin asymptotic, 2γσC_P (MATH §5.3)", "2λ₁", f"{2 * lam:.6g}"])
        kappa = float(result["bakry_emery"]) if "bakry_emery" in result else None
        c_ls = "C_LS ≤ C_P = λ₁/(γσ)" + (f", C_LS ≥ κ = {kappa:.6g}" if kappa else ", κ unknown")
        rows.append(["mean-field Langevin bound (MATH §5.3)", "2C_LS γσ", c_ls])
        if alpha:
            if linear:
                wfr = f"{2 * (lam + ac):.6g}"
                rows.append(["WFR, linear F, asymptotic (MATH §5.4)", "2(λ₁ + ασ)", wfr])
            return max(ac, 2 * lam), "max(ασ, 2λ₁) (MATH §5.4)", ac, "ασ", rows
        bound = min(2 * kappa * gamma * sigma, 2 * lam) if kappa else None
        return 2 * lam, "2λ₁ = 2γσC_P ≥ 2C_LS γσ (MATH §5.3)", bound, "min(2κγσ, 2λ₁)", rows

    def analyse(self, results, folder: Path) -> Outcome:
        result = results["run"]
        times, values = result["time"], result[f"observer_{self.functional}"]
        fit = fit_decay_rate(times, values, FIT_WINDOW, self.seed)
        rate, formula, bound_rate, bound_formula, rows = self._theory(result)
        if self.claimed is not None:
            rate, formula = self.claimed, "claimed in the config"
            bound_rate = self.claimed if bound_rate is not None else None
            bound_formula = formula
        name = {
            "lyapunov": "L_t = KL(μ*|μ_t) + KL(ν*|ν_t)" if self.game else "KL(μ*|μ_t)",
            "lyapunov_weighted": "L^w_t = KL(μ*|μ_t)/α_μ + KL(ν*|ν_t)/α_ν",
            "energy_gap": "F^σ(μ_t) − F^σ(μ*)",
        }[self.functional]
        tolerance = fit.half_width
        checks = [
            Check(
                f"rate of {name} ≥ {rate:.6g} = {formula} (tolerance: bootstrap half-width)",
                f"{fit.slope:.6g}",
                f"[{fit.low:.6g}, {fit.high:.6g}]",
                fit.slope >= rate - tolerance,
                fit.slope - rate,
                f"{fit.slope - rate:+.4g} ({(fit.slope - rate) / rate:+.2%}), tol {tolerance:.2g}",
            )
        ]
        data = {
            "rate": fit.slope,
            "rate_low": fit.low,
            "rate_high": fit.high,
            "rate_claimed": rate,
            "fit_points": fit.count,
        }
        bounds, notes = {}, []
        if bound_rate is not None:
            worst, count = bound_ratio(times, values, bound_rate)
            checks.append(
                Check(
                    f"{name} ≤ e^(−rt) × (its value at t = 0) at every saved t, "
                    f"r = {bound_rate:.6g} = {bound_formula}",
                    f"max ratio {worst:.4g}",
                    f"{count} saved times",
                    worst <= 1 + BOUND_ROUND_OFF,
                    1 - worst,
                    f"{1 - worst:+.4g}",
                )
            )
            data["bound_rate"], data["bound_max_ratio"] = bound_rate, worst
            bounds = {f"bound $e^{{-{bound_rate:.4g} t}} L_0$": bound_rate}
            if self.functional == "lyapunov_weighted":
                plain, _ = bound_ratio(times, result["observer_lyapunov"], bound_rate)
                data["plain_bound_max_ratio"] = plain
                notes.append(
                    f"The plain sum L_t = KL(μ*|μ_t) + KL(ν*|ν_t) reaches {plain:.4g} × "
                    f"e^(−{bound_rate:.4g} t) L_0 (α_μ = {self.run.flow.mu.alpha:g}, α_ν = "
                    f"{self.run.flow.nu.alpha:g}): with two time scales only the weighted L^w_t "
                    "obeys the bound (MATH §5.2)."
                )
        ax = plot_lyapunov(
            times,
            values,
            {"fitted": fit.slope, "claimed" if self.claimed else "theorem": rate},
            bounds=bounds,
            label=name,
        )
        ax.set_title(f"{self.run.flow.name}: rate {fit.slope:.5g} [{fit.low:.5g}, {fit.high:.5g}]")
        image = save_png(ax, folder, "lyapunov.png", f"{name} (log scale) and the rate lines")
        blocks = [
            Heading("Measurement"),
            f"Flow `{self.run.flow.name}`, σ = {self.run.problem.sigma:g}. Rate of {name} fitted "
            f"on {fit.count} saved times where L_t/L_0 ∈ [{FIT_WINDOW[0]:g}, {FIT_WINDOW[1]:g}] "
            f"(MATH §5); 95 % interval from {fit.method} (seed {self.seed}).",
            TableBlock(["reference rate", "formula", "value"], rows),
            *notes,
            image,
        ]
        return Outcome(checks, blocks, data)
