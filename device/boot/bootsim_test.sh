#!/usr/bin/env bash
# End-to-end test of the ota-bootsim binary over slot images in files:
# factory init, an update with trial boots and fallback, commit,
# verification, a damaged header copy, exit codes.
set -uo pipefail

tool="$(cd "$(dirname "$0")" && pwd)/ota-bootsim"
[[ -x "$tool" ]] || tool="$TEST_SRCDIR/ota/device/boot/ota-bootsim"
work="$(mktemp -d "${TEST_TMPDIR:-/tmp}/ota-bootsim.XXXXXX")"
cd "$work"
source "$TEST_SRCDIR/ota/test/lib/expect.sh"

# Overwrites one byte of FILE at OFFSET.
poke() { printf 'X' | dd of="$1" bs=1 seek="$2" conv=notrunc status=none; }

slots=(--slot-a root_a.img --slot-b root_b.img)
boot=("$tool" --bootflags bootflags.img "${slots[@]}")

head -c 262144 /dev/urandom > root_a.img
head -c 262144 /dev/zero > root_b.img
sha_a="$(sha256sum root_a.img | cut -d' ' -f1)"

expect "no flags" 2 "--bootflags is required" -- "$tool"
expect "unknown command" 2 'unknown command "frobnicate"' -- "$tool" frobnicate
expect "unknown flag" 2 "unknown flag --colour for boot" -- "${boot[@]}" --colour red
expect "missing bootflags" 3 "cannot open bootflags.img" -- "${boot[@]}"
expect "help" 0 "usage: ota-bootsim" -- "$tool" help

expect "init" 0 "factory header: slot a active and committed, 262144 bytes, sha256 $sha_a" \
  -- "$tool" init --bootflags bootflags.img "${slots[@]}"
[[ "$(stat -c %s bootflags.img)" == 524288 ]] || { echo "FAIL bootflags size"; failures=$((failures + 1)); }
expect "show factory" 0 "active   a (committed)" -- "$tool" show --bootflags bootflags.img
expect "boot factory" 0 "boot a: committed" -- "${boot[@]}"
expect "boot factory verified" 0 "boot a: committed" -- "${boot[@]}" --verify
expect "commit without trial" 1 "no trial to commit: slot a is active and committed" \
  -- "$tool" commit --bootflags bootflags.img

# An update that never proves itself: two attempts, then back to a.
expect "mark b" 0 "slot b marked unbootable" -- "$tool" mark-unbootable --bootflags bootflags.img --slot b
head -c 100000 /dev/urandom | dd of=root_b.img conv=notrunc status=none
expect "trial b" 0 "slot b active on trial, 2 attempt(s)" \
  -- "$tool" set-trial --bootflags bootflags.img "${slots[@]}" --slot b --attempts 2 --image-size 100000 --sequence 2
expect "show trial" 0 "active   b (trial, 2 of 2 attempts left)" -- "$tool" show --bootflags bootflags.img
expect "trial 1" 0 "boot b: trial attempt 1 of 2" -- "${boot[@]}" --verify
expect "trial 2" 0 "boot b: trial attempt 2 of 2" -- "${boot[@]}"
expect "fallback" 0 "boot a: fallback: attempts exhausted on b" -- "${boot[@]}"
expect "after fallback" 0 "boot a: committed" -- "${boot[@]}"
expect "commit after fallback" 1 "no trial to commit" -- "$tool" commit --bootflags bootflags.img
expect "show fallback" 0 "slot b   not bootable, 100000 bytes, sequence 2" -- "$tool" show --bootflags bootflags.img

# An update that commits.
expect "mark b again" 0 "marked unbootable" -- "$tool" mark-unbootable --bootflags bootflags.img --slot b
expect "trial b again" 0 "active on trial, 3 attempt(s)" \
  -- "$tool" set-trial --bootflags bootflags.img "${slots[@]}" --slot b --image-size 100000 --sequence 3
expect "trial again 1" 0 "boot b: trial attempt 1 of 3" -- "${boot[@]}"
expect "commit" 0 "slot b committed" -- "$tool" commit --bootflags bootflags.img
expect "committed b" 0 "boot b: committed" -- "${boot[@]}" --verify
expect "a is the fallback" 1 "slot b is active: it cannot be written" \
  -- "$tool" mark-unbootable --bootflags bootflags.img --slot b

# A damaged newest copy: the other one still boots.
cp bootflags.img before.img
expect "counter" 0 "counter  9" -- "$tool" show --bootflags bootflags.img
poke bootflags.img 16   # copy 0 holds counter 9 (odd counters go to copy 0)
expect "damaged copy" 0 "counter  8" -- "$tool" show --bootflags bootflags.img
# Copy 1 is the header before the commit: the commit is undone, not the update.
expect "boot from the older copy" 0 "boot b: trial attempt 2 of 3" -- "${boot[@]}"
cp before.img bootflags.img

# Verification: a damaged image falls back; two damaged images do not boot.
poke root_b.img 5000
expect "b damaged, not verified" 0 "boot b: committed" -- "${boot[@]}"
expect "b damaged" 0 "boot a: fallback: sha256 mismatch on b" -- "${boot[@]}" --verify
poke root_a.img 10
expect "both damaged" 1 "no bootable slot: sha256 mismatch on a; b not bootable" -- "${boot[@]}" --verify

# Both copies gone.
head -c 524288 /dev/zero > bootflags.img
expect "no header" 1 "no bootable slot: no valid boot header (copy 0: bad magic; copy 1: bad magic)" -- "${boot[@]}"

expect "bad slot" 2 '--slot must be a or b, got "c"' -- "$tool" mark-unbootable --bootflags bootflags.img --slot c
expect "bad attempts" 2 "--attempts must be 1 to 255, got 0" \
  -- "$tool" set-trial --bootflags bootflags.img "${slots[@]}" --slot b --attempts 0
expect "image too big" 2 "--image-size 999999 exceeds the slot's 262144 bytes" \
  -- "$tool" init --bootflags fresh.img "${slots[@]}" --image-size 999999

finish
