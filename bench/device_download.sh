#!/usr/bin/env bash
# Device download benchmark with its baselines in the same run: a random
# payload served by nginx on 127.0.0.1, fetched by the PayloadDownloader
# into a FileBlockDevice (//bench:device_download_bench: HTTP, writes, chunk
# checks, whole-payload digest, fdatasync and a journal saved with fsync and
# rename at each checkpoint, as ota-device does),
# beside `curl -o` of the same URL to a file on the same disk (also timed
# with a `sync` of that file after it, the durable equivalent) and beside
# `curl | openssl dgst -sha256`. Prints seconds, MB/s, the ratios ours /
# curl -o and the peak RSS of each. Results and what they mean:
# docs/PERFORMANCE.md, "Device download".
#
#   bench/device_download.sh                    # 512 MiB, 3 rounds
#   bench/device_download.sh --size-mib 2048 --rounds 1
#
# Options:
#   --size-mib N        payload size (default 512)
#   --rounds N          measurement rounds; the summary gives medians (3)
#   --checkpoint-mib N  the second PayloadDownloader run's checkpoint
#                       interval (DownloadOptions::checkpoint_bytes; default
#                       8, ota-device's); the first always flushes and saves
#                       the journal after every 1 MiB chunk
#
# nginx runs from a configuration, pid file and logs in the run's own
# temporary folder (under $TMPDIR, default /var/tmp: on disk, not tmpfs);
# the system's nginx service and configuration are never used. If no nginx
# binary is installed, nginx-light is installed with apt-get. Needs about
# 3 x the payload size free in that folder.
set -euo pipefail

size_mib=512
rounds=3
checkpoint_mib=8
while [[ $# -gt 0 ]]; do
  case "$1" in
    --size-mib) size_mib="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --checkpoint-mib) checkpoint_mib="$2"; shift 2 ;;
    *) echo "usage: $0 [--size-mib N] [--rounds N] [--checkpoint-mib N]" >&2; exit 2 ;;
  esac
done
for value in "$size_mib" "$rounds" "$checkpoint_mib"; do
  if ! [[ "$value" =~ ^[1-9][0-9]*$ ]]; then
    echo "options take positive whole numbers (got '$value')" >&2
    exit 2
  fi
done

cd "$(dirname "${BASH_SOURCE[0]}")/.."

nginx_installed() {
  local p
  for p in nginx-light nginx-core nginx; do
    if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      return 0
    fi
  done
  return 1
}
if ! nginx_installed || ! [[ -x /usr/sbin/nginx ]]; then
  echo "nginx is not installed; installing nginx-light" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx-light >&2
fi
nginx_bin=/usr/sbin/nginx

bazel build -c opt //bench:device_download_bench
# The opt output directory by name: bazel-bin follows whichever
# configuration the workspace built last, which another command may change.
binary="$(bazel info -c opt bazel-bin)/bench/device_download_bench"

work="$(mktemp -d "${TMPDIR:-/var/tmp}/ota-device-download.XXXXXX")"
nginx_pid=""
cleanup() {
  if [[ -n "$nginx_pid" ]]; then
    kill "$nginx_pid" 2>/dev/null || true
    wait "$nginx_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
# nginx's workers run as an unprivileged user when started as root: they
# must be able to read the payload.
chmod 755 "$work"
mkdir -p "$work/www" "$work/temp" "$work/out"
fs_type="$(df -T "$work" | awk 'NR == 2 { print $2 }')"
if [[ "$fs_type" == "tmpfs" ]]; then
  echo "warning: $work is on tmpfs; set TMPDIR to a folder on disk" >&2
fi

payload="$work/www/payload.bin"
small="$work/www/small.bin"
echo "making a ${size_mib} MiB random payload in $work ($fs_type)" >&2
head -c "$((size_mib << 20))" /dev/urandom >"$payload"
head -c "$((64 << 20))" "$payload" >"$small"
chmod 644 "$payload" "$small"
expected_sha256="$(openssl dgst -sha256 -r "$payload" | awk '{ print $1 }')"

start_nginx() {
  local port="$1"
  cat >"$work/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 1;
pid $work/nginx.pid;
error_log $work/error.log warn;
events { worker_connections 64; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    server_tokens off;
    default_type application/octet-stream;
    client_body_temp_path $work/temp/client_body;
    proxy_temp_path $work/temp/proxy;
    fastcgi_temp_path $work/temp/fastcgi;
    uwsgi_temp_path $work/temp/uwsgi;
    scgi_temp_path $work/temp/scgi;
    server {
        listen 127.0.0.1:$port;
        root $work/www;
    }
}
EOF
  "$nginx_bin" -p "$work" -c "$work/nginx.conf" -e "$work/error.log" &
  nginx_pid=$!
  local i
  for i in $(seq 1 50); do
    if [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/small.bin" || true)" == 200 ]]; then
      return 0
    fi
    if ! kill -0 "$nginx_pid" 2>/dev/null; then
      wait "$nginx_pid" 2>/dev/null || true
      nginx_pid=""
      return 1
    fi
    sleep 0.1
  done
  return 1
}
port=""
for attempt in $(seq 1 10); do
  candidate=$((20000 + RANDOM % 40000))
  if start_nginx "$candidate"; then
    port="$candidate"
    break
  fi
