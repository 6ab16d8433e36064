# shellcheck shell=bash
# Sourced by bin/compile and bin/release: prints the directory to serve, relative to the
# build dir: static.json's "root" when set, else public/ when it exists, else the root.
static_root() {
  local root=""
  if [ -f static.json ]; then
    root=$(python3 -c 'import json, sys
try:
    r = json.load(open("static.json")).get("root") or ""
except Exception:
    r = ""
print(r if isinstance(r, str) else "")' 2>/dev/null || true)
    root=${root#./}
    root=${root%/}
    case "$root" in
      /* | *..*) root="" ;; # stays inside the app
    esac
  fi
  if [ -n "$root" ] && [ -d "$root" ]; then
    echo "$root"
  elif [ -d public ]; then
    echo public
  else
    echo .
  fi
}
