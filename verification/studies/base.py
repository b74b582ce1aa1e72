"""The study framework: registry, config reading, checkpointed items, verdicts and output.

A *study* checks one claim of MATH.md by measurement. Its configuration is a run's TOML file
(the tables of ``mfpde run``: ``[domain]``, ``[problem]``, ``[flow]``, ``[initial]``, ``[time]``)
plus a ``[study]`` table whose ``kind`` names a registered study type. A study type is one module
defining a subclass of :class:`Study` decorated with :func:`register_study`; it declares its
``[study]`` keys, reads and checks everything in ``__init__`` (so bad input fails before any
work or output), splits the work into independent :class:`Item` s (a run, a refinement level,
an (N, replica) pair, ...), computes one item at a time (:meth:`Study.compute`) and finally turns
all item results into checks, figures and report blocks (:meth:`Study.analyse`).

:func:`run_study` drives it. Each item's result is checkpointed as soon as it is computed, as
``DIR/items/<key>.npz`` written under a temporary name and renamed (so an interrupted run never
leaves a corrupt file), tagged with the SHA-256 of the configuration text: a rerun with the same
configuration skips the finished items. A checkpoint also carries the mfpde version and a
checksum of its arrays: a corrupt, changed or foreign one is recomputed with a notice (or
refused, ``strict_checkpoints``). A folder belongs to one study (``DIR/study.json``): another
study's folder is refused. Under MPI
(``mpiexec -n P``) the items are dealt round-robin to the ranks; rank 0 then reads every item
file, analyses and writes ``DIR/data.h5`` (all measured data), the figures, ``DIR/report.md``
and ``DIR/report.html``.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any, ClassVar

import h5py
import numpy as np
from tqdm.auto import tqdm

from mfpde.config import PROBLEM_SETUPS, parse_tables
from mfpde.errors import InputError, MfpdeError
from mfpde.particles.replicas import mpi_world
from mfpde.storage import atomic_path, write_h5_file
from mfpde.tables import Table
from mfpde.verification.studies.report import Block, Code, Heading, Image, TableBlock, write_reports

__all__ = [
    "STUDY_KINDS",
    "register_study",
    "Item",
    "Check",
    "Outcome",
    "Study",
    "ItemStore",
    "claim_folder",
    "load_study",
    "run_study",
    "execute_study",
    "mpi_world",
    "save_png",
    "StudyResult",
]

#: Registered study types by ``[study] kind``.
STUDY_KINDS: dict[str, type[Study]] = {}


def register_study(cls: type[Study]) -> type[Study]:
    """Class decorator: register a :class:`Study` subclass under its ``kind``."""
    if cls.kind in STUDY_KINDS:
        raise ValueError(f"study kind {cls.kind!r} registered twice")
    STUDY_KINDS[cls.kind] = cls
    return cls


@dataclass(frozen=True)
class Item:
    """One independent unit of work: ``key`` names its checkpoint file, ``params`` its inputs."""

    key: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Check:
    """One verdict: the claim, what was measured (with its 95 % interval) and the margin.

    ``margin`` is signed: ≥ 0 when the claim holds (e.g. measured rate − claimed rate, or
    1 − max L_t / bound_t).
    """

    claim: str
    measured: str
    interval: str
    passed: bool
    margin: float
    margin_text: str = ""


@dataclass
class Outcome:
    """What :meth:`Study.analyse` returns: checks, report blocks and data for ``/results``."""

    checks: list[Check]
    blocks: list[Block]
    data: dict[str, Any] = field(default_factory=dict)


class Study(ABC):
    """A study type (module docstring). Subclasses set ``kind``, ``keys`` and ``title``.

    Parameters
    ----------
    cfg : dict
        The parsed TOML tables without ``[study]``.
    study : Table
        ``[study]``, checked against ``{"kind"} | keys``.
    problem_kind : str
        ``[problem] kind`` (``"optimisation"`` or ``"game"``).
    setup_override : OptimisationSetup or GameSetup, optional
        The problem's objects, built in Python instead of read from ``cfg`` (the test kit
        :mod:`mfpde.verification.testing` passes them; ``cfg`` is then empty).
    """

    kind: ClassVar[str]
    keys: ClassVar[frozenset[str]] = frozenset()
    title: ClassVar[str]
    #: Tables read besides those of a run and ``[study]`` (e.g. ``[particles]``, ``[kernel]``).
    tables: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, cfg: dict, study: Table, problem_kind: str, setup_override=None):
        self.cfg, self.study, self.problem_kind = cfg, study, problem_kind
        self.setup_override = setup_override

    def setup(self, cfg: dict | None = None):
        """The problem's objects read from ``cfg`` (default: the study's tables, or the
        ``setup_override`` given to the constructor)."""
        if cfg is None and self.setup_override is not None:
            return self.setup_override
        return PROBLEM_SETUPS[self.problem_kind](self.cfg if cfg is None else cfg)

    def distributed(self) -> bool:
        """True when the study's mesh is distributed over MPI ranks (a DOLFINx space on more than
        one rank): then every rank computes every item together and rank 0 stores it, instead of
        dealing the items round-robin."""
        run = getattr(self, "run", None)
        grids = getattr(run, "grids", None) or [getattr(run, "grid", None)]
        return any(getattr(getattr(g, "comm", None), "size", 1) > 1 for g in grids)

    @abstractmethod
    def items(self) -> list[Item]:
        """The independent items, in a fixed order."""

    @abstractmethod
    def compute(self, item: Item, progress: bool) -> dict[str, np.ndarray]:
        """One item's measured arrays (numbers are stored as 0-d arrays)."""

    @abstractmethod
    def analyse(self, results: dict[str, dict[str, np.ndarray]], folder: Path) -> Outcome:
        """Checks and report from every item's result (``results[item.key]``).

        Figures are written into ``folder`` (see :func:`save_png`).
        """


