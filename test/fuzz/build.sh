#!/usr/bin/env bash
# Builds the libFuzzer targets (test/fuzz/Makefile) with clang into a cache
# folder, and prints the folder that holds the binaries. A second run
# rebuilds only what changed.
#
#   bash test/fuzz/build.sh                 # every target
#   bash test/fuzz/build.sh range filter    # some
#
# OTA_FUZZ_CACHE names the cache folder (default ~/.cache/ota-fuzz; under a
# Bazel test, HOME is a temporary folder, so the account's home is asked for).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
home="$(getent passwd "$(id -u)" | cut -d: -f6)"
cache="${OTA_FUZZ_CACHE:-${home:-$HOME}/.cache/ota-fuzz}"
mkdir -p "$cache"

# One build at a time per cache (a test and a person may both build).
exec 9>"$cache/lock"
flock 9
make -s --no-print-directory -C "$root" -f test/fuzz/Makefile OUT="$cache" \
  -j"${OTA_FUZZ_JOBS:-2}" "$@" >&2
echo "$cache/bin"
