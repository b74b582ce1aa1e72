"""The test kit (:mod:`mfpde.verification.testing`) and its plugin: right codes pass, wrong fail.

Case: T¹, V = cos x, σ = 0.5, μ₀ ∝ exp(sin x + ½ cos 2x), η = 0.02, N = 100 … 1600, 16 replicas
(seed 3), t = 1. Two deliberately wrong particle codes, each a one-character change of a correct
one, must be rejected with the documented message (the failed claims with their fitted slopes
and intervals, and the report's path):

- birth-death with the sign of the rate flipped, β_i = −α(g_h(X_i) − ⟨g_h⟩): the particles
  drift away from the mean-field limit; measured slopes ≈ 0 (RMSE ⟨cos x⟩ 0.002
  [−0.013, 0.017]) and N·E MMD² grows ≈ 17-fold from N = 100 to 1600;
- Langevin with noise √(ση) instead of √(2ση) (the "missing √2"): the limit is the flow with
  σ/2, an O(1) bias; measured RMSE slope −0.298 [−0.402, −0.156], CLT ratio 4.5 > 3.

The README's example test file is extracted and run by pytest in a subprocess (the plugin is
loaded by its entry point) and must pass.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import mfpde
from mfpde.kernels import Kernel
from mfpde.particles.birth_death import birth_death_jump
from mfpde.particles.fields import ParticleField
from mfpde.particles.trajectory import initial_particles, simulate
from mfpde.verification.testing import (
    assert_lyapunov_rate,
    assert_propagation_of_chaos,
    mfpde_particles,
)

PROBLEM = mfpde.OptimisationProblem(mfpde.Torus(1), mfpde.Potential("cos(x)"), sigma=0.5)
INITIAL = "exp(sin(x) + 0.5*cos(2*x))"
KERNEL = Kernel("density", 0.3)
DT = 0.02
RUN = {"n": [100, 200, 400, 800, 1600], "replicas": 16, "t": 1.0, "dt": DT, "seed": 3}
README = Path(__file__).resolve().parents[1] / "README.md"


def birth_death_with_sign(sign: float):
    """Kernelised birth-death (MATH §6.1) with rates sign · α(g_h − ⟨g_h⟩), α = 1."""

    def code(problem, n, seed, t_save):
        rng = np.random.default_rng(seed)
        field = ParticleField(problem, KERNEL)
        X = initial_particles(INITIAL, problem.domain, n, rng)

        def step(X, w, tau):
            g = field(X, w)[0]
            return birth_death_jump(X, sign * (g - w @ g), tau, rng), w

        trajectory = simulate(step, X, np.full(n, 1 / n), t_end=t_save[-1], dt=DT)
        index = np.rint(t_save / DT).astype(int)
        return trajectory.positions[index], trajectory.weights[index]

    return code


def langevin_with_noise(factor: float):
    """Euler-Maruyama for dX = −V'(X) dt + factor·√σ dW on T¹ (correct: factor = √2)."""

    def code(problem, n, seed, t_save):
        rng = np.random.default_rng(seed)
        x = initial_particles(INITIAL, problem.domain, n, rng)[:, 0]
        out, t = [], 0.0
        for target in t_save:
            while t < target - 1e-9:
                noise = factor * np.sqrt(problem.sigma * DT) * rng.standard_normal(n)
                x = x + DT * np.sin(x) + noise
                t += DT
            out.append(np.mod(x, 2 * np.pi))
        positions = np.array(out)[..., None]
        return positions, np.full(positions.shape[:2], 1.0 / n)

    return code


def test_mfpde_langevin_particles_pass(tmp_path):
    """mfpde's own Langevin particles against the plain Fokker-Planck flow: every claim holds."""
    code = mfpde_particles("langevin", INITIAL, dt=DT, flow=mfpde.fokker_planck(1.0))
    result = assert_propagation_of_chaos(
        code, PROBLEM, mfpde.fokker_planck(1.0), INITIAL, output=tmp_path, **RUN
    )
    assert abs(result.outcome.data["E W₁ t=1/slope"] + 0.5) < 0.1
    assert (tmp_path / "report.html").is_file() and (tmp_path / "errors.png").is_file()


