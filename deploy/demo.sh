#!/usr/bin/env bash
# The main job: a private PostgreSQL, otad, a firmware release signed and
# published, a campaign, and a simulated fleet of real ota-device processes
# (file-backed A/B slots, ota-bootsim as their bootloader) that receive it on
# their streams, install it, reboot into it, check their health, commit or
# roll back, and report to otad.
#
#   bash deploy/demo.sh [--devices N] [--fail K] [--keep]
#
#   --devices N   fleet size (default 20)
#   --fail K      the last K devices get a health check that fails: they
#                 roll back to their old image and report why (default 1;
#                 above 30 % of the fleet the campaign auto-stops)
#   --keep        leave otad and the fleet running until Ctrl-C
#
# Installs what is missing, builds, and runs everything under ./work/demo
# (started afresh each run). Ctrl-C or the end of the run stops everything
# it started. The release reaches the fleet through a two-wave campaign:
# the first two devices, then (when both succeeded) the rest; failures
# above 30 % stop the campaign by themselves (try --fail 3).
set -euo pipefail

devices=20
fail=1
keep=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --devices) devices="$2"; shift 2 ;;
    --fail) fail="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "usage: $0 [--devices N] [--fail K] [--keep]" >&2; exit 2 ;;
  esac
done
[[ "$devices" =~ ^[0-9]+$ && "$devices" -ge 1 && "$devices" -le 200 ]] || { echo "--devices: 1..200" >&2; exit 2; }
[[ "$fail" =~ ^[0-9]+$ && "$fail" -le "$devices" ]] || { echo "--fail: 0..devices" >&2; exit 2; }

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="${OTA_DEMO_DIR:-$root/work/demo}"
cd "$root"

# OTA_BIN_DIR names a tree of already built binaries (the end-to-end test
# passes its own); otherwise install what is missing and build.
if [[ -n "${OTA_BIN_DIR:-}" ]]; then
  bin="$OTA_BIN_DIR"
else
  bash deploy/install-deps.sh
  echo "== building otad, ota-manifest, otactl, ota-device, ota-bootsim"
  bazel build //server:otad //tools/ota_manifest:ota-manifest //tools/otactl //device:ota-device \
    //device/boot:ota-bootsim 2>&1 | tail -n 1
  bin="$(bazel info bazel-bin 2>/dev/null)"
fi
otad="$bin/server/otad"
manifest_tool="$bin/tools/ota_manifest/ota-manifest"
otactl="$bin/tools/otactl/otactl"
ota_device="$bin/device/ota-device"
bootsim="$bin/device/boot/ota-bootsim"

