#!/usr/bin/env bash
# Authenticated API benchmark (issue 14): wrk against paasd on its embedded Postgres, on
# loopback. Every request carries a token, so this measures the auth path (the token
# cache, no database round trip per request) plus the handler:
#   GET /apps/{app}              16 and 64 connections
#   GET /apps                    with 50 apps
#   PATCH /apps/{app}/config-vars   each request writes a release
# and, for the last one, the floor Postgres sets: pgbench running the same write
# transaction shape (lock the app row, upsert the var, bump the version, insert the
# release and its status) on the same cluster. Then a token is revoked by a separate
# `paasd tokens revoke` process and the next request must be refused.
#   PAASD (default: a release build), DURATION (10s), THREADS (2)
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION="${DURATION:-10s}" THREADS="${THREADS:-2}"
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
if [ -z "${PAASD:-}" ]; then
  cargo build --release --locked -q -p paasd
  PAASD="$CARGO_TARGET_DIR/release/paasd"
fi
pgbin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

work="$(mktemp -d /tmp/paas-bench-auth.XXXXXX)"
chmod 755 "$work" # the embedded cluster runs as `postgres` under root
port="$(free_port)"
export PAAS_DATA_DIR="$work" PAAS_API_ADDR="127.0.0.1:$port" PAAS_INSTANCE="bench-auth-$port"
export PAAS_ROUTER_ADDR="127.0.0.1:$(free_port)" PAAS_TLS_ADDR=off PAAS_ROUTER_TLS_ADDR=off PAAS_ACME_DIRECTORY=off
export PAAS_LOG_FORMAT=json RUST_LOG=warn
unset DATABASE_URL
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
"$PAASD" >"$work/paasd.log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do
  curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/paasd.log" >&2; exit 1; }
  sleep 0.2
done
token="$("$PAASD" tokens create --name bench)"
api() { curl -sf -o /dev/null -H "Authorization: Bearer $token" -H 'Content-Type: application/json' "$@"; }
api -X POST -d '{"name":"bench"}' "http://127.0.0.1:$port/apps"
api -X POST -d '{"name":"bench-floor"}' "http://127.0.0.1:$port/apps"
for i in $(seq -w 3 50); do api -X POST -d "{\"name\":\"bench-$i\"}" "http://127.0.0.1:$port/apps"; done

to_ms() { awk '{ v=$1; if (v ~ /us$/) { sub(/us$/,"",v); v/=1000 } else if (v ~ /ms$/) { sub(/ms$/,"",v) } else if (v ~ /s$/) { sub(/s$/,"",v); v*=1000 } printf "%.2f", v }' <<<"$1"; }
cat >"$work/patch.lua" <<'LUA'
-- wrk.format's headers argument would replace -H's (the token): add to them instead.
wrk.headers["Content-Type"] = "application/json"
local n = 0
request = function()
  n = n + 1
  return wrk.format("PATCH", nil, nil, '{"N":"' .. n .. '"}')
end
LUA
run() { # label connections path [lua]
  local out rps p50 p99 errors script=()
  [ -n "${4:-}" ] && script=(-s "$4")
  out=$(wrk -t"$THREADS" -c"$2" -d"$DURATION" --latency "${script[@]}" -H "Authorization: Bearer $token" "http://127.0.0.1:$port$3")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(to_ms "$(awk '$1=="50%" {print $2}' <<<"$out")")
  p99=$(to_ms "$(awk '$1=="99%" {print $2}' <<<"$out")")
  errors=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out" | tr '\n' ' ')
  printf '  %-34s c=%-3s %10s req/s   p50 %6s ms   p99 %7s ms   %s\n' "$1" "$2" "$rps" "$p50" "$p99" "$errors"
}
echo "paasd: $PAASD"
run "GET /apps/{app}" 16 /apps/bench
run "GET /apps/{app}" 64 /apps/bench
run "GET /apps (50 apps)" 16 /apps
run "GET /apps (50 apps)" 64 /apps
run "PATCH /apps/{app}/config-vars" 16 /apps/bench/config-vars "$work/patch.lua"

# The floor: the same transaction shape straight from pgbench on the same cluster.
cat >"$work/release.sql" <<'SQL'
\set n random(1, 1000000000)
BEGIN;
SELECT app_id FROM app WHERE name = 'bench-floor' FOR UPDATE;
INSERT INTO config_var (app_id, key, value) SELECT app_id, 'N', :n FROM app WHERE name = 'bench-floor'
  ON CONFLICT (app_id, key) DO UPDATE SET value = excluded.value;
WITH a AS (UPDATE app SET release_seq = release_seq + 1, updated_at = now() WHERE name = 'bench-floor' RETURNING app_id, release_seq),
     r AS (INSERT INTO release (release_id, app_id, version, config, description)
           SELECT gen_random_uuid(), app_id, release_seq, jsonb_build_object('N', :n::text), 'Set N config vars' FROM a
           RETURNING release_id)
INSERT INTO release_status (release_id, status) SELECT release_id, 'succeeded' FROM r;
COMMIT;
SQL
secs="${DURATION%s}"
out=$(runuser -u postgres -- "$pgbin/pgbench" -h "$work/run" -U postgres -n -c 16 -j 2 -T "$secs" -f "$work/release.sql" paas 2>&1 || true)
printf '  %-34s c=16  %10s tx/s    avg %s ms (pgbench, same cluster)\n' "floor: the release transaction" \
  "$(awk -F'= ' '/^tps/ {split($2,a," "); print a[1]}' <<<"$out")" "$(awk -F'= ' '/latency average/ {split($2,a," "); print a[1]}' <<<"$out")"

# Revocation by another process takes effect at once.
"$PAASD" tokens revoke bench >/dev/null
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "http://127.0.0.1:$port/apps/bench")
echo "  revoked by a separate process, the next request: HTTP $code"
[ "$code" = 401 ]
