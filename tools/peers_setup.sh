#!/usr/bin/env bash
# The peers' venv for benchmarks/peers.py: py-pde, FiPy and fplanck in .venv-peers (Python 3.12),
# never in .venv. Skipped when the venv already has the pinned versions.
#   bash tools/peers_setup.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PEERS="py-pde==0.60.0 fipy==4.0.3 fplanck==1.0.2"
if [ -x .venv-peers/bin/python ] && .venv-peers/bin/python -c "
import importlib.metadata as m, sys
want = dict(p.split('==') for p in '$PEERS'.split())
sys.exit(any(m.version(k) != v for k, v in want.items()))" 2>/dev/null; then
  exit 0
fi
PYENV_VERSION=3.12.1 python3.12 -m venv .venv-peers
.venv-peers/bin/python -m pip install -q --disable-pip-version-check $PEERS
