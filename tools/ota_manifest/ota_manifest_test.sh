#!/usr/bin/env bash
# End-to-end test of the ota-manifest binary: init, create, verify, show,
# exit codes and the field named in each input error.
set -uo pipefail

tool="$(cd "$(dirname "$0")" && pwd)/ota-manifest"
[[ -x "$tool" ]] || tool="$TEST_SRCDIR/ota/tools/ota_manifest/ota-manifest"
work="$(mktemp -d "${TEST_TMPDIR:-/tmp}/ota-manifest.XXXXXX")"
cd "$work"
source "$TEST_SRCDIR/ota/test/lib/expect.sh"

expect "no command" 2 "usage: ota-manifest" -- "$tool"
expect "unknown command" 2 'unknown command "frobnicate"' -- "$tool" frobnicate
expect "init needs domain" 2 "init needs -d <company domain> and -m <product model>" -- "$tool" init -m gw
expect "unknown flag" 2 "unknown flag --colour for init" -- "$tool" init -d example.com -m gw --colour red
expect "init" 0 "vendor_id   cfbff0d1-9375-5685-968c-48ce8b15ae17" -- "$tool" init -d example.com -m gw-3610
[[ "$(stat -c %a update-certificates/default.key.pem)" == 600 ]] || { echo "FAIL key mode"; failures=$((failures + 1)); }
grep -q "ad06a868-7abd-56fa-938b-9aa0b273ccf9" .ota_manifest.json || { echo "FAIL defaults class id"; failures=$((failures + 1)); }
grep -q "arm_uc_default_certificate\[" update_default_resources.c || { echo "FAIL resources"; failures=$((failures + 1)); }
expect "init keeps an existing key" 2 "pass --force to replace the update key" -- "$tool" init -d example.com -m gw-3610
key_before="$(sha256sum update-certificates/default.key.pem)"
[[ "$key_before" == "$(sha256sum update-certificates/default.key.pem)" ]] || { echo "FAIL key replaced"; failures=$((failures + 1)); }

head -c 300000 /dev/urandom > fw.bin
cat > input.json <<'JSON'
{
  "encryptionMode": "none-ecc-secp256r1-sha256",
  "payloadUri": "http://127.0.0.1:8080/payloads/fw.bin",
  "payloadFile": "fw.bin",
  "description": "Test update",
  "sequenceNumber": 42,
  "chunkSize": 65536,
  "version": "1.2.3",
  "certificates": [{"uri": "http://example.com/default.der", "file": "update-certificates/default.der"}]
}
JSON
expect "create" 0 "sequence 42, payload 300000 bytes in 5 chunk(s)" -- "$tool" create -i input.json -o fw.manifest
expect "verify with payload" 0 "ACCEPTED sequence 42" -- "$tool" verify -m fw.manifest --payload fw.bin
expect "verify checks chunks" 0 "match sha256 and 5 chunk digest(s)" -- "$tool" verify -m fw.manifest --payload fw.bin
expect "show" 0 "payload       full, 300000 bytes, 5 chunk(s) of 65536" -- "$tool" show -m fw.manifest
expect "show json" 0 '"sha256": "'"$(sha256sum fw.bin | cut -d' ' -f1)"'"' -- "$tool" show -m fw.manifest --json
expect "equal sequence" 1 "REJECTED REASON_SEQUENCE_NOT_NEWER" -- "$tool" verify -m fw.manifest --installed-sequence 42
expect "older sequence" 1 "REJECTED REASON_ROLLBACK" -- "$tool" verify -m fw.manifest --installed-sequence 43
expect "wrong class" 1 "REJECTED REASON_CLASS_MISMATCH" -- "$tool" verify -m fw.manifest --class-id 00000000000000000000000000000001

cp fw.bin fw-bad.bin
printf 'X' | dd of=fw-bad.bin bs=1 seek=70000 conv=notrunc status=none
expect "poisoned chunk" 1 "REJECTED REASON_CHUNK_DIGEST_MISMATCH: chunk 1 sha256" -- "$tool" verify -m fw.manifest --payload fw-bad.bin
head -c 299999 fw.bin > fw-short.bin
expect "short payload" 1 "REJECTED REASON_PAYLOAD_SIZE_MISMATCH: payload is 299999 bytes, the manifest declares 300000" -- "$tool" verify -m fw.manifest --payload fw-short.bin

cp fw.manifest flipped.manifest
size=$(stat -c %s flipped.manifest)
printf '\x01' | dd of=flipped.manifest bs=1 seek=$((size / 3)) conv=notrunc status=none
expect "flipped byte" 1 "REJECTED REASON_SIGNATURE_INVALID" -- "$tool" verify -m flipped.manifest
expect "empty" 1 "REJECTED REASON_EMPTY" -- "$tool" verify -m /dev/null
head -c 300000 /dev/zero > huge.manifest
expect "oversized" 1 "REJECTED REASON_TOO_LARGE" -- "$tool" verify -m huge.manifest