done
if [[ -z "$port" ]]; then
  echo "nginx did not start; its log:" >&2
  cat "$work/error.log" >&2 || true
  exit 1
fi
url="http://127.0.0.1:$port/payload.bin"
echo "nginx $("$nginx_bin" -v 2>&1 | sed 's/.*\///') serving $url" >&2

now() { date +%s.%N; }
# Peak RSS in KiB of a command, from /usr/bin/time when it is there.
time_bin=""
if [[ -x /usr/bin/time ]]; then time_bin=/usr/bin/time; fi

fresh_disk() {
  rm -f "$work/out/"*
  sync
}

# Reads "key value" lines.
field() { awk -v k="$1" '$1 == k { print $2 }' <<<"$2"; }

run_ours() {  # checkpoint_bytes, url, payload file
  # -> "seconds process_peak_kib peak_after_download_kib before_kib flushes"
  local out rss=""
  fresh_disk
  if [[ -n "$time_bin" ]]; then
    out="$("$time_bin" -f 'time_peak_kib %M' "$binary" --url="$2" --payload="$3" \
      --out="$work/out/slot.img" --journal="$work/out/journal.pb" \
      --checkpoint_bytes="$1" 2>&1)"
    rss="$(field time_peak_kib "$out")"
  else
    out="$("$binary" --url="$2" --payload="$3" --out="$work/out/slot.img" \
      --journal="$work/out/journal.pb" --checkpoint_bytes="$1" 2>&1)"
  fi
  if [[ -z "$(field download_seconds "$out")" ]]; then
    echo "device_download_bench failed:" >&2
    echo "$out" >&2
    exit 1
  fi
  [[ -n "$rss" ]] || rss="$(field peak_rss_kib "$out")"
  echo "$(field download_seconds "$out") $rss $(field peak_rss_kib "$out")" \
       "$(field rss_before_download_kib "$out") $(field flushes "$out")"
}

run_curl_o() {  # -> "seconds seconds_with_sync peak_kib"
  local t0 t1 t2 rss="0"
  fresh_disk
  t0="$(now)"
  if [[ -n "$time_bin" ]]; then
    "$time_bin" -f '%M' -o "$work/curl.rss" curl -sS -o "$work/out/curl.bin" "$url"
    rss="$(tail -n 1 "$work/curl.rss")"
  else
    curl -sS -o "$work/out/curl.bin" "$url"
  fi
  t1="$(now)"
  sync "$work/out/curl.bin"
  t2="$(now)"
  echo "$(awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN { printf "%.3f %.3f", b - a, c - a }') $rss"
}

run_curl_openssl() {  # -> "seconds"
  local t0 t1 digest
  fresh_disk
  t0="$(now)"
  digest="$(curl -sS "$url" | openssl dgst -sha256 -r | awk '{ print $1 }')"
  t1="$(now)"
  if [[ "$digest" != "$expected_sha256" ]]; then
    echo "curl | openssl gave $digest, expected $expected_sha256" >&2
    exit 1
  fi
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}

# Warm the page cache and the connection path once, untimed.
curl -sS -o /dev/null "$url"

