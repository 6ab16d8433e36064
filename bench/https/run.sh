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
# shellcheck source=../proxy.sh
. bench/proxy.sh https

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 7 \
  -subj /CN=bench.localhost -addext subjectAltName=DNS:bench.localhost \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null

"$bin/bench_backend" 127.0.0.1:19011 & pids+=($!)
BENCH_ROUTER_TLS="127.0.0.1:19014,$work/cert.pem,$work/key.pem" \
  "$bin/bench_router" 127.0.0.1:19012 bench.localhost 127.0.0.1:19011 & pids+=($!)
# nginx closes a client connection after 1,000 requests by default (a new handshake for
# wrk); paas-router does not, so nor does nginx here.
start_nginx 127.0.0.1:19011 "127.0.0.1:19013 ssl" https \
  'keepalive_requests 1000000;' \
  "ssl_certificate $work/cert.pem; ssl_certificate_key $work/key.pem; ssl_protocols TLSv1.2 TLSv1.3;"

keepalive() {  # name port
  local rps p50 p99 errors
  read -r rps p50 p99 errors <<<"$(wrk_figures "https://127.0.0.1:$2/")"
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
median_rounds keepalive-nginx keepalive-router handshake-nginx handshake-router
awk '{ printf "  %-17s %10s /s   p50 %7s ms   p99 %7s ms\n", $1, $2, $3, $4 }' "$work/median"
awk '{ v[$1]=$2; p[$1]=$4 } END {
  printf "router/nginx: keep-alive throughput %.2f, p99 %.2f; handshakes/s %.2f, p99 %.2f\n",
    v["keepalive-router"] / v["keepalive-nginx"], p["keepalive-router"] / p["keepalive-nginx"],
    v["handshake-router"] / v["handshake-nginx"], p["handshake-router"] / p["handshake-nginx"] }' "$work/median"
