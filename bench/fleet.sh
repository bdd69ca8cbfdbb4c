#!/usr/bin/env bash
# Fleet-scale benchmark of otad's device API, loopback only. Builds otad and
# //bench:fleet_bench with -c opt, starts a private PostgreSQL 15 cluster
# (bench/lib/postgres.sh: fsync on), then for --devices=N:
#
#   memory   ceil(N / --per_otad) otad processes on ports of their own, and
#            ceil(N / --per_client) fleet_bench processes holding N idle
#            Connect streams, one connection each, spread over the otads.
#            Prints otad's resident memory per stream: (RSS with the
#            streams, settled for --settle seconds) - (RSS before), summed
#            over the otads, / N. Baseline, when one otad holds the fleet:
#            the same with gRPC's default channel arguments
#            (otad --grpc_small_streams=false).
#   notify   a one-wave campaign over every device; the clock runs from the
#            StartCampaign call to the arrival of the last device's
#            deployment message. The engine inserts the wave in chunks; each
#            otad's campaign fanout sends each chunk to its own streams. The
#            per-stream periodic look runs beside it every --poll seconds
#            (otad's default, 30, unless given).
#   reports  (one otad only) fleet_bench keeps --report_clients ReportStatus
#            calls in flight for --report_seconds, --reports_per_call each;
#            baseline: pgbench, as many clients, each transaction the same
#            single-row INSERT into status_reports with its commit.
#
#   bench/fleet.sh                          # 10,000 devices, one otad
#   bench/fleet.sh --devices=50000          # three otads
#   bench/fleet.sh --devices=100000 --skip_reports
#   bench/fleet.sh --streams_per_connection=100   # as behind a multiplexing proxy
#
# --otad_flag=FLAG (repeatable) passes FLAG to every otad of the memory and
# notify passes, e.g. --otad_flag=--grpc_channel_arg=grpc.minimal_stack=1, so
# that variants of otad's settings can be compared with the same script.
#
# --log_dir=DIR keeps the otads' logs (with each campaign fanout's database
# and offer times), the clients' stderr and PostgreSQL's log there.
#
# A process here holds at most 20,000 open files, so one otad takes at most
# --per_otad devices (17,000) and one client process --per_client. Every
# step has a time limit; everything lives in one temporary folder, removed
# at exit with the processes this script started.
set -euo pipefail
export LC_ALL=C

devices=10000
per_otad=17000
per_client=17000
poll=30
settle=10
report_clients=64
report_seconds=10
reports_per_call=1
skip_reports=0
skip_baseline=0
per_connection=1
log_dir=""
otad_flags=()
usage="usage: $0 [--devices=N] [--per_otad=N] [--per_client=N] [--poll=SECONDS]
  [--settle=SECONDS] [--report_clients=N] [--report_seconds=N] [--skip_reports] [--skip_baseline]
  [--streams_per_connection=N] [--reports_per_call=N] [--log_dir=DIR]
  [--otad_flag=FLAG ...]"
for arg in "$@"; do
  case "$arg" in
    --devices=*) devices="${arg#*=}" ;;
    --per_otad=*) per_otad="${arg#*=}" ;;
    --per_client=*) per_client="${arg#*=}" ;;
    --poll=*) poll="${arg#*=}" ;;
    --settle=*) settle="${arg#*=}" ;;
    --report_clients=*) report_clients="${arg#*=}" ;;
    --report_seconds=*) report_seconds="${arg#*=}" ;;
    --reports_per_call=*) reports_per_call="${arg#*=}" ;;
    --skip_reports) skip_reports=1 ;;
    --skip_baseline) skip_baseline=1 ;;
    --streams_per_connection=*) per_connection="${arg#*=}" ;;
    --log_dir=*) log_dir="${arg#*=}" ;;
    --otad_flag=*) otad_flags+=("${arg#*=}") ;;
    -h | --help) echo "$usage"; exit 0 ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done
