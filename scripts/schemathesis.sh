#!/usr/bin/env bash
# Installs schemathesis from PyPI once (pinned version) into a venv in the shared cache
# and prints the path of its executable.
#
#   SCHEMATHESIS_VERSION   version to install (default below)
#   PAAS_CACHE_DIR         cache root (default /var/cache/paas)
set -euo pipefail
version="${SCHEMATHESIS_VERSION:-4.32.5}"
venv="${PAAS_CACHE_DIR:-/var/cache/paas}/schemathesis-$version"
bin="$venv/bin/schemathesis"
if [ ! -x "$bin" ]; then
  mkdir -p "$(dirname "$venv")"
  exec 9>"$venv.lock"
  flock 9
  if [ ! -x "$bin" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version" >&2
  fi
fi
echo "$bin"
