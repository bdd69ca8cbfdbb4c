#!/usr/bin/env bash
# Payload serving benchmark with nginx beside it in the same run: builds
# //server:otad with -c opt, starts a private PostgreSQL and otad, writes one
# random blob into otad's blob folder, starts nginx (its own configuration,
# from bench/payload_serving_nginx.conf.in, serving the same file), and
# measures both with wrk on loopback:
#
#   1. whole-blob GETs (256 MiB each by default);
#   2. ranged GETs, each for one random 1 MiB-aligned MiB of the blob
#      ("Range: bytes=OFFSET-OFFSET+1MiB-1", bench/payload_serving.lua).
#
# It prints requests/s, MB/s (10^6 bytes) and the ratios otad / nginx.
# Results and what they mean: docs/PERFORMANCE.md.
#
#   bench/payload_serving.sh                     # about 1 minute once built
#   bench/payload_serving.sh --http_threads=4 --seconds=5
#   bench/payload_serving.sh --otad=/tmp/otad-old   # a binary built before
#
# Flags (all --name=VALUE, positive whole numbers but --otad):
#   --http_threads  otad's HTTP threads and nginx's worker_processes (2)
#   --size_mib      blob size in MiB (256)
#   --seconds       length of each of the four wrk runs (10)
#   --connections   wrk connections (16)
#   --wrk_threads   wrk threads (2)
#   --rounds        measure everything this many times, interleaved, and
#                   add each round's ratios and the medians (1): on a shared
#                   machine a ratio of runs seconds apart is what holds
#   --otad          an otad binary to measure instead of building one
#
# Run as root on a fresh Debian machine it installs what is missing (nginx,
# wrk, curl, postgresql-15, iproute2, procps) without letting the packages start
# their system services. Everything it starts (PostgreSQL, otad, nginx) runs
# from one temporary folder and is stopped, and the folder removed, on exit.
set -euo pipefail

http_threads=2
size_mib=256
seconds=10
connections=16
wrk_threads=2
rounds=1
otad=""

usage() {  # EXIT_CODE: the comment above, as help
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2
  exit "$1"
}

for arg in "$@"; do
  case "$arg" in
    --http_threads=*) http_threads="${arg#*=}" ;;
    --size_mib=*) size_mib="${arg#*=}" ;;
    --seconds=*) seconds="${arg#*=}" ;;
    --connections=*) connections="${arg#*=}" ;;
    --wrk_threads=*) wrk_threads="${arg#*=}" ;;
    --rounds=*) rounds="${arg#*=}" ;;
    --otad=*) otad="$(realpath "${arg#*=}")" ;;
    -h|--help) usage 0 ;;
    *) echo "unknown argument: $arg" >&2; usage 2 ;;
  esac
done
for value in "$http_threads" "$size_mib" "$seconds" "$connections" "$wrk_threads" "$rounds"; do
  if ! [[ "$value" =~ ^[1-9][0-9]*$ ]]; then
    echo "flag values are positive whole numbers (got '$value'); see --help" >&2
    exit 2
  fi
done
if ((wrk_threads > connections)); then
  echo "--wrk_threads ($wrk_threads) must not exceed --connections ($connections)" >&2
  exit 2
fi

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo="$(pwd)"

work=""
otad_pid=""
nginx_pid=""
pg_running=0
policy_rc_created=0

