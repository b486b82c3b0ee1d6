#!/usr/bin/env bash
# The test command (README, .ci/run): install, lint, type-check, then the whole suite.
# Integration, e2e and fault tests start the real Kafka + Redis themselves (`encore cluster up`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
echo ">> ruff"
.venv/bin/ruff check .
echo ">> mypy (models/)"
.venv/bin/mypy
echo ">> pytest"
exec .venv/bin/python -m pytest "$@"
