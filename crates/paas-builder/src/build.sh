# The build script: run as `/bin/sh -c "$(cat build.sh)"` in every build container, by
# paasd's builder (crates/paas-builder/src/script.rs, through include_str!) and by
# scripts/buildpack-smoke.sh. Detect in $PAAS_BUILDPACKS order (or the one forced
# buildpack), compile, then print bin/release's YAML. The `::paas-…::` lines are the
# protocol with the builder (script.rs names them); everything else is build output.
set -e
detected=""
if [ -n "$PAAS_BUILDPACK_FORCED" ]; then
  # An app's own buildpack is used whatever its detect says; detect only names it.
  detected="$PAAS_BUILDPACKS"
  name=$("$detected/bin/detect" /app 2>/dev/null) || name="Custom buildpack"
else
  for bp in $PAAS_BUILDPACKS; do
    if name=$("$bp/bin/detect" /app 2>/dev/null); then detected="$bp"; break; fi
  done
fi
if [ -z "$detected" ]; then
  echo "::paas-no-buildpack::"
  exit 1
fi
echo "::paas-detected:: ${name:-$(basename "$detected")}"
"$detected/bin/compile" /app /cache /env
echo "::paas-compiled::"
echo "::paas-release-begin::"
if [ -x "$detected/bin/release" ]; then "$detected/bin/release" /app; fi
echo "::paas-release-end::"
