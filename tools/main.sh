#!/usr/bin/env bash
# The main job: set up the environment, then solve the flows and write out/main (README).
#   bash tools/main.sh [-o OUTDIR] [-q]    (OUTDIR relative to the repository root)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source tools/setup.sh
exec "$MFPDE_VENV/bin/python" -m mfpde.verification.main_job "$@"
