#!/usr/bin/env bash
# otactl against a real otad on a private PostgreSQL: every noun once, the
# tables and --json, and the documented exit codes (0 done, 1 refused by the
# server, 2 usage, 3 local file, 4 server unreachable) with their messages.
set -uo pipefail

runfiles="${TEST_SRCDIR}/ota"
source "$runfiles/test/lib/expect.sh"
source "$runfiles/deploy/otad.sh"
otactl="$runfiles/tools/otactl/otactl"
manifest_tool="$runfiles/tools/ota_manifest/ota-manifest"

work="$TEST_TMPDIR/otactl"
pg="$(mktemp -d /tmp/ota-otactl-pg.XXXXXX)"
rmdir "$pg"
mkdir -p "$work"
cleanup() {
  [[ -n "${otad_pid:-}" ]] && kill "$otad_pid" 2>/dev/null
  wait 2>/dev/null
  bash "$runfiles/deploy/postgres.sh" stop "$pg" >/dev/null 2>&1
  rm -rf "$pg"
}
trap cleanup EXIT
db_url="$(bash "$runfiles/deploy/postgres.sh" start "$pg")" || exit 1
# The root key that signs update key lists; otad knows its public half.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/root.key" 2>/dev/null
openssl pkey -in "$work/root.key" -pubout -out "$work/root.pub" 2>/dev/null
start_otad "$runfiles/server/otad" "$work/otad.log" --database_url="$db_url" \
  --blob_dir="$work/blobs" --root_keys_file="$work/root.pub" --plaintext || exit 1
export OTACTL_SERVER="$grpc_addr"
OTACTL_TOKEN="$("$runfiles/server/otad" token create --database_url="$db_url" --name=admin \
  --role=admin)" || exit 1
export OTACTL_TOKEN
cd "$work"

"$manifest_tool" init -d example.com -m gw-3610 >/dev/null
vendor="$(sed -n 's/.*"vendorId": "\(.*\)".*/\1/p' .ota_manifest.json)"
class="$(sed -n 's/.*"classId": "\(.*\)".*/\1/p' .ota_manifest.json)"
head -c 300000 /dev/urandom >image.bin
sha="$(sha256sum image.bin | cut -d' ' -f1)"
cat >input.json <<JSON
{"encryptionMode": "none-ecc-secp256r1-sha256", "payloadUri": "http://$http_addr/payloads/$sha",
 "payloadFile": "image.bin", "version": "2.0.0", "sequenceNumber": 2}
JSON
"$manifest_tool" create -i input.json -o image.manifest >/dev/null

# Usage errors: exit 2, with the reason.
expect "no arguments" 2 "usage: otactl [--server=HOST:PORT] [--token=SECRET] [--json] <cert|asset|manifest|device|campaign|token|audit|keylist>" -- "$otactl"
expect "unknown noun" 2 'otactl: unknown noun "firmware"' -- "$otactl" firmware list
expect "bad wave" 2 "otactl: --wave=half is neither a count nor a percentage" -- \
  "$otactl" campaign create --name=x --manifest=x --wave=half
expect "bad cap" 2 "otactl: --cap=cell is not ATTRIBUTE:COUNT" -- \
  "$otactl" campaign create --name=x --manifest=x --cap=cell
# A local file that cannot be read: exit 3.
expect "missing file" 3 "no-such.der" -- "$otactl" cert register no-such.der
# Nobody listening: exit 4.
expect "unreachable" 4 "otactl: UNAVAILABLE" -- env OTACTL_SERVER=127.0.0.1:1 "$otactl" cert list

# Publishing.
expect "cert register" 0 "CN=gw-3610 update key,O=example.com" -- \
  "$otactl" cert register update-certificates/default.der --description="release key"
expect "asset upload" 0 "uploaded $sha (300000 bytes) at /payloads/$sha" -- \
  "$otactl" asset upload image.bin
expect "manifest upload" 0 "sequence 2  version 2.0.0" -- "$otactl" manifest upload image.manifest
expect "manifest again" 1 "otactl: ALREADY_EXISTS" -- "$otactl" manifest upload image.manifest
manifest_id="$("$otactl" manifest list --json | sed -n 's/.*"manifestId": "\(.*\)".*/\1/p')"
expect "manifest id" 0 "$manifest_id" -- "$otactl" manifest get "$manifest_id"

# Devices: a table for people, JSON for scripts, refusals with the server's words.
expect "device register" 0 "device gw-1  offline  vendor $vendor  class $class" -- \
  "$otactl" device register gw-1 --vendor="$vendor" --class="$class" --attr=cell=c1
expect "device register 2" 0 "attributes cell=c2 region=eu" -- \
  "$otactl" device register gw-2 --vendor="$vendor" --class="$class" --attr=cell=c2 --attr=region=eu
expect "device bad attr" 1 'otactl: INVALID_ARGUMENT: attributes key "Cell" does not match [a-z][a-z0-9_]{0,62}' -- \
  "$otactl" device register gw-3 --vendor="$vendor" --class="$class" --attr=Cell=c1
expect "device list" 0 "2 device(s)" -- "$otactl" device list
expect "device list json" 0 '"deviceId": "gw-2"' -- "$otactl" device list --json --filter='attr.cell == "c2"'
expect "device filter error" 1 "otactl: INVALID_ARGUMENT: filter" -- "$otactl" device list --filter='attr.cell =='
expect "device get" 0 "has not connected yet" -- "$otactl" device get gw-1
expect "device missing" 1 "otactl: NOT_FOUND" -- "$otactl" device get gw-9

# Campaigns.
out="$("$otactl" campaign create --name="rootfs 2" --manifest="$manifest_id" --wave=1 --wave=100% \
  --failure-ratio=0.2 --cap=cell:5 2>&1)"
