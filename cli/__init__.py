"""Command line: ``mfpde run CONFIG.toml [-o OUT.h5]`` and ``mfpde verify STUDY.toml [-o DIR]``.

This package (the folder ``cli/``, installed as ``mfpde.cli``) is the one piece that knows every
kind of run: :func:`load_config` reads mesh runs (:mod:`mfpde.config`) and particle runs
(:mod:`mfpde.particles.config`), ``mfpde verify`` runs the studies of
:mod:`mfpde.verification`. It sits above all three; none of them imports it.

The error model, enforced here for every command (README "Exit codes"):

- bad input (:class:`~mfpde.errors.InputError`: configuration, expression, density, sizes,
  output path): exit 2, one line ``error: ...`` on stderr, nothing written, and nothing
  computed that the error could have been found before (the output path, the sizes and the
  step count are checked first);
- numerical failure (:class:`~mfpde.errors.NumericalError`, out of memory, a failed write):
  exit 1, one line;
- interrupted (SIGINT, SIGTERM): exit 130, one line ``error: interrupted``, no stray files;
- ``verify`` only: exit 3 when the study ran but one of its claims failed;
- an unexpected exception (a bug): exit 1, one line naming it (``MFPDE_TRACEBACK=1`` shows
  the traceback).

Under ``mpiexec`` an error on any rank ends all ranks with one line and its exit code, never a
hang: the rank prints and leaves at once (rank 0) or after one second (others, so that an
error all ranks meet is printed once, by rank 0), and ``mpiexec`` ends the others. A run that
does not share its work over ranks (finite volumes) is computed and written by rank 0 only.
Numerical warnings are not printed: a non-finite value ends the run as a numerical failure.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import traceback
import warnings
from importlib.metadata import version
from pathlib import Path

from mfpde.errors import InputError, NumericalError

__all__ = ["main", "load_config", "read_text", "MAX_CONFIG_BYTES"]


#: Exit code of ``mfpde verify`` when a claim of the study fails.
VERDICT_FAILED = 3
#: Exit code of an interrupted command (128 + SIGINT).
INTERRUPTED = 130
#: A configuration file is at most this large (a longer file is not read to its end).
MAX_CONFIG_BYTES = 1 << 20


def _world() -> tuple[int, int]:
    """(rank, size) of this process under ``mpiexec`` (from its environment), else (0, 1)."""
    env = os.environ
    size = int(env.get("PMI_SIZE", env.get("OMPI_COMM_WORLD_SIZE", "1")))
    rank = int(env.get("PMI_RANK", env.get("OMPI_COMM_WORLD_RANK", "0")))
    return rank, size


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


def read_text(path: Path, what: str = "configuration") -> str:
    """The text of a configuration file: at most :data:`MAX_CONFIG_BYTES`, UTF-8."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise InputError(f"{path} is larger than {MAX_CONFIG_BYTES >> 10} KiB: not a {what} file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path} is not a UTF-8 text file (byte {exc.start}): not a {what}"
        ) from None


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit code 2
        sys.stderr.write(f"error: {message} (see mfpde --help)\n")
        raise SystemExit(2)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    parser.add_argument(
        "--allow-python",
        action="store_true",
        help='allow "python:module:function" in expressions: it imports and runs that code, '
        "so use it only for configurations you trust",
    )
    parser.add_argument(
        "--max-memory", type=float, metavar="GIB", help="memory limit (default: 75%% of RAM)"
    )
    parser.add_argument(
        "--max-steps", type=int, metavar="N", help="time-step limit (default: 10^8)"
    )


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
    _common(run)
    verify = sub.add_parser(
        "verify", help="run a verification study (TOML with a [study] table), write a report"
    )
    verify.add_argument("study", type=Path, help="the TOML study file")
    verify.add_argument(
        "-o", "--output", type=Path, help="output folder (default: out/<STUDY stem>)"
    )
    verify.add_argument(
        "--strict-checkpoints",
        action="store_true",
        help="refuse (exit 2) a corrupt or foreign checkpoint instead of recomputing it",
    )
    _common(verify)
    return parser


