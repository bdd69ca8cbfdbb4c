#!/usr/bin/env bash
# Runs deploy/uboot/boot.cmd in a real U-Boot: Debian's qemu_arm build under
# qemu-system-arm (virt, cortex-a15; 32-bit, as the seed's IPQ40xx), or
# with the argument "arm64" its qemu_arm64 build under qemu-system-aarch64
# (virt, cortex-a57). A virtio disk stands in for
# the seed's NAND with the same offsets: the bootflags area at 0x00B80000,
# the script (built with mkimage as deploy/uboot/README.md says) at
# 0x03C00000, and virtio_board.cmd at 0x03C20000, which points the script's
# flash access at the disk and turns the final bootm into an echo and a
# poweroff. U-Boot's environment (a pflash image) loads both scripts and
# sources the boot script, as the seed's bootcmd does from NAND.
#
# Every header is made by ota-bootsim, or by put_boot_header for states its
# commands never produce; both encode with the boot_header library. For each
# scenario the same starting header also goes through `ota-bootsim boot`;
# the test checks the slot U-Boot booted, the reason it printed, and that
# the disk afterwards equals the starting disk with ota-bootsim's bootflags
# area in place: byte for byte, nothing else written.
set -uo pipefail

runfiles="${TEST_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}/ota"
bootsim="$runfiles/device/boot/ota-bootsim"
put_header="$runfiles/test/uboot/put_boot_header"
boot_cmd="$runfiles/deploy/uboot/boot.cmd"
board_cmd="$runfiles/test/uboot/virtio_board.cmd"
source "$runfiles/test/lib/expect.sh"

case "${1:-arm}" in
  arm) uboot=/usr/lib/u-boot/qemu_arm/u-boot.bin
       qemu=(qemu-system-arm -M virt -cpu cortex-a15) ;;
  arm64) uboot=/usr/lib/u-boot/qemu_arm64/u-boot.bin
         qemu=(qemu-system-aarch64 -M virt -cpu cortex-a57) ;;
  *) echo "usage: $0 [arm|arm64]"; exit 2 ;;
esac
echo "U-Boot: $uboot"

for tool in mkimage mkenvimage "${qemu[0]}" timeout; do
  command -v "$tool" >/dev/null || {
    echo "FAIL: $tool is missing; run deploy/install-deps.sh"; exit 1; }
done
[[ -f "$uboot" ]] || { echo "FAIL: $uboot is missing (u-boot-qemu)"; exit 1; }

work="$(mktemp -d "${TEST_TMPDIR:-/tmp}/uboot.XXXXXX")"
cd "$work"

# The disk: the seed's NAND offsets (deploy/uboot/README.md).
flags_at=$((0x00B80000))
flags_size=$((0x80000))
script_at=$((0x03C00000))
board_at=$((0x03C20000))
disk_size=$((0x03C40000))
block=512

mkimage -A arm -O linux -T script -C none -n "OTA A/B boot" \
  -d "$boot_cmd" boot.scr >/dev/null || { echo "FAIL: mkimage boot.cmd"; exit 1; }
mkimage -A arm -O linux -T script -C none -n "virtio board" \
  -d "$board_cmd" board.scr >/dev/null || { echo "FAIL: mkimage board"; exit 1; }

# bootdelay -2: boot at once, without waiting for a key. The environment
# sits in the second flash bank, where this U-Boot build keeps it.
cat > env.txt <<EOF
bootdelay=-2
bootcmd=virtio scan; virtio read 0x88200000 $(printf %x $((board_at / block))) 10 && setenv ota_board_script 0x88200000; virtio read 0x88100000 $(printf %x $((script_at / block))) 100 && source 0x88100000; echo ota-test: script ended; poweroff
EOF
mkenvimage -s 0x40000 -o env.bin env.txt || { echo "FAIL: mkenvimage"; exit 1; }
truncate -s 64M env.bin

# Slot images: their hashes go into the headers; the script never reads them.
head -c 65536 /dev/zero | tr '\0' 'a' > root_a.img
head -c 65536 /dev/zero | tr '\0' 'b' > root_b.img
slots=(--slot-a root_a.img --slot-b root_b.img)

