r"""The main job: propagation of chaos, a game's Lyapunov rate, optimisation flows (MATH §3-7).

``python -m mfpde.verification.main_job [-o OUTDIR]`` (default ``out/main``), run by
``bash tools/main.sh``. The job is a list of :data:`SECTIONS`; each writes its files into OUTDIR
and returns a :class:`SectionReport` (a title, a markdown summary and the paths it wrote). The job
prints every summary and collects them in ``OUTDIR/report.md``.

Headline sections (verification studies, :mod:`mfpde.verification.studies`, each written into its
own folder ``OUTDIR/<name>/`` with ``report.md``, ``report.html``, the figures and ``data.h5``):

- ``chaos`` (:func:`chaos_section`): propagation of chaos of the kernelised Fisher-Rao
  birth-death particle system [001] on the torus, against the mesh solution of the same
  kernelised PDE (study ``propagation_of_chaos``, MATH §7), configuration
  ``examples/studies/chaos_birth_death.toml``;
- ``game_rate`` (:func:`game_rate_section`): the decay rate of L_t = KL(μ*|μ_t) + KL(ν*|ν_t) of
  the Fisher-Rao min-max game flow [000] on T¹ × T¹ against ασ (study ``lyapunov_rate``,
  MATH §5.2), configuration ``examples/studies/game_rate.toml``.

Optimisation section. On the torus T¹ with the linear energy F(μ) = ∫ V dμ,
V = cos x + ½ cos 2x (a double well), σ = 1/2 and π uniform, the three flows of MATH §3 run from
μ₀ ∝ e^{2 sin x} towards μ* ∝ e^{−V/σ}. For linear F the asymptotic decay rates of
KL(μ*|μ_t) and of F^σ(μ_t) − F^σ(μ*) are sharp (MATH §5):

- Fisher-Rao: 2ασ (MATH §5.1, from E1), and the bound KL(μ*|μ_t) ≤ e^{−ασt} KL(μ*|μ₀);
- Fokker-Planck: 2λ₁, λ₁ the spectral gap of the generator (MATH §5.3), computed by
  :func:`mfpde.lyapunov.spectral_gap` for the same discrete operator;
- WFR: 2(λ₁ + ασ). Writing μ = μ*(1 + u), the reaction part linearises to ∂_t u = −ασ u on
  mean-zero u, a multiple of the identity, which commutes with the linearised Fokker-Planck
  generator, so the two decay rates of u add (MATH §5.4).

The discrete flows keep these rates exactly in time (exact reaction, exponential transport,
commuting linearisations), so the measured rates agree with the theory up to the nonlinear
remainder inside the fit window of MATH §5.

Games section (:func:`mfpde.verification.games_demo.games_section`): the Fisher-Rao game flow, its
Lyapunov function L_t = KL(μ*|μ_t) + KL(ν*|ν_t) against the bound e^{−ασt} L_0 (MATH §5.2) and the
NI error over time.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from mfpde.config import load_run
from mfpde.domains import Torus
from mfpde.energies import Potential
from mfpde.flows import FLOW_DEFAULTS
from mfpde.fv import Grid
from mfpde.lyapunov import fit_rate, fokker_planck_gap
from mfpde.plotting import new_axes, plot_densities, plot_lyapunov, save_figure
from mfpde.problem import OptimisationProblem
from mfpde.solver import Solution
from mfpde.verification.games_demo import games_section
from mfpde.verification.report import SectionReport
from mfpde.verification.studies import run_study

__all__ = [
    "Settings",
    "FlowResult",
    "SectionReport",
    "optimisation_runs",
    "optimisation_section",
    "study_section",
    "chaos_section",
    "game_rate_section",
    "SECTIONS",
    "run",
    "main",
]

FLOWS = tuple(FLOW_DEFAULTS)  # fisher_rao, fokker_planck, wfr
#: Exit code of the main job when a section's claim fails (as ``mfpde verify``).
VERDICT_FAILED = 3
TITLES = {"fisher_rao": "Fisher-Rao", "fokker_planck": "Fokker-Planck", "wfr": "WFR"}


@dataclass(frozen=True)
class Settings:
    """The default problem of the optimisation section and its discretisation.

    ``t_end`` of each flow is chosen so that KL(μ*|μ_t) falls by ``decades`` decades at the
    theory rate, covering the fit window (1e-2 to 1e-9 of the initial value) of MATH §5.
    """

    potential: str = "cos(x) + 0.5*cos(2*x)"
    sigma: float = 0.5
    gamma: float = 1.0
    alpha: float = 1.0
    initial: str = "exp(2*sin(x))"
    cells: int = 128
    dt: float = 0.05
    save_every: int = 2
    decades: float = 10.0
    slices: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0, 4.0)

    def rates(self, flow: str) -> dict[str, float]:
        """(γ, α) of a named flow: the preset's zero rate, the settings' non-zero one."""
        return {k: getattr(self, k) for k, v in FLOW_DEFAULTS[flow].items() if v}

    def config(self, flow: str, t_end: float) -> str:
        """The TOML configuration of one flow's run (``mfpde run`` reproduces its file)."""
        flow_keys = "".join(f"{k} = {v!r}\n" for k, v in self.rates(flow).items())
        return (
            f"# mfpde main job, optimisation section: {flow} (verification/main_job.py)\n"
            f'[domain]\nkind = "torus"\ncells = {self.cells}\n\n'
            f'[problem]\nsigma = {self.sigma!r}\npotential = "{self.potential}"\n\n'
            f'[flow]\nkind = "{flow}"\n{flow_keys}\n'
            f'[initial]\ndensity = "{self.initial}"\n\n'
            f"[time]\nt_end = {t_end!r}\ndt = {self.dt!r}\nsave_every = {self.save_every}\n"
        )


