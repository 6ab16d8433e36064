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
source bench/lib.sh
cleanup() {
  # The plain `docker run` containers (two --filter label=… flags must both match, so
  # they carry a label of their own).
  docker ps -aq --filter "label=paas.bench=$instance" | xargs -r docker rm -f >/dev/null
  bench_cleanup
}
trap cleanup EXIT

app="${prefix}app"
push_fixture "$work/repo" "$app"
image=$(docker ps --filter "label=paas.instance=$instance" --format '{{.Image}}' | head -n1)
[ -n "$image" ] || image=$(docker images "paas/$app" -q | head -n1)

scales=() rollouts=() dockers=()
for i in $(seq 1 "$RUNS"); do
  api PATCH "/apps/$app/formation" '{"updates":[{"type":"web","quantity":0}]}' >/dev/null
  wait_web_up "$app" 0
  sleep 3  # let the retired dynos finish stopping
  t0=$(now)
  api PATCH "/apps/$app/formation" '{"updates":[{"type":"web","quantity":10}]}' >/dev/null
  wait_web_up "$app" 10
  scale=$(elapsed "$t0" "$(now)")

  api PATCH "/apps/$app/formation" '{"updates":[{"type":"web","quantity":3}]}' >/dev/null
  wait_web_up "$app" 3
  sleep 3
  version=$(( $(latest_version "$app") + 1 ))  # the release the config change makes
  t0=$(now)
  api PATCH "/apps/$app/config-vars" "{\"RUN\":\"$i\"}" >/dev/null
  wait_web_up "$app" 3 "$version"
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