# Overwrites one byte of FILE at OFFSET, leaving magic and length alone:
# the copy then fails its CRC.
poke() { printf 'X' | dd of="$1" bs=1 seek="$2" conv=notrunc status=none; }

# disk_with FLAGS DISK: a fresh disk holding the bootflags area FLAGS, the
# boot script and the board script $board_scr.
disk_with() {
  rm -f "$2"
  truncate -s "$disk_size" "$2"
  dd if="$1" of="$2" bs="$block" seek=$((flags_at / block)) conv=notrunc status=none
  dd if=boot.scr of="$2" bs="$block" seek=$((script_at / block)) conv=notrunc status=none
  dd if="$board_scr" of="$2" bs="$block" seek=$((board_at / block)) conv=notrunc status=none
}
board_scr=board.scr

# power_on DISK LOG [readonly]: one power-on of the board in QEMU, console
# in LOG (carriage returns dropped). Fails unless U-Boot powers off by
# itself within 60 s.
power_on() {
  local ro=""
  [[ "${3:-}" == readonly ]] && ro=",readonly=on"
  timeout -k 5 60 "${qemu[@]}" -m 2G \
    -nographic -nic none -no-reboot -bios "$uboot" \
    -drive if=pflash,format=raw,index=1,file=env.bin \
    -drive "if=none,format=raw,file=$1,id=disk$ro" \
    -device virtio-blk-device,drive=disk </dev/null 2>&1 | tr -d '\r' > "$2"
  return "${PIPESTATUS[0]}"
}

check() {
  local name="$1"; shift
  if "$@"; then
    echo "ok   $name"
  else
    echo "FAIL $name"; failures=$((failures + 1))
  fi
}

# scenario NAME FLAGS WANT [SHOW [SIM]]: powers on once with the bootflags
# area FLAGS and checks that U-Boot
#   - prints "ota: WANT" ("boot b: trial attempt 1 of 2", or "no bootable
#     slot: ..."), as ota-bootsim prints for the same header (SIM when
#     they differ on purpose: hex numbers, ", " between reasons);
#   - boots the slot WANT names, with ota.slot= set, or none;
#   - leaves the disk as ota-bootsim leaves the bootflags area, byte for
#     byte (nothing else on the disk changes);
#   - leaves a header whose `ota-bootsim show` has the line SHOW.
# FLAGS becomes the state after the power-on, for the next scenario.
scenario() {
  local name="$1" flags="$2" want="$3" show="${4:-}" sim_want="${5:-$3}"
  echo "--- $name"
  cp "$flags" sim.img
  local sim rc before=$failures
  sim="$("$bootsim" boot --bootflags sim.img "${slots[@]}" 2>&1)"
  disk_with "$flags" disk.img
  disk_with sim.img want.img
  power_on disk.img console.log
  rc=$?
  check "$name: U-Boot powers off by itself (exit $rc)" test "$rc" = 0
  check "$name: U-Boot prints \"ota: $want\"" grep -qxF "ota: $want" console.log
  if [[ "$want" == "boot "[ab]:* ]]; then
    local slot="${want:5:1}"
    check "$name: ota-bootsim agrees (\"$sim\")" test "$sim" = "$sim_want"
    check "$name: boots root_$slot" grep -qE "^ota-test: bootm root_$slot: .* ubi.mtd=root_$slot ota.slot=$slot$" console.log
  else
    # ota-bootsim adds each copy's reason in parentheses.
    check "$name: ota-bootsim agrees (\"$sim\")" test "${sim%% (*}" = "$sim_want"
    check "$name: boots nothing" grep -qx "ota-test: script ended" console.log
    check "$name: no bootm" bash -c "! grep -q '^ota-test: bootm' console.log"
  fi
  check "$name: disk as ota-bootsim leaves it" cmp disk.img want.img
  dd if=disk.img of="$flags" bs="$block" skip=$((flags_at / block)) \
    count=$((flags_size / block)) status=none
  if [[ -n "$show" ]]; then
    local shown
    shown="$("$bootsim" show --bootflags "$flags" 2>&1)"
    check "$name: header shows \"$show\"" grep -qxF "$show" <<<"$shown"
  fi
  if (( failures > before )); then
    echo "console:"; sed -n '/Executing script/,$p' console.log
  fi
}

