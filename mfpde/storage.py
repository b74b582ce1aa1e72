"""HDF5 output in the file contract of the CLI (README "Output files").

Layout: ``/time`` (n_saved); per measure ``/mu`` (and ``/nu`` for games) with ``points`` (n × d),
``weights`` (n, so ∫f ≈ Σ w_i f_i) and ``density`` (n_saved × n, Σ w_i ρ_i = 1);
``/observers/<name>`` (n_saved); root attributes ``config``, ``flow``, ``mfpde_version`` and any
others given. The file is written under a temporary name and renamed when complete, so a failed
or interrupted run never leaves a half-written file behind.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

__all__ = ["MeasureData", "atomic_path", "write_h5", "read_h5"]


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
    block raises or is interrupted: ``path`` is either absent, its old version or complete.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
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
    """Write a result atomically (temporary file in the same folder, then rename)."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
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
    return Path(path)


def read_h5(path: str | os.PathLike) -> dict:
    """Read a result file back into nested dicts of arrays (attributes under ``"attrs"``)."""

    def load(group):
        return {k: load(v) if isinstance(v, h5py.Group) else v[()] for k, v in group.items()}

    with h5py.File(path, "r") as f:
        out = load(f)
        out["attrs"] = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
    return out