def load_study(text: str) -> Study:
    """Read a study configuration (TOML text); raises ``InputError`` on any bad input."""
    extra = frozenset().union(*(cls.tables for cls in STUDY_KINDS.values()))
    cfg, problem_kind = parse_tables(text, frozenset({"study"}) | extra)
    if "study" not in cfg:
        raise InputError(f"a study needs a [study] table with kind ({', '.join(STUDY_KINDS)})")
    data = cfg.pop("study")
    kind = Table(data, "study", set(data)).string("kind", None, tuple(STUDY_KINDS))
    if kind is None:
        raise InputError(f"[study] needs the key 'kind' ({', '.join(STUDY_KINDS)})")
    cls = STUDY_KINDS[kind]
    unread = sorted((extra - cls.tables) & set(cfg))
    if unread:
        raise InputError(f"[{unread[0]}] is not read by a study of kind {kind!r}")
    return cls(cfg, Table(data, "study", {"kind"} | cls.keys), problem_kind)


class ItemStore:
    """Checkpoints ``folder/<key>.npz`` of one configuration (its text's SHA-256 ``digest``).

    Each file carries the digest, the mfpde version that wrote it and a SHA-256 checksum of its
    arrays (names, dtypes, shapes and bytes). :meth:`load` reuses a checkpoint only if all three
    match; a corrupt file, a changed value, another configuration's or another version's file is
    recomputed with a one-line notice on stderr, or refused (:class:`~mfpde.errors.InputError`)
    when ``strict``.
    """

    def __init__(self, folder: Path, digest: str, strict: bool = False):
        self.folder, self.digest, self.strict = Path(folder), digest, strict

    def path(self, item: Item) -> Path:
        return self.folder / f"{item.key}.npz"

    @staticmethod
    def checksum(result: dict[str, np.ndarray]) -> str:
        """SHA-256 of the arrays of a result, in the order of their names."""
        h = hashlib.sha256()
        for name in sorted(result):
            value = np.ascontiguousarray(result[name])
            h.update(f"{name}|{value.dtype.str}|{value.shape}|".encode())
            h.update(value.tobytes())
        return h.hexdigest()

    def load(self, item: Item) -> dict[str, np.ndarray] | None:
        """The stored result, or None if absent or not reusable (class docstring)."""
        path = self.path(item)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as f:
                tags = {k: str(f[k]) for k in ("_digest", "_version", "_checksum") if k in f}
                result = {k: f[k] for k in f.files if not k.startswith("_")}
        except Exception as exc:  # any unreadable file: truncated, not a zip, bad arrays
            return self._reject(path, f"is corrupt ({type(exc).__name__})")
        if tags.get("_digest") != self.digest:
            return self._reject(path, "belongs to another configuration")
        if tags.get("_version") != version("mfpde"):
            written = tags.get("_version", "an older mfpde")
            return self._reject(path, f"was written by mfpde {written}, not {version('mfpde')}")
        if tags.get("_checksum") != self.checksum(result):
            return self._reject(path, "does not match its checksum (changed or corrupt)")
        return result

    def _reject(self, path: Path, reason: str) -> None:
        message = f"checkpoint {path} {reason}"
        if self.strict:
            raise InputError(f"{message} (--strict-checkpoints)")
        sys.stderr.write(f"notice: {message}: recomputed\n")
        return None

    def save(self, item: Item, result: dict[str, np.ndarray]) -> None:
        """Write atomically (temporary file, then rename), with digest, version and checksum."""
        tags = {
            "_digest": np.str_(self.digest),
            "_version": np.str_(version("mfpde")),
            "_checksum": np.str_(self.checksum(result)),
        }
        with atomic_path(self.path(item)) as tmp, open(tmp, "wb") as f:
            np.savez(f, **tags, **result)


