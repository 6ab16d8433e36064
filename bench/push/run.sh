#!/usr/bin/env bash
# bench/push/run.sh [node|python|go|ruby|java|php]
#
# Push benchmark (issue: git push deploys). Measures on this machine, against a release
# build of paasd on its embedded Postgres and the local Docker Engine:
#   first  — `git push` of the language's fixture under tests/fixtures/apps (default
#            node-express) to a new app, until the push returns (after "Released vN" and
#            the release's web dynos accepting connections)
#   second — a push of a one-line change to the same app (dependencies come from cache)
# N runs (default 3, new app each), prints every run and the medians. The runtime image a
# language needs is made before the first run (it is made once per stack, not per push).
# PAASD=path uses that paasd binary instead of building a release one (bench/lib.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS="${RUNS:-3}"
LANGUAGE="${1:-node}"
# fixture | file edited | text replaced | line the second push must print
case "$LANGUAGE" in
  node) spec="node-express|index.js|hello from node|Reusing cached dependencies" ;;
  python) spec="python-gunicorn|app.py|hello from python|Reusing cached dependencies" ;;
  go) spec="go-httprouter|main.go|hello from go|Reusing the Go build cache" ;;
  ruby) spec="ruby-assets|app.rb|hello from ruby|Reusing cached gems" ;;
  java) spec="java-maven|src/main/java/hello/Main.java|hello from java|Reusing the cached Maven repository" ;;
  php) spec="php-nginx|src/Greeting.php|hello from php|Reusing cached dependencies" ;;
  *) echo "usage: $0 [node|python|go|ruby|java|php]" >&2; exit 2 ;;
esac
IFS='|' read -r fixture edited text mark <<<"$spec"
source bench/lib.sh
case "$LANGUAGE" in
  go) "$paasd" stack runtimes go:1.25 ;;
  ruby) "$paasd" stack runtimes ruby:3.3 ;;
  java) "$paasd" stack runtimes jdk:21 ;;
  php) "$paasd" stack runtimes php:8.4 ;;
esac

firsts=() seconds=()
for i in $(seq 1 "$RUNS"); do
  app="${prefix}$i"
  api POST /apps "{\"name\":\"$app\"}" >/dev/null
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
