# shellcheck shell=bash
# Shared set-up steps for scripts/up, scripts/test and .ci/run (sourced, not run):
#
#   source scripts/lib.sh
#   ensure_packages        # apt-get install what is missing (one apt-get update at most)
#   ensure_bench_packages  # the same for the benchmarks' tools (wrk, nginx, openssl)
#   ensure_dockerd         # start dockerd in the background unless an engine answers
#   ensure_stack_image     # make paas/stack:bookworm (or $1) unless it exists
#   remove_instance NAME   # remove installation NAME's containers, networks and volumes
#
# Every step is idempotent: it does nothing when its work is already done. The functions
# work under `set -euo pipefail` and return non-zero (with a message on stderr) on failure.

PAAS_CACHE_DIR="${PAAS_CACHE_DIR:-/var/cache/paas}"
PAAS_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

paas_step() { printf -- '-----> %s\n' "$*" >&2; }
paas_fail() { printf -- ' !     %s\n' "$*" >&2; return 1; }

paas_as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# Installs the system packages paas needs that are missing: Docker, debootstrap, git,
# curl, the CA bundle and the Postgres server binaries (for paasd's embedded Postgres and
# the test suite), psql, npm (the heroku CLI tests), python3-venv (schemathesis) and
# pebble + pebble-challtestsrv (the ACME tests' certificate authority, offline).
ensure_packages() {
  local missing=()
  if ! command -v docker >/dev/null 2>&1 || ! command -v dockerd >/dev/null 2>&1; then
    missing+=(docker.io)
  fi
  command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || missing+=(debootstrap)
  command -v git >/dev/null 2>&1 || missing+=(git)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  [ -s /etc/ssl/certs/ca-certificates.crt ] || missing+=(ca-certificates)
  command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
  command -v npm >/dev/null 2>&1 || missing+=(npm)
  python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
  # scripts/install's test checks the unit with systemd-analyze; the benchmarks use wrk.
  command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
  { command -v pebble && command -v pebble-challtestsrv; } >/dev/null 2>&1 || missing+=(pebble)
  if [ ! -x /usr/lib/postgresql/15/bin/initdb ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    missing+=(postgresql-15)
  fi
  [ "${#missing[@]}" -eq 0 ] && return 0

  paas_step "Installing ${missing[*]}"
  local log_file
  log_file="$(mktemp /tmp/paas-apt.XXXXXX)"
  if ! paas_as_root apt-get update -qq >"$log_file" 2>&1; then
    tail -n 20 "$log_file" >&2
    rm -f "$log_file"
    paas_fail "apt-get update failed"
    return 1
  fi
  # postgresql-15 exists on Debian 12; elsewhere take the distribution's default version.
  local i
  for i in "${!missing[@]}"; do
    if [ "${missing[$i]}" = postgresql-15 ] && ! apt-cache show postgresql-15 >/dev/null 2>&1; then
      missing[i]=postgresql
    fi
  done
  if ! paas_as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$log_file" 2>&1; then
    tail -n 30 "$log_file" >&2
    rm -f "$log_file"
    paas_fail "apt-get install ${missing[*]} failed"
    return 1
  fi
  rm -f "$log_file"
}

# Installs what bench/ needs that is missing: wrk (the load), Debian's nginx (the proxy
# paas-router is measured against) and openssl (bench/https's certificate).
ensure_bench_packages() {
  local missing=()
  command -v wrk >/dev/null 2>&1 || missing+=(wrk)
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
  [ "${#missing[@]}" -eq 0 ] && return 0
  paas_step "Installing ${missing[*]}"
  paas_as_root apt-get update -qq >/dev/null || { paas_fail "apt-get update failed"; return 1; }
  paas_as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    { paas_fail "apt-get install ${missing[*]} failed"; return 1; }
}

# Starts dockerd in the background (in its own session, so it outlives the calling
# script) when no Docker engine answers, and waits up to 60 s for it.
ensure_dockerd() {
  if docker info >/dev/null 2>&1; then return 0; fi
  command -v dockerd >/dev/null 2>&1 || { paas_fail "dockerd is not installed (run ensure_packages)"; return 1; }
  local log_file="${PAAS_DOCKERD_LOG:-/var/log/paas-dockerd.log}"
  paas_step "Starting dockerd (log: $log_file)"
  mkdir -p "$(dirname "$log_file")"
  paas_as_root setsid dockerd >>"$log_file" 2>&1 </dev/null &
  local i
  for i in $(seq 1 60); do
    if docker info >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  tail -n 20 "$log_file" >&2 || true
  paas_fail "dockerd did not answer within 60 s; see $log_file"
  return 1
}

# Makes the stack image (default $PAAS_STACK_IMAGE or paas/stack:bookworm) unless it
# exists locally. No registry is needed: see scripts/stack-build.sh.
ensure_stack_image() {
  local image="${1:-${PAAS_STACK_IMAGE:-paas/stack:bookworm}}"
  if docker image inspect "$image" >/dev/null 2>&1; then return 0; fi
  paas_step "Stack image $image is missing: building it"
  "$PAAS_LIB_DIR/stack-build.sh" "$image"
}

# Removes every container, network and volume labelled `paas.instance=$1`: what a
# throwaway paasd (scripts/fuzz-api.sh) leaves behind when it stops (dynos and app
# networks outlive paasd on purpose; a deleted app's network goes at the supervisor's
# sweep once over a minute old, which a short run ends before). Containers first: a
# network or volume in use cannot be removed. paas-testkit's `docker::remove_instance`
# does the same for the Rust tests.
remove_instance() {
  local label="label=paas.instance=$1"
  docker ps -aq --filter "$label" | xargs -r docker rm -f >/dev/null 2>&1 || true
  docker network ls -q --filter "$label" | xargs -r docker network rm >/dev/null 2>&1 || true
  docker volume ls -q --filter "$label" | xargs -r docker volume rm -f >/dev/null 2>&1 || true
}
