#!/usr/bin/env bash
# Supervisor benchmark on a Swarm (issue 17), next to bench/scale/run.sh's single-engine
# figures: paasd (PAAS_RUNTIME=swarm, its embedded Postgres) on the manager of
# scripts/swarm-cluster.sh's cluster (a manager and two workers, each a dockerd in its
# own network namespace), a `git push` of the procfile-shell fixture, then RUNS times
# (default 3):
#   scale   — PATCH formation web=0 → web=10, until the dynos API shows ten `up` dynos
#             (up = paasd connected to the node address and published port)
#   rollout — a config change with web=4, until all four run the new release and are up
# and once, from paasd's log: how long the first push of the release image to the
# registry took. Prints every run and the medians. The cluster stays up
# (`scripts/swarm-cluster.sh down` removes it). PAASD=path uses that paasd binary
# instead of a release build.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS="${RUNS:-3}"
source scripts/lib.sh
ensure_packages
ensure_dockerd
ensure_stack_image "${PAAS_STACK_IMAGE:-paas/stack:bookworm}"
eval "$(scripts/swarm-cluster.sh up 2 | sed 's/^/export /')"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
if [ -z "${PAASD:-}" ]; then
  cargo build --release --locked -q -p paasd
  PAASD="$CARGO_TARGET_DIR/release/paasd"
fi

work=$(mktemp -d /tmp/paas-bench-swarm.XXXXXX)
chmod 755 "$work"
instance="bench-$$"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
rport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export DOCKER_HOST="$PAAS_SWARM_MANAGER" PAAS_RUNTIME=swarm PAAS_REGISTRY \
  PAAS_DATA_DIR="$work/data" PAAS_API_ADDR="127.0.0.1:$port" PAAS_ROUTER_ADDR="127.0.0.1:$rport" \
  PAAS_ROUTER_TLS_ADDR=off PAAS_TLS_ADDR=off PAAS_LOG_FORMAT=json \
  PAAS_BUILDPACKS_DIR="$PWD/buildpacks" PAAS_INSTANCE="$instance" PAAS_DYNO_GRACE=2
unset DATABASE_URL
"$PAASD" >"$work/paasd.log" 2>&1 &
pid=$!
cleanup() {
  kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true
  docker service ls -q --filter "label=paas.instance=$instance" | xargs -r docker service rm >/dev/null
  cp "$work/paasd.log" /tmp/paas-bench-swarm-paasd.log 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 1 300); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
token=$("$PAASD" tokens create --name bench 2>/dev/null)
api() { curl -fsS -X "$1" -H "Authorization: Bearer $token" -H 'content-type: application/json' ${3:+-d "$3"} "http://127.0.0.1:$port$2"; }
now() { date +%s.%N; }
elapsed() { awk "BEGIN{printf \"%.2f\", $2 - $1}"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
up_count() { api GET "/apps/$1/dynos" | python3 -c 'import json,sys; print(sum(1 for d in json.load(sys.stdin) if d["type"]=="web" and d["state"]=="up"))'; }
up_at_version() { api GET "/apps/$1/dynos" | python3 -c "import json,sys; print(sum(1 for d in json.load(sys.stdin) if d['type']=='web' and d['state']=='up' and (d['release'] or {}).get('version')==$2))"; }
nodes_used() { api GET "/apps/$1/dynos" | python3 -c 'import json,sys; print(len({d.get("node") for d in json.load(sys.stdin) if d["state"]=="up"}))'; }
wait_for() { local deadline=$(( $(date +%s) + 300 )); until [ "$("$@")" = "${WANT}" ]; do [ "$(date +%s)" -lt $deadline ] || { echo "timed out: $*" >&2; exit 1; }; sleep 0.05; done; }

app=bench-app
api POST /apps "{\"name\":\"$app\"}" >/dev/null
repo="$work/repo"; cp -a tests/fixtures/apps/procfile-shell "$repo"
git -C "$repo" init -q -b main && git -C "$repo" add -A && git -C "$repo" -c user.name=b -c user.email=b@b commit -qm app
t0=$(now)
git -C "$repo" push -q "http://git:$token@127.0.0.1:$port/$app.git" main 2>/dev/null
WANT=1 wait_for up_count "$app"
echo "first deploy (push, build on the manager, image to the registry, web.1 up): $(elapsed "$t0" "$(now)")s"
grep -o '"secs":[0-9.]*' "$work/paasd.log" | head -n1 | sed 's/"secs":/  of which pushing the image to the registry: /; s/$/s/' || true
echo "  answer through the router: $(curl -fsS -H "Host: $app.localhost" "http://127.0.0.1:$rport/" | head -c 60)"

scales=() rollouts=()
for i in $(seq 1 "$RUNS"); do
  api PATCH "/apps/$app/formation" '{"updates":[{"type":"web","quantity":0}]}' >/dev/null
  WANT=0 wait_for up_count "$app"
  sleep 3
  t0=$(now)
  api PATCH "/apps/$app/formation" '{"updates":[{"type":"web","quantity":10}]}' >/dev/null
  WANT=10 wait_for up_count "$app"
  scale=$(elapsed "$t0" "$(now)")
  spread=$(nodes_used "$app")

  api PATCH "/apps/$app/formation" '{"updates":[{"type":"web","quantity":4}]}' >/dev/null
  WANT=4 wait_for up_count "$app"
  sleep 3
  t0=$(now)
  version=$(api PATCH "/apps/$app/config-vars" "{\"RUN\":\"$i\"}" >/dev/null; api GET "/apps/$app/releases" | python3 -c 'import json,sys; print(max(r["version"] for r in json.load(sys.stdin)))')
  WANT=4 wait_for up_at_version "$app" "$version"
  rollout=$(elapsed "$t0" "$(now)")
  scales+=("$scale") rollouts+=("$rollout")
  echo "run $i: scale web=0→10 ${scale}s (on $spread nodes), rollout of 4 web dynos ${rollout}s"
done
echo "median of $RUNS: scale web=0→10 $(printf '%s\n' "${scales[@]}" | median)s," \
  "rollout of 4 $(printf '%s\n' "${rollouts[@]}" | median)s"
