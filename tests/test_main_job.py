"""The main job (verification/main_job.py): its files, and measured rates against MATH §5, §7.

The job's headline study (propagation of chaos, N up to 8000 × 64 replicas, ~1.5 min) is run here
with small settings (N = 100 … 800 × 12 replicas, t ≤ 1, η = 0.02, ~3 s); the other sections
with their defaults (~5 s).
"""

import functools
import re

import h5py
import numpy as np
import pytest
import scipy.linalg

from mfpde.storage import read_h5
from mfpde.verification import main_job
from mfpde.verification.main_job import FLOWS, STUDIES, Settings, main

DATASETS = ("time", "mu/points", "mu/weights", "mu/density", "observers/lyapunov")


def small_chaos_study() -> str:
    """The headline study with small sizes, fewer replicas, a shorter horizon and a coarser step."""
    text = (STUDIES / "chaos_birth_death.toml").read_text()
    for old, new in (
        ("n = [500, 1000, 2000, 4000, 8000]", "n = [100, 200, 400, 800]"),
        ("replicas = 64", "replicas = 12"),
        ("times = [1.0, 2.0]", "times = [1.0]"),
        ("t_end = 2.0", "t_end = 1.0"),
        ("dt = 0.01", "dt = 0.02"),
        ("save_every = 10", "save_every = 5"),
    ):
        assert old in text, old
        text = text.replace(old, new)
    return text


@pytest.fixture(scope="module")
def outdir(tmp_path_factory):
    """Run the main job once with the small headline study into a temporary folder."""
    path = tmp_path_factory.mktemp("main")
    small = functools.partial(main_job.chaos_section, text=small_chaos_study())
    sections = [small, *main_job.SECTIONS[1:]]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(main_job, "SECTIONS", sections)
        assert main(["-o", str(path), "-q"]) == 0
    return path


