#!/bin/sh
# PID 1 of a Postgres add-on (runs as the `postgres` user). The cluster is made once,
# into a scratch directory renamed into place when complete, so a volume that holds a
# cluster is never initialised again and a cut-off first start leaves nothing half-made.
# Plain TCP is refused: pg_hba.conf has `hostssl` lines only; the socket (docker exec,
# backups) trusts local users.
set -eu
bin=/usr/lib/postgresql/17/bin
data=/var/lib/postgresql/data
pgdata="$data/pgdata"
if [ ! -s "$pgdata/PG_VERSION" ]; then
  rm -rf "$data/init.tmp"
  mkdir -m 700 "$data/init.tmp"
  pw=$(mktemp)
  printf '%s' "$PAAS_ADDON_PASSWORD" >"$pw"
  "$bin/initdb" -D "$data/init.tmp" -U "$PAAS_ADDON_USER" --pwfile="$pw" \
    --auth-host=scram-sha-256 --auth-local=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  rm -f "$pw"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=$PAAS_ADDON_HOST" \
    -addext "subjectAltName=DNS:$PAAS_ADDON_HOST" \
    -keyout "$data/init.tmp/server.key" -out "$data/init.tmp/server.crt" 2>/dev/null
  chmod 600 "$data/init.tmp/server.key"
  printf '%s\n' 'local all all trust' \
    'hostssl all all 0.0.0.0/0 scram-sha-256' 'hostssl all all ::/0 scram-sha-256' \
    >"$data/init.tmp/pg_hba.conf"
  echo "CREATE DATABASE \"$PAAS_ADDON_DB\" OWNER \"$PAAS_ADDON_USER\";" |
    "$bin/postgres" --single -D "$data/init.tmp" -c config_file="$data/init.tmp/postgresql.conf" postgres >/dev/null
  mv "$data/init.tmp" "$pgdata"
  echo "paas: initialised the database $PAAS_ADDON_DB"
fi
exec "$bin/postgres" -D "$pgdata" -c listen_addresses='*' -c port=5432 \
  -c unix_socket_directories=/var/run/postgresql \
  -c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key \
  -c max_connections="${PAAS_ADDON_MAX_CONNECTIONS:-20}" \
  -c shared_buffers="${PAAS_ADDON_SHARED_BUFFERS:-32MB}" \
  -c log_destination=stderr -c logging_collector=off
