#!/usr/bin/env bash
# scripts/buildpack-smoke.sh [FIXTURE...]
#
# Manual smoke test of the bundled buildpacks, for real (stack image, PyPI, npm): each
# fixture under tests/fixtures/apps (all but dockerfile-app by default) is built in a
# container of the stack image exactly as paasd's builder does it (see
# buildpacks/README.md, "How paasd runs them"), committed, started with its web command
# (PORT=5000, .profile.d sourced) and curled from inside its own container. The Python
# and Node fixtures are built twice with the same cache to show that the second compile
# reuses the cached dependencies; failing-build must fail.
#
# Environment: PAAS_STACK_IMAGE (default paas/stack:bookworm), PAAS_SMOKE_DIR (scratch,
# default /tmp/paas-buildpack-smoke; wiped per fixture), PAAS_CA_BUNDLE (default
# /etc/ssl/certs/ca-certificates.crt), PAAS_SMOKE_APPS (where the apps are, default
# tests/fixtures/apps; an app not named below is built twice and must answer "hello"). Needs a running Docker engine and the stack image
# (scripts/stack-build.sh). Exit status 0 only when every fixture behaved.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
IMAGE="${PAAS_STACK_IMAGE:-paas/stack:bookworm}"
WORK="${PAAS_SMOKE_DIR:-/tmp/paas-buildpack-smoke}"
CA_BUNDLE="${PAAS_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
BUILDPACKS="$ROOT/buildpacks"
APPS="${PAAS_SMOKE_APPS:-$ROOT/tests/fixtures/apps}"
# paasd's detection order (BuildSettings::buildpack_order, set in crates/paasd/src/lib.rs):
# still written twice, keep the two the same.
ORDER="python nodejs static procfile"
TAG=$$

if [ "$#" -gt 0 ]; then
  FIXTURES=("$@")
else
  FIXTURES=(python-gunicorn node-express static-site procfile-shell failing-build)
fi

say() { printf -- '=====> %s\n' "$*"; }
bad() { printf -- ' !!!   %s\n' "$*"; }

docker info >/dev/null 2>&1 || { bad "no Docker engine answers"; exit 1; }
docker image inspect "$IMAGE" >/dev/null 2>&1 || { bad "no stack image $IMAGE (run scripts/stack-build.sh)"; exit 1; }

CONTAINERS=()
IMAGES=()
cleanup() {
  local c i
  for c in "${CONTAINERS[@]+"${CONTAINERS[@]}"}"; do docker rm -f "$c" >/dev/null 2>&1 || true; done
  for i in "${IMAGES[@]+"${IMAGES[@]}"}"; do docker rmi -f "$i" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The builder's own build script and build container settings: build.sh is the file
# paasd runs (include_str!), build-container.env is generated from the Rust constants (a
# paas-builder test fails when it is stale), so this test's builds are paasd's.
BUILD_SCRIPT=$(cat "$ROOT/crates/paas-builder/src/build.sh")
# shellcheck source=crates/paas-builder/src/build-container.env
. "$ROOT/crates/paas-builder/src/build-container.env"

# Security, limits (the builder's defaults) and mounts as the builder sets them.
common_run_args() {
  local cache=$1 env_dir=$2 e var
  printf '%s\n' \
    --user "$BUILD_USER" --cap-drop "$BUILD_CAP_DROP" --security-opt "$BUILD_SECURITY_OPT" \
    --memory "$BUILD_MEMORY_BYTES" --memory-swap "$BUILD_MEMORY_BYTES" --cpus "$BUILD_CPUS" \
    --pids-limit "$BUILD_PIDS" --workdir "$BUILD_WORKDIR" \
    --label paas.smoke=1 \
    -v "$cache:$BUILD_CACHE_DIR" -v "$env_dir:$BUILD_ENV_DIR:ro" -v "$BUILDPACKS:$BUILD_BUILDPACKS_DIR:ro" \
    -e SOURCE_VERSION=smoke -e PAAS_BUILDPACK_FORCED=
  for e in $BUILD_ENV; do printf '%s\n' -e "$e"; done
  if [ -s "$CA_BUNDLE" ]; then
    printf '%s\n' -v "$CA_BUNDLE:$BUILD_CA_FILE:ro"
    for var in $BUILD_CA_VARS; do
      printf '%s\n' -e "$var=$BUILD_CA_FILE"
    done
  fi
}

# The milliseconds from the detected marker to the compiled marker, by Docker's timestamps.
compile_ms() {
  local name=$1 ts line detected="" compiled=""
  while read -r ts line; do
    case "$line" in
      "$BUILD_MARKER_DETECTED"*) detected=$(date -d "$ts" +%s%N) ;;
      "$BUILD_MARKER_COMPILED") compiled=$(date -d "$ts" +%s%N) ;;
    esac
  done < <(docker logs --timestamps "$name" 2>&1)
  if [ -n "$detected" ] && [ -n "$compiled" ]; then echo $(( (compiled - detected) / 1000000 )); fi
}

