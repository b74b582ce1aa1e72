"""Ground truth with an error bar (issue 12 item 6) and the measured bias of MATH §7.

The study ``propagation_of_chaos`` estimates its mesh reference's own error by Richardson
(:mod:`mfpde.verification.studies.references`) and fails when the estimate is not ≤ 1/3 of the
statistical error at the largest N; its slope verdicts must be conclusive; the bias E e_φ is fitted
against 1/N.
"""

from __future__ import annotations

import numpy as np
import pytest

import mfpde
from mfpde.errors import InputError
from mfpde.fv.grid import Grid
from mfpde.verification.studies import load_study, run_study
from mfpde.verification.studies.references import coarser_grid, richardson_error

CHAOS = """\
[study]
kind = "propagation_of_chaos"
n = [50, 100, 200, 400]
replicas = 12
seed = 3
times = [0.5]
{study}
[particles]
method = "birth_death"
dt = 0.05

[kernel]
variant = "density"
bandwidth = 0.3

[domain]
kind = "torus"
cells = {cells}

[problem]
sigma = 0.5
potential = "cos(x)"

[initial]
density = "exp(sin(x) + 0.5*cos(2*x))"

[time]
t_end = 0.5
dt = 0.05
save_every = 5
"""


def _check(result, start: str):
    (check,) = [c for c in result.outcome.checks if c.claim.startswith(start)]
    return check


def test_richardson_recovers_the_error_of_a_second_order_sequence():
    """q_h = q + C h² + D h³: the estimate of q_h's error is C h² to O(h³) (h = 0.01: 1e-2)."""
    q, C, D, h = 1.0, 3.0, 5.0, 0.01
    fine, coarse = (q + C * s**2 + D * s**3 for s in (h, 2 * h))
    estimate = richardson_error(fine, coarse, 2, 2.0)
    assert estimate == pytest.approx(C * h**2 + D * h**3, rel=0.04)
    assert richardson_error(fine, coarse, 2, 3.0) == pytest.approx(
        abs(fine - coarse) / 8, rel=1e-14
    )


def test_coarser_grid_halves_the_cells_and_refuses_tiny_grids():
    grid, ratio = coarser_grid(Grid(mfpde.Torus(2), (64, 9)))
    assert grid.shape == (32, 4) and ratio == 2.0  # min(64/32, 9/4): the conservative one
    with pytest.raises(InputError, match="at least 6 cells"):
        coarser_grid(Grid(mfpde.Torus(1), 5))


def test_chaos_study_reports_its_reference_error_and_fails_on_a_coarse_mesh(tmp_path):
    """64 cells: the Richardson estimate is 2.5e-3 of the s.e. at N = 400 (time error 2e-5,
    the Fisher-Rao flow on the torus is spectrally accurate in space); 6 cells: the space
    error 0.1 is 9.2 × the s.e. (measured): verdict FAIL with the reason in one line."""
    fine = run_study(CHAOS.format(study="", cells=64), tmp_path / "fine", progress=False)
    check = _check(fine, "mesh reference error")
    assert check.passed and fine.outcome.data["reference_error_ratio"] < 0.01
    assert fine.outcome.data["reference_error_time"].max() < 1e-4
    report = (tmp_path / "fine" / "report.md").read_text()
    assert "Error bar of the mesh reference" in report and "Bias against 1/N" in report

    coarse = run_study(CHAOS.format(study="", cells=6), tmp_path / "coarse", progress=False)
    check = _check(coarse, "mesh reference error")
    assert not check.passed and not coarse.passed
    assert coarse.outcome.data["reference_error_ratio"] > 3
    assert "not accurate enough" in check.claim and "\n" not in check.claim


def _synthetic(study, sizes, replicas, bias, noise, seed=0):
    """Set the study's sizes and replicas; per-replica errors e = bias(N) + noise/√N · ξ at
    every saved time, shape (sizes, R, times), for both observables."""
    study.sizes, study.replicas = list(sizes), replicas
    rng = np.random.default_rng(seed)
    sizes = np.asarray(sizes, dtype=float)[:, None, None]
    shape = (len(sizes), replicas, len(study.t_save))
    e = bias(sizes) + noise / np.sqrt(sizes) * rng.standard_normal(shape)
    return {f"error {name}": e for name in study.observable_names}


def _analysis_study(study: str = ""):
    """A constructed (not run) study: its analysis methods on synthetic samples."""
    return load_study(CHAOS.format(study=study, cells=64))


SIZES = [100, 200, 400, 800, 1600]


def test_bias_against_one_over_n_is_measured():
    """Synthetic errors with bias 2/N and noise 0.05/√N over 400 replicas: b of a + b/N and the
    slope of log |bias| against log N recover 2 and −1 within their 95 % intervals (seeded;
    the s.e. at N = 1600 is 6e-5, 20 × below the bias 1.25e-3, so the slope is conclusive)."""
    study = _analysis_study()
    samples = _synthetic(study, SIZES, 400, lambda n: 2.0 / n, 0.05)
    data: dict = {}
    _, fits = study._bias(samples, data)
    b, half = data["bias ⟨cos(x)⟩ t=0.5/b"], data["bias ⟨cos(x)⟩ t=0.5/b_half"]
    assert abs(b - 2.0) <= half < 0.5
    assert abs(data["bias ⟨cos(x)⟩ t=0.5/a"]) <= data["bias ⟨cos(x)⟩ t=0.5/a_half"]
    fit = fits[0][1]
    assert fit.low <= -1.0 <= fit.high and fit.half_width < 0.2


def test_bias_verdict_passes_for_one_over_n_and_fails_for_one_over_root_n():
    study = _analysis_study("bias_verdict = true")
    assert study.bias_verdict is True
    for bias, passed in ((lambda n: 2.0 / n, True), (lambda n: 0.1 / np.sqrt(n), False)):
        _, fits = study._bias(_synthetic(study, SIZES, 400, bias, 0.05), {})
        checks = [study._slope_check(label, fit, 2 * study.expected) for label, fit in fits]
        assert [c.passed for c in checks] == [passed, passed]


def test_an_inconclusive_slope_fails_although_it_contains_the_expected_slope():
    """A bias far below the noise (1e-3/N against 1/√N, 8 replicas): the interval of the slope
    of log |bias| is wider than ±0.5 and contains −1, and the verdict is FAIL (inconclusive),
    as for the order verdicts."""
    study = _analysis_study()
    _, fits = study._bias(_synthetic(study, SIZES, 8, lambda n: 1e-3 / n, 1.0), {})
    fit = fits[0][1]
    assert fit.half_width > 0.5 and fit.low <= -1.0 <= fit.high
    check = study._slope_check("bias", fit, -1.0)
    assert not check.passed and "inconclusive" in check.margin_text


def test_bias_verdict_must_be_a_boolean():
    with pytest.raises(InputError, match="bias_verdict must be true or false"):
        load_study(CHAOS.format(study='bias_verdict = "yes"', cells=64))
