#!/usr/bin/env bash
# HTTPS benchmark (issue 13). One backend, one certificate (ECDSA P-256, made here), two
# TLS terminators in front of it: Debian's nginx (upstream keep-alive, access log off,
# no cap on requests per client connection)
# and paas-router (its TLS listener and SNI table, as paasd runs it). Loopback only.
#   keep-alive: wrk over HTTPS, fixed concurrency → requests/s, p50, p99
#   handshakes: bench_handshakes (full TLS handshakes, resumption off, one
#               `Connection: close` request per connection) → new connections/s, p50, p99
# Each runs against nginx, then the router, ROUNDS times; the median round is reported.
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
work=$(mktemp -d /tmp/paas-bench-https.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 7 \
  -subj /CN=bench.localhost -addext subjectAltName=DNS:bench.localhost \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null

"$bin/bench_backend" 127.0.0.1:19011 & pids+=($!)
BENCH_ROUTER_TLS="127.0.0.1:19014,$work/cert.pem,$work/key.pem" \
  "$bin/bench_router" 127.0.0.1:19012 bench.localhost 127.0.0.1:19011 & pids+=($!)
cat > "$work/nginx.conf" <<NGINX
worker_processes auto;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  # nginx closes a client connection after 1,000 requests by default (a new handshake
  # for wrk); paas-router does not, so nor does nginx here.
  keepalive_requests 1000000;
  upstream dyno { server 127.0.0.1:19011; keepalive 128; }
  server {
    listen 127.0.0.1:19013 ssl;
    ssl_certificate $work/cert.pem;
    ssl_certificate_key $work/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / {
      proxy_pass http://dyno;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto https;
    }
  }
}
NGINX
/usr/sbin/nginx -c "$work/nginx.conf"
sleep 1

to_ms() { awk '{ v=$1; if (v ~ /us$/) { sub(/us$/,"",v); v/=1000 } else if (v ~ /ms$/) { sub(/ms$/,"",v) } else if (v ~ /s$/) { sub(/s$/,"",v); v*=1000 } printf "%.3f", v }' <<<"$1"; }
keepalive() {  # name port
  local out rps p50 p99 errors
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H 'Host: bench.localhost' "https://127.0.0.1:$2/")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(to_ms "$(awk '$1=="50%" {print $2}' <<<"$out")")
  p99=$(to_ms "$(awk '$1=="99%" {print $2}' <<<"$out")")
  errors=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out" | tr '\n' ' ')
  printf '  keep-alive %-7s %10s req/s   p50 %7s ms   p99 %7s ms   %s\n' "$1" "$rps" "$p50" "$p99" "$errors"
  echo "keepalive-$1 $rps $p50 $p99" >>"$work/results"
}
handshakes() {  # name port
  local out
  out=$("$bin/bench_handshakes" "127.0.0.1:$2" bench.localhost "$CONNECTIONS" "${DURATION%s}")
  # handshakes/s N p50 X ms p99 Y ms failures F
  printf '  handshake  %-7s %10s conn/s  p50 %7s ms   p99 %7s ms   failures %s\n' "$1" \
    "$(awk '{print $2}' <<<"$out")" "$(awk '{print $4}' <<<"$out")" "$(awk '{print $7}' <<<"$out")" "$(awk '{print $10}' <<<"$out")"
  awk -v n="handshake-$1" '{print n, $2, $4, $7}' <<<"$out" >>"$work/results"
}
echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION over HTTPS; bench_handshakes with $CONNECTIONS loops for $DURATION; $ROUNDS rounds, on $(nproc) cores"
for round in $(seq "$ROUNDS"); do
  echo "round $round"
  keepalive nginx 19013
  keepalive router 19014
  handshakes nginx 19013
  handshakes router 19014
done
echo "median of $ROUNDS rounds (by throughput):"
for name in keepalive-nginx keepalive-router handshake-nginx handshake-router; do
  awk -v n="$name" '$1==n' "$work/results" | sort -k2 -g | sed -n "$(( (ROUNDS + 1) / 2 ))p"
done >"$work/median"
awk '{ printf "  %-17s %10s /s   p50 %7s ms   p99 %7s ms\n", $1, $2, $3, $4 }' "$work/median"
awk '{ v[$1]=$2; p[$1]=$4 } END {
  printf "router/nginx: keep-alive throughput %.2f, p99 %.2f; handshakes/s %.2f, p99 %.2f\n",
    v["keepalive-router"] / v["keepalive-nginx"], p["keepalive-router"] / p["keepalive-nginx"],
    v["handshake-router"] / v["handshake-nginx"], p["handshake-router"] / p["handshake-nginx"] }' "$work/median"
