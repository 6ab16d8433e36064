#!/usr/bin/env bash
# Add-on benchmark (issue 16), against a release paasd of its own (bench/lib.sh), the
# service image already made (a first add-on is created and destroyed before timing):
#   create  — `paas addons:create postgresql` (it returns once paasd's readiness check,
#             a TLS login as the add-on's user, succeeds), then psql with the app's
#             DATABASE_URL (sslmode=require) from a container on the app's network,
#             retried until it answers: the time is until that first answer. RUNS times
#             (default 3), each add-on destroyed after, the median printed.
#   pgbench — select-only (-S), 8 clients, 2 threads, SECS seconds (default 20), from a
#             container on the app's network against the add-on through its URL, and
#             the same against a plain container of the same service image (same entry
#             script, so the same TLS, memory limit, shared_buffers and connection
#             limit, on a named volume, no paasd) on a bridge network of its own; both
#             initialised with `pgbench -i -s SCALE` (default 10). ROUNDS (default 2)
#             alternate add-on / plain; the ratio is of the median tps.
# Clients run in containers on Docker bridge networks; nothing is sent from the host to
# a container address. The load average is printed with the figures (other builds may
# share the machine).
#   PAASD=path (default: a release build), CARGO_TARGET_DIR
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS="${RUNS:-3}" SECS="${SECS:-20}" SCALE="${SCALE:-10}" ROUNDS="${ROUNDS:-2}"
source bench/lib.sh
# On a loaded machine paasd can take longer than lib.sh's wait to answer.
for _ in $(seq 1 600); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
if [ -n "${PAAS:-}" ]; then
  paas=$PAAS
else
  cargo build --release --locked -q -p paas-cli
  paas="$CARGO_TARGET_DIR/release/paas"
fi
export PAAS_API_URL="http://127.0.0.1:$port" PAAS_API_TOKEN="$token"
image=paas/addon_postgresql:17
plain="paas-bench-plain-$$"
addons_cleanup() {
  docker rm -f "$plain" >/dev/null 2>&1 || true
  docker volume rm -f "$plain" >/dev/null 2>&1 || true
  docker network rm "$plain" >/dev/null 2>&1 || true
  docker volume ls -q --filter "label=paas.instance=$instance" | xargs -r docker volume rm -f >/dev/null 2>&1 || true
  bench_cleanup
}
trap addons_cleanup EXIT
load() { cut -d' ' -f1-3 /proc/loadavg; }
addon_name() { "$paas" addons -a "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["name"])'; }
# psql / pgbench in a throwaway container of the service image on network $1.
on_net() { local net=$1; shift; docker run --rm --network "$net" --entrypoint "$1" "$image" "${@:2}"; }

app="${prefix}db"
(cd "$work" && "$paas" apps:create "$app" >/dev/null)  # not a git remote of this checkout
net="paas-$instance-$app"
# The service image is made (or found) once, before the runs.
"$paas" addons:create postgresql -a "$app" >/dev/null 2>&1
first=$(addon_name "$app")
"$paas" addons:destroy "$first" --confirm "$first" -a "$app" >/dev/null 2>&1

echo "== addons:create postgresql until its URL answers (load before: $(load))"
creates=() answers=()
for i in $(seq 1 "$RUNS"); do
  start=$(now)
  "$paas" addons:create postgresql -a "$app" >/dev/null 2>&1
  c=$(elapsed "$start" "$(now)")
  url=$("$paas" config:get DATABASE_URL -a "$app")
  until on_net "$net" psql "$url?sslmode=require&connect_timeout=2" -Atc 'select 1' >/dev/null 2>&1; do sleep 0.1; done
  t=$(elapsed "$start" "$(now)")
  creates+=("$c") answers+=("$t")
  echo "run $i: addons:create returned after ${c}s; a client on the app's network got an answer after ${t}s (load $(load))"
  if [ "$i" -lt "$RUNS" ]; then
    name=$(addon_name "$app")
    "$paas" addons:destroy "$name" --confirm "$name" -a "$app" >/dev/null 2>&1
  fi
done
echo "median of $RUNS: addons:create $(printf '%s\n' "${creates[@]}" | median)s, URL answering $(printf '%s\n' "${answers[@]}" | median)s (target ≤ 10 s)"

# The add-on kept from the last run, and a plain container made like it.
url=$("$paas" config:get DATABASE_URL -a "$app")
name=$(addon_name "$app")
env_of() { docker inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "paas-$instance-addon-$name" | grep "^$1=" | cut -d= -f2-; }
memory=$(docker inspect --format '{{.HostConfig.Memory}}' "paas-$instance-addon-$name")
docker network create "$plain" >/dev/null
docker run -d --name "$plain" --network "$plain" --user postgres \
  --memory "$memory" --memory-swap "$memory" --pids-limit 512 --cap-drop ALL \
  --security-opt no-new-privileges -v "$plain:/var/lib/postgresql/data" \
  -e PAAS_ADDON_USER=bench -e PAAS_ADDON_PASSWORD=bench -e PAAS_ADDON_DB=bench \
  -e PAAS_ADDON_HOST="$plain" -e PAAS_ADDON_MAX_CONNECTIONS="$(env_of PAAS_ADDON_MAX_CONNECTIONS)" \
  -e PAAS_ADDON_SHARED_BUFFERS="$(env_of PAAS_ADDON_SHARED_BUFFERS)" \
  "$image" paas-addon-entry >/dev/null
plain_url="postgres://bench:bench@$plain:5432/bench"
until on_net "$plain" psql "$plain_url?sslmode=require&connect_timeout=2" -Atc 'select 1' >/dev/null 2>&1; do sleep 0.2; done

on_net "$net" pgbench -q -i -s "$SCALE" "$url?sslmode=require" >/dev/null 2>&1
on_net "$plain" pgbench -q -i -s "$SCALE" "$plain_url?sslmode=require" >/dev/null 2>&1
tps() { on_net "$1" pgbench -S -c 8 -j 2 -T "$SECS" -n "$2?sslmode=require" 2>/dev/null | awk '/^tps/ {print $3; exit}'; }
echo "== pgbench -S -c 8 -j 2 -T $SECS, scale $SCALE, sslmode=require"
addon_tps=() plain_tps=()
for r in $(seq 1 "$ROUNDS"); do
  a=$(tps "$net" "$url"); addon_tps+=("$a")
  echo "round $r: add-on $a tps (load $(load))"
  p=$(tps "$plain" "$plain_url"); plain_tps+=("$p")
  echo "round $r: plain container $p tps (load $(load))"
done
am=$(printf '%s\n' "${addon_tps[@]}" | median)
pm=$(printf '%s\n' "${plain_tps[@]}" | median)
echo "median: add-on $am tps, plain $pm tps, ratio $(awk "BEGIN{printf \"%.3f\", $am / $pm}") (target ≥ 0.95); load after: $(load)"
