#!/usr/bin/env bash
# Run every notebook of notebooks/ at the size of its figures (MFPDE_NOTEBOOK_SIZE=full) and keep
# the executed copies, with their outputs and figures, in a folder (default notebooks/out/):
#   bash tools/notebooks.sh [OUT [NOTEBOOK.ipynb ...]]   (default: all notebooks)
# Exit code non-zero if any notebook failed (the others still run; each failure is printed).
# The test command runs the same notebooks at their small size (tests/test_notebooks.py).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source tools/setup.sh
exec "$MFPDE_VENV/bin/python" tests/test_notebooks.py --size full --out "${1:-notebooks/out}" "${@:2}"
