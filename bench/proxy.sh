# Shared by the proxy benchmarks (bench/router, bench/https): paas-router's bench examples
# built in release, a work directory removed on exit, Debian's nginx as the proxy paas-router
# is held against, and wrk's figures. Source it from the repository root with DURATION,
# CONNECTIONS, THREADS and ROUNDS set and a name for the work directory as $1; it sets
# $bin (the examples), $work and $pids (killed on exit).
# shellcheck source=../scripts/lib.sh
. scripts/lib.sh
ensure_bench_packages
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release --locked -q -p paas-router --examples
bin="$CARGO_TARGET_DIR/release/examples"
work=$(mktemp -d "/tmp/paas-bench-$1.XXXXXX")
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# Starts nginx as a reverse proxy to the backend at $1 (upstream keep-alive on, access log
# off), listening at $2 and sending X-Forwarded-Proto $3. $4 is more of the `http` block,
# $5 more of the `server` block (TLS).
start_nginx() {
  cat > "$work/nginx.conf" <<NGINX
worker_processes auto;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  ${4:-}
  upstream dyno { server $1; keepalive 128; }
  server {
    listen $2;
    ${5:-}
    location / {
      proxy_pass http://dyno;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $3;
    }
  }
}
NGINX
  /usr/sbin/nginx -c "$work/nginx.conf"
  sleep 1
}

to_ms() { awk '{ v=$1; if (v ~ /us$/) { sub(/us$/,"",v); v/=1000 } else if (v ~ /ms$/) { sub(/ms$/,"",v) } else if (v ~ /s$/) { sub(/s$/,"",v); v*=1000 } printf "%.3f", v }' <<<"$1"; }

# wrk's keep-alive load on the URL $1 (Host: bench.localhost): prints requests/s, p50 and
# p99 in ms, then any errors wrk reports, on one line.
wrk_figures() {
  local out rps p50 p99 errors
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H 'Host: bench.localhost' "$1")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(to_ms "$(awk '$1=="50%" {print $2}' <<<"$out")")
  p99=$(to_ms "$(awk '$1=="99%" {print $2}' <<<"$out")")
  errors=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out" | tr '\n' ' ')
  echo "$rps $p50 $p99 $errors"
}

# The median round (by the second column, throughput) of each name in $work/results, into
# $work/median.
median_rounds() {
  local name
  for name in "$@"; do
    awk -v n="$name" '$1==n' "$work/results" | sort -k2 -g | sed -n "$(( (ROUNDS + 1) / 2 ))p"
  done >"$work/median"
}