pg="$(mktemp -d /tmp/ota-demo-pg.XXXXXX)"
rmdir "$pg"
pids=()
cleanup() {
  # A device's loop (device_life) first loses its running ota-device, then
  # the loop itself: killing only the loop's shell left the daemon behind.
  local p c alive children=()
  for p in "${pids[@]}"; do
    children+=($(pgrep -P "$p" || true))
    pkill -TERM -P "$p" 2>/dev/null || true
    kill "$p" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  # The daemons finish what they were doing first; up to 5 s.
  for _ in $(seq 50); do
    alive=0
    for c in "${children[@]}"; do kill -0 "$c" 2>/dev/null && alive=1; done
    [[ $alive -eq 0 ]] && break
    sleep 0.1
  done
  bash "$root/deploy/postgres.sh" stop "$pg" || true
  rm -rf "$pg"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rm -rf "$work"
mkdir -p "$work"
cd "$work"

echo "== starting PostgreSQL (private, in $pg)"
db_url="$(bash "$root/deploy/postgres.sh" start "$pg")"

echo "== a fleet CA and a TLS certificate for otad (openssl)"
mkdir -p "$work/tls"
(
  cd "$work/tls"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key 2>/dev/null
  openssl req -x509 -new -key ca.key -days 30 -subj "/CN=demo fleet CA/O=example.com" \
    -out ca.pem 2>/dev/null
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out otad.key 2>/dev/null
  openssl req -new -key otad.key -subj "/CN=otad" -out otad.csr 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >otad.ext
  openssl x509 -req -in otad.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
    -extfile otad.ext -out otad.pem 2>/dev/null
  # The root key devices trust from manufacture: it signs update key lists.
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out root.key 2>/dev/null
  openssl pkey -in root.key -pubout -out root.pub 2>/dev/null
)
echo "   $work/tls/ca.pem signs otad's certificate and every device's;"
echo "   $work/tls/root.key is the root key devices trust for update key lists"

echo
echo "== starting otad (TLS; devices must show certificates of the fleet CA)"
source "$root/deploy/otad.sh"
start_otad "$otad" "$work/otad.log" --database_url="$db_url" --blob_dir="$work/blobs" \
  --tls_cert_file="$work/tls/otad.pem" --tls_key_file="$work/tls/otad.key" \
  --device_ca_cert_file="$work/tls/ca.pem" --device_ca_key_file="$work/tls/ca.key" \
  --root_keys_file="$work/tls/root.pub" || exit 1
pids+=("$otad_pid")
export OTACTL_CA="$work/tls/ca.pem"
# The first admin token comes from the server's own command line.
OTACTL_TOKEN="$("$otad" token create --database_url="$db_url" --name=demo-admin --role=admin)"
export OTACTL_TOKEN
export OTACTL_SERVER="$grpc_addr"
echo "   gRPC $grpc_addr, HTTP $http_addr"

echo
echo "== the firmware developer: update key, image, signed manifest"
"$manifest_tool" init -d example.com -m gw-3610 | sed 's/^/   /'
vendor_id="$(sed -n 's/.*"vendorId": "\(.*\)".*/\1/p' .ota_manifest.json)"
class_id="$(sed -n 's/.*"classId": "\(.*\)".*/\1/p' .ota_manifest.json)"
head -c $((4 << 20)) /dev/urandom >rootfs-v2.img
sha="$(sha256sum rootfs-v2.img | cut -d' ' -f1)"
cat >input.json <<JSON
{
  "encryptionMode": "none-ecc-secp256r1-sha256",
  "payloadUri": "https://$http_addr/payloads/$sha",
  "payloadFile": "rootfs-v2.img",
  "description": "gw-3610 rootfs 2.0.0",
  "version": "2.0.0",
  "component": "rootfs",
  "sequenceNumber": 2
}
JSON
"$manifest_tool" create -i input.json -o rootfs-v2.manifest | sed 's/^/   /'

echo
echo "== publishing: certificate, payload, manifest (otactl)"
"$otactl" cert register update-certificates/default.der --description="gw-3610 release key" | sed 's/^/   /'
"$otactl" asset upload rootfs-v2.img | sed 's/^/   /'
"$otactl" manifest upload rootfs-v2.manifest | sed 's/^/   /'
echo "   the root key holder certifies the release key in key list version 1:"
"$manifest_tool" key-list --root-key "$work/tls/root.key" -c update-certificates/default.der \
  --version 1 -o keylist-v1.bin | sed 's/^/   /'
"$otactl" keylist publish keylist-v1.bin | head -n 1 | sed 's/^/   /'

echo
echo "== refused as they should be"
cp rootfs-v2.manifest tampered.manifest
printf '\x01' | dd of=tampered.manifest bs=1 seek=40 conv=notrunc status=none
"$otactl" manifest upload tampered.manifest 2>&1 | sed 's/^/   /' || true

echo
echo "== a fleet of $devices devices (the last $fail with a failing health check)"
for i in $(seq 1 "$devices"); do
  d="$work/fleet/gw-$(printf %04d "$i")"
  mkdir -p "$d"
  truncate -s 8M "$d/slot_a" "$d/slot_b"
  head -c $((2 << 20)) /dev/urandom | dd of="$d/slot_a" conv=notrunc status=none
  head -c $((512 << 10)) /dev/zero | tr '\0' '\377' >"$d/bootflags"
  "$bootsim" init --bootflags "$d/bootflags" --slot-a "$d/slot_a" --slot-b "$d/slot_b" \
    --image-size $((2 << 20)) >/dev/null
  if [[ "$i" -gt $((devices - fail)) ]]; then
    printf '#!/bin/sh\necho "radio firmware does not answer" >&2\nexit 1\n' >"$d/health"
  else
    printf '#!/bin/sh\nexit 0\n' >"$d/health"
  fi
  chmod +x "$d/health"
  # Its identity: a key of its own and a certificate from the fleet CA.
  id="gw-$(printf %04d "$i")"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$d/device.key" 2>/dev/null
  openssl req -new -key "$d/device.key" -subj "/CN=$id" -out "$d/device.csr" 2>/dev/null
  "$otactl" device register "$id" --vendor="$vendor_id" --class="$class_id" >/dev/null
  "$otactl" device cert "$id" --csr="$d/device.csr" >"$d/device.pem" 2>/dev/null
  cat >"$d/device.json" <<JSON
{
  "deviceId": "gw-$(printf %04d "$i")",
  "vendorId": "$vendor_id",
  "classId": "$class_id",
  "server": "$grpc_addr",
  "stateDir": "$d/state",
  "rootKeys": ["$work/tls/root.pub"],
  "bootflags": "$d/bootflags",
  "slotA": "$d/slot_a",
  "slotB": "$d/slot_b",
  "bootedSlotFile": "$d/booted",
  "healthHook": "$d/health",
  "factoryVersion": "1.0.0",
  "tlsCaFile": "$work/tls/ca.pem",
  "tlsCertFile": "$d/device.pem",
  "tlsKeyFile": "$d/device.key",
  "attributes": {"region": "$([[ $((i % 2)) -eq 0 ]] && echo eu || echo us)"}
}
JSON
done

# One device's life: boot, run the daemon; when it asks for a reboot
# (exit 100), play the bootloader again and start over.
device_life() {
  local d="$1"
  while true; do
    "$bootsim" boot --verify --bootflags "$d/bootflags" --slot-a "$d/slot_a" --slot-b "$d/slot_b" \
      >"$d/boot.out" 2>&1 || { echo "no bootable slot" >>"$d/device.log"; return; }
    cut -c6 "$d/boot.out" | head -n 1 >"$d/booted"
    echo "bootloader: $(cat "$d/boot.out")" >>"$d/device.log"
    set +e
    "$ota_device" --config="$d/device.json" >>"$d/device.log" 2>&1
    local rc=$?
    set -e
    [[ $rc -eq 100 ]] || return
  done
}

echo "   each has a certificate from the fleet CA (otactl device cert), boots (ota-bootsim)"
echo "   and connects to otad over TLS (ota-device)"
for d in "$work"/fleet/*; do
  device_life "$d" &
  pids+=($!)
done
for _ in $(seq 1 100); do
  online="$("$otactl" device list --online --json | grep -c '"deviceId"' || true)"
  [[ "$online" -eq "$devices" ]] && break
  sleep 0.2
done
echo "   $online of $devices devices online"

echo
echo "== the service manager: a two-wave campaign (2 devices, then the rest)"
manifest_id="$("$otactl" manifest list --json | sed -n 's/.*"manifestId": "\(.*\)".*/\1/p' | head -n 1)"
campaign_id="$("$otactl" campaign create --name="rootfs 2.0.0" --manifest="$manifest_id" \
  --filter='class_id == "'"$class_id"'"' --wave=2 --wave=100% --success-ratio=1 \
  --failure-ratio=0.3 --json | sed -n 's/.*"campaignId": "\(.*\)".*/\1/p')"
"$otactl" campaign start "$campaign_id" | sed 's/^/   /'
echo
echo "== watching it to the end (otactl campaign watch)"
timeout 300 "$otactl" campaign watch "$campaign_id" | sed 's/^/   /' || true
# Let the last reports land before reading the results.
sleep 1

echo
echo "== what otad knows (otactl device list)"
"$otactl" device list | sed 's/^/   /'
echo
echo "== the final reports otad stored (PostgreSQL)"
psql -q "$db_url" -P pager=off -c "
  SELECT r.device_id AS device, s.name AS state, coalesce(n.name, '') AS reason,
         left(r.message, 60) AS message
  FROM status_reports r
  JOIN (VALUES (9, 'SUCCEEDED'), (10, 'FAILED'), (11, 'ROLLED_BACK')) s(num, name) ON s.num = r.state
  LEFT JOIN (VALUES (102, 'HEALTH_CHECK_FAILED'), (103, 'BOOT_FAILED')) n(num, name) ON n.num = r.reason
  ORDER BY r.device_id" | sed 's/^/   /'
echo
echo "== the campaign's deployments (otactl campaign deployments)"
"$otactl" campaign deployments "$campaign_id" | sed 's/^/   /'
updated=0
rolled_back=0
for d in "$work"/fleet/*; do
  version="$("$ota_device" --config="$d/device.json" status | sed -n 's/^version *//p')"
  [[ "$version" == "2.0.0" ]] && updated=$((updated + 1))
  [[ "$version" == "1.0.0" ]] && rolled_back=$((rolled_back + 1))
done
state="$("$otactl" campaign get "$campaign_id" --json | sed -n 's/.*"state": "CAMPAIGN_STATE_\(.*\)".*/\1/p')"
deployments="$("$otactl" campaign deployments "$campaign_id")"
succeeded="$(grep -c " SUCCEEDED" <<<"$deployments" || true)"
failed="$(grep -c " FAILED" <<<"$deployments" || true)"
rolled="$(grep -c " ROLLED_BACK" <<<"$deployments" || true)"
echo
echo "== summary: campaign $state; $updated of $devices devices run 2.0.0, $rolled_back still run 1.0.0"
echo "   deployments: $succeeded updated, $failed failed, $rolled rolled back"
cat <<MSG

Where to look next (otad stops when this script ends; --keep leaves it running):
  the operator page: https://$http_addr/ (trust $work/tls/ca.pem in the browser, or accept its warning)
  (paste the token $OTACTL_TOKEN into its token field)
  export OTACTL_SERVER=$grpc_addr OTACTL_TOKEN=$OTACTL_TOKEN OTACTL_CA=$work/tls/ca.pem
  bazel-bin/tools/otactl/otactl device list --filter='attr.region == "eu"'
  bazel-bin/tools/otactl/otactl audit list
  curl -s --cacert $work/tls/ca.pem -H "Authorization: Bearer \$OTACTL_TOKEN" https://$http_addr/v1/campaigns/$campaign_id
  curl -s --cacert $work/tls/ca.pem -H "Authorization: Bearer \$OTACTL_TOKEN" "https://$http_addr/v1/devices?filter=attr.region%20%3D%3D%20%22eu%22"
  curl -s --cacert $work/tls/ca.pem https://$http_addr/openapi.json | head -c 300
  curl -s --cacert $work/tls/ca.pem https://$http_addr/metrics | grep otad_
  curl -sI --cacert $work/tls/ca.pem https://$http_addr/payloads/$sha
  less $work/fleet/gw-0001/device.log
MSG
if [[ $keep -eq 1 ]]; then
  echo "otad and the fleet keep running; Ctrl-C stops everything."
  wait
fi
