#!/usr/bin/env bash
# Makes the stack image (base of buildpack builds and of the dynos built from them) with
# no container registry: debootstrap a current Debian (trixie: Python 3.13, Node 20),
# `docker import` it, install the runtimes the bundled buildpacks use, add the
# unprivileged `app` user (uid 1000) that builds and dynos run as, and commit.
# The debootstrapped rootfs is cached as a tarball, so a rebuild skips that step.
set -euo pipefail
IMAGE="${1:-${PAAS_STACK_IMAGE:-paas/stack:bookworm}}"
SUITE="${PAAS_STACK_SUITE:-trixie}"
CACHE="${PAAS_CACHE_DIR:-/var/cache/paas}"
ROOTFS_TAR="$CACHE/rootfs-$SUITE-minbase.tar"
BASE="paas/stack-base:$SUITE"
PREP="paas-stack-prep-$$"

step() { printf -- '-----> %s\n' "$*" >&2; }
since() { echo "$(( $(date +%s) - $1 ))s"; }
cleanup() { docker rm -f "$PREP" >/dev/null 2>&1 || true; }
trap cleanup EXIT

command -v debootstrap >/dev/null || { echo "stack-build: debootstrap is not installed (apt-get install debootstrap)" >&2; exit 1; }
docker info >/dev/null 2>&1 || { echo "stack-build: no Docker engine answers" >&2; exit 1; }
mkdir -p "$CACHE"

if [ ! -s "$ROOTFS_TAR" ]; then
  t=$(date +%s)
  step "debootstrap --variant=minbase $SUITE"
  dir=$(mktemp -d "$CACHE/rootfs.XXXXXX")
  if ! debootstrap --variant=minbase "$SUITE" "$dir" >"$CACHE/debootstrap.log" 2>&1; then
    tail -20 "$CACHE/debootstrap.log" >&2
    rm -rf "$dir"
    echo "stack-build: debootstrap failed (log: $CACHE/debootstrap.log)" >&2
    exit 1
  fi
  tar -C "$dir" -cf "$ROOTFS_TAR.tmp" . && mv "$ROOTFS_TAR.tmp" "$ROOTFS_TAR"
  rm -rf "$dir"
  step "debootstrap done in $(since "$t")"
fi

t=$(date +%s)
step "docker import → $BASE"
docker import "$ROOTFS_TAR" "$BASE" >/dev/null

step "Installing runtimes (python3, venv, pip, nodejs, npm, git, curl)"
# apt uses plain HTTP, so no CA bundle is mounted here (ca-certificates' postinst must
# be able to write the bundle).
docker run --name "$PREP" "$BASE" /bin/sh -c '
  set -e
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends \
    python3 python3-venv python3-pip nodejs npm git curl ca-certificates procps tar gzip >/tmp/apt.log 2>&1 \
    || { tail -30 /tmp/apt.log; exit 1; }
  rm -rf /var/lib/apt/lists/* /tmp/apt.log
  useradd --uid 1000 --user-group --no-create-home --home-dir /app --shell /bin/sh app
  mkdir -p /app && chown app:app /app
' >&2
docker commit \
  --change 'WORKDIR /app' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'LABEL paas.stack=1' \
  "$PREP" "$IMAGE" >/dev/null
step "Stack image $IMAGE made in $(since "$t")"
