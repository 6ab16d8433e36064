# shellcheck shell=bash
# The bundled buildpacks' common shell, sourced by their bin/compile as
#   . "$(dirname "$0")/../../lib/common.sh"
# so it resolves at /buildpacks/<name>/bin/compile in the build container and in this
# repository alike (an app's own buildpack, mounted elsewhere, brings its own helpers).

# Output as the buildpack API wants it: `-----> Header`, 7-space indented details, and
# ` !     reason` as the last line of a failed compile.
header() { echo "-----> $*"; }
indent() { sed -u -e '/^[[:space:]]*$/d' -e 's/^/       /'; }
fail() { echo " !     $*"; exit 1; }

# export_env_dir ENV_DIR [NAME...]: config vars are visible to the build (package index
# URLs, tokens, ...), except names that are not shell identifiers, the buildpack API's
# deny-list of names that would break the build environment, and the NAMEs given.
export_env_dir() {
  local dir=$1 deny='PATH|GIT_DIR|CPATH|CPPATH|LD_PRELOAD|LIBRARY_PATH|LD_LIBRARY_PATH|HOME|PWD|BUILD_DIR|CACHE_DIR|ENV_DIR'
  shift
  local extra
  for extra in "$@"; do deny="$deny|$extra"; done
  deny="^($deny)\$"
  [ -n "$dir" ] && [ -d "$dir" ] || return 0
  local f name
  for f in "$dir"/*; do
    [ -f "$f" ] || continue
    name=$(basename "$f")
    [[ $name =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || continue
    [[ $name =~ $deny ]] && continue
    export "$name=$(cat "$f")"
  done
}

# use_cache NAME: makes CACHE_DIR absolute (relative to the current directory) and sets
# `cached` to this buildpack's own directory in it, CACHE_DIR/NAME.
use_cache() {
  mkdir -p "$CACHE_DIR"
  CACHE_DIR=$(cd "$CACHE_DIR" && pwd)
  cached="$CACHE_DIR/$1"
  mkdir -p "$cached"
}

# cache_key LINE... -- FILE...: a sha256 of the LINEs and of each FILE that exists (name
# and content). A cached tree is reused only under the same key.
cache_key() {
  {
    while [ "$#" -gt 0 ] && [ "$1" != -- ]; do
      echo "$1"
      shift
    done
    [ "$#" -gt 0 ] && shift
    local f
    for f in "$@"; do
      if [ -f "$f" ]; then echo "== $f"; cat "$f"; fi
    done
  } | sha256sum | cut -d' ' -f1
}

# restore_cache NAME DIR KEY: replaces DIR with a copy of `cached/NAME` when that was
# stored under KEY; fails (status 1, nothing changed) when it was not.
restore_cache() {
  local name=$1 dir=$2 key=$3
  [ -d "$cached/$name" ] && [ "$(cat "$cached/key" 2>/dev/null || true)" = "$key" ] || return 1
  rm -rf "$dir"
  cp -a "$cached/$name" "$dir"
}

# store_cache DIR NAME KEY: replaces `cached/NAME` with a copy of DIR. Copy first, then
# switch, and write the key last, so an interrupted build never leaves a usable half tree.
store_cache() {
  local dir=$1 name=$2 key=$3
  rm -rf "$cached/$name.new" "$cached/key"
  cp -a "$dir" "$cached/$name.new"
  rm -rf "${cached:?}/$name"
  mv "$cached/$name.new" "$cached/$name"
  echo "$key" >"$cached/key"
}

# export_for_next FILE: what FILE (this buildpack's .profile.d script) sets is also its
# `export` file, beside bin/, which the next buildpack of an app's list sources before
# its compile (Heroku's multi-buildpack rule: Node.js's PATH reaches Ruby's compile).
export_for_next() {
  cp "$1" "$(dirname "$0")/../export" 2>/dev/null || echo "       (could not write $(dirname "$0")/../export for the next buildpack)"
}
