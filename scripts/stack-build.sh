#!/usr/bin/env bash
# scripts/stack-build.sh [IMAGE]
#
# Makes the stack image (the base of buildpack builds, of the dynos built from them and of
# `FROM paas/stack:bookworm` Dockerfiles) with no container registry:
#
#   1. debootstrap --variant=minbase trixie into a directory, cached as a tarball under
#      $PAAS_CACHE_DIR (default /var/cache/paas), so a rebuild skips this step;
#   2. docker import the tarball as a temporary base image;
#   3. docker run that base to apt-get install the runtimes the bundled buildpacks use
#      (python3 + venv + pip, nodejs + npm, git, curl, ...), clean the apt lists, add the
#      unprivileged user `app` (uid 1000, home /app) and /app owned by it;
#   4. docker commit the container as IMAGE (default $PAAS_STACK_IMAGE or
#      paas/stack:bookworm), labelled paas.stack=1, and remove the temporary container
#      and base image.
#
# The tag says "bookworm" for historical reasons; the content is Debian 13 (trixie:
# Python 3.13, Node 20). Knobs (environment):
#   PAAS_STACK_SUITE           Debian suite (default trixie)
#   PAAS_DEBIAN_MIRROR         mirror for debootstrap (default: debootstrap's own)
#   PAAS_STACK_EXTRA_PACKAGES  more packages to install (e.g. "build-essential python3-dev")
#   PAAS_STACK_REFRESH=1       ignore the cached rootfs tarball and debootstrap again
#   PAAS_CA_BUNDLE             CA bundle mounted into the install step
#                              (default /etc/ssl/certs/ca-certificates.crt)
set -euo pipefail

IMAGE="${1:-${PAAS_STACK_IMAGE:-paas/stack:bookworm}}"
SUITE="${PAAS_STACK_SUITE:-trixie}"
CACHE="${PAAS_CACHE_DIR:-/var/cache/paas}"
MIRROR="${PAAS_DEBIAN_MIRROR:-}"
CA_BUNDLE="${PAAS_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
# The name carries the recipe version: bump it when the rootfs steps below change.
ROOTFS_TAR="$CACHE/rootfs-$SUITE-minbase-v2.tar"
TMP_BASE="paas/stack-base:tmp-$$"
PREP="paas-stack-prep-$$"
PACKAGES="python3 python3-venv python3-pip nodejs npm git curl ca-certificates tar gzip procps ${PAAS_STACK_EXTRA_PACKAGES:-}"

step() { printf -- '-----> %s\n' "$*" >&2; }
detail() { printf -- '       %s\n' "$*" >&2; }
die() { printf -- ' !     stack-build: %s\n' "$*" >&2; exit 1; }
took() { echo "$(( $(date +%s) - $1 ))s"; }

ROOTFS_DIR=""
cleanup() {
  docker rm -f "$PREP" >/dev/null 2>&1 || true
  docker rmi "$TMP_BASE" >/dev/null 2>&1 || true
  if [ -n "$ROOTFS_DIR" ] && [ -d "$ROOTFS_DIR" ]; then rm -rf "$ROOTFS_DIR"; fi
  rm -f "$ROOTFS_TAR.tmp.$$"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap needs it)"
command -v debootstrap >/dev/null 2>&1 || die "debootstrap is not installed (apt-get install debootstrap)"
docker info >/dev/null 2>&1 || die "no Docker engine answers (start dockerd first)"
mkdir -p "$CACHE"

# One build at a time per cache directory (two setup scripts may race on a fresh machine).
exec 9>"$CACHE/stack-build.lock"
flock 9

total=$(date +%s)

# 1. debootstrap (cached).
if [ "${PAAS_STACK_REFRESH:-0}" = 1 ]; then rm -f "$ROOTFS_TAR"; fi
if [ -s "$ROOTFS_TAR" ]; then
  step "Using cached $SUITE rootfs ($ROOTFS_TAR)"
