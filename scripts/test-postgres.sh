#!/usr/bin/env bash
# Starts (or reuses) a throwaway Postgres server for the test suite and prints its
# DATABASE_URL. Tests create one database per test in it (#[sqlx::test]), so one server
# serves the whole run. Root cannot run postgres, so the cluster belongs to the
# `postgres` system user (or `nobody` where that user does not exist).
set -euo pipefail

PORT="${PAAS_TEST_PG_PORT:-55432}"
DIR="${PAAS_TEST_PG_DIR:-/tmp/paas-test-pg}"
BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
[ -x "$BIN/initdb" ] || { echo "test-postgres: no Postgres server binaries under /usr/lib/postgresql" >&2; exit 1; }

owner=postgres
id "$owner" >/dev/null 2>&1 || owner=nobody
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u "$owner" -- "$@"; else "$@"; fi
}

url="postgres://postgres@127.0.0.1:${PORT}/postgres"
if as_owner "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" 2>/dev/null; then
  echo "$url"
  exit 0
fi

if [ ! -f "$DIR/PG_VERSION" ]; then
  rm -rf "$DIR"
  mkdir -p "$DIR"
  [ "$(id -u)" = 0 ] && chown "$owner" "$DIR"
  as_owner "$BIN/initdb" -D "$DIR" -U postgres --auth=trust --no-sync -E UTF8 >/dev/null
fi
# Throwaway data: durability off makes per-test database creation fast.
as_owner "$BIN/pg_ctl" -D "$DIR" -l "$DIR/server.log" -w -t 60 start -o \
  "-h 127.0.0.1 -p $PORT -k $DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" >/dev/null
echo "$url"
