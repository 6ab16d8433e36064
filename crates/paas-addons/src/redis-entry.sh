#!/bin/sh
# PID 1 of a Redis add-on (runs as the `redis` user): the password and limits go in a
# config file, not on the command line; data is appended to /data (the volume).
set -eu
conf=/tmp/redis.conf
umask 077
{
  echo "bind * -::*"
  echo "port 6379"
  echo "protected-mode no"
  echo "requirepass $PAAS_ADDON_PASSWORD"
  echo "dir /data"
  echo "appendonly yes"
  echo "maxmemory ${PAAS_ADDON_MAXMEMORY:-25mb}"
  echo "maxmemory-policy noeviction"
  echo "maxclients ${PAAS_ADDON_MAX_CONNECTIONS:-20}"
} >"$conf"
exec redis-server "$conf"