else
  t=$(date +%s)
  step "debootstrap --variant=minbase $SUITE${MIRROR:+ $MIRROR}"
  ROOTFS_DIR=$(mktemp -d "$CACHE/rootfs.XXXXXX")
  # shellcheck disable=SC2086 # MIRROR is one word or empty
  if ! debootstrap --variant=minbase "$SUITE" "$ROOTFS_DIR" $MIRROR >"$CACHE/debootstrap.log" 2>&1; then
    tail -n 20 "$CACHE/debootstrap.log" >&2
    die "debootstrap failed (full log: $CACHE/debootstrap.log)"
  fi
  # The image gets security and point-release updates from the same mirror debootstrap used.
  if [ -f "$ROOTFS_DIR/etc/apt/sources.list" ]; then
    url=$(awk '$1 == "deb" { print $2; exit }' "$ROOTFS_DIR/etc/apt/sources.list")
    if [ -n "$url" ]; then
      {
        echo "deb $url $SUITE main"
        echo "deb $url $SUITE-updates main"
        case "$url" in
          */debian | */debian/) echo "deb ${url%/}-security $SUITE-security main" ;;
        esac
      } >"$ROOTFS_DIR/etc/apt/sources.list"
    fi
  fi
  rm -rf "$ROOTFS_DIR"/var/cache/apt/archives/*.deb "$ROOTFS_DIR"/var/lib/apt/lists/*
  tar -C "$ROOTFS_DIR" --numeric-owner -cf "$ROOTFS_TAR.tmp.$$" .
  mv "$ROOTFS_TAR.tmp.$$" "$ROOTFS_TAR"
  rm -rf "$ROOTFS_DIR"
  ROOTFS_DIR=""
  step "debootstrap done in $(took "$t") ($(du -h "$ROOTFS_TAR" | cut -f1) tarball cached)"
fi

# 2. docker import.
t=$(date +%s)
step "docker import → $TMP_BASE"
docker import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  "$ROOTFS_TAR" "$TMP_BASE" >/dev/null || die "docker import failed"
step "Imported in $(took "$t")"

# 3. Runtimes, the app user, cleanup.
t=$(date +%s)
step "Installing runtimes: $PACKAGES"
# apt fetches over plain HTTP; the host CA bundle is mounted beside (not over) the image's
# own bundle so that the ca-certificates postinst can still write that one.
ca_args=()
if [ -s "$CA_BUNDLE" ]; then
  ca_args=(-v "$CA_BUNDLE:/run/paas-host-ca.crt:ro" -e SSL_CERT_FILE=/run/paas-host-ca.crt)
fi
if ! docker run --name "$PREP" "${ca_args[@]}" -e PACKAGES="$PACKAGES" "$TMP_BASE" /bin/sh -c '
  set -e
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/tmp/apt.log 2>&1 || { tail -n 30 /tmp/apt.log; exit 1; }
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $PACKAGES >>/tmp/apt.log 2>&1 \
    || { tail -n 30 /tmp/apt.log; exit 1; }
  apt-get clean
  rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /tmp/apt.log /root/.cache
  getent passwd app >/dev/null || useradd --uid 1000 --user-group --no-create-home --home-dir /app --shell /bin/bash app
  mkdir -p /app && chown app:app /app && chmod 0755 /app
  echo "python: $(python3 --version 2>&1), node: $(node --version), npm: $(npm --version), git: $(git --version | cut -d" " -f3)"
' 2>&1 | sed -u 's/^/       /' >&2; then
  die "installing the runtimes failed"
fi
step "Runtimes installed in $(took "$t")"

# 4. Commit.
t=$(date +%s)
step "docker commit → $IMAGE"
docker commit \
  --change 'WORKDIR /app' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV LC_ALL=C.UTF-8' \
  --change 'ENV STACK=paas-stack' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["/bin/bash"]' \
  --change 'LABEL paas.stack=1' \
  --change "LABEL paas.stack.suite=$SUITE" \
  "$PREP" "$IMAGE" >/dev/null || die "docker commit failed"
docker rm -f "$PREP" >/dev/null 2>&1 || true
docker rmi "$TMP_BASE" >/dev/null 2>&1 || true

# Sanity check of the result, as the unprivileged user builds run as.
docker run --rm --user 1000:1000 "$IMAGE" sh -c \
  'test "$(id -un)" = app && test -w /app && python3 -m venv --help >/dev/null && npm --version >/dev/null' \
  || die "the image $IMAGE fails its sanity check"
step "Committed in $(took "$t")"
step "Stack image $IMAGE ready in $(took "$total") ($(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{ printf "%d MB", $1 / 1000000 }'))"
