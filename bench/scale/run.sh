#!/usr/bin/env bash
# Supervisor benchmark (issue: run the formation). On this machine, with a release build
# of paasd, its embedded Postgres and the local Docker Engine, for the procfile-shell
# fixture (a Python http.server web process), N times (default 3):
#   scale  — PATCH formation web=0 → web=10, until the dynos API shows ten `up` dynos
#            (up = the supervisor connected to $PORT)
#   rollout — a config change with web=3, until all three run the new release and are up
#   docker — the same ten containers by plain `docker run -d`, until all accept TCP
# Prints every run and the medians. PAASD=path uses that paasd binary instead of a
# release build.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS="${RUNS:-3}"
source scripts/lib.sh
ensure_packages
ensure_dockerd
ensure_stack_image "${PAAS_STACK_IMAGE:-paas/stack:bookworm}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
paasd="${PAASD:-}"
if [ -z "$paasd" ]; then
  cargo build --release --locked -q -p paasd
  paasd="$CARGO_TARGET_DIR/release/paasd"
fi

work=$(mktemp -d /tmp/paas-bench-scale.XXXXXX)
chmod 755 "$work"
instance="bench-$$"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export PAAS_DATA_DIR="$work/data" PAAS_API_ADDR="127.0.0.1:$port" PAAS_LOG_FORMAT=json \
  PAAS_BUILDPACKS_DIR="$PWD/buildpacks" PAAS_INSTANCE="$instance" PAAS_DYNO_GRACE=2
unset DATABASE_URL
"$paasd" >"$work/paasd.log" 2>&1 &
pid=$!
cleanup() {
  kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true
  # (two --filter label=… flags must both match, so one command per label)
  docker ps -aq --filter "label=paas.instance=$instance" | xargs -r docker rm -f >/dev/null
  docker ps -aq --filter "label=paas.bench=$instance" | xargs -r docker rm -f >/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
token=$("$paasd" tokens create --name bench 2>/dev/null)
api() { curl -fsS -X "$1" -H "Authorization: Bearer $token" -H 'content-type: application/json' ${3:+-d "$3"} "http://127.0.0.1:$port$2"; }
now() { date +%s.%N; }
elapsed() { awk "BEGIN{printf \"%.2f\", $2 - $1}"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
up_count() { api GET "/apps/$1/dynos" | python3 -c 'import json,sys; print(sum(1 for d in json.load(sys.stdin) if d["type"]=="web" and d["state"]=="up"))'; }
up_at_version() { api GET "/apps/$1/dynos" | python3 -c "import json,sys; print(sum(1 for d in json.load(sys.stdin) if d['type']=='web' and d['state']=='up' and (d['release'] or {}).get('version')==$2))"; }
wait_for() { local deadline=$(( $(date +%s) + 120 )); until [ "$("$@")" = "${WANT}" ]; do [ "$(date +%s)" -lt $deadline ] || { echo "timed out: $*" >&2; exit 1; }; sleep 0.05; done; }

app=bench-app
api POST /apps "{\"name\":\"$app\"}" >/dev/null
repo="$work/repo"; cp -a tests/fixtures/apps/procfile-shell "$repo"
git -C "$repo" init -q -b main && git -C "$repo" add -A && git -C "$repo" -c user.name=b -c user.email=b@b commit -qm app
git -C "$repo" push -q "http://git:$token@127.0.0.1:$port/$app.git" main 2>/dev/null
image=$(docker ps --filter "label=paas.instance=$instance" --format '{{.Image}}' | head -n1)
[ -n "$image" ] || image=$(docker images "paas/$app" -q | head -n1)

scales=() rollouts=() dockers=()
for i in $(seq 1 "$RUNS"); do
  api PATCH "/apps/$app/formation" '{"updates":[{"type":"web","quantity":0}]}' >/dev/null
  WANT=0 wait_for up_count "$app"
  sleep 3  # let the retired dynos finish stopping
  t0=$(now)
  api PATCH "/apps/$app/formation" '{"updates":[{"type":"web","quantity":10}]}' >/dev/null
  WANT=10 wait_for up_count "$app"
  scale=$(elapsed "$t0" "$(now)")

  api PATCH "/apps/$app/formation" '{"updates":[{"type":"web","quantity":3}]}' >/dev/null
  WANT=3 wait_for up_count "$app"
  sleep 3
  t0=$(now)
  version=$(api PATCH "/apps/$app/config-vars" "{\"RUN\":\"$i\"}" >/dev/null; api GET "/apps/$app/releases" | python3 -c 'import json,sys; print(max(r["version"] for r in json.load(sys.stdin)))')
  WANT=3 wait_for up_at_version "$app" "$version"
  rollout=$(elapsed "$t0" "$(now)")

  t0=$(now)
  ids=()
  for n in $(seq 1 10); do
    ids+=("$(docker run -d --label "paas.bench=$instance" -e PORT=5000 --entrypoint /bin/sh "$image" -c 'cd /app && exec ./server.sh')")
  done
  for id in "${ids[@]}"; do
    ip=$(docker inspect --format '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$id")
    until python3 -c "import socket,sys; socket.create_connection(('$ip',5000),0.2)" 2>/dev/null; do sleep 0.02; done
  done
  plain=$(elapsed "$t0" "$(now)")
  docker rm -f "${ids[@]}" >/dev/null
  scales+=("$scale") rollouts+=("$rollout") dockers+=("$plain")
  echo "run $i: scale web=0→10 ${scale}s, rollout of 3 web dynos ${rollout}s, plain docker run ×10 ${plain}s"
done
echo "median of $RUNS: scale web=0→10 $(printf '%s\n' "${scales[@]}" | median)s," \
  "rollout of 3 $(printf '%s\n' "${rollouts[@]}" | median)s, plain docker run ×10 $(printf '%s\n' "${dockers[@]}" | median)s"
