#!/usr/bin/env bash
# otad server-core benchmark with its baselines in the same run. Builds otad
# and //bench:otad_bench with -c opt, starts a private PostgreSQL 15 cluster
# (fsync on: every commit is durable) and otad on 127.0.0.1:0 with a fresh
# blob folder, then measures side by side:
#
#   upload    otad_bench streams a random file to AssetService.UploadAsset
#             in 1 MiB chunks; baseline: `cp FILE DEST && sync` plus
#             `openssl dgst -sha256 FILE` on the same bytes, on the same disk
#             (the copy and the digest otad does, without gRPC).
#   register  RegisterDevice for N new devices from C client threads;
#             baseline: pgbench, C clients, the same INSERT otad runs.
#   connect   Connect for the same N devices (refreshing their rows) until
#             the first keepalive on each; baseline: pgbench, C clients, the
#             same INSERT ... ON CONFLICT UPDATE otad runs on a connect.
#
# and prints a summary with ratio = ours / baseline. Results and what they
# mean: docs/PERFORMANCE.md.
#
#   bench/otad.sh                                  # 256 MiB, 2000 devices, 8 threads
#   bench/otad.sh --size_mib=64 --devices=500 --threads=4
#
# Everything lives in one temporary folder (cluster, socket, blob folder,
# file, copy) on one disk and is removed at exit, with the PostgreSQL server
# and otad this script started. Loopback and a Unix socket only. Each step
# has a time limit; about 35 s once built. As root, PostgreSQL runs as the
# `postgres` user (initdb refuses root).
set -euo pipefail
export LC_ALL=C

size_mib=256
devices=2000
threads=8
usage="usage: $0 [--size_mib=N] [--devices=N] [--threads=N]   (positive whole numbers)"
for arg in "$@"; do
  case "$arg" in
    --size_mib=*) size_mib="${arg#*=}" ;;
    --devices=*) devices="${arg#*=}" ;;
    --threads=*) threads="${arg#*=}" ;;
    -h | --help) echo "$usage"; exit 0 ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done
for value in "$size_mib" "$devices" "$threads"; do
  if ! [[ "$value" =~ ^[1-9][0-9]*$ ]]; then
    echo "$usage" >&2
    exit 2
  fi
done

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench/lib/postgres.sh
source "$root/bench/lib/postgres.sh"
pg_check_tools openssl || exit 1

# Every device holds a connection open in the connect measurement, on both
# ends of the loopback.
need_fds=$((devices + 512))
if (( $(ulimit -n) < need_fds )); then
  ulimit -n "$need_fds" 2>/dev/null || {
    echo "need $need_fds open files (ulimit -n is $(ulimit -n)); use fewer --devices" >&2
    exit 1
  }
fi

