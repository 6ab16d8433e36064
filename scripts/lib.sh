# Shared set-up steps for scripts/up and scripts/test (sourced, not run).
# Each step is idempotent: it does nothing when its work is already done.

PAAS_CACHE_DIR="${PAAS_CACHE_DIR:-/var/cache/paas}"

log() { printf -- '-----> %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# Installs the system packages paas needs that are missing.
ensure_packages() {
  local missing=()
  command -v docker >/dev/null 2>&1 && command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
  command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
  command -v git >/dev/null 2>&1 || missing+=(git)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  [ -f /etc/ssl/certs/ca-certificates.crt ] || missing+=(ca-certificates)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
  if [ "${#missing[@]}" -gt 0 ]; then
    log "Installing ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# Starts dockerd in the background when no engine answers.
ensure_dockerd() {
  if docker info >/dev/null 2>&1; then return 0; fi
  local log_file="${PAAS_DOCKERD_LOG:-/var/log/paas-dockerd.log}"
  log "Starting dockerd (log: $log_file)"
  as_root sh -c "nohup dockerd >'$log_file' 2>&1 &"
  local i
  for i in $(seq 1 60); do
    if docker info >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  echo "dockerd did not come up within 60 s; see $log_file" >&2
  return 1
}

# Makes the stack image unless it exists.
ensure_stack_image() {
  local image="${1:-${PAAS_STACK_IMAGE:-paas/stack:bookworm}}"
  if docker image inspect "$image" >/dev/null 2>&1; then return 0; fi
  "$(dirname "${BASH_SOURCE[0]}")/stack-build.sh" "$image"
}