for value in "$devices" "$per_otad" "$per_client" "$poll" "$settle" "$report_clients" \
    "$report_seconds" "$reports_per_call" "$per_connection"; do
  if ! [[ "$value" =~ ^[1-9][0-9]*$ ]]; then
    echo "$usage" >&2
    exit 2
  fi
done
otads=$(((devices + per_otad - 1) / per_otad))
clients=$(((devices + per_client - 1) / per_client))
(( otads > 1 )) && skip_reports=1

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench/lib/postgres.sh
source "$root/bench/lib/postgres.sh"
pg_check_tools || exit 1
ulimit -n 20000 2>/dev/null || true
if (( $(ulimit -n) < per_otad + 1000 || $(ulimit -n) < per_client + 500 )); then
  echo "need $((per_otad + 1000)) open files per process (ulimit -n is $(ulimit -n))" >&2
  exit 1
fi

work=""
pids=()
# Stops one process: TERM, up to 20 s, then KILL.
stop_pid() {
  local pid="$1"
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 200); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  set +e
  for pid in "${pids[@]}"; do stop_pid "$pid"; done
  pg_stop
  if [[ -n "$log_dir" && -n "$work" ]]; then
    mkdir -p "$log_dir"
    cp "$work"/otad-*.log "$work"/fleet-*.err "$log_dir"/ 2>/dev/null
    cp "$work/pg/server.log" "$log_dir/postgres.log" 2>/dev/null
  fi
  [[ -n "$work" ]] && rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cd "$root"
timeout 3600 bazel build -c opt //server:otad //bench:fleet_bench
bin="$(bazel info -c opt bazel-bin)"
work="$(mktemp -d "${TMPDIR:-/tmp}/fleet-bench.XXXXXX")"
chmod 755 "$work"
mkdir "$work/bin"
cp "$bin/server/otad" "$bin/bench/fleet_bench" "$work/bin/"
otad="$work/bin/otad"
bench="$work/bin/fleet_bench"

pg_start "$work/pg" $((otads * 10 + report_clients + 20)) || exit 1
psql_db() { timeout 120 "$pg_bin/psql" -h "$socket" -U postgres -d "$db" -qAt "$@"; }

