# Sourced by the scripts that start otad in the background:
#
#   source deploy/otad.sh
#   start_otad "$otad_binary" "$log" --database_url="$url" --blob_dir="$dir"
#   echo "$grpc_addr $http_addr $otad_pid"
#
# start_otad BINARY LOG FLAGS...: starts otad on free loopback ports with
# FLAGS added, its output in LOG, waits (up to 10 s) until both servers
# listen and sets grpc_addr, http_addr and otad_pid. Returns 1, printing
# the log, when otad does not come up.
start_otad() {
  local binary="$1" log="$2"
  shift 2
  "$binary" --grpc_address=127.0.0.1:0 --http_address=127.0.0.1:0 "$@" >"$log" 2>&1 &
  otad_pid=$!
  for _ in $(seq 1 100); do
    grep -q "HTTP listening" "$log" 2>/dev/null && break
    sleep 0.1
  done
  grpc_addr="$(sed -n 's/^otad: gRPC listening on //p' "$log")"
  http_addr="$(sed -n 's/^otad: HTTP listening on \([^ ]*\).*/\1/p' "$log")"
  if [[ -z "$grpc_addr" || -z "$http_addr" ]]; then
    cat "$log" >&2
    return 1
  fi
}