# build FIXTURE ROUND → sets BUILT_IMAGE, BUILD_LOG, COMPILE_MS; returns the build's status.
build() {
  local fixture=$1 round=$2
  local src="$APPS/$fixture"
  local cache="$WORK/$fixture/cache" env_dir="$WORK/$fixture/env"
  local name="paas-smoke-build-$fixture-$round-$TAG"
  BUILD_LOG="$WORK/$fixture/build-$round.log"
  BUILT_IMAGE="paas-smoke/$fixture:$round-$TAG"
  COMPILE_MS=""
  local bps="" b
  for b in $ORDER; do bps="$bps $BUILD_BUILDPACKS_DIR/$b"; done
  local args
  mapfile -t args < <(common_run_args "$cache" "$env_dir")
  CONTAINERS+=("$name")
  docker create --name "$name" "${args[@]}" -e PAAS_BUILDPACKS="${bps# }" \
    "$IMAGE" /bin/sh -c "$BUILD_SCRIPT" >/dev/null
  # The source lands in /app owned by the build user, as the builder uploads it.
  tar -C "$src" --owner="${BUILD_USER%%:*}" --group="${BUILD_USER##*:}" --numeric-owner -cf - . | docker cp - "$name:/app"
  local t0 rc=0
  t0=$(date +%s%N)
  docker start -a "$name" >"$BUILD_LOG" 2>&1 || rc=$?
  BUILD_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
  local line
  while IFS= read -r line; do
    case "$line" in
      "$BUILD_MARKER_DETECTED"*) echo "       | -----> ${line#"$BUILD_MARKER_DETECTED"} app detected" ;;
      "$BUILD_MARKER_NO_BUILDPACK") echo "       | no buildpack detected the app" ;;
      "$BUILD_MARKER_COMPILED" | "$BUILD_MARKER_RELEASE_BEGIN" | "$BUILD_MARKER_RELEASE_END") ;;
      *) echo "       | $line" ;;
    esac
  done <"$BUILD_LOG"
  COMPILE_MS=$(compile_ms "$name")
  if [ "$rc" = 0 ]; then
    docker commit "$name" "$BUILT_IMAGE" >/dev/null
    IMAGES+=("$BUILT_IMAGE")
  fi
  docker rm -f "$name" >/dev/null 2>&1 || true
  return "$rc"
}

# The command of process type TYPE: the Procfile's, else bin/release's default.
process_command() {
  local fixture=$1 type=$2 round=$3 cmd=""
  local procfile="$APPS/$fixture/Procfile"
  if [ -f "$procfile" ]; then
    cmd=$(sed -n "s/^$type:[[:space:]]*//p" "$procfile" | head -n 1)
  fi
  if [ -z "$cmd" ]; then
    cmd=$(awk -v begin="$BUILD_MARKER_RELEASE_BEGIN" -v end="$BUILD_MARKER_RELEASE_END" \
      '$0 == begin { on = 1; next } $0 == end { on = 0 } on' "$WORK/$fixture/build-$round.log" |
      sed -n "s/^  $type:[[:space:]]*//p" | head -n 1)
  fi
  printf '%s' "$cmd"
}

# run_process IMAGE NAME COMMAND → starts a dyno-like container (profile.d sourced).
run_process() {
  local image=$1 name=$2 cmd=$3
  CONTAINERS+=("$name")
  # As a dyno runs (crates/paas-docker/src/dynos.rs): the build's user and security.
  docker run -d --name "$name" --user "$BUILD_USER" --cap-drop "$BUILD_CAP_DROP" \
    --security-opt "$BUILD_SECURITY_OPT" --label paas.smoke=1 --workdir "$BUILD_WORKDIR" \
    -e HOME=/app -e PORT=5000 -e DYNO=web.1 \
    -e GREETING=smoke-greeting -e PAAS_CMD="$cmd" "$image" /bin/bash -c \
    'for f in /app/.profile.d/*.sh; do if [ -r "$f" ]; then . "$f"; fi; done; exec /bin/bash -c "$PAAS_CMD"' >/dev/null
}