checkpoint_bytes=$((checkpoint_mib << 20))
results="$work/results.txt"
: >"$results"
printf '%-6s %-34s %9s %9s %10s\n' round measurement seconds MB/s peak_KiB >&2
for round in $(seq 1 "$rounds"); do
  read -r c_s c_sync_s c_rss <<<"$(run_curl_o)"
  o_s="$(run_curl_openssl)"
  read -r d_s d_rss d_inproc d_before d_flushes <<<"$(run_ours 0 "$url" "$payload")"
  read -r k_s k_rss k_inproc k_before k_flushes <<<"$(run_ours "$checkpoint_bytes" "$url" "$payload")"
  for value in "$c_s" "$o_s" "$d_s" "$k_s"; do
    [[ -n "$value" ]] || exit 1  # the failing step said why
  done
  for row in "curl_o $c_s $c_rss" "curl_o_sync $c_sync_s -" "curl_openssl $o_s -" \
             "ours_every_chunk $d_s $d_rss" "ours_checkpoint $k_s $k_rss"; do
    read -r name s rss <<<"$row"
    echo "$round $name $s $rss" >>"$results"
    printf '%-6s %-34s %9.3f %9.1f %10s\n' "$round" "$name" "$s" \
      "$(awk -v s="$s" -v n="$size_mib" 'BEGIN { print n * 1048576 / s / 1e6 }')" "$rss" >&2
  done
  echo "$round ours_before_download_kib $d_before" >>"$results"
  echo "$round ours_after_download_kib $d_inproc $k_inproc" >>"$results"
  echo "$round ours_flushes $d_flushes $k_flushes" >>"$results"
done

# The same binary on a 64 MiB payload: peak RSS should not move with size.
read -r s_s s_rss s_inproc s_before s_flushes <<<"$(run_ours 0 "http://127.0.0.1:$port/small.bin" "$small")"
[[ -n "$s_s" ]] || exit 1

median() {  # name -> median of column 3 over rounds
  awk -v n="$1" '$2 == n { print $3 }' "$results" | sort -g |
    awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
c="$(median curl_o)"
cs="$(median curl_o_sync)"
o="$(median curl_openssl)"
d="$(median ours_every_chunk)"
k="$(median ours_checkpoint)"
max_rss() { awk -v n="$1" '$2 == n && $4 != "-" { if ($4 > m) m = $4 } END { print m + 0 }' "$results"; }

echo
echo "Summary: ${size_mib} MiB payload, 1 MiB chunks, nginx on 127.0.0.1, medians of ${rounds} round(s)"
echo "(ratio = seconds / curl -o seconds; peak RSS is the largest over the rounds)"
awk -v size="$size_mib" -v c="$c" -v cs="$cs" -v o="$o" -v d="$d" -v k="$k" \
    -v crss="$(max_rss curl_o)" -v drss="$(max_rss ours_every_chunk)" \
    -v krss="$(max_rss ours_checkpoint)" -v cp="$checkpoint_mib" 'BEGIN {
  mb = size * 1048576 / 1e6
  printf "%-52s %8s %8s %7s %10s\n", "measurement", "seconds", "MB/s", "ratio", "peak RSS"
  printf "%-52s %8.3f %8.1f %7.2f %7.1f MiB\n", "curl -o (page cache, not durable)", c, mb / c, 1, crss / 1024
  printf "%-52s %8.3f %8.1f %7.2f %10s\n", "curl -o, then sync of the file (durable)", cs, mb / cs, cs / c, "-"
  printf "%-52s %8.3f %8.1f %7.2f %10s\n", "curl | openssl dgst -sha256 (no disk)", o, mb / o, o / c, "-"
  printf "%-52s %8.3f %8.1f %7.2f %7.1f MiB\n", "PayloadDownloader, checkpoint every chunk", d, mb / d, d / c, drss / 1024
  printf "%-52s %8.3f %8.1f %7.2f %7.1f MiB\n", "PayloadDownloader, checkpoint every " cp " MiB", k, mb / k, k / c, krss / 1024
}'
echo
echo "ours / (curl -o + sync): every chunk $(awk -v a="$d" -v b="$cs" 'BEGIN { printf "%.2f", a / b }')," \
     "checkpoint $(awk -v a="$k" -v b="$cs" 'BEGIN { printf "%.2f", a / b }')"
max_col() {  # name, column -> largest value over rounds
  awk -v n="$1" -v c="$2" '$2 == n { if ($c > m) m = $c } END { print m + 0 }' "$results"
}
echo "PayloadDownloader RSS in KiB (largest over the rounds; 16 MiB = 16384 KiB):"
echo "  ${size_mib} MiB: before Download() $(max_col ours_before_download_kib 3)," \
     "peak right after it $(max_col ours_after_download_kib 3) (every chunk)" \
     "$(max_col ours_after_download_kib 4) (checkpoint)," \
     "process peak with exit $(max_rss ours_every_chunk) / $(max_rss ours_checkpoint)"
echo "  64 MiB: before Download() ${s_before}, peak right after it ${s_inproc}," \
     "process peak with exit ${s_rss}"
echo "flushes per run (every chunk, checkpoint): $(awk '$2 == "ours_flushes" { print $3, $4; exit }' "$results")"
