#!/usr/bin/env bash
# Where the router's time goes, against nginx: CPU time per proxied request of the proxy
# (user and system), of the backend and of wrk, from /proc/<pid>/stat and /usr/bin/time
# over one keep-alive wrk run each (the load of bench/router/run.sh), ROUNDS times.
# Throughput on two shared cores is set by the sum: what every process spends per request.
#   DURATION (default 8s), CONNECTIONS (64), THREADS (2), ROUNDS (2)
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION="${DURATION:-8s}" CONNECTIONS="${CONNECTIONS:-64}" THREADS="${THREADS:-2}" ROUNDS="${ROUNDS:-2}"
# shellcheck source=../proxy.sh
. bench/proxy.sh router-cpu

"$bin/bench_backend" 127.0.0.1:19001 & backend=$!; pids+=("$backend")
"$bin/bench_router" 127.0.0.1:19002 bench.localhost 127.0.0.1:19001 & router=$!; pids+=("$router")
start_nginx 127.0.0.1:19001 127.0.0.1:19003 http
workers=$(pgrep -P "$(cat "$work/nginx.pid")" | tr '\n' ' ')
ticks() { local field=$1 total=0 p; shift; for p in "$@"; do total=$((total + $(awk -v f="$field" '{print $f}' "/proc/$p/stat"))); done; echo "$total"; }
hz=$(getconf CLK_TCK)
echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION, keep-alive, µs of CPU per request"
for _ in $(seq "$ROUNDS"); do
  for name in nginx router; do
    if [ "$name" = nginx ]; then port=19003; procs=$workers; else port=19002; procs=$router; fi
    # shellcheck disable=SC2086 # $procs is a list of pids
    pu0=$(ticks 14 $procs) ps0=$(ticks 15 $procs) bu0=$(ticks 14 "$backend") bs0=$(ticks 15 "$backend")
    /usr/bin/time -f "%U %S" -o "$work/time" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -H 'Host: bench.localhost' "http://127.0.0.1:$port/" >"$work/out"
    # shellcheck disable=SC2086
    pu1=$(ticks 14 $procs) ps1=$(ticks 15 $procs) bu1=$(ticks 14 "$backend") bs1=$(ticks 15 "$backend")
    read -r wu ws <"$work/time"
    awk -v name="$name" -v hz="$hz" -v n="$(awk '/requests in/ {print $1}' "$work/out")" \
        -v rps="$(awk '/Requests\/sec/ {print $2}' "$work/out")" \
        -v pu=$((pu1 - pu0)) -v ps=$((ps1 - ps0)) -v bu=$((bu1 - bu0)) -v bs=$((bs1 - bs0)) -v wu="$wu" -v ws="$ws" 'BEGIN {
      f = 1e6 / hz / n
      printf "  %-6s %8.0f req/s   proxy user %4.1f sys %4.1f   backend user %4.1f sys %4.1f   wrk user %4.1f sys %4.1f   total %4.1f\n",
        name, rps, pu*f, ps*f, bu*f, bs*f, wu*1e6/n, ws*1e6/n, (pu+ps+bu+bs)*f + (wu+ws)*1e6/n }'
  done
done