#: The file naming the one study a folder belongs to.
OWNER = "study.json"


def claim_folder(folder: Path, digest: str, kind: str, replace: bool = False) -> None:
    """Make ``folder`` this study's, or refuse: a study folder belongs to one study.

    A new or empty folder gets :data:`OWNER` (the configuration's digest and the study kind); a
    folder of the same configuration is resumed. Another study's folder, or a non-empty folder
    that is no study's, is refused with :class:`~mfpde.errors.InputError` — or, with
    ``replace``, its items are removed first (the main job owns its folders).
    """
    folder = Path(folder)
    owner = folder / OWNER
    if folder.exists() and not folder.is_dir():
        raise InputError(f"output folder {folder} is a file: name a folder")
    if owner.exists():
        try:
            claimed = json.loads(owner.read_text())
        except (OSError, ValueError):
            claimed = {}
        if claimed.get("digest") == digest:
            return
        if not replace:
            raise InputError(
                f"{folder} holds the results of another study ({claimed.get('kind', '?')}, "
                "another configuration): name another folder with -o or remove it"
            )
    elif folder.exists() and any(folder.iterdir()) and not replace:
        raise InputError(f"{folder} is not empty and holds no study: name another folder with -o")
    if replace and (folder / "items").exists():
        for old in (folder / "items").glob("*.npz"):
            old.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(owner) as tmp:
        tmp.write_text(json.dumps({"digest": digest, "kind": kind, "mfpde": version("mfpde")}))


def save_png(ax, folder: Path, name: str, caption: str) -> Image:
    """Save the figure of ``ax`` as ``folder/name`` (atomically); return its report block."""
    with atomic_path(folder / name) as tmp:
        ax.figure.savefig(tmp, dpi=110, format="png")
    return Image(name, caption)


def versions() -> dict[str, str]:
    """Versions of the software the numbers depend on."""
    out = {name: version(name) for name in ("mfpde", "numpy", "scipy", "h5py")}
    return {**out, "python": platform.python_version()}


def _compute_items(
    study: Study, store: ItemStore, rank: int, size: int, progress: bool
) -> MfpdeError | None:
    """Compute this rank's unfinished items (round-robin, or all of them together when the mesh
    is distributed: :meth:`Study.distributed`); return the error met, or None."""
    items = study.items()
    collective = study.distributed()
    mine = [item for i, item in enumerate(items) if collective or i % size == rank]
    inner = progress and len(items) == 1  # one item: show the solver's own progress bar
    try:
        todo = [item for item in mine if store.load(item) is None]
        for item in tqdm(todo, desc=study.kind, disable=not progress or inner, leave=False):
            result = study.compute(item, inner)
            if rank == 0 or not collective:
                store.save(item, result)
    except Exception as exc:  # returned, so that every rank learns of it (no deadlock)
        return exc if isinstance(exc, MfpdeError) else MfpdeError(f"{type(exc).__name__}: {exc}")
    return None


