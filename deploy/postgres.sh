#!/usr/bin/env bash
# A private PostgreSQL 15 cluster for the demo and benchmarks, listening on a
# Unix socket in its own folder only (no port, nothing shared with a system
# PostgreSQL).
#
#   deploy/postgres.sh start DIR [--fsync]   # prints the connection URL
#   deploy/postgres.sh stop DIR
#
# initdb refuses to run as root, so as root the server runs as the
# `postgres` user of Debian's postgresql package. DIR must not exist yet for
# start (it is created); keep its path short (Unix socket paths are limited
# to 107 bytes).
set -euo pipefail

bin=/usr/lib/postgresql/15/bin
cmd="${1:-}"
dir="${2:-}"
[[ -n "$cmd" && -n "$dir" ]] || { echo "usage: $0 start|stop DIR [--fsync]" >&2; exit 2; }

as_pg() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$cmd" in
  start)
    fsync=off
    [[ "${3:-}" == "--fsync" ]] && fsync=on
    mkdir -p "$dir"
    chmod 0700 "$dir"
    [[ $(id -u) -eq 0 ]] && chown postgres:postgres "$dir"
    as_pg "$bin/initdb" --no-sync -A trust -U postgres -E UTF8 --locale=C -D "$dir/data" >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$dir'
fsync = $fsync
synchronous_commit = $fsync
max_connections = 300
CONF
    as_pg "$bin/pg_ctl" -w -t 60 -D "$dir/data" -l "$dir/server.log" start >/dev/null \
      || { cat "$dir/server.log" >&2; exit 1; }
    as_pg "$bin/createdb" -h "$dir" -U postgres ota
    echo "postgresql://postgres@/ota?host=$dir"
    ;;
  stop)
    [[ -d "$dir/data" ]] || exit 0
    as_pg "$bin/pg_ctl" -w -t 60 -m fast -D "$dir/data" stop >/dev/null 2>&1 || true
    ;;
  *)
    echo "usage: $0 start|stop DIR [--fsync]" >&2
    exit 2
    ;;
esac
