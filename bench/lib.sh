# Shared by the bench scripts: a release paasd of its own (embedded Postgres, its own
# instance label, free ports), its token, API helpers and statistics. Source it from the
# repository root; it sets $work, $port, $router_port, $token, $pid and an EXIT trap
# (`bench_cleanup`). PAASD=path uses that paasd binary instead of building a release one.
set -euo pipefail
source scripts/lib.sh
ensure_packages
ensure_dockerd
ensure_stack_image "${PAAS_STACK_IMAGE:-paas/stack:bookworm}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
if [ -n "${PAASD:-}" ]; then
  paasd=$PAASD
else
  cargo build --release --locked -q -p paasd
  paasd="$CARGO_TARGET_DIR/release/paasd"
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
work=$(mktemp -d /tmp/paas-bench.XXXXXX)
chmod 755 "$work"
instance="bench-$$"
prefix="b$$-"   # of every app a bench makes
port=$(free_port)
router_port=$(free_port)
export PAAS_DATA_DIR="$work/data" PAAS_API_ADDR="127.0.0.1:$port" PAAS_LOG_FORMAT=json \
  PAAS_ROUTER_ADDR="127.0.0.1:$router_port" PAAS_ROUTER_TLS_ADDR="127.0.0.1:$(free_port)" \
  PAAS_TLS_ADDR="127.0.0.1:$(free_port)" \
  PAAS_INSTANCE="$instance" PAAS_DYNO_GRACE=2
unset DATABASE_URL
"$paasd" >"$work/paasd.log" 2>&1 &
pid=$!
bench_cleanup() {
  kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true
  # BENCH_LOG=path keeps paasd's log (JSON lines with timestamps: where the time went).
  if [ -n "${BENCH_LOG:-}" ]; then cp "$work/paasd.log" "$BENCH_LOG" || true; fi
  docker ps -aq --filter "label=paas.instance=$instance" | xargs -r docker rm -f >/dev/null
  docker network ls -q --filter "label=paas.instance=$instance" | xargs -r docker network rm >/dev/null
  # Release images are named after their app: every bench app's name starts with $prefix.
  docker images --format '{{.Repository}}:{{.Tag}}' | grep "^paas/$prefix" | xargs -r docker rmi -f >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap bench_cleanup EXIT
wait_healthy() { for _ in $(seq 1 3000); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && return; kill -0 $pid 2>/dev/null || break; sleep 0.1; done; echo "paasd did not come up (see its log: BENCH_LOG)" >&2; exit 1; }
wait_healthy
token=$("$paasd" tokens create --name bench 2>/dev/null)
# Stops paasd and starts the binary $1 in its place, on the same data, ports and
# instance (it adopts the running dynos): two builds measured on one set-up.
bench_restart() {
  kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true
  "$1" >>"$work/paasd.log" 2>&1 &
  pid=$!
  wait_healthy
}

api() { curl -fsS -X "$1" -H "Authorization: Bearer $token" -H 'content-type: application/json' ${3:+-d "$3"} "http://127.0.0.1:$port$2"; }
now() { date +%s.%N; }
elapsed() { awk "BEGIN{printf \"%.2f\", $2 - $1}"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
# Waits until app $1 has exactly $2 web dynos `up` (of release version $3 when given), in
# one Python process polling the API every 20 ms: a curl and a python3 started per poll
# would cost the two cores more than paasd does while it is being measured.
wait_web_up() {
  python3 - "$port" "$token" "$1" "$2" "${3:-}" "${WAIT_SECS:-120}" <<'PY'
import http.client, json, sys, time
port, token, app, want, version, secs = sys.argv[1:7]
deadline = time.time() + float(secs)
conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=5)
while True:
    try:
        conn.request("GET", f"/apps/{app}/dynos", headers={"Authorization": f"Bearer {token}"})
        dynos = json.loads(conn.getresponse().read())
    except (OSError, http.client.HTTPException, ValueError):
        conn.close()
        dynos = None
    if dynos is not None:
        up = sum(1 for d in dynos if d["type"] == "web" and d["state"] == "up"
                 and (not version or (d["release"] or {}).get("version") == int(version)))
        if up == int(want):
            break
    if time.time() > deadline:
        sys.exit(f"timed out waiting for {want} web dynos of {app} up")
    time.sleep(0.02)
PY
}
latest_version() { api GET "/apps/$1/releases" | python3 -c 'import json,sys; print(max(r["version"] for r in json.load(sys.stdin)))'; }

# A git repository of the procfile-shell fixture at $1, pushed to app $2.
push_fixture() {
  local repo=$1 app=$2
  api POST /apps "{\"name\":\"$app\"}" >/dev/null
  if [ ! -d "$repo" ]; then
    cp -a tests/fixtures/apps/procfile-shell "$repo"
    git -C "$repo" init -q -b main && git -C "$repo" add -A
    git -C "$repo" -c user.name=b -c user.email=b@b commit -qm app
  fi
  git -C "$repo" push -q -f "http://git:$token@127.0.0.1:$port/$app.git" main 2>/dev/null
}
