"""Command line: ``mfpde run CONFIG.toml [-o OUT.h5]`` and ``mfpde verify STUDY.toml [-o DIR]``.

This package (the folder ``cli/``, installed as ``mfpde.cli``) is the one piece that knows every
kind of run: :func:`load_config` reads mesh runs (:mod:`mfpde.config`) and particle runs
(:mod:`mfpde.particles.config`), ``mfpde verify`` runs the studies of
:mod:`mfpde.verification`. It sits above all three; none of them imports it.

Exit codes: 0 on success; 2 on bad input (one line ``error: ...`` on stderr, no output file);
1 if the solver meets a non-finite or non-positive density (same one-line form); for
``verify``, 3 if the study ran but one of its claims failed (the report says which).
Under ``mpiexec`` only rank 0 prints.
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import version
from pathlib import Path

from mfpde.errors import InputError, NumericalError

__all__ = ["main", "load_config"]


#: Exit code of ``mfpde verify`` when a claim of the study fails.
VERDICT_FAILED = 3


def _rank() -> int:
    """This process's MPI rank if mpi4py is loaded (the DOLFINx backend, MPI studies), else 0."""
    mpi = sys.modules.get("mpi4py.MPI")
    return mpi.COMM_WORLD.rank if mpi is not None else 0


def load_config(text: str):
    """Parse a TOML configuration (its text) into a :class:`~mfpde.tables.Run`.

    A configuration with a ``[particles]`` or ``[kernel]`` table is a particle run
    (:func:`mfpde.particles.config.particle_run`), any other a mesh run
    (:func:`mfpde.config.load_run`). Raises ``InputError``.
    """
    from mfpde.config import PARTICLE_TABLES, load_run, parse_tables

    cfg, kind = parse_tables(text, PARTICLE_TABLES)
    if PARTICLE_TABLES & set(cfg):
        from mfpde.particles.config import particle_run

        return particle_run(cfg, kind, text)
    return load_run(text)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit code 2
        sys.stderr.write(f"error: {message} (see mfpde --help)\n")
        raise SystemExit(2)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="mfpde",
        description="Ground-truth solvers for mean-field gradient flows over probability measures.",
        epilog="Configuration keys and the output layout are described in README.md.",
    )
    parser.add_argument("--version", action="version", version=f"mfpde {version('mfpde')}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="solve the flow described by a TOML config, write HDF5")
    run.add_argument("config", type=Path, help="the TOML configuration file")
    run.add_argument("-o", "--output", type=Path, help="output file (default: CONFIG with .h5)")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    verify = sub.add_parser(
        "verify", help="run a verification study (TOML with a [study] table), write a report"
    )
    verify.add_argument("study", type=Path, help="the TOML study file")
    verify.add_argument(
        "-o", "--output", type=Path, help="output folder (default: out/<STUDY stem>)"
    )
    verify.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    return parser


def _run(args: argparse.Namespace) -> None:
    try:
        text = args.config.read_text()
    except OSError as exc:
        raise InputError(f"cannot read {args.config}: {exc.strerror}") from None
    output = args.output or args.config.with_suffix(".h5")
    result = load_config(text).execute(not args.quiet)
    result.save(output, text)
    if not args.quiet and _rank() == 0:
        print(f"wrote {output} ({len(result.times)} saved states up to t = {result.times[-1]:g})")


def _verify(args: argparse.Namespace) -> int:
    """Run a study; items are checkpointed under DIR/items, so a rerun resumes (under MPI the
    items are dealt to the ranks and rank 0 writes)."""
    from mfpde.verification.studies import mpi_world, run_study

    try:
        text = args.study.read_text()
    except OSError as exc:
        raise InputError(f"cannot read {args.study}: {exc.strerror}") from None
    folder = args.output or Path("out") / args.study.stem
    result = run_study(text, folder, progress=not args.quiet, comm=mpi_world())
    if result is None:  # ranks other than 0
        return 0
    if not args.quiet:
        for check in result.outcome.checks:
            verdict = "pass" if check.passed else "FAIL"
            print(f"{verdict}: {check.claim}: {check.measured} {check.interval}")
        print(f"wrote {folder}/report.md, report.html, data.h5")
    return 0 if result.passed else VERDICT_FAILED


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``mfpde`` command; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            _run(args)
        elif args.command == "verify":
            return _verify(args)
    except (InputError, NumericalError) as exc:
        if _rank() == 0:
            sys.stderr.write(f"error: {exc}\n")
        return 2 if isinstance(exc, InputError) else 1
    return 0
