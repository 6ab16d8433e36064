#!/usr/bin/env bash
# bench/push/run.sh [node|go|ruby|java|php]
#
# Push benchmark (issue: git push deploys). Measures on this machine, against a release
# build of paasd on its embedded Postgres and the local Docker Engine:
#   first  — `git push` of the language's fixture under tests/fixtures/apps (default
#            node-express) to a new app, until the release is created (the push returns
#            after "Released vN")
#   second — a push of a one-line change to the same app (dependencies come from cache)
# N runs (default 3, new app each), prints every run and the medians. The runtime image a
# language needs is made before the first run (it is made once per stack, not per push).
# PAASD=path uses that paasd binary instead of building a release one.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS="${RUNS:-3}"
LANGUAGE="${1:-node}"
# fixture | file edited | text replaced | line the second push must print
case "$LANGUAGE" in
  node) spec="node-express|index.js|hello from node|Reusing cached dependencies" ;;
  go) spec="go-httprouter|main.go|hello from go|Reusing the Go build cache" ;;
  ruby) spec="ruby-assets|app.rb|hello from ruby|Reusing cached gems" ;;
  java) spec="java-maven|src/main/java/hello/Main.java|hello from java|Reusing the cached Maven repository" ;;
  php) spec="php-nginx|src/Greeting.php|hello from php|Reusing cached dependencies" ;;
  *) echo "usage: $0 [node|go|ruby|java|php]" >&2; exit 2 ;;
esac
IFS='|' read -r fixture edited text mark <<<"$spec"
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
case "$LANGUAGE" in
  go) "$paasd" stack runtimes go:1.25 ;;
  ruby) "$paasd" stack runtimes ruby:3.3 ;;
  java) "$paasd" stack runtimes jdk:21 ;;
  php) "$paasd" stack runtimes php:8.4 ;;
esac

work=$(mktemp -d /tmp/paas-bench-push.XXXXXX)
chmod 755 "$work"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export PAAS_DATA_DIR="$work/data" PAAS_API_ADDR="127.0.0.1:$port" PAAS_LOG_FORMAT=json \
  PAAS_BUILDPACKS_DIR="$PWD/buildpacks"
unset DATABASE_URL
"$paasd" >"$work/paasd.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
token=$("$paasd" tokens create --name bench 2>/dev/null)

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
firsts=() seconds=()
for i in $(seq 1 "$RUNS"); do
  app="bench-$i-$$"
  curl -fs -X POST -H "Authorization: Bearer $token" -H 'content-type: application/json' \
    -d "{\"name\":\"$app\"}" "http://127.0.0.1:$port/apps" >/dev/null
  repo="$work/$app"
  cp -a "tests/fixtures/apps/$fixture" "$repo"
  git -C "$repo" init -q -b main && git -C "$repo" add -A
  git -C "$repo" -c user.name=bench -c user.email=bench@paas commit -qm first
  url="http://git:$token@127.0.0.1:$port/$app.git"
  t0=$(now); git -C "$repo" push -q "$url" main 2>"$work/push1.log"; t1=$(now)
  sed -i "s/$text/${text/hello/hello again}/" "$repo/$edited"
  git -C "$repo" -c user.name=bench -c user.email=bench@paas commit -qam second
  t2=$(now); git -C "$repo" push -q "$url" main 2>"$work/push2.log"; t3=$(now)
  grep -q "$mark" "$work/push2.log" || { echo "second push did not reuse the cache" >&2; exit 1; }
  first=$(awk "BEGIN{print $t1 - $t0}"); second=$(awk "BEGIN{print $t3 - $t2}")
  firsts+=("$first") seconds+=("$second")
  printf 'run %d: first push %.2f s, second push %.2f s\n' "$i" "$first" "$second"
done
printf '%s: median of %d: first push %.2f s, second push (one-line change) %.2f s\n' "$LANGUAGE" "$RUNS" \
  "$(printf '%s\n' "${firsts[@]}" | median)" "$(printf '%s\n' "${seconds[@]}" | median)"
