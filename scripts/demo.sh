#!/usr/bin/env bash
# The main job (README): install, then `encore demo` (cluster up, replay, learn, serve).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/encore demo "$@"
