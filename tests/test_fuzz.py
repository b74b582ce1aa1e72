"""Fuzzing the configuration reader and the expressions (hypothesis, seeded): every input ends in
exit 0, 1 or 2 with at most one line on stderr, and never writes a partial file.

Configurations are a valid run with its values replaced, keys dropped or added, tables replaced
by other TOML values, and expressions drawn from the grammar's tokens and from arbitrary text.
The runs are bounded (``--max-memory 0.05 --max-steps 400``) so that an accepted input is cheap;
the number of examples is printed by pytest's hypothesis statistics (``--hypothesis-show-
statistics``) and is fixed here: 400 configurations and 400 expressions.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

import mfpde
from mfpde.cli import main

BASE = {
    "domain": {"kind": "torus", "cells": 16},
    "problem": {"sigma": 0.5, "potential": "cos(x)", "interaction": "0.5*cos(x - y)"},
    "flow": {"kind": "wfr", "gamma": 1.0, "alpha": 1.0},
    "initial": {"density": "exp(sin(x))"},
    "time": {"t_end": 0.2, "dt": 0.1, "save_every": 1},
}
KEYS = sorted({k for table in BASE.values() for k in table} | {"lower", "upper", "dim", "kind"})

TOKENS = ["x", "y", "x1", "x2", "z", "pi", "e", "1", "0", "2.5", "1e308", "-", "+", "*", "/",
          "**", "%", "(", ")", "sin", "cos", "exp", "log", "sqrt", "abs", "tanh", "__import__",
          ".", ",", "[", "]", "'", "lambda", " "]  # fmt: skip

numbers = st.one_of(
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1e-300, 1e300, 3, 1_000_000_000]),
)
expressions = st.one_of(
    st.lists(st.sampled_from(TOKENS), max_size=30).map("".join),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=40),  # TOML has no surrogates
)
values = st.recursive(
    st.one_of(numbers, expressions, st.booleans()),
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(
        st.sampled_from(KEYS), children, max_size=3)),
    max_leaves=8,
)  # fmt: skip


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return {np.inf: "inf", -np.inf: "-inf"}.get(value, "nan" if value != value else repr(value))
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a TOML basic string: JSON escapes
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"


def _text(cfg: dict) -> str:
    lines = []
    for name, table in cfg.items():
        if isinstance(table, dict):
            lines.append(f"[{name}]")
            lines += [f"{k} = {_toml(v)}" for k, v in table.items()]
        else:
            lines.insert(0, f"{name} = {_toml(table)}")
    return "\n".join(lines) + "\n"


@st.composite
def configurations(draw) -> str:
    cfg = {name: dict(table) for name, table in BASE.items()}
    for _ in range(draw(st.integers(1, 4))):
        name = draw(st.sampled_from(sorted(cfg)))
        action = draw(st.sampled_from(["replace", "drop", "add", "table"]))
        if action == "table":
            cfg[name] = draw(values)
        elif not isinstance(cfg[name], dict) or not cfg[name]:
            continue
        elif action == "replace":
            cfg[name][draw(st.sampled_from(sorted(cfg[name])))] = draw(values)
        elif action == "drop":
            cfg[name].pop(draw(st.sampled_from(sorted(cfg[name]))))
        else:
            cfg[name][draw(st.sampled_from(KEYS))] = draw(values)
    text = _text(cfg)
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        pass  # invalid TOML is an input too
    return text


def _check(code: int, err: str, folder: Path) -> None:
    assert code in (0, 1, 2), (code, err)
    assert err.count("\n") <= 1 and (code == 0) == (err == ""), err
    assert not [p for p in folder.iterdir() if p.name.endswith(".partial")]


LIMITS = ["--max-memory", "0.05", "--max-steps", "400", "-q"]


@seed(20261202)
@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=configurations())
def test_any_configuration_exits_0_1_or_2_with_one_line(text, tmp_path_factory, capfd):
    folder = tmp_path_factory.mktemp("fuzz")
    config = folder / "run.toml"
    config.write_text(text)
    code = main(["run", str(config), "-o", str(folder / "out.h5"), *LIMITS])
    _, err = capfd.readouterr()
    _check(code, err, folder)


@seed(20261203)
@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=expressions)
def test_any_expression_is_accepted_or_refused_with_one_line(text, tmp_path_factory, capfd):
    folder = tmp_path_factory.mktemp("fuzz")
    config = folder / "run.toml"
    cfg = {name: dict(table) for name, table in BASE.items()}
    cfg["problem"]["potential"] = text
    config.write_text(_text(cfg))
    code = main(["run", str(config), "-o", str(folder / "out.h5"), *LIMITS])
    _, err = capfd.readouterr()
    _check(code, err, folder)
    try:  # the Python API refuses the same text with an InputError, never another exception
        mfpde.expressions.parse(text, 1)(np.zeros((2, 1)))
    except mfpde.InputError:
        pass
