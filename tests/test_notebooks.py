"""Every notebook of ``notebooks/`` runs, at its small size, and is stored without outputs.

Each ``notebooks/*.ipynb`` (found by glob, so new notebooks are picked up) is executed by
nbclient in a fresh ``python3`` kernel from this environment, in a temporary working directory
(nothing is written into the repository), with ``MFPDE_NOTEBOOK_SIZE=small`` and
``MPLBACKEND=Agg``; a failing cell fails the test with that cell's error. The notebooks end with
``assert`` cells checking their claim, so a run that completes is a check that holds
(``notebooks/README.md``: the conventions).

As a script, the same runner executes them at another size and keeps the executed copies:

    python tests/test_notebooks.py --size full --out notebooks/out   # tools/notebooks.sh
    python tests/test_notebooks.py --size small --out /tmp/nb 002_two_layer_network.ipynb
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
#: Seconds a cell may run: far above the small sizes (≤ 40 s a notebook), enough for full ones.
CELL_TIMEOUT = 3600
#: The first code cell reads the size with exactly this line (notebooks/README.md).
SIZE_LINE = 'SIZE = os.environ.get("MFPDE_NOTEBOOK_SIZE", "full")'


def isolated_environment(size: str, scratch: Path, backend: str) -> dict[str, str]:
    """The kernel's environment: the notebook size, the matplotlib backend, and Jupyter and
    IPython folders in ``scratch`` (no user-level configuration, kernels or startup files)."""
    return {
        "MFPDE_NOTEBOOK_SIZE": size,
        "MPLBACKEND": backend,
        "JUPYTER_CONFIG_DIR": str(scratch / "jupyter-config"),
        "JUPYTER_DATA_DIR": str(scratch / "jupyter-data"),
        "JUPYTER_RUNTIME_DIR": str(scratch / "jupyter-runtime"),
        "IPYTHONDIR": str(scratch / "ipython"),
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    }


def execute(nb: nbformat.NotebookNode, cwd: Path) -> None:
    """Run every cell of ``nb`` in place, in a new python3 kernel started in ``cwd`` (the
    environment is the caller's); raises CellExecutionError at the first failing cell."""
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(cwd)}},
    )
    client.execute()


def cell_error(exc: CellExecutionError) -> str:
    """The failing cell and its traceback, without the terminal colour codes."""
    return re.sub(r"\x1b\[[0-9;]*m", "", str(exc))


def test_the_runner_uses_the_folder_and_size_and_reports_the_failing_cell(tmp_path, monkeypatch):
    for name, value in isolated_environment("small", tmp_path, "Agg").items():
        monkeypatch.setenv(name, value)
    cells = [
        "import os, sys, matplotlib\nprint(os.getcwd(), os.environ['MFPDE_NOTEBOOK_SIZE'], "
        "sys.prefix, matplotlib.get_backend())",
        "assert 1 + 1 == 3, 'the claim fails here'",
        "print('never reached')",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    with pytest.raises(CellExecutionError) as info:
        execute(nb, tmp_path)
    assert "AssertionError: the claim fails here" in cell_error(info.value)
    printed = nb.cells[0].outputs[0]["text"].split()
    assert printed == [str(tmp_path), "small", sys.prefix, "Agg"]  # this venv's kernel
    assert not nb.cells[2].outputs


def test_the_notebooks_are_here():
    names = {p.name for p in NOTEBOOKS}
    assert {"001_kernelised_fisher_rao_chaos.ipynb", "002_two_layer_network.ipynb"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_without_outputs_and_follows_the_conventions(path):
    nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    assert nb.nbformat == 4
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and not any(c.outputs or c.execution_count is not None for c in code), (
        f"{path.name} carries outputs: clear them before committing"
    )
    assert SIZE_LINE in code[0].source, f"{path.name}: the first code cell must read {SIZE_LINE}"
    assert any(c.cell_type == "markdown" for c in nb.cells)
    assert "assert" in code[-1].source, f"{path.name} must end with its assert cell(s)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_at_small_size(path, tmp_path, monkeypatch):
    for name, value in isolated_environment("small", tmp_path, "Agg").items():
        monkeypatch.setenv(name, value)
    folder = sorted(path.parent.iterdir())
    try:
        execute(nbformat.read(path, as_version=4), tmp_path)
    except CellExecutionError as exc:
        pytest.fail(f"{path.name}: a cell failed:\n{cell_error(exc)}", pytrace=False)
    assert sorted(path.parent.iterdir()) == folder  # nothing written into the repository


def main(argv: list[str] | None = None) -> int:
    """Run every notebook at ``--size``, write the executed copies (outputs and inline figures)
    to ``--out``; exit 1 if any failed (each failure is reported, the others still run)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--size", default="full", choices=("small", "full"))
    parser.add_argument("--out", type=Path, default=ROOT / "notebooks" / "out")
    parser.add_argument("names", nargs="*", help="notebook file names (default: all of them)")
    args = parser.parse_args(argv)
    unknown = set(args.names) - {p.name for p in NOTEBOOKS}
    if unknown:
        parser.error(f"no notebook {sorted(unknown)[0]!r} in notebooks/")
    args.out.mkdir(parents=True, exist_ok=True)
    failed = []
    with tempfile.TemporaryDirectory() as scratch:
        backend = "module://matplotlib_inline.backend_inline"  # figures kept in the outputs
        os.environ.update(isolated_environment(args.size, Path(scratch), backend))
        for path in [p for p in NOTEBOOKS if not args.names or p.name in args.names]:
            nb, status, start = nbformat.read(path, as_version=4), "ok", time.perf_counter()
            try:
                execute(nb, args.out)
            except CellExecutionError as exc:
                status = "FAILED"
                failed.append(path.name)
                print(f"{path.name}: a cell failed:\n{cell_error(exc)}", file=sys.stderr)
            seconds = time.perf_counter() - start
            print(f"{status:6} {path.name} ({args.size}, {seconds:.1f} s)", flush=True)
            nbformat.write(nb, args.out / path.name)  # the outputs up to a failing cell
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