campaign_id="$(sed -n 's/^campaign \([0-9a-f]\{32\}\) .*/\1/p' <<<"$out")"
expect "campaign created" 0 "2 device(s) targeted, 2 awaiting a wave" -- echo "$out"
expect "campaign cap shown" 0 "at most 5 download(s) at once per cell" -- echo "$out"
expect "campaign bad cap" 1 'otactl: INVALID_ARGUMENT: policy.download_cap.attribute "Cell" does not match' -- \
  "$otactl" campaign create --name=other --manifest="$manifest_id" --cap=Cell:2
expect "campaign start" 0 "ACTIVE" -- "$otactl" campaign start "$campaign_id"
expect "campaign start twice" 1 "FAILED_PRECONDITION: campaign $campaign_id is CAMPAIGN_STATE_ACTIVE; cannot go to CAMPAIGN_STATE_ACTIVE" -- \
  "$otactl" campaign start "$campaign_id"
expect "campaign pause" 0 "PAUSED: maintenance window" -- \
  "$otactl" campaign pause "$campaign_id" --reason="maintenance window"
expect "campaign get json" 0 '"state": "CAMPAIGN_STATE_PAUSED"' -- "$otactl" --json campaign get "$campaign_id"
expect "campaign list" 0 "rootfs 2" -- "$otactl" campaign list
expect "campaign stop" 0 "STOPPED" -- "$otactl" campaign stop "$campaign_id" --reason=done
expect "campaign bad id" 1 'otactl: INVALID_ARGUMENT: campaign_id "abc" is not a campaign id (32 lowercase hex digits)' -- \
  "$otactl" campaign get abc

# Access: tokens with roles, refusals with their reasons, the audit log.
expect "no token" 1 "otactl: UNAUTHENTICATED: this call needs a bearer token (authorization: Bearer ...)" -- \
  env -u OTACTL_TOKEN "$otactl" device list
expect "malformed token" 1 "otactl: UNAUTHENTICATED: the bearer token is malformed" -- \
  "$otactl" --token=hunter2 device list
expect "bad role" 2 "otactl: --role=root is not viewer, operator, publisher or admin" -- \
  "$otactl" token create --name=x --role=root
out="$("$otactl" token create --name=dashboard --role=viewer 2>&1)"
expect "token create" 0 "(the secret is shown only now; otad keeps its SHA-256)" -- echo "$out"
viewer="$(sed -n 's/^secret //p' <<<"$out")"
viewer_id="$(sed -n 's/^token \([0-9a-f]*\) .*/\1/p' <<<"$out")"
expect "viewer reads" 0 "2 device(s)" -- "$otactl" --token="$viewer" device list
expect "viewer may not deploy" 1 'otactl: PERMISSION_DENIED: token "dashboard" has role VIEWER; this call needs OPERATOR' -- \
  "$otactl" --token="$viewer" campaign create --name=sneaky --manifest="$manifest_id"
expect "viewer may not publish" 1 'otactl: PERMISSION_DENIED: token "dashboard" has role VIEWER; this call needs PUBLISHER' -- \
  "$otactl" --token="$viewer" asset upload image.bin
expect "viewer may not read tokens" 1 'otactl: PERMISSION_DENIED: token "dashboard" has role VIEWER; this call needs ADMIN' -- \
  "$otactl" --token="$viewer" token list
expect "token list" 0 "dashboard           viewer" -- "$otactl" token list
expect "token revoke" 0 "revoked $viewer_id  \"dashboard\"" -- "$otactl" token revoke "$viewer_id"
expect "revoked token" 1 'otactl: UNAUTHENTICATED: token "dashboard" was revoked' -- \
  "$otactl" --token="$viewer" device list
expect "audit: a change" 0 "  admin  /ota.v1.CampaignService/StartCampaign  campaigns/$campaign_id  OK" -- \
  "$otactl" audit list
expect "audit: a refusal" 0 "  dashboard  /ota.v1.CampaignService/CreateCampaign  manifests/$manifest_id  PERMISSION_DENIED: token \"dashboard\" has role VIEWER; this call needs OPERATOR" -- \
  "$otactl" audit list
expect "audit: a creation" 0 "  admin  /ota.v1.CampaignService/CreateCampaign  campaigns/$campaign_id  OK" -- \
  "$otactl" audit list
# Update key lists: signed by the root key, versions only go up.
expect "key list none yet" 1 "otactl: NOT_FOUND: no key list is published" -- "$otactl" keylist get
expect "key list made" 0 "key list version 2: 1 key(s), 1 must sign, signed by 1 root key(s)" -- \
  "$manifest_tool" key-list --root-key root.key -c update-certificates/default.der --version 2 -o list2.bin
expect "key list published" 0 "key list version 2, published" -- "$otactl" keylist publish list2.bin
expect "key list shown" 0 "CN=gw-3610 update key,O=example.com" -- "$otactl" keylist get 2
expect "key list replay" 1 "otactl: FAILED_PRECONDITION: REASON_ROLLBACK: key list version 2 is not above the held version 2" -- \
  "$otactl" keylist publish list2.bin
"$manifest_tool" key-list --root-key update-certificates/default.key.pem -c update-certificates/default.der \
  --version 3 -o forged.bin >/dev/null
expect "key list by a non-root key" 1 "otactl: PERMISSION_DENIED: REASON_UNKNOWN_KEY: no signature is by a trusted key" -- \
  "$otactl" keylist publish forged.bin
expect "audit: no token" 0 "  -  /ota.v1.DeviceRegistryService/ListDevices  -  UNAUTHENTICATED: this call needs a bearer token" -- \
  "$otactl" audit list --actor=
finish