def test_chaos_section_slopes_contain_theory(outdir):
    """Propagation of chaos (MATH §7): every slope interval (± 0.05) contains its theory value.

    12 replicas give slope intervals ≈ ±0.25 wide (RMSE, E MMD²) and ≈ ±0.12 (E W₁,
    E KDE-L¹); the fitted slopes must also be within 0.2 of theory (measured: RMSE ⟨cos x⟩
    −0.500, ⟨sin 2x⟩ −0.470, E W₁ −0.409, E MMD² −0.842, E KDE-L¹ −0.458), and N·E MMD² within
    a factor 3 across N (measured 1.48).
    """
    with h5py.File(outdir / "chaos" / "data.h5") as f:
        assert bool(f.attrs["passed"])
        results = {k: f["results"][k] for k in f["results"]}
        groups = {k: v for k, v in results.items() if isinstance(v, h5py.Group)}
        slopes = {k: float(v["slope"][()]) for k, v in groups.items() if "bias" not in k}
        # the bias a + b/N of MATH §7 is measured and reported (inconclusive at these sizes)
        assert sorted(k for k in groups if k.startswith("bias")) == [
            "bias ⟨cos(x)⟩ t=1",
            "bias ⟨sin(2*x)⟩ t=1",
        ]
        assert len(f["items"]) == 4 * 12 + 1
    theory = {"RMSE": -0.5, "E W₁": -0.5, "E MMD²": -1.0, "E KDE-L¹": -0.5}
    assert len(slopes) == 5
    for label, slope in slopes.items():
        expected = next(v for k, v in theory.items() if label.startswith(k))
        assert abs(slope - expected) < 0.2, (label, slope)
    report = (outdir / "report.md").read_text()
    assert "](chaos/report.html)" in report and "](chaos/errors.png)" in report
    assert (outdir / "chaos" / "clt.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_game_rate_section(outdir):
    """Fisher-Rao game (MATH §5.2): fitted rate of L_t ≥ ασ = 0.5 (measured 1.000), bound holds."""
    with h5py.File(outdir / "game_rate" / "data.h5") as f:
        assert bool(f.attrs["passed"])
        rate, low = float(f["results/rate"][()]), float(f["results/rate_low"][()])
        assert f["results/bound_max_ratio"][()] <= 1
    assert rate == pytest.approx(1.0, abs=0.01) and low > 0.5
    assert re.search(r"game_rate/report\.html", (outdir / "report.md").read_text())


@pytest.fixture(scope="module")
def results(outdir):
    return {flow: read_h5(outdir / f"optimisation_{flow}.h5") for flow in FLOWS}


def test_files_follow_the_output_contract(outdir, results):
    for flow, data in results.items():
        n_saved, n_cells = len(data["time"]), Settings().cells
        assert data["mu"]["points"].shape == (n_cells, 1)
        assert data["mu"]["density"].shape == (n_saved, n_cells)
        assert data["observers"]["lyapunov"].shape == (n_saved,)
        np.testing.assert_allclose(data["mu"]["density"] @ data["mu"]["weights"], 1.0, rtol=1e-12)
        assert data["attrs"]["flow"] == flow
        assert f'kind = "{flow}"' in data["attrs"]["config"]
        assert data["attrs"]["mfpde_version"]
    for image in ("optimisation_densities.png", "optimisation_lyapunov.png"):
        assert (outdir / image).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({image})" in (outdir / "report.md").read_text()


def continuum_gap() -> float:
    """λ₁ of the continuum generator by an independent Galerkin method (MATH §5.3).

    λ₁ = min γσ∫|f'|²dμ* / Var_μ*(f) over Fourier modes up to k = 24, integrals by the
    trapezoidal rule on 1024 points (spectrally accurate for smooth periodic integrands).
    """
    s = Settings()
    x = np.linspace(0.0, 2 * np.pi, 1024, endpoint=False)
    mu_star = np.exp(-(np.cos(x) + 0.5 * np.cos(2 * x)) / s.sigma)
    k = np.arange(1, 25)
    basis = np.vstack([np.ones_like(x), np.cos(np.outer(k, x)), np.sin(np.outer(k, x))])
    slopes = np.vstack(
        [
            np.zeros_like(x),
            -k[:, None] * np.sin(np.outer(k, x)),
            k[:, None] * np.cos(np.outer(k, x)),
        ]
    )
    stiffness = s.gamma * s.sigma * (slopes * mu_star) @ slopes.T
    mass = (basis * mu_star) @ basis.T
    eigenvalues = scipy.linalg.eigh(stiffness, mass, eigvals_only=True)
    assert eigenvalues[0] == pytest.approx(0.0, abs=1e-10)
    return float(eigenvalues[1])


def test_measured_rates_match_theory(results):
    """Fitted decay rates of KL(μ*|μ_t) and of the energy gap vs 2ασ, 2λ₁, 2(λ₁ + ασ), with λ₁
    the continuum spectral gap of :func:`continuum_gap` (independent of mfpde).

    The discrete flows have these rates with the discrete λ₁, which is the continuum one to
    O(h²) ≈ 1e-5 relative (test_spectral_gap_is_the_continuum_one); the fits differ from them
    only by the nonlinear remainder inside the fit window, ~1e-4 on average (measured: 1.7e-4,
    3.1e-4, 0.9e-4). 1% leaves room for both and catches any wrong rate.
    """
    s = Settings()
    lam = continuum_gap()
    theory = {
        "fisher_rao": 2 * s.alpha * s.sigma,
        "fokker_planck": 2 * lam,
        "wfr": 2 * (lam + s.alpha * s.sigma),
    }
    for flow, data in results.items():
        attrs = data["attrs"]
        assert attrs["rate_theory"] == pytest.approx(theory[flow], rel=1e-4)
        assert attrs["rate_lyapunov"] == pytest.approx(theory[flow], rel=1e-2)
        assert attrs["rate_energy_gap"] == pytest.approx(theory[flow], rel=1e-2)


def test_fisher_rao_bound_holds_at_every_saved_time(results):
    """KL(μ*|μ_t) ≤ e^{−ασt} KL(μ*|μ₀) (MATH §5.1), up to round-off of the KL sum."""
    s = Settings()
    data = results["fisher_rao"]
    kl, t = data["observers"]["lyapunov"], data["time"]
    assert np.all(kl <= np.exp(-s.alpha * s.sigma * t) * kl[0] + 1e-14)


def test_spectral_gap_is_the_continuum_one(results):
    """The discrete λ₁ used as theory rate is the continuum spectral gap to O(h²) (MATH §5.3).

    With h = 2π/128 the FV error is ~γσ h² |λ₁''| ≈ 1e-5 (measured: λ₁ = 0.333870, 0.333901,
    0.333909 on 64, 128, 256 cells); 1e-4 relative bounds it.
    """
    lam = results["fokker_planck"]["attrs"]["rate_theory"] / 2
    assert lam == pytest.approx(continuum_gap(), rel=1e-4)


def test_games_section_lyapunov_bound_and_ni(outdir):
    """The games section: L_t ≤ e^{−ασt} L_0 at every saved time, fitted rate ≥ ασ (MATH §5.2)."""
    data = read_h5(outdir / "games_fisher_rao.h5")
    t, lyap = data["time"], data["observers"]["lyapunov"]
    alpha_sigma = 0.5  # α = 1, σ = 0.5 in verification/games_demo.py
    # 1e-12 relative slack: round-off of the KL sums, far below the margin (measured ratio 0.91).
    assert np.all(lyap[1:] <= np.exp(-alpha_sigma * t[1:]) * lyap[0] * (1 + 1e-12))
    assert data["attrs"]["rate_lyapunov"] >= alpha_sigma
    # NI at the end: L_t has decayed by e^{-15} and NI is quadratic in the distance to the MNE.
    assert 0 <= data["observers"]["ni_error"][-1] < 1e-10
    for measure in ("mu", "nu"):
        np.testing.assert_allclose(
            data[measure]["density"] @ data[measure]["weights"], 1.0, rtol=1e-12
        )
    assert (outdir / "games_fisher_rao.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "](games_fisher_rao.png)" in (outdir / "report.md").read_text()


def test_main_job_exits_non_zero_when_a_verdict_fails(tmp_path, capsys):
    """A section whose claim fails makes the main job exit 3 (as ``mfpde verify``) and name it."""
    failing = lambda outdir, progress: main_job.SectionReport("a failing claim", "", [], False)  # noqa: E731
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(main_job, "SECTIONS", [failing])
        assert main(["-o", str(tmp_path), "-q"]) == main_job.VERDICT_FAILED
    assert "FAILED: a failing claim" in capsys.readouterr().err
