#!/usr/bin/env bash
# Create or refresh the project's virtual environment (idempotent; sourced by main.sh, test.sh).
#
#   bash tools/setup.sh        # or: source tools/setup.sh (then $MFPDE_VENV is set)
#
# Creates $MFPDE_VENV (default: .venv at the repository root) with Python 3.12 and installs
# mfpde editable with its test extras, at the versions pinned in tools/constraints.txt. The
# install is skipped while .venv/.mfpde-stamp holds the hash of pyproject.toml and
# tools/constraints.txt; pip's output is shown only if it fails.

mfpde_setup() {
    local root venv stamp hash python log
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    venv="${MFPDE_VENV:-$root/.venv}"
    stamp="$venv/.mfpde-stamp"
    hash="$(cat "$root/pyproject.toml" "$root/tools/constraints.txt" | sha256sum | cut -d' ' -f1)"

    if [[ -x "$venv/bin/python" ]] && [[ -f "$stamp" ]] && [[ "$(cat "$stamp")" == "$hash" ]]; then
        MFPDE_VENV="$venv"
        return 0
    fi

    if ! "$venv/bin/python" -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null; then
        python=""
        if PYENV_VERSION=3.12.1 python3.12 -c 'pass' 2>/dev/null; then
            python="$(PYENV_VERSION=3.12.1 python3.12 -c 'import sys; print(sys.executable)')"
        elif command -v pyenv >/dev/null && [[ -x "$(pyenv root)/versions/3.12.1/bin/python" ]]; then
            python="$(pyenv root)/versions/3.12.1/bin/python"
        else
            echo "setup: Python 3.12 not found (tried 'PYENV_VERSION=3.12.1 python3.12' and" \
                "'\$(pyenv root)/versions/3.12.1/bin/python'); install Python 3.12 and retry" >&2
            return 1
        fi
        echo "setup: creating $venv with $python" >&2
        rm -rf "$venv"
        "$python" -m venv "$venv" || return 1
    fi

    echo "setup: installing mfpde and its pinned dependencies into $venv" >&2
    log="$(mktemp)"
    if ! (cd "$root" && PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip install \
        -q -c tools/constraints.txt -e ".[test]") >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        echo "setup: pip install failed (output above)" >&2
        return 1
    fi
    rm -f "$log"
    echo "$hash" >"$stamp"
    MFPDE_VENV="$venv"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    set -euo pipefail
    mfpde_setup
else
    mfpde_setup || return 1
fi