work=""
otad_pid=""
cleanup() {
  set +e
  if [[ -n "$otad_pid" ]] && kill -0 "$otad_pid" 2>/dev/null; then
    kill -TERM "$otad_pid"
    for _ in $(seq 100); do
      kill -0 "$otad_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$otad_pid" 2>/dev/null && kill -KILL "$otad_pid"
    wait "$otad_pid" 2>/dev/null
  fi
  pg_stop
  [[ -n "$work" ]] && rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Build first: the cluster and otad start only once the binaries exist.
cd "$root"
timeout 3600 bazel build -c opt //server:otad //bench:otad_bench
# The opt output directory by name: bazel-bin follows whichever
# configuration the workspace built last, which another command may change.
bin="$(bazel info -c opt bazel-bin)"

work="$(mktemp -d "${TMPDIR:-/tmp}/otad-bench.XXXXXX")"
chmod 755 "$work"
# Copies, so that a concurrent build replacing bazel-bin cannot matter.
mkdir "$work/bin" "$work/baseline"
cp "$bin/server/otad" "$bin/bench/otad_bench" "$work/bin/"
otad="$work/bin/otad"
bench="$work/bin/otad_bench"

# ----------------------------------------------------------- PostgreSQL
pg_start "$work/pg" 100 || exit 1
database_url="$(pg_url otad)" || exit 1
psql_otad() { timeout 60 "$pg_bin/psql" -h "$socket" -U postgres -d otad -qAt "$@"; }

# ----------------------------------------------------------------- otad
"$otad" --grpc_address=127.0.0.1:0 --database_url="$database_url" \
  --http_address=127.0.0.1:0 --blob_dir="$work/blobs" --insecure >"$work/otad.log" 2>&1 &
otad_pid=$!
address=""
for _ in $(seq 600); do
  address="$(sed -n 's/^otad: gRPC listening on //p' "$work/otad.log")"
  [[ -n "$address" ]] && break
  if ! kill -0 "$otad_pid" 2>/dev/null; then
    echo "otad exited:" >&2
    cat "$work/otad.log" >&2
    exit 1
  fi
  sleep 0.1
done
if [[ -z "$address" ]]; then
  echo "otad did not start listening within 60 s:" >&2
  cat "$work/otad.log" >&2
  exit 1
fi
echo "otad on $address, PostgreSQL on $socket, files under $work"

# Runs otad_bench with a time limit and prints its output; fails the script
# with otad's log when it fails.
run_bench() {
  local out
  if ! out="$(timeout 600 "$bench" --address="$address" "$@" 2>&1)"; then
    echo "$out" >&2
    echo "otad log:" >&2
    tail -n 20 "$work/otad.log" >&2
    exit 1
  fi
  echo "$out"
}
# Column 4 of a row of otad_bench's table is its rate.
row_rate() { awk -v row="$1" '$1 == row && NF == 8 { print $4 }' <<<"$2"; }
# Seconds since the epoch, to the microsecond.
now() { echo "$EPOCHREALTIME"; }

# --------------------------------------------------------------- upload
payload="$work/payload.bin"
bytes=$((size_mib * 1048576))
head -c "$bytes" /dev/urandom >"$payload"
sync

echo
echo "== upload: $size_mib MiB"
upload_out="$(run_bench --mode=upload --file="$payload")"
echo "$upload_out"
upload_rate="$(row_rate upload "$upload_out")"
upload_sha="$(awk '/^upload: / { print $NF }' <<<"$upload_out")"

sync
t0="$(now)"
timeout 600 cp "$payload" "$work/baseline/payload.bin"
timeout 600 sync
t1="$(now)"
openssl_sha="$(timeout 600 openssl dgst -sha256 -r "$payload" | awk '{ print $1 }')"
t2="$(now)"
if [[ "$openssl_sha" != "$upload_sha" ]]; then
  echo "openssl digest $openssl_sha differs from the uploaded $upload_sha" >&2
  exit 1
fi
read -r copy_rate digest_rate baseline_rate < <(awk -v b="$bytes" -v t0="$t0" -v t1="$t1" \
  -v t2="$t2" 'BEGIN { printf "%.1f %.1f %.1f\n", b / (t1 - t0) / 1e6, b / (t2 - t1) / 1e6,
                       b / (t2 - t0) / 1e6 }')
echo "baseline: cp + sync $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }') s," \
  "openssl dgst -sha256 $(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.3f", b - a }') s"

# ----------------------------------------------------- register, connect
# The baselines run otad's own SQL (server/store/stores.cc) on the same
# database through pgbench's extended protocol, as libpqxx's exec_params.
vendor="6f746164-6265-6e63-6876-656e646f7201"
class="6f746164-6265-6e63-6863-6c6173730001"
columns="device_id, vendor_id, class_id, installed_slot, installed_sha256, installed_sequence,
  installed_version, installed_component, installed_trial, attributes::text AS attrs,
  assigned_attributes::text AS assigned, client_version, key_list_version, slot_size, online,
  first_seen_unix, last_seen_unix, created_unix"
cat >"$work/register.sql" <<EOF
\\set n random(1, 1000000000000)
INSERT INTO devices (device_id, vendor_id, class_id, assigned_attributes, created_unix)
  VALUES ('pgbench-' || :client_id || '-' || :n, '$vendor', '$class', '{"region": "eu"}'::jsonb,
          1800000000)
  RETURNING $columns;
EOF
cat >"$work/connect.sql" <<EOF
\\set n random(1, $devices)
INSERT INTO devices (device_id, vendor_id, class_id, installed_slot, installed_sha256,
    installed_sequence, installed_version, installed_component, installed_trial,
    reported_attributes, client_version, key_list_version, slot_size, online, first_seen_unix,
    last_seen_unix, created_unix, installed_report_seq)
  VALUES ('dev-' || lpad(:n, 6, '0'), '$vendor', '$class', 'a', repeat('ab', 32), 0, '1.0.0',
          'rootfs', false, '{"region": "eu"}'::jsonb, 'otad_bench', 0, 67108864, true,
          1800000000, 1800000000, 1800000000, 0)
  ON CONFLICT (device_id) DO UPDATE SET vendor_id = EXCLUDED.vendor_id,
    class_id = EXCLUDED.class_id, installed_slot = EXCLUDED.installed_slot,
    installed_sha256 = EXCLUDED.installed_sha256,
    installed_sequence = EXCLUDED.installed_sequence,
    installed_version = EXCLUDED.installed_version,
    installed_component = EXCLUDED.installed_component,
    installed_trial = EXCLUDED.installed_trial,
    reported_attributes = EXCLUDED.reported_attributes,
    client_version = EXCLUDED.client_version,
    key_list_version = EXCLUDED.key_list_version, slot_size = EXCLUDED.slot_size,
    online = true, last_seen_unix = EXCLUDED.last_seen_unix,
    installed_report_seq = EXCLUDED.installed_report_seq,
    first_seen_unix = CASE WHEN devices.first_seen_unix = 0
      THEN EXCLUDED.first_seen_unix ELSE devices.first_seen_unix END
  RETURNING $columns;
