#!/usr/bin/env bash
# How the platform's cost grows with the number of apps (issue 12): apps of the
# procfile-shell fixture with one web dyno each, for APPS="1 50 200" apps in turn (each
# step adds apps to the last). At each step, once every web dyno is up and 10 s have
# passed: paasd's CPU over 30 s idle (its utime+stime from /proc, % of one core), its
# RSS, `GET /apps` latency (median of 20), and one app's config-change rollout until its
# web dyno runs the new release (median of 3).
cd "$(dirname "$0")/../.."
APPS="${APPS:-1 50 200}"
source bench/lib.sh
repo="$work/repo"
have=0
up_total() { api GET "/apps/$1/dynos" | python3 -c 'import json,sys; print(sum(1 for d in json.load(sys.stdin) if d["type"]=="web" and d["state"]=="up"))'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
for n in $APPS; do
  while [ "$have" -lt "$n" ]; do
    have=$((have + 1))
    push_fixture "$repo" "${prefix}a$have"
  done
  for a in $(seq 1 "$n"); do WANT=1 WAIT_SECS=300 wait_for up_total "${prefix}a$a"; done
  sleep 10
  c0=$(cpu_ticks); sleep 30; c1=$(cpu_ticks)
  cpu=$(awk "BEGIN{printf \"%.2f\", ($c1 - $c0) * 100 / $hz / 30}")
  rss=$(awk '/VmRSS/{printf "%.1f", $2/1024}' "/proc/$pid/status")
  lat=$(for _ in $(seq 1 20); do curl -fsS -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $token" "http://127.0.0.1:$port/apps"; done | median)
  rollouts=()
  for r in 1 2 3; do
    t0=$(now)
    api PATCH "/apps/${prefix}a1/config-vars" "{\"RUN\":\"$n-$r\"}" >/dev/null
    v=$(latest_version "${prefix}a1")
    WANT=1 wait_for up_at_version "${prefix}a1" "$v"
    rollouts+=("$(elapsed "$t0" "$(now)")")
  done
  roll=$(printf '%s\n' "${rollouts[@]}" | median)
  echo "apps=$n: idle CPU ${cpu}% of a core, RSS ${rss} MB, GET /apps $(awk "BEGIN{printf \"%.1f\", $lat * 1000}") ms, rollout of one app ${roll}s"
done