@dataclass
class FlowResult:
    """One flow's run and its rates: measured (fits of MATH §5) and theory."""

    flow: str
    solution: Solution
    config: str
    theory: float
    formula: str
    bound: float | None = None
    measured: dict[str, float] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        """Measured over theory rate of KL(μ*|μ_t)."""
        return self.measured["lyapunov"] / self.theory

    def bound_ratio(self) -> float:
        """max over saved t > 0 of KL(μ*|μ_t) / (e^{−rt} KL(μ*|μ₀)), r = ``bound`` (≤ 1: holds)."""
        t, kl = self.solution.times, self.solution.observers["lyapunov"]
        return float(np.max(kl[1:] / (np.exp(-self.bound * t[1:]) * kl[0])))


def optimisation_runs(settings: Settings = Settings(), progress: bool = True) -> list[FlowResult]:
    """Solve the three flows of the default problem and fit their rates (module docstring)."""
    domain = Torus(1)
    problem = OptimisationProblem(domain, Potential(settings.potential), settings.sigma)
    lam = fokker_planck_gap(problem, Grid(domain, settings.cells), settings.gamma)
    ac = settings.alpha * settings.sigma
    theory = {
        "fisher_rao": (2 * ac, "2ασ"),
        "fokker_planck": (2 * lam, "2λ₁"),
        "wfr": (2 * (lam + ac), "2(λ₁ + ασ)"),
    }
    results = []
    for flow in tqdm(FLOWS, desc="optimisation flows", disable=not progress, leave=False):
        rate, formula = theory[flow]
        t_end = float(np.ceil(settings.decades * np.log(10) / rate))
        config = settings.config(flow, t_end)
        solution = load_run(config).execute(False)
        result = FlowResult(
            flow, solution, config, rate, formula, bound=ac if flow == "fisher_rao" else None
        )
        result.measured = {
            k: fit_rate(solution.times, solution.observers[k]) for k in ("lyapunov", "energy_gap")
        }
        solution.rates = {**result.measured, "theory": rate}
        results.append(result)
    return results


def _rate_table(results: list[FlowResult]) -> str:
    rows = [
        "| flow | measured rate of KL(μ*\\|μ_t) | of the energy gap | theory | theory rate "
        "| ratio |",
        "|---|---|---|---|---|---|",
    ]
    rows += [
        f"| {r.flow} | {r.measured['lyapunov']:.5f} | {r.measured['energy_gap']:.5f} "
        f"| {r.formula} | {r.theory:.5f} | {r.ratio:.5f} |"
        for r in results
    ]
    return "\n".join(rows)


def optimisation_section(
    outdir: Path, progress: bool = True, settings: Settings = Settings()
) -> SectionReport:
    """Run :func:`optimisation_runs`; write one HDF5 per flow, the two figures and a table."""
    results = optimisation_runs(settings, progress)
    paths = []
    for r in results:
        paths.append(outdir / f"optimisation_{r.flow}.h5")
        r.solution.save(paths[-1], r.config)

    axes = new_axes(len(results))
    for ax, r in zip(axes, results):
        plot_densities(r.solution, ax, settings.slices).set_title(f"{TITLES[r.flow]}: densities")
    paths.append(save_figure(axes[0], outdir / "optimisation_densities.png"))

    axes = new_axes(len(results), height=4.2)
    for ax, r in zip(axes, results):
        times, obs = r.solution.times, r.solution.observers
        bounds = {"bound $e^{-\\alpha\\sigma t}\\,\\mathrm{KL}_0$": r.bound} if r.bound else None
        theory = {f"theory rate {r.formula}": r.theory}
        plot_lyapunov(times, obs["lyapunov"], theory, ax, bounds=bounds)
        plot_lyapunov(
            times, obs["energy_gap"], {}, ax, label=r"$F^\sigma(\mu_t) - F^\sigma(\mu^*)$"
        )
        ax.set_title(f"{TITLES[r.flow]}: measured rate {r.measured['lyapunov']:.4f}")
    paths.append(save_figure(axes[0], outdir / "optimisation_lyapunov.png"))

    s = settings
    text = (
        f"Torus T¹, {s.cells} cells, V = {s.potential}, σ = {s.sigma}, γ = {s.gamma}, "
        f"α = {s.alpha}, μ₀ ∝ {s.initial}, dt = {s.dt}. Rates fitted on the window where the "
        "functional lies between 1e-2 and 1e-9 of its initial value (MATH §5); "
        f"λ₁ = {results[1].theory / 2:.6f} is the discrete spectral gap.\n\n"
        f"{_rate_table(results)}\n\n"
        "Fisher-Rao bound KL(μ*|μ_t) ≤ e^{−ασt} KL(μ*|μ₀) (MATH §5.1): largest ratio of the two "
        f"sides over the saved times t > 0 is {results[0].bound_ratio():.3g}.\n\n"
        "![densities](optimisation_densities.png)\n\n![Lyapunov](optimisation_lyapunov.png)\n"
    )
    # The claims: each fitted rate of KL(μ*|μ_t) is the theory rate to 2 % (the discrete flows
    # have it exactly up to the nonlinear remainder in the fit window, measured ≤ 3e-4), and the
    # Fisher-Rao bound holds at every saved time.
    passed = all(abs(r.ratio - 1) <= 0.02 for r in results) and results[0].bound_ratio() <= 1.0
    return SectionReport("Optimisation flows on the torus", text, paths, passed)


