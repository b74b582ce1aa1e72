#!/usr/bin/env bash
# Every check of the project: lint, format, the MPI tests, then the serial tests with doctests.
#   bash tools/test.sh
# Every part runs; the exit code is non-zero if any failed, and the failed parts are named.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source tools/setup.sh
bin="$MFPDE_VENV/bin"
failed=()

part() {  # part NAME COMMAND...: run one part, remember it if it fails
    local name="$1"
    shift
    echo "== $name: $*"
    if ! "$@"; then
        failed+=("$name")
    fi
}

part "ruff check" "$bin/ruff" check .
part "ruff format" "$bin/ruff" format --check .
# MPI first, so that the last test summary printed is the serial one, which counts every test.
part "MPI tests" "$bin/mpiexec" -n 2 "$bin/python" -m pytest --with-mpi -q -p no:cacheprovider tests/mpi
part "serial tests" "$bin/python" -m pytest -q -p no:cacheprovider --doctest-glob=README.md \
    tests mfpde README.md

if ((${#failed[@]})); then
    echo "FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "all checks passed"