def _write_data(path: Path, study: Study, text: str, results, outcome: Outcome) -> None:
    """``data.h5``: ``/items/<key>/<name>`` (with ``params``), ``/results/<name>``, attributes."""

    def fill(f: h5py.File) -> None:
        for item in study.items():
            group = f.create_group(f"items/{item.key}")
            group.attrs["params"] = json.dumps(item.params)
            for name, value in results[item.key].items():
                group[name] = value
        results_group = f.create_group("results")
        for name, value in outcome.data.items():
            results_group[name] = value
        f.attrs["config"] = text
        f.attrs["kind"] = study.kind
        f.attrs["passed"] = all(c.passed for c in outcome.checks)
        f.attrs["checks"] = json.dumps([c.__dict__ for c in outcome.checks])
        for name, value in versions().items():
            f.attrs[f"version_{name}"] = value

    write_h5_file(path, fill)


def _report_blocks(study: Study, text: str, outcome: Outcome, ranks: int) -> list[Block]:
    passed = all(c.passed for c in outcome.checks)
    rows = [
        [c.claim, c.measured, c.interval, "pass" if c.passed else "**FAIL**", c.margin_text]
        for c in outcome.checks
    ]
    return [
        Heading(f"Verification study: {study.title}", 1),
        f"**Verdict: {'PASS' if passed else 'FAIL'}** ({sum(c.passed for c in outcome.checks)} "
        f"of {len(outcome.checks)} checks hold). Study kind `{study.kind}`, "
        f"{len(study.items())} items, {ranks} MPI rank(s).",
        TableBlock(["claim", "measured", "95 % interval", "verdict", "margin"], rows),
        *outcome.blocks,
        Heading("Configuration"),
        Code(text, "toml"),
        Heading("Versions"),
        TableBlock(["package", "version"], [[k, v] for k, v in versions().items()]),
    ]


@dataclass
class StudyResult:
    """The outcome of :func:`run_study` and the files it wrote."""

    study: Study
    outcome: Outcome
    paths: list[Path]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.outcome.checks)


def run_study(
    text: str, folder: Path, progress: bool = True, comm=None, **options
) -> StudyResult | None:
    """Run the study of a configuration text into ``folder`` (module docstring).

    ``comm``: an mpi4py communicator (items dealt round-robin, rank 0 writes), or None (serial).
    Returns the result on rank 0 and None on the other ranks. All input errors are raised
    before ``folder`` is created. ``options`` of :func:`execute_study`: ``strict_checkpoints``
    refuses a corrupt or foreign checkpoint instead of recomputing it; ``replace`` takes over a
    folder of another study (:func:`claim_folder`).
    """
    return execute_study(load_study(text), text, folder, progress, comm, **options)


def execute_study(
    study: Study,
    text: str,
    folder: Path,
    progress: bool = True,
    comm=None,
    strict_checkpoints: bool = False,
    replace: bool = False,
) -> StudyResult | None:
    """Run a constructed study into ``folder`` (:func:`run_study` after reading the text).

    ``text`` is the configuration's text: its SHA-256 tags the checkpoints, and it is stored in
    ``data.h5`` and listed in the report.
    """
    rank, size = (comm.rank, comm.size) if comm is not None else (0, 1)
    folder = Path(folder)
    digest = hashlib.sha256(text.encode()).hexdigest()
    claimed = None
    if rank == 0:
        try:
            claim_folder(folder, digest, study.kind, replace)
        except InputError as exc:
            claimed = exc
    if comm is not None:
        claimed = comm.bcast(claimed, root=0)
    if claimed is not None:
        raise claimed
    store = ItemStore(folder / "items", digest, strict_checkpoints)
    error = _compute_items(study, store, rank, size, progress and rank == 0)
    errors = comm.allgather(error) if comm is not None else [error]
    failed = next((e for e in errors if e is not None), None)
    if failed is not None:
        raise failed
    if rank != 0:
        return None
    results = {}
    for item in study.items():
        results[item.key] = store.load(item)
        if results[item.key] is None:
            raise RuntimeError(f"item {item.key!r} missing from {store.folder}")
    outcome = study.analyse(results, folder)
    _write_data(folder / "data.h5", study, text, results, outcome)
    blocks = _report_blocks(study, text, outcome, size)
    paths = [folder / "data.h5", *write_reports(folder, blocks, study.title)]
    return StudyResult(study, outcome, paths)