#: The verification studies of the headline sections (configuration files, README).
STUDIES = Path(__file__).resolve().parents[1] / "examples" / "studies"


def study_section(name: str, title: str, text: str, outdir: Path, progress: bool) -> SectionReport:
    """Run a verification study (TOML ``text``) into ``outdir/name``; summarise its checks."""
    result = run_study(text, outdir / name, progress, replace=True)
    rows = [
        "| claim | measured | 95 % interval | verdict |",
        "|---|---|---|---|",
        *(
            "| "
            + " | ".join(
                v.replace("|", "\\|")
                for v in (c.claim, c.measured, c.interval, "pass" if c.passed else "**FAIL**")
            )
            + " |"
            for c in result.outcome.checks
        ),
    ]
    figures = sorted(p.name for p in (outdir / name).glob("*.png"))
    text = (
        f"**Verdict: {'PASS' if result.passed else 'FAIL'}** "
        f"({sum(c.passed for c in result.outcome.checks)} of {len(result.outcome.checks)} "
        f"checks hold). Full report: [{name}/report.html]({name}/report.html) "
        f"([markdown]({name}/report.md)); data: `{name}/data.h5`.\n\n"
        + "\n".join(rows)
        + "\n\n"
        + "\n\n".join(f"![{f}]({name}/{f})" for f in figures)
        + "\n"
    )
    paths = result.paths + [outdir / name / f for f in figures]
    return SectionReport(title, text, paths, result.passed)


def chaos_section(outdir: Path, progress: bool = True, text: str | None = None) -> SectionReport:
    """Propagation of chaos of kernelised birth-death particles (``chaos_birth_death.toml``)."""
    text = text or (STUDIES / "chaos_birth_death.toml").read_text()
    title = "Propagation of chaos: kernelised Fisher-Rao particles on the torus (MATH §7)"
    return study_section("chaos", title, text, outdir, progress)


def game_rate_section(
    outdir: Path, progress: bool = True, text: str | None = None
) -> SectionReport:
    """Lyapunov rate of the Fisher-Rao min-max game flow (``game_rate.toml``, MATH §5.2)."""
    text = text or (STUDIES / "game_rate.toml").read_text()
    title = "Fisher-Rao min-max game: Lyapunov rate (MATH §5.2)"
    return study_section("game_rate", title, text, outdir, progress)


#: The sections of the job, in order: each takes (outdir, progress), writes its files into outdir
#: and returns a SectionReport.
SECTIONS: list[Callable[[Path, bool], SectionReport]] = [
    chaos_section,
    game_rate_section,
    games_section,
    optimisation_section,
]


def run(outdir: Path, progress: bool = True) -> list[SectionReport]:
    """Run every section into ``outdir``, print its summary and files, write ``report.md``."""
    outdir.mkdir(parents=True, exist_ok=True)
    reports = []
    for section in SECTIONS:
        report = section(outdir, progress)
        print(f"\n## {report.title}\n\n{report.markdown}")
        print("wrote", *(f"  {p}" for p in report.paths), sep="\n")
        reports.append(report)
    body = "\n\n".join(f"## {r.title}\n\n{r.markdown}" for r in reports)
    (outdir / "report.md").write_text(f"# mfpde main job\n\n{body}")
    print(f"report: {outdir / 'report.md'}")
    return reports


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m mfpde.verification.main_job``; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m mfpde.verification.main_job", description=__doc__.splitlines()[0]
    )
    parser.add_argument("-o", "--outdir", type=Path, default=Path("out/main"))
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    reports = run(args.outdir, progress=not args.quiet)
    failed = [r.title for r in reports if not r.passed]
    print(f"main job done in {time.perf_counter() - start:.1f} s")
    if failed:
        print("FAILED: " + "; ".join(failed), file=sys.stderr)
        return VERDICT_FAILED
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