# Seconds since the epoch, to the microsecond.
now() { echo "$EPOCHREALTIME"; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# Waits until `file` has a line starting with `prefix`, for `seconds`;
# prints the rest of the line.
wait_line() {
  local file="$1" prefix="$2" seconds="$3" line=""
  for _ in $(seq $((seconds * 10))); do
    line="$(sed -n "s/^$prefix //p" "$file" | head -n 1)"
    [[ -n "$line" ]] && { echo "$line"; return 0; }
    sleep 0.1
  done
  return 1
}

otad_pids=()
otad_addresses=()
# Starts `otads` otad processes on database $db with extra flags "$@".
start_otads() {
  otad_pids=()
  otad_addresses=()
  local i log address
  for ((i = 0; i < otads; i++)); do
    log="$work/otad-$db-$i.log"
    "$otad" --grpc_address=127.0.0.1:0 --http_address=127.0.0.1:0 \
      --database_url="$database_url" --blob_dir="$work/blobs-$db" --db_pool_size=8 --insecure \
      --deployment_poll_seconds="$poll" "$@" >"$log" 2>&1 &
    otad_pids+=($!)
    pids+=($!)
    if ! address="$(wait_line "$log" "otad: gRPC listening on" 60)"; then
      echo "otad did not start:" >&2
      cat "$log" >&2
      exit 1
    fi
    otad_addresses+=("$address")
  done
  http_address="$(wait_line "$work/otad-$db-0.log" "otad: HTTP listening on" 10 | cut -d' ' -f1)"
}
stop_otads() {
  local pid
  for pid in "${otad_pids[@]}"; do stop_pid "$pid"; done
}

client_pids=()
# Starts the fleet: `clients` fleet_bench processes over every otad.
start_fleet() {
  client_pids=()
  local targets i first count
  targets="$(IFS=,; echo "${otad_addresses[*]}")"
  for ((i = 0; i < clients; i++)); do
    first=$((i * per_client))
    count=$((devices - first < per_client ? devices - first : per_client))
    "$bench" --mode=devices --targets="$targets" --devices="$count" --first="$first" \
      --max_seconds=900 --streams_per_connection="$per_connection" >"$work/fleet-$db-$i.out" 2>"$work/fleet-$db-$i.err" &
    client_pids+=($!)
    pids+=($!)
  done
}
# Waits for every client's `prefix` line, for `seconds`; prints the largest
# value of its second field.
wait_fleet() {
  local prefix="$1" seconds="$2" i line last=0
  for ((i = 0; i < clients; i++)); do
    if ! line="$(wait_line "$work/fleet-$db-$i.out" "$prefix" "$seconds")"; then
      echo "fleet_bench $i: no '$prefix' line in $seconds s:" >&2
      tail -n 5 "$work/fleet-$db-$i.err" >&2
      return 1
    fi
    (( ${line#* } > last )) && last="${line#* }"
  done
  echo "$last"
}
stop_fleet() {
  local pid
  for pid in "${client_pids[@]}"; do stop_pid "$pid"; done
}

# Measures idle-stream memory; otad flags in "$@". Sets rss_before,
# rss_after (KiB, all otads), connect_seconds, client_rss (KiB, all clients).
measure_memory() {
  start_otads "$@"
  sleep 2
  rss_before=0
  for pid in "${otad_pids[@]}"; do rss_before=$((rss_before + $(rss_kib "$pid"))); done
  local t0 t1
  t0="$(now)"
  start_fleet
  wait_fleet connected 600 >/dev/null || exit 1
  t1="$(now)"
  connect_seconds="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')"
  sleep "$settle"
  rss_after=0
  for pid in "${otad_pids[@]}"; do rss_after=$((rss_after + $(rss_kib "$pid"))); done
  client_rss=0
  for pid in "${client_pids[@]}"; do client_rss=$((client_rss + $(rss_kib "$pid"))); done
  online="$(psql_db -c "SELECT count(*) FROM devices WHERE online")"
  echo "$devices streams on $otads otad(s) in $connect_seconds s ($online devices online):" \
    "otad RSS $rss_before KiB before, $rss_after KiB with the streams;" \
    "clients $client_rss KiB"
}

per_stream() { awk -v a="$1" -v b="$2" -v n="$devices" 'BEGIN { printf "%.2f", (b - a) / n }'; }

# ------------------------------------------------------- memory, default args
if (( otads == 1 && skip_baseline == 0 )); then
  db=baseline
  database_url="$(pg_url "$db")" || exit 1
  echo "== memory, gRPC defaults: $devices devices"
  measure_memory --grpc_small_streams=false
  base_kib="$(per_stream "$rss_before" "$rss_after")"
  stop_fleet
  stop_otads
fi

# ------------------------------------------------------------ memory, notify
db=fleet
database_url="$(pg_url "$db")" || exit 1
echo "== memory: $devices devices, $otads otad(s), $clients client process(es)" \
  "${otad_flags[@]+otad ${otad_flags[*]}}"
measure_memory "${otad_flags[@]}"
ours_kib="$(per_stream "$rss_before" "$rss_after")"
client_kib="$(awk -v c="$client_rss" -v n="$devices" 'BEGIN { printf "%.1f", c / n }')"

echo "== notify: a campaign over the $devices devices"
campaign="$(timeout 60 "$bench" --mode=setup --target="${otad_addresses[0]}" \
  --http="http://$http_address" | sed -n 's/^campaign //p')"
[[ -n "$campaign" ]] || { echo "campaign setup failed" >&2; exit 1; }
start_out="$(timeout 60 "$bench" --mode=start --target="${otad_addresses[0]}" \
  --campaign="$campaign")"
start_us="$(sed -n 's/^start_us //p' <<<"$start_out")"
answered_us="$(sed -n 's/^answered_us //p' <<<"$start_out")"
if last_us="$(wait_fleet notified 120)"; then
  notify_s="$(awk -v a="$start_us" -v b="$last_us" 'BEGIN { printf "%.3f", (b - a) / 1e6 }')"
else
  notify_s="not all in 120 s"
fi
created_ms="$(psql_db -c "SELECT max(created_ms) - min(created_ms) FROM deployments")"
notified_rows="$(psql_db -c "SELECT count(*) FROM deployments WHERE state = 2")"
echo "StartCampaign answered in $(((answered_us - start_us) / 1000)) ms; all $devices" \
  "devices notified after $notify_s s; $notified_rows deployments NOTIFIED"
stop_fleet
stop_otads

# ----------------------------------------------------------------- reports
if (( skip_reports == 0 )); then
  db=reports
  database_url="$(pg_url "$db")" || exit 1
  echo "== reports: $report_clients calls in flight, $report_seconds s"
  start_otads
  report_out="$(timeout $((report_seconds + 300)) "$bench" --mode=reports \
    --target="${otad_addresses[0]}" --devices=2000 --concurrency="$report_clients" \
    --seconds="$report_seconds" --reports_per_call="$reports_per_call")"
  echo "$report_out"
  read -r _ acked_reports _ report_rate report_p50 report_p99 <<<"$report_out"
  stored="$(psql_db -c "SELECT count(*) FROM status_reports")"
  echo "status_reports rows: $stored (acknowledged reports: $acked_reports)"
  stop_otads
  cat >"$work/report.sql" <<EOF
\\set d random(1, 2000)
INSERT INTO status_reports (device_id, seq, deployment_id, state, reason, message, bytes_done,
    bytes_total, device_time_ms, received_ms, installed_slot, installed_sha256,
    installed_sequence)
  VALUES ('pgbench-' || :client_id || '-' || :d, nextval('bench_seq'), '', 5, 0, '', 4096,
          1073741824, 1800000000000, 1800000000000, '', '', 0);
EOF
  psql_db -c "CREATE SEQUENCE bench_seq"
  pg_out="$(timeout $((report_seconds + 120)) "$pg_bin/pgbench" -h "$socket" -U postgres -n \
    -M prepared -c "$report_clients" -j 2 -T "$report_seconds" -f "$work/report.sql" "$db" 2>&1)" \
    || { echo "$pg_out" >&2; exit 1; }
  pg_rate="$(awk '/^tps = / { print $3 }' <<<"$pg_out")"
  echo "baseline: pgbench, $report_clients clients, one INSERT + commit each: $pg_rate/s"
fi

echo
echo "Summary ($devices devices, $otads otad(s), $clients client process(es)," \
  "$per_connection stream(s) per connection; ratio = ours / baseline)"
printf "%-62s %12s %9s\n" "measurement" "figure" "ratio"
printf "%-62s %9s KiB %9s\n" "otad memory per idle stream, tuned channel arguments" "$ours_kib" \
  "$( [[ -n "${base_kib:-}" ]] && awk -v a="$ours_kib" -v b="$base_kib" 'BEGIN { printf "%.3f", a / b }' || echo -)"
[[ -n "${base_kib:-}" ]] &&
  printf "%-62s %9s KiB %9s\n" "baseline: otad with gRPC's default channel arguments" "$base_kib" "1.000"
printf "%-62s %9s KiB %9s\n" "client memory per stream (fleet_bench, for reference)" "$client_kib" "-"
printf "%-62s %11s s %9s\n" "campaign start to every device notified" "$notify_s" "-"
if (( skip_reports == 0 )); then
  printf "%-62s %10s/s %9s\n" \
    "durable reports, $report_clients calls in flight, $reports_per_call per call" "$report_rate" \
    "$(awk -v a="$report_rate" -v b="$pg_rate" 'BEGIN { printf "%.3f", a / b }')"
  printf "%-62s %10s/s %9s\n" "baseline: pgbench INSERT + commit, $report_clients clients" "$pg_rate" "1.000"
  echo "ReportStatus latency p50 $report_p50 ms, p99 $report_p99 ms"
fi
