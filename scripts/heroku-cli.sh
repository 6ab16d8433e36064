#!/usr/bin/env bash
# Installs the official heroku CLI from the npm registry once (pinned version) into a cache
# directory shared by test runs, and prints the path of its executable.
#
#   HEROKU_CLI_VERSION   version to install (default below)
#   PAAS_CACHE_DIR       cache root (default /var/cache/paas)
set -euo pipefail
version="${HEROKU_CLI_VERSION:-10.17.0}"
prefix="${PAAS_CACHE_DIR:-/var/cache/paas}/heroku-cli-$version"
bin="$prefix/node_modules/.bin/heroku"
if [ ! -x "$bin" ]; then
  mkdir -p "$prefix"
  # One installer at a time: parallel tests all call this script.
  exec 9>"$prefix.lock"
  flock 9
  if [ ! -x "$bin" ]; then
    npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error "heroku@$version" >&2
  fi
fi
echo "$bin"
