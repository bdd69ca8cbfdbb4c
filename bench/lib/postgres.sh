# Shared by the benchmark scripts: a private PostgreSQL 15 cluster in a
# folder, Unix socket only, fsync on (every commit waits for its WAL on
# disk). Source it, then:
#
#   pg_start "$work/pg" 100      # folder, max_connections; sets pgdata, socket
#   pg_url otad                  # creates database otad, prints its URL
#   pg_stop                      # from the script's cleanup
#
# As root, PostgreSQL runs as the `postgres` user (initdb refuses root).

pg_bin=/usr/lib/postgresql/15/bin
pgdata=""
socket=""

# Runs a PostgreSQL server command as its owner, for two minutes at most.
as_pg() {
  if [[ $EUID -eq 0 ]]; then
    timeout 120 runuser -u postgres -- "$@"
  else
    timeout 120 "$@"
  fi
}

pg_check_tools() {
  local tool
  for tool in "$pg_bin/initdb" "$pg_bin/pg_ctl" "$pg_bin/pgbench" "$pg_bin/psql" "$@"; do
    if ! command -v "$tool" >/dev/null; then
      echo "$tool is missing (packages postgresql-15 and the tools named)" >&2
      return 1
    fi
  done
}

pg_start() {
  local dir="$1" max_connections="$2"
  mkdir -p "$dir"
  pgdata="$dir/data"
  socket="$dir"
  [[ $EUID -eq 0 ]] && chown postgres:postgres "$dir"
  if ! as_pg "$pg_bin/initdb" -A trust -U postgres -E UTF8 --locale=C \
      -D "$pgdata" >"$dir/initdb.log" 2>&1; then
    cat "$dir/initdb.log" >&2
    return 1
  fi
  # Durability as shipped, written out so nobody wonders: every commit waits
  # for its WAL to reach the disk.
  cat >>"$pgdata/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$socket'
fsync = on
synchronous_commit = on
full_page_writes = on
max_connections = $max_connections
CONF
  if ! as_pg "$pg_bin/pg_ctl" -w -t 60 -D "$pgdata" -l "$dir/server.log" start >/dev/null; then
    cat "$dir/server.log" >&2
    return 1
  fi
}

pg_url() {
  timeout 60 "$pg_bin/createdb" -h "$socket" -U postgres "$1" || return 1
  echo "postgresql://postgres@/$1?host=$socket"
}

pg_stop() {
  if [[ -n "$pgdata" && -f "$pgdata/postmaster.pid" ]]; then
    as_pg "$pg_bin/pg_ctl" -w -t 30 -m immediate -D "$pgdata" stop >/dev/null 2>&1
  fi
}
