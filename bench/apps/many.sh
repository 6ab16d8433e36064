#!/usr/bin/env bash
# One engine, many apps (issue 12: "one engine must hold at least 500 apps"): APPS app
# networks from paas's pool, each with one running dyno, made through paas-docker as the
# supervisor makes them (crates/paas-docker/examples/many_apps.rs), then removed. Prints
# the counts and times, and dockerd's RSS before, with them all, and after.
#   APPS (default 500). The time is the engine's, so the example is a dev build.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --locked -q -p paas-docker --example many_apps
rss() { ps -o rss= -C dockerd | awk '{s+=$1} END {printf "%.0f MB", s/1024}'; }
echo "dockerd RSS before: $(rss)"
"$CARGO_TARGET_DIR/debug/examples/many_apps" "${APPS:-500}" &
pid=$!
peak=0
while kill -0 "$pid" 2>/dev/null; do
  now=$(ps -o rss= -C dockerd | awk '{s+=$1} END {print s}')
  [ "${now:-0}" -gt "$peak" ] && peak=$now
  sleep 1
done
wait "$pid"
echo "dockerd RSS at most: $((peak / 1024)) MB; after: $(rss)"
