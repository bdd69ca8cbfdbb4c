#!/usr/bin/env bash
# The fuzz targets as a test: builds them with clang (test/fuzz/build.sh,
# cached outside Bazel) and runs each for 10 seconds after every seed of
# its corpus. Fails on any crash or broken invariant, printing the
# reproducer's path and contents. Longer runs: see "Fuzzing" in README.md.
set -euo pipefail
cd "$TEST_SRCDIR/$TEST_WORKSPACE"
exec bash test/fuzz/run.sh --seconds="${OTA_FUZZ_SECONDS:-10}"