# As root, a command of PostgreSQL's runs as the postgres user (initdb and
# the server refuse root); otherwise as whoever runs this script.
as_pg() {
  if ((EUID == 0)); then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

stop_pid() {  # PID: TERM, up to 10 s, then KILL
  local pid="$1"
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  set +e
  [[ -n "$nginx_pid" ]] && stop_pid "$nginx_pid"
  [[ -n "$otad_pid" ]] && stop_pid "$otad_pid"
  if ((pg_running)); then
    as_pg /usr/lib/postgresql/15/bin/pg_ctl -w -t 30 -m immediate -D "$work/pg/data" stop \
      >/dev/null 2>&1
  fi
  if ((policy_rc_created)); then rm -f /usr/sbin/policy-rc.d; fi
  if ((rc != 0)) && [[ -n "$work" ]]; then
    for log in "$work/otad.log" "$work/nginx/error.log" "$work/pg/server.log"; do
      if [[ -s "$log" ]]; then
        echo "--- last lines of $log" >&2
        tail -n 20 "$log" >&2
      fi
    done
  fi
  [[ -n "$work" ]] && rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- Packages -------------------------------------------------------------
missing=()
for pkg in nginx wrk curl postgresql-15 iproute2 procps; do
  if [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)" != "install ok installed" ]]; then
    missing+=("$pkg")
  fi
done
if ((${#missing[@]})); then
  if ((EUID != 0)); then
    echo "missing packages: ${missing[*]} (run as root to install them)" >&2
    exit 1
  fi
  echo "installing ${missing[*]}"
  # Installing nginx or PostgreSQL would start their system services (nginx
  # on port 80); a policy-rc.d that forbids it, for the install only.
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    policy_rc_created=1
  fi
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"; then
    DEBIAN_FRONTEND=noninteractive apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
  fi
  if ((policy_rc_created)); then
    rm -f /usr/sbin/policy-rc.d
    policy_rc_created=0
  fi
fi

# --- otad binary ----------------------------------------------------------
if [[ -z "$otad" ]]; then
  bazel build -c opt //server:otad
  # The opt output directory by name: bazel-bin follows whichever
  # configuration the workspace built last, which another command may change.
  otad="$(bazel info -c opt bazel-bin)/server/otad"
elif [[ ! -x "$otad" ]]; then
  echo "--otad: $otad is not an executable" >&2
  exit 2
fi

work="$(mktemp -d /tmp/ota-payload-bench-XXXXXX)"
chmod 755 "$work"  # nginx's workers (nobody) read the blob below it

# --- PostgreSQL -----------------------------------------------------------
pg_bin=/usr/lib/postgresql/15/bin
mkdir "$work/pg"
if ((EUID == 0)); then chown postgres:postgres "$work/pg"; fi
as_pg "$pg_bin/initdb" --no-sync -A trust -U postgres -E UTF8 --locale=C -D "$work/pg/data" \
  >"$work/pg/initdb.log" 2>&1 || { cat "$work/pg/initdb.log" >&2; exit 1; }
as_pg sh -c "cat >>'$work/pg/data/postgresql.conf'" <<EOF
listen_addresses = ''
unix_socket_directories = '$work/pg'
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
as_pg "$pg_bin/pg_ctl" -w -t 30 -D "$work/pg/data" -l "$work/pg/server.log" start >/dev/null
pg_running=1
as_pg "$pg_bin/createdb" -h "$work/pg" -U postgres otad

# --- The blob -------------------------------------------------------------
size=$((size_mib * 1048576))
head -c "$size" /dev/urandom >"$work/blob.tmp"
sha="$(sha256sum "$work/blob.tmp" | cut -d' ' -f1)"
blob="$work/blobs/sha256/${sha:0:2}/$sha"
mkdir -p "$(dirname "$blob")"
mv "$work/blob.tmp" "$blob"
chmod -R a+rX "$work/blobs"
cat "$blob" >/dev/null  # both servers read it from the page cache
path="/payloads/$sha"

# --- otad -----------------------------------------------------------------
"$otad" --http_address=127.0.0.1:0 --grpc_address=127.0.0.1:0 \
  --http_threads="$http_threads" --blob_dir="$work/blobs" --insecure \
  --database_url="postgresql://postgres@/otad?host=$work/pg" >"$work/otad.log" 2>&1 &
otad_pid=$!
otad_hostport=""
for _ in $(seq 600); do
  otad_hostport="$(sed -n 's/^otad: HTTP listening on \([^ ]*\).*/\1/p' "$work/otad.log")"
  [[ -n "$otad_hostport" ]] && break
  if ! kill -0 "$otad_pid" 2>/dev/null; then
    echo "otad exited at start" >&2
    exit 1
  fi
  sleep 0.1
done
if [[ -z "$otad_hostport" ]]; then
  echo "otad did not start listening within 60 s" >&2
  exit 1
fi
otad_url="http://$otad_hostport$path"

# --- nginx ----------------------------------------------------------------
ngx="$work/nginx"
mkdir -p "$ngx/temp"
user_line="# not root: the workers run as $(id -un)"
if ((EUID == 0)); then user_line="user nobody $(id -gn nobody);"; fi
nginx_url=""
for _ in $(seq 10); do
  # A port below Linux's ephemeral range (32768-60999), not listened on now.
  port=$((10000 + RANDOM % 22000))
  if [[ -n "$(ss -Htln "sport = :$port")" ]]; then continue; fi
  sed -e "s|@DIR@|$ngx|g" -e "s|@USER_LINE@|$user_line|" -e "s|@WORKERS@|$http_threads|" \
    -e "s|@PORT@|$port|" -e "s|@SHA256@|$sha|" -e "s|@BLOB@|$blob|" \
    "$repo/bench/payload_serving_nginx.conf.in" >"$ngx/nginx.conf"
  : >"$ngx/error.log"
  nginx -p "$ngx/" -c "$ngx/nginx.conf" -e "$ngx/error.log" &
  nginx_pid=$!
  for _ in $(seq 100); do
    kill -0 "$nginx_pid" 2>/dev/null || break
    code="$(curl -s -o /dev/null -w '%{http_code}' -r 0-0 "http://127.0.0.1:$port$path" || true)"
    if [[ "$code" == 206 ]]; then
      nginx_url="http://127.0.0.1:$port$path"
      break
    fi
    sleep 0.1
  done
  [[ -n "$nginx_url" ]] && break
  stop_pid "$nginx_pid"
  nginx_pid=""
  if ! grep -q 'Address already in use' "$ngx/error.log"; then
    echo "nginx did not start:" >&2
    cat "$ngx/error.log" >&2
    exit 1
  fi
done
if [[ -z "$nginx_url" ]]; then
  echo "nginx found no free port" >&2
  exit 1
fi

echo
echo "otad $otad_url (--http_threads=$http_threads)"
echo "nginx $nginx_url (worker_processes $http_threads)"

# --- Correctness, once ----------------------------------------------------
mib=1048576
block=$((RANDOM % (size / mib)))
first=$((block * mib))
last=$((first + mib - 1))
dd if="$blob" of="$work/range.want" bs="$mib" skip="$block" count=1 status=none
for server in otad nginx; do
  url="${server}_url"
  code="$(curl -sS -o "$work/range.$server" -w '%{http_code}' -H "Range: bytes=$first-$last" "${!url}")"
  if [[ "$code" != 206 ]] || ! cmp -s "$work/range.want" "$work/range.$server"; then
    echo "$server: Range bytes=$first-$last gave status $code and not the blob's bytes" >&2
    exit 1
  fi
  got="$(curl -sS "${!url}" | sha256sum | cut -d' ' -f1)"
  if [[ "$got" != "$sha" ]]; then
    echo "$server: the whole blob has SHA-256 $got, not $sha" >&2
    exit 1
  fi
done
rm -f "$work"/range.*
echo "checked: both return bytes $first-$last and the whole blob intact"

# --- Measurements ---------------------------------------------------------
clk_tck="$(getconf CLK_TCK)"

# CPU ticks (user + system) used so far by the given processes, threads
# included.
proc_ticks() {
  local pid
  for pid in "$@"; do
    # After the ") " that ends the command name, fields 12 and 13 are
    # utime and stime (14 and 15 of proc(5)).
    sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null || true
  done | awk '{ t += $12 + $13 } END { print t + 0 }'
}
# Busy ticks of the whole machine, all CPUs.
machine_ticks() {
  awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat
}
server_pids() {  # SERVER: its processes, one a line
  case "$1" in
    otad) echo "$otad_pid" ;;
    nginx) echo "$nginx_pid"; ps --ppid "$nginx_pid" -o pid= | tr -d ' ' || true ;;
  esac
}

declare -A rps mbps cpu_server cpu_machine
run_wrk() {  # SERVER MODE
  local server="$1" mode="$2" url="${1}_url" out s0 m0 s1 m1 line pids
  mapfile -t pids < <(server_pids "$server")
  s0="$(proc_ticks "${pids[@]}")"
  m0="$(machine_ticks)"
  # A response still in flight when the run ends is not a timeout: the
  # limit is longer than the run.
  out="$(wrk -t "$wrk_threads" -c "$connections" -d "${seconds}s" --timeout "$((seconds + 60))s" \
    -s "$repo/bench/payload_serving.lua" "${!url}" -- "$mode" "$size" 2>&1)"
  s1="$(proc_ticks "${pids[@]}")"
  m1="$(machine_ticks)"
  line="$(grep '^RESULT ' <<<"$out" || true)"
  if [[ -z "$line" ]]; then
    echo "wrk printed no result:" >&2
    echo "$out" >&2
    exit 1
  fi
  local requests bytes secs errors
  # requests, bytes, seconds, then the five error counts added up.
  read -r requests bytes secs errors < <(awk '{
    for (i = 2; i <= NF; i++) { split($i, kv, "="); v[i] = kv[2] }
    print v[2], v[3], v[4], v[5] + v[6] + v[7] + v[8] + v[9]
  }' <<<"$line")
  # Under load a whole blob may take longer than a short run: bytes
  # received count then, but nothing at all is a failure.
  if ((errors != 0)) || ((bytes == 0)); then
    echo "$server $mode: wrk saw errors or no response byte:" >&2
    echo "$out" >&2
    exit 1
  fi
  rps[$server.$mode]="$(awk -v r="$requests" -v s="$secs" 'BEGIN { printf "%.1f", r / s }')"
  mbps[$server.$mode]="$(awk -v b="$bytes" -v s="$secs" 'BEGIN { printf "%.1f", b / s / 1e6 }')"
  cpu_server[$server.$mode]="$(awk -v t="$((s1 - s0))" -v h="$clk_tck" -v s="$secs" \
    'BEGIN { printf "%.2f", t / h / s }')"
  cpu_machine[$server.$mode]="$(awk -v t="$((m1 - m0))" -v h="$clk_tck" -v s="$secs" \
    'BEGIN { printf "%.2f", t / h / s }')"
  printf '%-6s %-6s %10s req/s %10s MB/s   server CPU %s, machine busy %s (cores)\n' \
    "$server" "$mode" "${rps[$server.$mode]}" "${mbps[$server.$mode]}" \
    "${cpu_server[$server.$mode]}" "${cpu_machine[$server.$mode]}"
}

echo
echo "wrk: $wrk_threads threads, $connections connections, ${seconds} s per run, loopback"
declare -A round_ratios
for round in $(seq "$rounds"); do
  ((rounds > 1)) && echo "round $round of $rounds"
  for mode in full range; do
    for server in otad nginx; do
      run_wrk "$server" "$mode"
    done
    round_ratios[$mode]+="$(awk -v a="${mbps[otad.$mode]}" -v b="${mbps[nginx.$mode]}" \
      'BEGIN { printf "%.3f ", a / b }')"
  done
done

if ((rounds > 1)); then
  echo
  echo "MB/s ratio otad / nginx by round, then min-max (median):"
  for mode in full range; do
    # shellcheck disable=SC2086
    printf '%-6s %s\n' "$mode" "$(printf '%s\n' ${round_ratios[$mode]} | sort -n | awk -v all="${round_ratios[$mode]}" '
      { v[NR] = $1 }
      END {
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "%s  %s-%s (%.3f)", all, v[1], v[NR], m
      }')"
  done
fi

echo
echo "Summary, last round ($(nproc) CPUs; otad --http_threads=$http_threads, nginx worker_processes" \
  "$http_threads; blob $size_mib MiB; MB = 10^6 bytes; ratio = otad / nginx)"
printf '%-30s %-6s %11s %10s %9s %11s %12s\n' \
  measurement server "requests/s" "MB/s" ratio "server CPU" "machine CPU"
for mode in full range; do
  if [[ "$mode" == full ]]; then label="GET whole blob ($size_mib MiB)"; else label="GET Range, random 1 MiB"; fi
  for server in otad nginx; do
    printf '%-30s %-6s %11s %10s %9s %11s %12s\n' "$label" "$server" \
      "${rps[$server.$mode]}" "${mbps[$server.$mode]}" \
      "$(awk -v a="${mbps[$server.$mode]}" -v b="${mbps[nginx.$mode]}" 'BEGIN { printf "%.3f", a / b }')" \
      "${cpu_server[$server.$mode]}" "${cpu_machine[$server.$mode]}"
  done
done
