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
# shellcheck source=../../scripts/lib.sh
. scripts/lib.sh
ensure_bench_packages
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release --locked -q -p paas-router --examples
bin="$CARGO_TARGET_DIR/release/examples"
work=$(mktemp -d /tmp/paas-bench-router.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

"$bin/bench_backend" 127.0.0.1:19001 & pids+=($!)
"$bin/bench_router" 127.0.0.1:19002 bench.localhost 127.0.0.1:19001 & pids+=($!)
cat > "$work/nginx.conf" <<NGINX
worker_processes auto;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  upstream dyno { server 127.0.0.1:19001; keepalive 128; }
  server {
    listen 127.0.0.1:19003;
    location / {
      proxy_pass http://dyno;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto http;
    }
  }
}
NGINX
/usr/sbin/nginx -c "$work/nginx.conf"
sleep 1

to_ms() { awk '{ v=$1; if (v ~ /us$/) { sub(/us$/,"",v); v/=1000 } else if (v ~ /ms$/) { sub(/ms$/,"",v) } else if (v ~ /s$/) { sub(/s$/,"",v); v*=1000 } printf "%.3f", v }' <<<"$1"; }
run() {  # name port
  local out rps p50 p99 errors
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H 'Host: bench.localhost' "http://127.0.0.1:$2/")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(to_ms "$(awk '$1=="50%" {print $2}' <<<"$out")")
  p99=$(to_ms "$(awk '$1=="99%" {print $2}' <<<"$out")")
  errors=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out" | tr '\n' ' ')
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
for name in direct nginx router; do
  awk -v n="$name" '$1==n' "$work/results" | sort -k2 -g | sed -n "$(( (ROUNDS + 1) / 2 ))p"
done >"$work/median"
awk '{ printf "  %-8s %10s req/s   p50 %7s ms   p99 %7s ms\n", $1, $2, $3, $4 }' "$work/median"
awk '$1=="nginx" {n=$2; np=$4} $1=="router" {r=$2; rp=$4} END { printf "router/nginx: throughput %.2f, p99 %.2f\n", r / n, rp / np }' "$work/median"
