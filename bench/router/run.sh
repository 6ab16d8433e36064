#!/usr/bin/env bash
# Router benchmark (issue: the router). The same keep-alive load (wrk, fixed concurrency)
# against: (a) a backend directly, (b) that backend through Debian's nginx as a reverse
# proxy (upstream keep-alive on, access log off), (c) that backend through paas-router.
# Prints requests/s and p50/p99 latency for each, and router/nginx ratios.
# The three run in turn, ROUNDS times, and the median round of each is reported (other
# work on the machine moves single runs a lot).
#   DURATION (default 10s), CONNECTIONS (default 64), THREADS (default 2), ROUNDS (default 3)
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION="${DURATION:-10s}" CONNECTIONS="${CONNECTIONS:-64}" THREADS="${THREADS:-2}" ROUNDS="${ROUNDS:-3}"
# shellcheck source=../proxy.sh
. bench/proxy.sh router

"$bin/bench_backend" 127.0.0.1:19001 & pids+=($!)
"$bin/bench_router" 127.0.0.1:19002 bench.localhost 127.0.0.1:19001 & pids+=($!)
start_nginx 127.0.0.1:19001 127.0.0.1:19003 http
run() {  # name port
  local rps p50 p99 errors
  read -r rps p50 p99 errors <<<"$(wrk_figures "http://127.0.0.1:$2/")"
  printf '  %-8s %10s req/s   p50 %7s ms   p99 %7s ms   %s\n' "$1" "$rps" "$p50" "$p99" "$errors"
  echo "$1 $rps $p50 $p99" >>"$work/results"
}
echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION, keep-alive, $ROUNDS rounds, on $(nproc) cores"
for round in $(seq "$ROUNDS"); do
  echo "round $round"
  run direct 19001
  run nginx 19003
  run router 19002
done
echo "median of $ROUNDS rounds (by req/s):"
median_rounds direct nginx router
awk '{ printf "  %-8s %10s req/s   p50 %7s ms   p99 %7s ms\n", $1, $2, $3, $4 }' "$work/median"
awk '$1=="nginx" {n=$2; np=$4} $1=="router" {r=$2; rp=$4} END { printf "router/nginx: throughput %.2f, p99 %.2f\n", r / n, rp / np }' "$work/median"
