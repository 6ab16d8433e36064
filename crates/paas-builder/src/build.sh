# The build script: run as `/bin/sh -c "$(cat build.sh)"` in every build container, by
# paasd's builder (crates/paas-builder/src/script.rs, through include_str!) and by
# scripts/buildpack-smoke.sh. Without PAAS_BUILDPACK_FORCED: the first of $PAAS_BUILDPACKS
# whose detect succeeds. With it: every one of them, in order (the app's buildpack list,
# checked by paasd). Each compiles; what one writes to its `export` file is sourced
# before the next one runs (Heroku's multi-buildpack rule), and the last one's
# bin/release gives the default process types. The `::paas-…::` lines are the protocol
# with the builder (script.rs names them); everything else is build output.
set -e
# Buildpacks run from a writable copy (their folders are mounted read-only): `export`
# is written beside bin/, and the bundled ones find ../../lib there too.
work=/tmp/paas-buildpacks
rm -rf "$work"
for bp in $PAAS_BUILDPACKS; do
  parent=$(dirname "$bp")
  if [ ! -d "$work$parent" ]; then mkdir -p "$work$(dirname "$parent")"; cp -a "$parent" "$work$parent"; fi
done
selected=""
if [ -n "$PAAS_BUILDPACK_FORCED" ]; then
  selected="$PAAS_BUILDPACKS"
else
  for bp in $PAAS_BUILDPACKS; do
    if "$work$bp/bin/detect" /app >/dev/null 2>&1; then selected="$bp"; break; fi
  done
fi
if [ -z "$selected" ]; then
  echo "::paas-no-buildpack::"
  exit 1
fi
last=""
for bp in $selected; do
  dir="$work$bp"
  # An app's own buildpack is used whatever its detect says; detect only names it.
  name=$("$dir/bin/detect" /app 2>/dev/null) || name="Custom buildpack"
  # paasd's version choice for this buildpack (PAAS_RUNTIME_FROM_<folder>), if any.
  key=$(basename "$bp" | tr -c 'A-Za-z0-9_\n' _)
  eval "PAAS_RUNTIME_FROM=\${PAAS_RUNTIME_FROM_$key:-} PAAS_RUNTIME_LINE=\${PAAS_RUNTIME_LINE_$key:-}"
  export PAAS_RUNTIME_FROM PAAS_RUNTIME_LINE
  echo "::paas-detected:: ${name:-$(basename "$bp")}"
  "$dir/bin/compile" /app /cache /env
  echo "::paas-compiled::"
  # shellcheck source=/dev/null # written by the buildpack
  if [ -f "$dir/export" ]; then . "$dir/export"; fi
  last="$dir"
done
echo "::paas-release-begin::"
if [ -x "$last/bin/release" ]; then "$last/bin/release" /app; fi
echo "::paas-release-end::"
rm -rf "$work"
