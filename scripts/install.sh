#!/usr/bin/env bash
# Install what encore needs on a fresh Debian machine: Redis, Java + Maven (Kafka's
# jars come from Maven Central at `encore cluster up`), docker-compose (only to
# validate the compose file), and the Python environment pinned by constraints.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v redis-server >/dev/null || need_apt+=(redis-server)
command -v java >/dev/null || need_apt+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || need_apt+=(maven)
command -v docker-compose >/dev/null || need_apt+=(docker-compose)
if [ "${ENCORE_BROWSER_TESTS:-1}" = 1 ] && ! command -v chromium >/dev/null; then need_apt+=(chromium fonts-dejavu-core); fi
if ((${#need_apt[@]})); then
  echo ">> apt-get install ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo ">> creating .venv"
  python3 -m venv .venv
fi
echo ">> pip install -e .[dev] (pinned by constraints.txt)"
.venv/bin/pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
