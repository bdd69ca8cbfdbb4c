#!/usr/bin/env bash
# Manifest verification benchmark with its baseline in the same run: builds
# //bench:manifest_verify_bench with -c opt, runs it, runs
# `openssl speed ecdsap256`, and prints our rates next to OpenSSL's verify/s
# with the ratios. Results and what they mean: docs/PERFORMANCE.md.
#
#   bench/manifest_verify.sh        # 3 s per measurement, about 15 s in all
#   bench/manifest_verify.sh 5      # 5 s per measurement
#
# Four measurements run one after another (two of ours, OpenSSL's sign and
# verify), so the run takes about 4 x SECONDS plus the build.
set -euo pipefail

seconds="${1:-3}"
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: $0 [SECONDS]   (a positive whole number, default 3)" >&2
  exit 2
fi

cd "$(dirname "${BASH_SOURCE[0]}")/.."

bazel build -c opt //bench:manifest_verify_bench
# The opt output directory by name: bazel-bin follows whichever
# configuration the workspace built last, which another command may change.
binary="$(bazel info -c opt bazel-bin)/bench/manifest_verify_bench"

echo
ours="$("$binary" --seconds="$seconds")"
echo "$ours"

# Column 4 of a row is calls/s.
row_rate() {
  awk -v row="$1" '$1 == row && NF == 5 { print $4 }' <<<"$ours"
}
manifest_rate="$(row_rate verify_manifest)"
raw_rate="$(row_rate ecdsa_verify)"

openssl_out="$(openssl speed -seconds "$seconds" ecdsap256 2>&1)"
# " 256 bits ecdsa (nistp256)   0.0000s   0.0001s  53212.4  19842.0": the
# last column is verify/s.
openssl_rate="$(awk '/bits ecdsa \(nistp256\)/ { print $NF }' <<<"$openssl_out")"

for value in "$manifest_rate" "$raw_rate" "$openssl_rate"; do
  if ! [[ "$value" =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
    echo "could not read a rate (got '$value'); output was:" >&2
    echo "$ours" >&2
    echo "$openssl_out" >&2
    exit 1
  fi
done

echo
echo "Summary (one thread, ${seconds} s per measurement; ratio = ours / openssl)"
awk -v m="$manifest_rate" -v r="$raw_rate" -v o="$openssl_rate" 'BEGIN {
  printf "%-52s %12s %8s\n", "measurement", "verify/s", "ratio"
  printf "%-52s %12.1f %8.3f\n", "ours: VerifyManifest, full signed manifest", m, m / o
  printf "%-52s %12.1f %8.3f\n", "ours: EcdsaP256PublicKey::Verify, same bytes", r, r / o
  printf "%-52s %12.1f %8.3f\n", "openssl speed ecdsap256 (verify/s)", o, 1
}'
