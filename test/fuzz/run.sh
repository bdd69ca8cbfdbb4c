#!/usr/bin/env bash
# Builds the fuzz targets and runs each for a bounded time, starting from
# its seed corpus (test/fuzz/corpus/<target>/, which also holds every input
# that once crashed). Exits non-zero when a target crashes or breaks one of
# its invariants, and prints the reproducer's path.
#
#   bash test/fuzz/run.sh                          # each target 10 s
#   bash test/fuzz/run.sh --seconds=600 filter     # one target, longer
#
# Options: --seconds=N per target (default 10); --keep-corpus grows a
# corpus under the cache folder across runs (a long run's findings serve
# the next one) instead of a temporary one. Reproduce a crash with
#   <cache>/bin/<target> <reproducer>
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
seconds=10
keep_corpus=0
targets=()
for arg in "$@"; do
  case "$arg" in
    --seconds=*) seconds="${arg#--seconds=}" ;;
    --keep-corpus) keep_corpus=1 ;;
    -*) echo "unknown option $arg" >&2; exit 2 ;;
    *) targets+=("$arg") ;;
  esac
done
[[ ${#targets[@]} -gt 0 ]] ||
  targets=(manifest manifest_body boot_header range filter path_template sha256_pair)

bin="$(bash "$root/test/fuzz/build.sh" "${targets[@]}")" || {
  echo "fuzz: build failed" >&2
  exit 1
}
cache="$(dirname "$bin")"
work="$(mktemp -d "${TEST_TMPDIR:-/tmp}/ota-fuzz.XXXXXX")"
trap 'rm -rf "$work"' EXIT
artifacts="$cache/artifacts"
mkdir -p "$artifacts"

failed=0
for t in "${targets[@]}"; do
  seeds="$root/test/fuzz/corpus/$t"
  corpus="$work/corpus/$t"
  [[ $keep_corpus -eq 1 ]] && corpus="$cache/corpus/$t"
  mkdir -p "$corpus"
  log="$work/$t.log"
  start=$(date +%s)
  # The first folder receives new inputs; the seeds are only read.
  "$bin/$t" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 \
    -artifact_prefix="$artifacts/$t-" "$corpus" "$seeds" >"$log" 2>&1
  rc=$?
  took=$(( $(date +%s) - start ))
  runs="$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -1)"
  if [[ $rc -eq 0 ]]; then
    echo "fuzz $t: ok, ${runs:-?} runs in ${took}s, corpus $(ls "$corpus" | wc -l) + $(ls "$seeds" | wc -l) seeds"
    continue
  fi
  failed=1
  echo "fuzz $t: FAILED (exit $rc)"
  grep -E 'ERROR|invariant|SUMMARY|runtime error|check failed' "$log" | head -20
  tail -n 40 "$log"
  reproducer="$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)"
  if [[ -n "$reproducer" && -f "$reproducer" ]]; then
    echo "fuzz $t: reproducer $reproducer ($(stat -c %s "$reproducer") bytes); run: $bin/$t $reproducer"
    echo "fuzz $t: reproducer base64: $(head -c 4096 "$reproducer" | base64 -w0)"
  fi
done
exit $failed