def _run(args: argparse.Namespace) -> None:
    from mfpde.storage import check_output

    text = read_text(args.config)
    output = args.output or args.config.with_suffix(".h5")
    check_output(output, [args.config])
    run = load_config(text)
    rank, size = _world()
    if size > 1 and not run.parallel and rank != 0:
        return  # rank 0 computes and writes a run that does not share its work
    result = run.execute(not args.quiet)
    try:
        result.save(output, text)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror or str(exc), str(output)) from None
    if not args.quiet and rank == 0:
        print(f"wrote {output} ({len(result.times)} saved states up to t = {result.times[-1]:g})")


def _verify(args: argparse.Namespace) -> int:
    """Run a study; items are checkpointed under DIR/items, so a rerun resumes (under MPI the
    items are dealt to the ranks and rank 0 writes)."""
    from mfpde.verification.studies import mpi_world, run_study

    text = read_text(args.study, "study")
    folder = args.output or Path("out") / args.study.stem
    if folder.exists() and not folder.is_dir():
        raise InputError(f"output folder {folder} is a file: name a folder")
    result = run_study(
        text,
        folder,
        progress=not args.quiet,
        comm=mpi_world(),
        strict_checkpoints=args.strict_checkpoints,
    )
    if result is None:  # ranks other than 0
        return 0
    if not args.quiet:
        for check in result.outcome.checks:
            verdict = "pass" if check.passed else "FAIL"
            print(f"{verdict}: {check.claim}: {check.measured} {check.interval}")
        print(f"wrote {folder}/report.md, report.html, data.h5")
    return 0 if result.passed else VERDICT_FAILED


def _interrupt(signum, frame) -> None:
    from mfpde.storage import request_interrupt

    request_interrupt()
    raise KeyboardInterrupt


def _fail(message: str, code: int) -> int:
    """Print the one line (once under MPI) and return the exit code (or end every rank)."""
    rank, size = _world()
    if size > 1:
        mpi = sys.modules.get("mpi4py.MPI")
        if rank != 0:
            if mpi is None or not mpi.Is_initialized():
                os._exit(code)  # no collective yet: every rank met the same input, rank 0 says it
            time.sleep(1.0)  # rank 0, meeting the same error, prints it and ends all ranks
        sys.stderr.write(f"error: {message}\n")
        sys.stderr.flush()
        os._exit(code)  # mpiexec ends the other ranks, even those waiting in a collective
    sys.stderr.write(f"error: {message}\n")
    return code


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``mfpde`` command; returns the exit code (module docstring)."""
    args = _parser().parse_args(argv)
    import mfpde.expressions
    import mfpde.resources
    from mfpde.storage import _interrupted

    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for s in previous:
        signal.signal(s, _interrupt)
    _interrupted.clear()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mfpde.expressions.allow_python(args.allow_python)
            memory = None if args.max_memory is None else args.max_memory * 1024**3
            mfpde.resources.set_limits(memory, args.max_steps)
            code = _verify(args) if args.command == "verify" else (_run(args) or 0)
        if _interrupted.is_set():
            return _fail("interrupted", INTERRUPTED)
        return code
    except InputError as exc:
        return _fail(str(exc), 2)
    except NumericalError as exc:
        return _fail(str(exc), 1)
    except KeyboardInterrupt:
        return _fail("interrupted", INTERRUPTED)
    except MemoryError:
        return _fail("out of memory (the limit --max-memory is an estimate)", 1)
    except OSError as exc:
        if exc.filename:
            return _fail(f"cannot write {exc.filename}: {exc.strerror or exc}", 1)
        return _fail(f"input/output failed: {exc.strerror or exc}", 1)
    except Exception as exc:  # a bug: one line, the traceback on request
        if os.environ.get("MFPDE_TRACEBACK"):
            traceback.print_exc()
        detail = str(exc).splitlines()[0][:200] if str(exc) else ""
        return _fail(f"internal error ({type(exc).__name__}: {detail}); please report it", 1)
    finally:
        mfpde.expressions.allow_python(False)
        mfpde.resources.set_limits(*_DEFAULT_LIMITS)
        for s, handler in previous.items():
            signal.signal(s, handler)


def _default_limits() -> tuple[int, int]:
    import mfpde.resources

    limits = mfpde.resources.limits()
    return limits["memory"], limits["steps"]


_DEFAULT_LIMITS = _default_limits()