mkdir other && (cd other && "$tool" init -d example.com -m gw-3610 >/dev/null)
expect "unknown key" 1 "REJECTED REASON_UNKNOWN_KEY" -- "$tool" verify -m fw.manifest -c other/update-certificates/default.der

expect "missing manifest" 2 "cannot open missing.manifest" -- "$tool" verify -m missing.manifest

# Input errors name the field.
bad() { printf '%s' "$2" > "bad-$1.json"; }
bad mode '{"payloadUri":"u","payloadFile":"fw.bin"}'
expect "missing encryptionMode" 2 "field encryptionMode is missing" -- "$tool" create -i bad-mode.json -o x.manifest
bad mode2 '{"encryptionMode":"aes","payloadUri":"u","payloadFile":"fw.bin"}'
expect "wrong encryptionMode" 2 'field encryptionMode is "aes"; only "none-ecc-secp256r1-sha256" is supported' -- "$tool" create -i bad-mode2.json -o x.manifest
bad uri '{"encryptionMode":"none-ecc-secp256r1-sha256","payloadFile":"fw.bin"}'
expect "missing payloadUri" 2 "field payloadUri is missing" -- "$tool" create -i bad-uri.json -o x.manifest
bad file '{"encryptionMode":"none-ecc-secp256r1-sha256","payloadUri":"u"}'
expect "missing payloadFile" 2 "field payloadFile is missing" -- "$tool" create -i bad-file.json -o x.manifest
bad vendor '{"encryptionMode":"none-ecc-secp256r1-sha256","payloadUri":"u","payloadFile":"fw.bin","vendorId":"xyz"}'
expect "bad vendorId" 2 'field vendorId "xyz" is not a UUID' -- "$tool" create -i bad-vendor.json -o x.manifest
bad unknown '{"encryptionMode":"none-ecc-secp256r1-sha256","payloadUri":"u","payloadFile":"fw.bin","colour":"red"}'
expect "unknown field" 2 "colour" -- "$tool" create -i bad-unknown.json -o x.manifest
bad expires '{"encryptionMode":"none-ecc-secp256r1-sha256","payloadUri":"u","payloadFile":"fw.bin","expiresAt":"tomorrow"}'
expect "bad expiresAt" 2 'field expiresAt "tomorrow" is not an RFC 3339 time' -- "$tool" create -i bad-expires.json -o x.manifest
bad delta '{"encryptionMode":"none-ecc-secp256r1-sha256","payloadUri":"u","payloadFile":"fw.bin","payloadFormat":"zstd-delta"}'
expect "delta without precursor" 2 "field precursorFile is missing" -- "$tool" create -i bad-delta.json -o x.manifest
bad nofile '{"encryptionMode":"none-ecc-secp256r1-sha256","payloadUri":"u","payloadFile":"nope.bin"}'
expect "payload file missing" 2 "payloadFile: cannot open nope.bin" -- "$tool" create -i bad-nofile.json -o x.manifest
[[ ! -e x.manifest ]] || { echo "FAIL a failed create wrote output"; failures=$((failures + 1)); }

# A delta with an expiry and a signed downgrade.
head -c 1000 /dev/urandom > old.bin
now=$(date +%s)
expires_at="$(date -u -d "@$((now + 365 * 86400))" +%Y-%m-%dT%H:%M:%SZ)"
cat > delta.json <<JSON
{"encryptionMode":"none-ecc-secp256r1-sha256","payloadUri":"u","payloadFile":"fw.bin",
 "sequenceNumber":7,"payloadFormat":"zstd-delta","precursorFile":"old.bin","installedSize":400000,
 "expiresAt":"$expires_at","downgrade":{"maxInstalledSequence":9,"reason":"bad 9"}}
JSON
expect "create delta" 0 "sequence 7" -- "$tool" create -i delta.json -o delta.manifest
old_sha="$(sha256sum old.bin | cut -d' ' -f1)"
expect "authorized downgrade" 0 "ACCEPTED sequence 7" -- "$tool" verify -m delta.manifest --installed-sequence 9 --installed-sha256 "$old_sha"
expect "downgrade not covering" 1 "REASON_DOWNGRADE_NOT_AUTHORIZED" -- "$tool" verify -m delta.manifest --installed-sequence 10 --installed-sha256 "$old_sha"
expect "wrong precursor" 1 "REASON_PRECURSOR_MISMATCH" -- "$tool" verify -m delta.manifest --installed-sequence 1 --installed-sha256 "$(sha256sum fw.bin | cut -d' ' -f1)"
expect "expired" 1 "REASON_EXPIRED" -- "$tool" verify -m delta.manifest --installed-sequence 1 --installed-sha256 "$old_sha" --now $((now + 2 * 365 * 86400))
expect "show delta" 0 "precursor   $old_sha" -- "$tool" show -m delta.manifest

finish
