"""HDF5 output in the file contract of the CLI (README "Output files").

Layout: ``/time`` (n_saved); per measure ``/mu`` (and ``/nu`` for games) with ``points`` (n × d),
``weights`` (n, so ∫f ≈ Σ w_i f_i) and ``density`` (n_saved × n, Σ w_i ρ_i = 1);
``/observers/<name>`` (n_saved); root attributes ``config``, ``flow``, ``mfpde_version`` and any
others given. The file is written under a temporary name and renamed when complete, so a failed
or interrupted run never leaves a half-written file behind.

Output safety (:func:`check_output`, before any work): an output path must not be a directory,
a device or any other non-regular file, nor one of the run's inputs, and its folder must be
writable. Replacing a file keeps its permissions, and a symbolic link stays a link (its target
is replaced). An interrupt (SIGINT, SIGTERM: :func:`request_interrupt`) during a write removes
the temporary file and re-raises, even if a library swallowed the ``KeyboardInterrupt``.
"""

from __future__ import annotations

import io
import os
import stat
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from mfpde.errors import InputError

__all__ = [
    "MeasureData",
    "atomic_path",
    "check_output",
    "request_interrupt",
    "write_h5",
    "write_h5_file",
    "read_h5",
]

_interrupted = threading.Event()


def request_interrupt() -> None:
    """Record an interrupt (the CLI's SIGINT/SIGTERM handler calls it before raising)."""
    _interrupted.set()


def _target(path: Path) -> Path:
    """The file a write to ``path`` replaces: the target of a symbolic link, else ``path``."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def check_output(path: str | os.PathLike, inputs=(), what: str = "output") -> Path:
    """Refuse an output path before any work is done; return the file that will be written.

    Raises :class:`~mfpde.errors.InputError` if ``path`` (or the target of a link) exists and
    is not a regular file (a directory, a device, a pipe), is one of ``inputs`` (e.g. the
    configuration), is not writable, or if its nearest existing folder is not a writable
    directory.
    """
    path = Path(path)
    target = _target(path)
    if os.path.lexists(target):
        mode = os.stat(target).st_mode
        if not stat.S_ISREG(mode):
            kind = "a directory" if stat.S_ISDIR(mode) else "a device or special file"
            raise InputError(f"{what} {path} is not a regular file ({kind}): name a file")
        for source in inputs:
            if source is not None and os.path.exists(source) and os.path.samefile(target, source):
                raise InputError(f"{what} {path} is the configuration {source}: name another file")
        if not os.access(target, os.W_OK):
            raise InputError(f"cannot write {path}: permission denied")
    folder = target.parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"cannot write {path}: {folder} is not a writable folder")
    return target


@dataclass
class MeasureData:
    """Quadrature and saved densities of one measure."""

    points: np.ndarray
    weights: np.ndarray
    density: np.ndarray


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` if the block completes.

    The temporary file is in the same folder (so the rename is atomic) and is removed if the
    block raises or is interrupted: ``path`` is either absent, its old version or complete. A
    replaced file keeps its permissions (a new one gets 0666 minus the umask); a symbolic link is
    kept and its target replaced; a non-regular file is never replaced.
    """
    path = _target(Path(path))
    if os.path.lexists(path) and not stat.S_ISREG(os.stat(path).st_mode):
        raise InputError(f"{path} is not a regular file: it is not replaced")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        if _interrupted.is_set():  # a KeyboardInterrupt swallowed inside the block
            raise KeyboardInterrupt
        if path.exists():
            mode = stat.S_IMODE(os.stat(path).st_mode)
        else:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_h5(
    path: str | os.PathLike,
    times: np.ndarray,
    measures: dict[str, MeasureData],
    observers: dict[str, np.ndarray],
    attrs: dict[str, str],
) -> Path:
    """Write a result atomically (built in memory, then a temporary file, then rename)."""

    def fill(f: h5py.File) -> None:
        f["time"] = np.asarray(times, dtype=float)
        for name, m in measures.items():
            g = f.create_group(name)
            g["points"] = m.points
            g["weights"] = m.weights
            g.create_dataset("density", data=m.density, compression="gzip", shuffle=True)
        obs = f.create_group("observers")
        for name, values in observers.items():
            obs[name] = np.asarray(values, dtype=float)
        for key, value in attrs.items():
            f.attrs[key] = value

    write_h5_file(path, fill)
    return Path(path)


def write_h5_file(path: str | os.PathLike, fill) -> None:
    """Write an HDF5 file atomically: ``fill(f)`` builds it in memory, then its bytes are
    written beside ``path`` and renamed.

    HDF5 never writes to the disk itself, so a full disk is one clean ``OSError`` (no HDF5 error
    stack, no crash when its objects are freed) and no partial file is left behind.
    """
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        fill(f)
    data = buffer.getbuffer()
    with atomic_path(path) as tmp, open(tmp, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def read_h5(path: str | os.PathLike) -> dict:
    """Read a result file back into nested dicts of arrays (attributes under ``"attrs"``)."""

    def load(group):
        return {k: load(v) if isinstance(v, h5py.Group) else v[()] for k, v in group.items()}

    with h5py.File(path, "r") as f:
        out = load(f)
        out["attrs"] = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
    return out
