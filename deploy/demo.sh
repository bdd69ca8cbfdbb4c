#!/usr/bin/env bash
# The main job: the firmware developer's manifest flow, end to end.
#
#   bash deploy/demo.sh [work directory]     (default: ./work/demo)
#
# Installs what is missing, builds ota-manifest, then in the work directory:
# makes an update key and certificate (init), generates a 4 MiB firmware
# image, writes the seed's input.json, creates and signs the manifest, shows
# it, verifies it with its payload, and shows three attacks refused with
# their stable reasons. Safe to run again: each run starts a fresh folder.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="${1:-$root/work/demo}"
cd "$root"

bash deploy/install-deps.sh
echo "== building ota-manifest"
bazel build //tools/ota_manifest:ota-manifest 2>&1 | tail -n 2
tool="$root/bazel-bin/tools/ota_manifest/ota-manifest"

rm -rf "$work"
mkdir -p "$work"
cd "$work"

step() { printf '\n== %s\n$ %s\n' "$1" "${*:2}"; "${@:2}"; }

step "make the update key and certificate" "$tool" init -d example.com -m gw-3610

echo
echo "== build a firmware image (4 MiB)"
head -c $((4 << 20)) /dev/urandom > rootfs-v2.img
ls -l rootfs-v2.img

cat > input.json <<'JSON'
{
  "encryptionMode": "none-ecc-secp256r1-sha256",
  "payloadUri": "http://127.0.0.1:8080/payloads/rootfs-v2.img",
  "payloadFile": "rootfs-v2.img",
  "description": "gw-3610 rootfs 2.0.0",
  "version": "2.0.0",
  "component": "rootfs",
  "sequenceNumber": 2,
  "certificates": [
    {"uri": "http://127.0.0.1:8080/certs/default.der", "file": "update-certificates/default.der"}
  ]
}
JSON
printf '\n== input.json (vendorId and classId come from .ota_manifest.json)\n'
cat input.json

step "create and sign the manifest" "$tool" create -i input.json -o rootfs-v2.manifest
step "show it" "$tool" show -m rootfs-v2.manifest
step "verify it as a device running sequence 1 would" \
  "$tool" verify -m rootfs-v2.manifest --payload rootfs-v2.img --installed-sequence 1

refused() {
  printf '\n== refused: %s\n$ %s\n' "$1" "${*:2}"
  if "${@:2}"; then echo "UNEXPECTED: accepted"; exit 1; fi
}
cp rootfs-v2.manifest tampered.manifest
printf '\x01' | dd of=tampered.manifest bs=1 seek=40 conv=notrunc status=none
refused "one bit flipped in the manifest" "$tool" verify -m tampered.manifest
cp rootfs-v2.img poisoned.img
printf 'X' | dd of=poisoned.img bs=1 seek=$((3 << 20)) conv=notrunc status=none
refused "a cache serving a poisoned chunk" "$tool" verify -m rootfs-v2.manifest --payload poisoned.img
refused "a device already on sequence 3 (rollback)" \
  "$tool" verify -m rootfs-v2.manifest --installed-sequence 3

cat <<MSG

== done
Everything is in $work:
  update-certificates/   the update key (keep it secret) and certificate
  update_default_resources.c   what a device build compiles in to trust it
  rootfs-v2.manifest     the signed manifest for rootfs-v2.img
Next: \`bash test/run.sh\` runs every test; docs/PERFORMANCE.md has benchmarks.
MSG
