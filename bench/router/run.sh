#!/usr/bin/env bash
# Router benchmark (issue: the router). The same keep-alive load (wrk, fixed concurrency)
# against: (a) a backend directly, (b) that backend through Debian's nginx as a reverse
# proxy (upstream keep-alive on, access log off), (c) that backend through paas-router.
# Prints requests/s and p50/p99 latency for each, and router/nginx ratios.
#   DURATION (default 10s), CONNECTIONS (default 64), THREADS (default 2)
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION="${DURATION:-10s}" CONNECTIONS="${CONNECTIONS:-64}" THREADS="${THREADS:-2}"
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
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

run() {  # name port
  local out
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H 'Host: bench.localhost' "http://127.0.0.1:$2/")
  local rps p50 p99 errors
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  errors=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out" | tr '\n' ' ')
  printf '%-8s %12s req/s   p50 %8s   p99 %8s   %s\n' "$1" "$rps" "$p50" "$p99" "$errors"
  eval "${1}_rps=$rps"
}
echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION, keep-alive, on $(nproc) cores"
run direct 19001
run nginx 19003
run router 19002
awk -v r="$router_rps" -v n="$nginx_rps" 'BEGIN { printf "router/nginx throughput ratio: %.2f\n", r / n }'
