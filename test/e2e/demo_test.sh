#!/usr/bin/env bash
# The README's main command as an end-to-end test with a small fleet: four
# devices, one with a failing health check. The campaign must complete with
# three devices on the new image and one rolled back, and otad must hold the
# reports that say so.
set -uo pipefail

runfiles="${TEST_SRCDIR}/ota"
export OTA_BIN_DIR="$runfiles"
export OTA_DEMO_DIR="${TEST_TMPDIR}/demo"
out="${TEST_TMPDIR}/demo.out"
bash "$runfiles/deploy/demo.sh" --devices 4 --fail 1 >"$out" 2>&1
rc=$?
failures=0
check() {
  if grep -qE "$1" "$out"; then
    echo "ok   $2"
  else
    echo "FAIL $2 (no line matching: $1)"
    failures=$((failures + 1))
  fi
}
[[ $rc -eq 0 ]] || { echo "FAIL demo exited $rc"; failures=$((failures + 1)); }
check "4 of 4 devices online" "the fleet connects"
check "REASON_SIGNATURE_INVALID" "a tampered manifest is refused"
check "summary: campaign COMPLETED; 3 of 4 devices run 2.0.0, 1 still run 1.0.0" "the campaign's outcome"
check "gw-0004 +\| ROLLED_BACK +\| HEALTH_CHECK_FAILED" "otad holds the rollback and its reason"
check "gw-0001 +\| SUCCEEDED" "otad holds the successes"
check "wave 1 \[#+\] 2/2 done, 100% succeeded" "wave 1 ran first"
# otad's structured log: one line per event, with the campaign's id.
log_check() {
  if grep -qE "$1" "$OTA_DEMO_DIR/otad.log"; then
    echo "ok   $2"
  else
    echo "FAIL $2 (no otad log line matching: $1)"
    failures=$((failures + 1))
  fi
}
id='[0-9a-f]{32}'
log_check "^ts=[-0-9T:.]+Z level=info event=campaign.state campaign_id=$id from=DRAFT to=ACTIVE by=operator$" \
  "the start is logged"
log_check "event=campaign.wave campaign_id=$id wave=2 devices=2$" "wave 2 is logged"
check "deployments: 3 updated, 0 failed, 1 rolled back" "the summary counts outcomes"
check "== starting otad \(TLS; devices must show certificates of the fleet CA\)" "otad speaks TLS"
check "key list version 1, published" "the root-signed key list is published"
# Devices trust no update key from the factory, only the root key: the
# release key reached them in the key list, or nothing would have verified.
if grep -q "key list version 1 accepted: 1 update key(s), 1 must sign" \
    "$OTA_DEMO_DIR/fleet/gw-0001/device.log"; then
  echo "ok   a device accepted the key list"
else
  echo "FAIL a device accepted the key list"
  failures=$((failures + 1))
fi
# Each device holds a certificate of the fleet CA that names it.
if openssl verify -CAfile "$OTA_DEMO_DIR/tls/ca.pem" "$OTA_DEMO_DIR/fleet/gw-0003/device.pem" \
    >/dev/null 2>&1 &&
   [[ "$(openssl x509 -noout -subject -in "$OTA_DEMO_DIR/fleet/gw-0003/device.pem")" == "subject=CN = gw-0003" ]]; then
  echo "ok   a device's certificate comes from the fleet CA and names it"
else
  echo "FAIL a device's certificate comes from the fleet CA and names it"
  failures=$((failures + 1))
fi
log_check "^ts=[-0-9T:.]+Z level=info event=device.connect device_id=gw-0001 slot=a sequence=0 version=1.0.0$" \
  "a device's stream is logged"
log_check "event=deployment.end device_id=gw-0004 deployment_id=[0-9a-f]{32} state=ROLLED_BACK reason=REASON_HEALTH_CHECK_FAILED$" \
  "a rollback is logged with its device"
log_check "event=campaign.state campaign_id=$id from=ACTIVE to=COMPLETED by=engine reason=\"every targeted device finished \(1 failed\)\"$" \
  "the completion is logged"
# Nothing the demo started outlives it: no device daemon of its fleet.
sleep 1
left="$(pgrep -f -- "--config=$OTA_DEMO_DIR/fleet/" || true)"
if [[ -z "$left" ]]; then
  echo "ok   the fleet's daemons stop with the demo"
else
  echo "FAIL the fleet's daemons stop with the demo (still running: $(echo $left))"
  pkill -f -- "--config=$OTA_DEMO_DIR/fleet/" || true
  failures=$((failures + 1))
fi
if [[ $failures -ne 0 ]]; then
  echo "---- demo output ----"
  cat "$out"
  exit 1
fi
echo "all checks passed"