# check_web FIXTURE IMAGE ROUND EXPECTED
check_web() {
  local fixture=$1 image=$2 round=$3 expected=$4
  local cmd name body="" i
  cmd=$(process_command "$fixture" web "$round")
  [ -n "$cmd" ] || { bad "$fixture: no web command"; return 1; }
  name="paas-smoke-web-$fixture-$round-$TAG"
  echo "       web: $cmd"
  run_process "$image" "$name" "$cmd"
  for i in $(seq 1 60); do
    if body=$(docker exec "$name" curl -fsS --max-time 2 http://127.0.0.1:5000/ 2>/dev/null); then break; fi
    if [ "$(docker inspect -f '{{.State.Running}}' "$name" 2>/dev/null)" != true ]; then break; fi
    sleep 0.5
  done
  if [[ $body == *"$expected"* ]]; then
    echo "       GET / → $(printf '%s' "$body" | tr -s '\n' ' ' | cut -c1-100)"
    docker rm -f "$name" >/dev/null 2>&1 || true
    return 0
  fi
  bad "$fixture: GET / did not answer \"$expected\" (got: ${body:-nothing}); container log:"
  docker logs "$name" 2>&1 | tail -n 20 | sed 's/^/       | /'
  docker rm -f "$name" >/dev/null 2>&1 || true
  return 1
}

check_worker() {
  local fixture=$1 image=$2 round=$3
  local cmd name i
  cmd=$(process_command "$fixture" worker "$round")
  [ -n "$cmd" ] || return 0
  name="paas-smoke-worker-$fixture-$round-$TAG"
  echo "       worker: $cmd"
  run_process "$image" "$name" "$cmd"
  for i in $(seq 1 20); do
    if docker logs "$name" 2>&1 | grep -q tick; then
      echo "       worker log: $(docker logs "$name" 2>&1 | head -n 1)"
      docker rm -f "$name" >/dev/null 2>&1 || true
      return 0
    fi
    sleep 0.5
  done
  bad "$fixture: the worker printed nothing"
  docker rm -f "$name" >/dev/null 2>&1 || true
  return 1
}

fmt_s() { awk -v ms="${1:-0}" 'BEGIN { printf "%.1fs", ms / 1000 }'; }

SUMMARY=()
FAILED=0
for fixture in "${FIXTURES[@]}"; do
  [ -d "$APPS/$fixture" ] || { bad "no fixture $fixture"; FAILED=1; continue; }
  rm -rf "${WORK:?}/$fixture"
  mkdir -p "$WORK/$fixture/cache" "$WORK/$fixture/env"
  # ENV_DIR: one file per config var, readable by the build user; the cache is its own.
  printf '%s' smoke-greeting >"$WORK/$fixture/env/GREETING"
  chown -R "$BUILD_USER" "$WORK/$fixture/cache"
  chmod 0755 "$WORK/$fixture/env" && chmod 0644 "$WORK/$fixture/env/GREETING"

  case "$fixture" in
    python-gunicorn) expected="hello from python smoke-greeting" rounds=2 ;;
    node-express) expected="hello from node smoke-greeting" rounds=2 ;;
    static-site) expected="hello from static" rounds=1 ;;
    procfile-shell) expected="hello from shell" rounds=1 ;;
    failing-build) expected="" rounds=1 ;;
    *) expected="hello" rounds=2 ;;
  esac

  for round in $(seq 1 "$rounds"); do
    say "$fixture: build $round"
    if [ "$fixture" = failing-build ]; then
      if build "$fixture" "$round"; then
        bad "$fixture: the build succeeded but must fail"; FAILED=1
        SUMMARY+=("$fixture	build $round	UNEXPECTED SUCCESS")
      elif grep -q 'pip could not install' "$BUILD_LOG" && [ ! -d "$WORK/$fixture/cache/python/venv" ]; then
        echo "       failed as expected (no venv cached)"
        SUMMARY+=("$fixture	build $round	failed as expected	-	build container $(fmt_s "$BUILD_MS")")
      else
        bad "$fixture: failed, but not in pip"; FAILED=1
        SUMMARY+=("$fixture	build $round	WRONG FAILURE")
      fi
      continue
    fi
    if ! build "$fixture" "$round"; then
      bad "$fixture: build $round failed"; FAILED=1
      SUMMARY+=("$fixture	build $round	BUILD FAILED")
      break
    fi
    status=ok
    if [ "$round" -ge 2 ] && grep -q 'Installing dependencies\|Reusing cached' "$WORK/$fixture/build-1.log"; then
      if grep -q 'Reusing cached dependencies' "$BUILD_LOG" && ! grep -qE 'Collecting|Downloading|added [0-9]+ packages' "$BUILD_LOG"; then
        echo "       second compile reused the cache"
      else
        bad "$fixture: the second compile did not reuse the cache"; FAILED=1; status="NO CACHE REUSE"
      fi
    fi
    check_web "$fixture" "$BUILT_IMAGE" "$round" "$expected" || { FAILED=1; status="WEB FAILED"; }
    check_worker "$fixture" "$BUILT_IMAGE" "$round" || { FAILED=1; status="WORKER FAILED"; }
    SUMMARY+=("$fixture	build $round	$status	compile $(fmt_s "$COMPILE_MS")	build container $(fmt_s "$BUILD_MS")")
  done
done

say "Summary"
printf '%s\n' "${SUMMARY[@]+"${SUMMARY[@]}"}" | awk -F'\t' '{ printf "       %-16s %-8s %-20s %-16s %s\n", $1, $2, $3, $4, $5 }'
if [ "$FAILED" != 0 ]; then
  bad "buildpack smoke test FAILED"
  exit 1
fi
say "buildpack smoke test passed"
