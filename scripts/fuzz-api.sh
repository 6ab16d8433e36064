#!/usr/bin/env bash
# Property-based fuzzing of the control API from its own /openapi.json with schemathesis:
# fails on any 5xx and on any response that breaks the documented schema.
#
#   scripts/fuzz-api.sh URL TOKEN   fuzz a running paasd (starts nothing; the fuzzer
#                                   creates and destroys apps: never a paasd you use)
#   scripts/fuzz-api.sh             start a throwaway paasd (built binary, a fresh
#                                   database on $DATABASE_URL's server, else paasd's
#                                   embedded Postgres), make a token, fuzz, clean up
#
#   PAAS_FUZZ_EXAMPLES   examples per operation (default 30)
#   PAAS_FUZZ_SEED       hypothesis seed (default 7: CI runs are reproducible)
#   CARGO_TARGET_DIR     where the built paasd is (default ./target)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

examples="${PAAS_FUZZ_EXAMPLES:-30}"
schemathesis="$(scripts/schemathesis.sh)"

fuzz() {
  local url="$1" token="$2"
  echo "-----> schemathesis against $url (at most $examples examples per operation)"
  # Home and reports in a temp dir: schemathesis writes a cache and reports.
  local work
  work="$(mktemp -d)"
  # Half of the generated app names are an app that exists, so handlers get past
  # "Couldn't find that app" (created here, if missing).
  curl -sf -o /dev/null -X POST -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d '{"name":"fuzz"}' "$url/apps" || true
  # The fuzzer may revoke only a token made for that: revoking `~` (or the id `GET
  # /oauth/authorizations` lists) would revoke its own, and every later request would be
  # refused (a run "passing" with most operations answering only 401).
  local revocable
  revocable="$(curl -sf -X POST -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d '{"description":"fuzz-revocable"}' "$url/oauth/authorizations" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
  cat >"$work/schemathesis.toml" <<TOML
[dictionaries.apps]
values = ["fuzz"]

[parameters]
"path.app" = { dictionary = "apps", probability = 0.5 }

# Operations answering only 401/403 mean the run is not authenticated ("Authentication
# failed"): a failure. "Schema validation mismatch" (an operation that mostly rejected
# schema-valid requests) is not: the operations it still names refuse by state no
# schema states (an add-on's kind for pg-info and backup schedules, a provisioned
# add-on for a console), and every single schema-valid request refused otherwise is a
# failure of the positive_data_acceptance check anyway.
[warnings]
fail-on = ["missing_auth"]

[[operations]]
include-name = "DELETE /oauth/authorizations/{authorization}"
parameters = { "path.authorization" = "$revocable" }

# A certificate chain and key must be a real PEM certificate and its key: no schema
# states that, so a schema-valid body is refused (422) unless it is one (the
# description's example is one, so the operation is also reached).
[[operations]]
include-name-regex = '^(POST|PATCH) /apps/[^ ]+/sni-endpoints'
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "422"]

# pg-info, backups, backup schedules and credential rotation are of Postgres add-ons:
# another add-on's id is refused (422), a rule on the add-on's kind, not on the
# request's shape.
[[operations]]
include-path-regex = '^/addons/[^/]+/(pg-info|backups|backup-schedule|actions/rotate-credentials)'
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "422"]

# Rules on state, not on the request's shape (a 422 that names them): a console needs a
# provisioned add-on; an app has at most 5 log drains; an app's buildpacks are distinct;
# an add-on's attachment name (its config var) must not be another attachment's.
[[operations]]
include-name-regex = '^(POST /apps/[^ ]+/addons/[^ ]+/actions/console|POST /apps/[^ ]+/log-drains|PUT /apps/[^ ]+/buildpack-installations|POST /apps/[^ ]+/addons)$'
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "422"]

