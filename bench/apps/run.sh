#!/usr/bin/env bash
# How the platform's cost grows with the number of apps (issue 12): apps of the
# procfile-shell fixture with one web dyno each, for APPS="1 50 200" apps in turn (each
# step adds apps to the last). At each step, once every web dyno is up and 10 s have
# passed: paasd's CPU over CPU_SECS (default 30) idle (its utime+stime from /proc, % of
# one core), its RSS, `GET /apps` latency (median of 20), and one app's config-change
# rollout until its web dyno runs the new release (median of 3).
#
# PUSH_PARALLEL=N pushes N apps at a time while setting up (default 1).
# PAASD_B=path compares two builds on one set-up: at each step paasd is restarted as
# PAASD (or the release build), measured, then restarted as PAASD_B and measured, so
# both adopt the same dynos and neither carries the set-up's pushes in its memory.
# The supervisor's full resync comes once a minute: use CPU_SECS >= 120 to include it.
cd "$(dirname "$0")/../.."
APPS="${APPS:-1 50 200}"
CPU_SECS="${CPU_SECS:-30}"
PUSH_PARALLEL="${PUSH_PARALLEL:-1}"
source bench/lib.sh
repo="$work/repo"
have=0
cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
# The fixture's repository, made once (push_fixture makes it when missing).
measure() {
  local n=$1 label=$2
  for a in $(seq 1 "$n"); do WAIT_SECS=300 wait_web_up "${prefix}a$a" 1; done
  sleep 10
  local load c0 c1 cpu rss lat roll
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  c0=$(cpu_ticks); sleep "$CPU_SECS"; c1=$(cpu_ticks)
  cpu=$(awk "BEGIN{printf \"%.2f\", ($c1 - $c0) * 100 / $hz / $CPU_SECS}")
  rss=$(awk '/VmRSS/{printf "%.1f", $2/1024}' "/proc/$pid/status")
  lat=$(for _ in $(seq 1 20); do curl -fsS -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $token" "http://127.0.0.1:$port/apps"; done | median)
  local rollouts=()
  for r in 1 2 3; do
    local t0 v
    v=$(( $(latest_version "${prefix}a1") + 1 ))  # the release the config change makes
    t0=$(now)
    api PATCH "/apps/${prefix}a1/config-vars" "{\"RUN\":\"$n-$label-$r\"}" >/dev/null
    wait_web_up "${prefix}a1" 1 "$v"
    rollouts+=("$(elapsed "$t0" "$(now)")")
  done
  roll=$(printf '%s\n' "${rollouts[@]}" | median)
  echo "apps=$n${label:+ ($label)}: idle CPU ${cpu}% of a core over ${CPU_SECS}s, RSS ${rss} MB, GET /apps $(awk "BEGIN{printf \"%.1f\", $lat * 1000}") ms, rollout of one app ${roll}s (load before: $load)"
}
for n in $APPS; do
  if [ "$have" -eq 0 ]; then push_fixture "$repo" "${prefix}a1"; have=1; fi
  while [ "$have" -lt "$n" ]; do
    batch=()
    while [ "$have" -lt "$n" ] && [ "${#batch[@]}" -lt "$PUSH_PARALLEL" ]; do
      have=$((have + 1))
      push_fixture "$repo" "${prefix}a$have" &
      batch+=($!)
    done
    for b in "${batch[@]}"; do wait "$b"; done
  done
  if [ -n "${PAASD_B:-}" ]; then
    echo "apps=$n: RSS of the paasd that made the apps, before its restart: $(awk '/VmRSS/{printf "%.1f", $2/1024}' "/proc/$pid/status") MB"
    bench_restart "$paasd"; measure "$n" A
    bench_restart "$PAASD_B"; measure "$n" B
    bench_restart "$paasd"
  else
    measure "$n" ""
  fi
done