expect "factory header" 0 "factory header: slot a active" \
  -- "$bootsim" init --bootflags factory.img "${slots[@]}"
cp factory.img trial.img
expect "trial header" 0 "slot b active on trial, 2 attempt(s)" \
  -- "$bootsim" set-trial --bootflags trial.img "${slots[@]}" --slot b --attempts 2

# The factory header: slot a, committed; nothing written.
cp factory.img state.img
scenario "committed a" state.img "boot a: committed" "active   a (committed)"
check "committed a: header unchanged" cmp state.img factory.img

# An update on trial that never commits: two attempts, then back to a.
cp trial.img state.img
scenario "trial b 1" state.img "boot b: trial attempt 1 of 2" "active   b (trial, 1 of 2 attempts left)"
cp state.img after_trial1.img
scenario "trial b 2" state.img "boot b: trial attempt 2 of 2" "active   b (trial, 0 of 2 attempts left)"
cp state.img after_trial2.img
scenario "attempts exhausted" state.img "boot a: fallback: attempts exhausted on b" "slot b   not bootable, 65536 bytes, sequence 0, sha256 $(sha256sum root_b.img | cut -d' ' -f1)"
check "attempts exhausted: a active" grep -qx "active   a (committed)" <("$bootsim" show --bootflags state.img)
cp state.img after_fallback.img
scenario "after the fallback" state.img "boot a: committed" "counter  5"
check "after the fallback: header unchanged" cmp state.img after_fallback.img

# An update that commits after its first trial boot.
cp after_trial1.img state.img
expect "commit b" 0 "slot b committed" -- "$bootsim" commit --bootflags state.img
scenario "committed b" state.img "boot b: committed" "active   b (committed)"

# Copy 0 (counter 3, the newest) fails its CRC: copy 1 (counter 2, the
# trial before its first attempt) is used, and the decision goes over
# copy 0.
cp after_trial1.img state.img
poke state.img $((0x40))
expect "copy 0 damaged" 0 "counter  2" -- "$bootsim" show --bootflags state.img
scenario "copy 0 bad CRC" state.img "boot b: trial attempt 1 of 2" "counter  3"

# Copy 1 (counter 4, the newest) fails its CRC: copy 0 (counter 3) is used.
cp after_trial2.img state.img
poke state.img $((0x40000 + 0x60))
expect "copy 1 damaged" 0 "counter  3" -- "$bootsim" show --bootflags state.img
scenario "copy 1 bad CRC" state.img "boot b: trial attempt 2 of 2" "counter  4"

# Both copies fail their CRC: no slot boots and nothing is written
# (Boot(): "no valid boot header"; the board stays at the U-Boot prompt).
cp after_trial1.img state.img
poke state.img $((0x40))
poke state.img $((0x40000 + 0x40))
cp state.img before.img
scenario "both copies bad CRC" state.img "no bootable slot: no valid boot header"
check "both copies bad CRC: nothing written" cmp state.img before.img
expect "both copies bad CRC: show" 1 "no valid boot header" -- "$bootsim" show --bootflags state.img

# An erased area (the factory header never written): the same.
head -c "$flags_size" /dev/zero | tr '\0' '\377' > state.img
scenario "erased bootflags" state.img "no bootable slot: no valid boot header"