# A hostname under the platform's own domain (what the stateful phase takes from an
# app's web_url) is refused: the domain is a setting, not part of the description.
[[operations]]
include-name = "POST /apps/{app}/domains"
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "422"]
TOML
  local status=0
  (
    cd "$work"
    # Isolated from the user's ~/.netrc: its HTTP client would send a netrc entry for the
    # API's host instead of the --header token.
    export HOME="$work" NETRC="$work/netrc"
    : >"$NETRC"
    # git's pack bodies are a binary protocol schemathesis cannot generate; the push
    # callback's credential is a one-time secret only git's hook holds (never a token); a
    # log session's stream of a `tail` session never ends (the client's timeout is all
    # it would find).
    # Every check but unsupported_method: paasd answers a method a path does not have
    # with 404, as Heroku's API does (the router's method_not_allowed_fallback), not 405.
    "$schemathesis" --config-file "$work/schemathesis.toml" run "$url/openapi.json" \
      --exclude-path-regex '/git-(receive|upload)-pack$' \
      --exclude-path '/internal/pushes/{id}' \
      --exclude-path '/log-sessions/{id}' \
      --checks "${PAAS_FUZZ_CHECKS:-all}" \
      --exclude-checks unsupported_method \
      --max-examples "$examples" \
      --header "Authorization: Bearer $token" \
      --request-timeout 30 \
      --seed "${PAAS_FUZZ_SEED:-7}" \
      --no-color
  ) || status=$?
  rm -rf "$work"
  return "$status"
}

if [ $# -ge 2 ]; then
  fuzz "$1" "$2"
  exit
fi

paasd="${CARGO_TARGET_DIR:-$PWD/target}/debug/paasd"
[ -x "$paasd" ] || { echo "fuzz-api: $paasd is not built (cargo build -p paasd)" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

data="$(mktemp -d /tmp/paas-fuzz-XXXXXX)"
chmod 755 "$data" # the embedded cluster runs as `postgres` under root
port="$(free_port)"
instance="fuzz-$(basename "$data" | tr -dc 'a-zA-Z0-9' | tail -c 8)"
export PAAS_DATA_DIR="$data" PAAS_API_ADDR="127.0.0.1:$port" PAAS_INSTANCE="$instance"
export PAAS_ROUTER_ADDR="127.0.0.1:$(free_port)" PAAS_TLS_ADDR="127.0.0.1:0" PAAS_ROUTER_TLS_ADDR="127.0.0.1:0" PAAS_ACME_DIRECTORY=off
export PAAS_BUILDPACKS_DIR="$PWD/buildpacks" PAAS_LOG_FORMAT=json
database=""
if [ -n "${DATABASE_URL:-}" ]; then
  database="paas_fuzz_$$"
  psql -q "$DATABASE_URL" -c "create database $database" >/dev/null
  server="${DATABASE_URL%/*}"
  export DATABASE_URL="$server/$database"
fi

pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  # A stopped paasd leaves its networks: a live app's on purpose, a deleted app's until
  # the supervisor's sweep, which takes only networks over a minute old (the fuzzer
  # deletes the app `fuzz` after its add-ons put it on a network, well within the
  # minute). The instance's containers, networks and volumes all go here.
  remove_instance "$instance"
  if [ -n "$database" ]; then
    psql -q "$server/postgres" -c "drop database if exists $database" >/dev/null 2>&1 || true
  fi
  rm -rf "$data"
}
trap cleanup EXIT

"$paasd" >"$data/paasd.log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do
  curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
  kill -0 "$pid" 2>/dev/null || { cat "$data/paasd.log" >&2; exit 1; }
  sleep 0.2
done
token="$("$paasd" tokens create --name fuzz | grep -o 'paas_[0-9a-f]*' | head -n 1)"
if ! fuzz "http://127.0.0.1:$port" "$token"; then
  echo "fuzz-api: failures above; paasd's log:" >&2
  grep -E '"level":"(ERROR|WARN)"' "$data/paasd.log" | tail -n 40 >&2 || true
  exit 1
fi