EOF
per_client=$(((devices + threads - 1) / threads))
# pgbench's rate: transactions per second, connection setup excluded.
run_pgbench() {
  local out
  if ! out="$(timeout 600 "$pg_bin/pgbench" -h "$socket" -U postgres -n -M extended \
      -c "$threads" -j "$threads" -t "$per_client" -f "$1" otad 2>&1)"; then
    echo "$out" >&2
    exit 1
  fi
  awk '/^tps = / { print $3 }' <<<"$out"
}

echo
echo "== register: $devices devices, $threads client threads"
register_out="$(run_bench --mode=register --devices="$devices" --threads="$threads" \
  --id_prefix=dev)"
echo "$register_out"
register_rate="$(row_rate register "$register_out")"
pg_register_rate="$(run_pgbench "$work/register.sql")"
echo "baseline: pgbench INSERT, $threads clients x $per_client: $pg_register_rate/s"

echo
echo "== connect: the same $devices devices, $threads client threads"
pg_connect_rate="$(run_pgbench "$work/connect.sql")"
echo "baseline: pgbench INSERT ... ON CONFLICT UPDATE, $threads clients x $per_client:" \
  "$pg_connect_rate/s"
connect_out="$(run_bench --mode=connect --devices="$devices" --threads="$threads" \
  --id_prefix=dev)"
echo "$connect_out"
connect_rate="$(row_rate connect "$connect_out")"
# "connect: first 500 devices at 212.8/s (...), last 500 at 83.5/s (...)"
quarters="$(grep '^connect: first ' <<<"$connect_out" || true)"
connect_first="$(sed -n 's|.*first [0-9]* devices at \([0-9.]*\)/s.*|\1|p' <<<"$quarters")"
connect_last="$(sed -n 's|.*, last [0-9]* at \([0-9.]*\)/s.*|\1|p' <<<"$quarters")"

# otad marks each cancelled device offline; let that finish before it stops.
t0="$(now)"
for _ in $(seq 600); do
  [[ "$(psql_otad -c "SELECT count(*) FROM devices WHERE online")" == 0 ]] && break
  sleep 0.1
done
echo "all devices offline again after $(awk -v a="$t0" -v b="$(now)" \
  'BEGIN { printf "%.1f", b - a }') s"

for value in "$upload_rate" "$copy_rate" "$digest_rate" "$baseline_rate" "$register_rate" \
    "$pg_register_rate" "$connect_rate" "$pg_connect_rate"; do
  if ! [[ "$value" =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
    echo "could not read a rate (got '$value')" >&2
    exit 1
  fi
done

echo
echo "Summary (MB = 10^6 bytes; ratio = ours / baseline)"
awk -v mib="$size_mib" -v n="$devices" -v c="$threads" -v q="$((devices / 4))" \
  -v up="$upload_rate" -v cp="$copy_rate" -v dg="$digest_rate" -v base="$baseline_rate" \
  -v reg="$register_rate" -v preg="$pg_register_rate" \
  -v con="$connect_rate" -v con_first="$connect_first" -v con_last="$connect_last" \
  -v pcon="$pg_connect_rate" '
function line(name, rate, unit, ratio) { printf "%-58s %10.1f %-5s %7s\n", name, rate, unit, ratio }
function ratio(ours, baseline) { return sprintf("%.3f", ours / baseline) }
BEGIN {
  printf "%-58s %10s %-5s %7s\n", "measurement", "rate", "unit", "ratio"
  line("ours: UploadAsset " mib " MiB, 1 MiB chunks", up, "MB/s", ratio(up, base))
  line("baseline: cp + sync, then openssl dgst -sha256", base, "MB/s", "1.000")
  line("  of which cp + sync", cp, "MB/s", "")
  line("  of which openssl dgst -sha256", dg, "MB/s", "")
  line("ours: RegisterDevice, " n " devices, " c " threads", reg, "/s", ratio(reg, preg))
  line("baseline: pgbench, the same INSERT, " c " clients", preg, "/s", "1.000")
  line("ours: Connect to first keepalive, " n " devices", con, "/s", ratio(con, pcon))
  if (q > 0) {
    line("  the first " q " devices", con_first, "/s", "")
    line("  the last " q " devices", con_last, "/s", "")
  }
  line("baseline: pgbench, the same upsert, " c " clients", pcon, "/s", "1.000")
}'