def _rejected(code, flow, kernel, tmp_path) -> str:
    with pytest.raises(AssertionError) as failure:
        assert_propagation_of_chaos(
            code, PROBLEM, flow, INITIAL, kernel=kernel, output=tmp_path, **RUN
        )
    message = str(failure.value)
    assert message.startswith("propagation of chaos of ")
    assert re.search(
        r"FAIL slope of RMSE ⟨cos\(x\)⟩ t=1 vs N is -0.5 .*: fitted \S+, 95 % "
        r"interval \[\S+, \S+\]",
        message,
    ), message
    assert f"report: {tmp_path / 'report.html'}" in message and "errors.png" in message
    assert (tmp_path / "report.html").is_file()
    return message


def test_sign_error_in_birth_death_rate_is_rejected(tmp_path):
    flow = mfpde.fisher_rao(1.0)
    message = _rejected(birth_death_with_sign(-1.0), flow, KERNEL, tmp_path / "wrong")
    # every slope ≈ 0 and the CLT ratio ≈ 17; the mesh reference check passes
    assert "6 of 7 checks failed" in message
    # The same code with the right sign is mfpde's birth-death step by step: it passes.
    right = assert_propagation_of_chaos(
        birth_death_with_sign(1.0),
        PROBLEM,
        flow,
        INITIAL,
        kernel=KERNEL,
        **RUN,
        output=tmp_path / "right",
    )
    assert right.outcome.data["clt_max_ratio"] < 2


def test_missing_sqrt2_in_langevin_noise_is_rejected(tmp_path):
    flow = mfpde.fokker_planck(1.0)
    message = _rejected(langevin_with_noise(1.0), flow, None, tmp_path)
    assert "dynamical CLT" in message
    slope = float(re.search(r"RMSE ⟨cos\(x\)⟩ t=1 .*fitted (\S+),", message).group(1))
    assert slope > -0.4  # measured −0.298: the O(1) bias flattens the error


def test_lyapunov_rate_assertion(tmp_path):
    """Fisher-Rao, linear F (MATH §5.1): rate 2ασ = 1 ≥ ασ passes; a claimed 2.0 fails."""
    args = (PROBLEM, mfpde.fisher_rao(1.0), "exp(2*sin(x))")
    result = assert_lyapunov_rate(*args, cells=32, t_end=30.0, dt=0.1, output=tmp_path / "a")
    # E1 asymptotic rate 2ασ = 1; measured 1.0021 (the nonlinear remainder in the fit window).
    assert result.outcome.data["rate"] == pytest.approx(1.0, abs=5e-3)
    with pytest.raises(AssertionError, match=r"FAIL rate of KL\(μ\*\|μ_t\) ≥ 2 .*fitted 1\.00"):
        assert_lyapunov_rate(*args, cells=32, t_end=30.0, dt=0.1, claimed_rate=2.0)


def _readme_example() -> str:
    """The README's example test file: the python block that starts with its file name."""
    text = README.read_text()
    match = re.search(r"```python\n(# test_my_particles\.py\n.*?)```", text, re.S)
    assert match, "README lost its example test file"
    return match.group(1)


def test_readme_example_passes_through_the_plugin(tmp_path):
    """pytest in a subprocess: the plugin (entry point) gives ``mfpde_output`` and lists the
    report in the terminal summary."""
    (tmp_path / "test_my_particles.py").write_text(_readme_example())
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA"]
    process = subprocess.run(
        command + ["--basetemp", str(tmp_path / "base"), "test_my_particles.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert process.returncode == 0, process.stdout + process.stderr
    assert "1 passed" in process.stdout
    assert "mfpde verification reports" in process.stdout
    report = next(line for line in process.stdout.splitlines() if line.endswith("report.html"))
    assert Path(report).is_file() and "mfpde" in Path(report).parts