# The counter is 64 bits; the script adds and compares it as two 32-bit
# words. Writing after counter 0xffffffff carries into the high word.
rm -f state.img
"$put_header" state.img 0 counter=$((0xffffffff)) active=b trial=1 left=2 attempts=2 bootable=ab
"$put_header" state.img 1 counter=$((0xfffffffe)) active=a
scenario "counter carries" state.img "boot b: trial attempt 1 of 2" "counter  4294967296"
# The high word decides: now copy 1 (0x1_00000000) is newer than copy 0
# (0x0_ffffffff) although its low word is lower ...
scenario "counter high word, copy 1 newer" state.img "boot b: trial attempt 2 of 2" "counter  4294967297"
# ... and the same the other way round.
rm -f state.img
"$put_header" state.img 0 counter=$((0x200000000)) active=b bootable=ab
"$put_header" state.img 1 counter=$((0xffffffff)) active=a
scenario "counter high word, copy 0 newer" state.img "boot b: committed" "counter  8589934592"
# Words at and past 2^31 compare as unsigned, in either word: 0x80000000
# is newer than 0x7fffffff ...
rm -f state.img
"$put_header" state.img 0 counter=$((0x80000000)) active=b bootable=ab
"$put_header" state.img 1 counter=$((0x7fffffff)) active=a
scenario "counter low word past 2^31" state.img "boot b: committed" "counter  2147483648"
# ... and 0x80000000_00000000 newer than 0x7fffffff_ffffffff.
rm -f state.img
"$put_header" state.img 0 counter=9223372036854775808 active=b bootable=ab
"$put_header" state.img 1 counter=9223372036854775807 active=a
scenario "counter high word past 2^31" state.img "boot b: committed" "counter  9223372036854775808"

# The active slot is not bootable: fall back to the other one.
rm -f state.img
"$put_header" state.img 0 counter=1 active=b bootable=a
scenario "active slot not bootable" state.img "boot a: fallback: b not bootable" "active   a (committed)"

# Neither slot can boot: no boot, nothing written.
rm -f state.img
"$put_header" state.img 0 counter=1 active=a bootable=none
scenario "no slot bootable" state.img "no bootable slot: a not bootable, b not bootable" "" \
  "no bootable slot: a not bootable; b not bootable"
rm -f state.img
"$put_header" state.img 1 counter=7 active=b trial=1 left=0 attempts=3 bootable=b
scenario "trial exhausted, other slot not bootable" state.img \
  "no bootable slot: attempts exhausted on b, a not bootable" "" \
  "no bootable slot: attempts exhausted on b; a not bootable"

# Twelve attempts: the script counts in hex ("1 of c"); the header is the
# same.
rm -f state.img
"$put_header" state.img 0 counter=1 active=b trial=1 left=12 attempts=12 bootable=ab
scenario "twelve attempts" state.img "boot b: trial attempt 1 of c" \
  "active   b (trial, 11 of 12 attempts left)" "boot b: trial attempt 1 of 12"

# The bootflags area cannot be written (a read-only disk): the trial's
# attempt cannot be recorded, so nothing boots, as when Boot()'s write
# fails; the next power-on decides again from the same header.
echo "--- header write fails"
disk_with trial.img disk.img
cp disk.img want.img
power_on disk.img console.log readonly
rc=$?
check "write fails: U-Boot powers off by itself (exit $rc)" test "$rc" = 0
check "write fails: reported" grep -qx "ota: cannot record the boot decision at 0x00B80000; not booting" console.log
check "write fails: no slot" grep -qx "ota: no bootable slot: header write failed" console.log
check "write fails: no bootm" bash -c "! grep -q '^ota-test: bootm' console.log"
check "write fails: disk unchanged" cmp disk.img want.img

# The chosen slot does not start (here: this U-Boot has no ubi command).
# The trial attempt is already on flash; the script resets, which ends
# QEMU (-no-reboot), and the next power-on counts the next attempt.
echo "--- slot does not start"
cat "$board_cmd" - > board_ubi.cmd <<'EOF'
setenv ota_boot_slot 'ubi part ${ota_part}'
EOF
mkimage -A arm -O linux -T script -C none -n "virtio board, no ubi" \
  -d board_ubi.cmd board_ubi.scr >/dev/null || { echo "FAIL: mkimage board_ubi"; exit 1; }
board_scr=board_ubi.scr
cp trial.img sim.img
"$bootsim" boot --bootflags sim.img "${slots[@]}" >/dev/null
disk_with trial.img disk.img
disk_with sim.img want.img
power_on disk.img console.log
rc=$?
check "no start: QEMU ends on the reset (exit $rc)" test "$rc" = 0
check "no start: trial counted" grep -qx "ota: boot b: trial attempt 1 of 2" console.log
check "no start: reported" grep -qx "ota: cannot start slot b; resetting" console.log
check "no start: script does not go on" bash -c "! grep -q '^ota-test: script ended' console.log"
check "no start: disk as ota-bootsim leaves it" cmp disk.img want.img

finish
