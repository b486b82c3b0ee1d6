#!/usr/bin/env bash
# The test command (README, .ci/run): install what the suite needs, then run it.
# Integration tests start the real Kafka + Redis themselves through `encore cluster up`.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v redis-server >/dev/null || need_apt+=(redis-server)
command -v mvn >/dev/null || need_apt+=(maven)
command -v java >/dev/null || need_apt+=(openjdk-17-jre-headless)
command -v docker-compose >/dev/null || need_apt+=(docker-compose)
if ((${#need_apt[@]})); then
  echo ">> apt-get install ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

if [ ! -x .venv/bin/python ]; then
  echo ">> creating .venv"
  python3 -m venv .venv
fi
echo ">> pip install (constraints.txt)"
.venv/bin/pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'

echo ">> ruff"
.venv/bin/ruff check .
echo ">> mypy models/"
.venv/bin/mypy
echo ">> pytest"
exec .venv/bin/python -m pytest "$@"
