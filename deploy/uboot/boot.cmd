# A/B boot for the seed's NAND layout, in U-Boot's hush shell.
#
# This is Boot() of device/boot/boot_header.h, step for step; read that
# file first. The record, the choice of copy, the trial countdown and the
# fallback are the same; ota-bootsim runs the same logic on a host, and the
# tests in device/boot/ pin it down. test/uboot/ runs this script in U-Boot
# under QEMU and checks each decision, and the bytes written, against
# ota-bootsim's. Differences, all forced by U-Boot:
#   - no image SHA-256 check (BootOptions::verify_image): after ubiformat,
#     raw NAND holds UBI's own headers, not the image bytes that were
#     hashed; UBI and the root filesystem check themselves;
#   - numbers in messages are hex (setexpr prints hex);
#   - refusal reasons are joined with ", " instead of "; " (a ";" inside a
#     variable would split the command when hush re-parses it).
#
# Build with mkimage and install as deploy/uboot/README.md describes. The
# script never runs saveenv: the boot header, not the environment, holds
# the state.
#
# Needs: the hush parser, CONFIG_CMD_NAND, CONFIG_CMD_UBI, CONFIG_CMD_ITEST,
# CONFIG_CMD_SETEXPR, CONFIG_CMD_CRC32. Only forms old U-Boot releases
# (such as the QSDK's 2012.07) already accept are used: setexpr always
# with an operator, itest with -eq/-le/-gt, crc32 storing to an address.

# ---------------------------------------------------------------------------
# Board settings.

# Flash, from the seed's "New Layout":
#   0x00B80000  512 KiB  bootflags   header copy 0 at +0, copy 1 at +256 KiB
#   0x00C00000   48 MiB  root_a      UBI
#   0x04400000   48 MiB  root_b      UBI
# kBootHeaderCopyOffsets in boot_header.h must match ota_flags0/ota_flags1.
# Each copy is erased and rewritten alone, so it must own its erase block:
# ota_span is one erase block (128 KiB on the seed's NAND; 64 KiB flash
# takes 0x10000 here and nothing else changes). The copies are 256 KiB
# apart, so with 128 KiB blocks each has a spare block behind it: nand read
# and write skip a bad block to the next good one, and a copy whose block
# went bad lands in its spare, never on the other copy.
setenv ota_flags0 0x00B80000
setenv ota_flags1 0x00BC0000
setenv ota_span 0x20000

# U-Boot attaches the slots by name; Linux gets the same names.
setenv mtdids nand0=nand0
setenv mtdparts mtdparts=nand0:0x80000@0xb80000(bootflags),0x3000000@0xc00000(root_a),0x3000000@0x4400000(root_b)
setenv ota_bootargs console=ttyMSM0,115200n8 root=mtd:ubi_rootfs rootfstype=squashfs rootwait
setenv ota_kernel_volume kernel
setenv ota_loadaddr 0x84000000
# Appended to the bootm address, e.g. "#config@ap.dk04.1-c1" for a FIT image.
setenv ota_bootm_suffix

# RAM for the two copies as read, the header to write, and crc32 output.
# Each of the first three takes ota_span bytes; 256 KiB apart leaves room
# for erase blocks up to that size. Keep clear of ota_loadaddr and of where
# this script itself was loaded (0x88100000 in README.md).
setenv ota_buf0 0x88000000
setenv ota_buf1 0x88040000
setenv ota_new 0x88080000
setenv ota_crc_raw 0x880C0000
setenv ota_crc_le 0x880C0010

# Flash access and the final boot, as commands for `run`; each must fail
# (non-zero status) when it does not complete.
#   ota_read_copy   read ${ota_span} bytes at flash offset ${ota_off} into
#                   RAM at ${ota_h}
#   ota_write_copy  erase ${ota_span} bytes at flash offset ${ota_dst} and
#                   write them from RAM at ${ota_new}
#   ota_boot_slot   boot partition ${ota_part} (root_a or root_b), with
#                   bootargs already set; returns only when that fails
setenv ota_read_copy 'nand read ${ota_h} ${ota_off} ${ota_span}'
setenv ota_write_copy 'nand erase ${ota_dst} ${ota_span} && nand write ${ota_new} ${ota_dst} ${ota_span}'
setenv ota_boot_slot 'ubi part ${ota_part} && ubi read ${ota_loadaddr} ${ota_kernel_volume} && bootm ${ota_loadaddr}${ota_bootm_suffix}'

# A board without this NAND layout, such as the QEMU harness in
# test/uboot/, sets ota_board_script to the RAM address of a script (as
# mkimage makes) that redefines any of the settings above; it runs here.
# Unset on the seed's board. (An address rather than commands: U-Boot's
# hush parses an expanded value again, so "${var}" holding quotes, as the
# commands above do, makes test fail or a syntax error end the script.)
if test -n "${ota_board_script}"; then
  source ${ota_board_script}
fi

# ---------------------------------------------------------------------------
# CRC-32. Header copies carry the CRC-32/IEEE of their first 0x7C bytes,
# little-endian at 0x7C. U-Boot's crc32 command computes that CRC but
# stores it big-endian (hash.c) or in CPU order (builds with crc32 only),
# so first learn which: the CRC of "OTABOOT1" is 0x938A0A90 (crc32_test.cc
# pins the value).

setexpr ota_crc_raw1 ${ota_crc_raw} + 1
setexpr ota_crc_raw2 ${ota_crc_raw} + 2
setexpr ota_crc_raw3 ${ota_crc_raw} + 3
setexpr ota_crc_le1 ${ota_crc_le} + 1
setexpr ota_crc_le2 ${ota_crc_le} + 2
setexpr ota_crc_le3 ${ota_crc_le} + 3

setenv ota_fail 0
mw.l ${ota_crc_raw} 0 4
mw.l ${ota_new} 4241544f
setexpr ota_p ${ota_new} + 4
mw.l ${ota_p} 31544f4f
crc32 ${ota_new} 8 ${ota_crc_raw}
if itest.l *${ota_crc_raw} -eq 938a0a90; then
  setenv ota_crc_be 0
elif itest.l *${ota_crc_raw} -eq 900a8a93; then
  setenv ota_crc_be 1
else
  echo "ota: crc32 here is not CRC-32/IEEE; not booting"
  setenv ota_fail 1
fi

# ota_crc: the CRC of the 0x7C bytes at ${ota_h}, little-endian at
# ${ota_crc_le}.
setenv ota_crc 'crc32 ${ota_h} 7c ${ota_crc_raw}; if test ${ota_crc_be} = 1; then cp.b ${ota_crc_raw} ${ota_crc_le3} 1; cp.b ${ota_crc_raw1} ${ota_crc_le2} 1; cp.b ${ota_crc_raw2} ${ota_crc_le1} 1; cp.b ${ota_crc_raw3} ${ota_crc_le} 1; else cp.l ${ota_crc_raw} ${ota_crc_le} 1; fi'

# ---------------------------------------------------------------------------
# Step 1: read both copies and check each as DecodeBootHeader does (magic,
# CRC, version, then the fields a broken writer could get wrong). A copy
# that cannot be read is invalid.
#
# The record (little-endian):
#   0x00 magic "OTABOOT1"   0x0E slot a bootable      0x28 slot a sequence
#   0x08 version (u16) = 1  0x0F slot b bootable      0x30 slot b sequence
#   0x0A active slot        0x10 counter (u64)        0x38 slot a SHA-256
#   0x0B trial              0x18 slot a image size    0x58 slot b SHA-256
#   0x0C attempts left      0x20 slot b image size    0x78 reserved, zero
#   0x0D trial attempts                               0x7C CRC-32

setenv ota_ok0 0
setenv ota_ok1 0
if test ${ota_fail} = 0; then
  for ota_i in 0 1; do
    if test ${ota_i} = 0; then
      setenv ota_h ${ota_buf0}
      setenv ota_off ${ota_flags0}
    else
      setenv ota_h ${ota_buf1}
      setenv ota_off ${ota_flags1}
    fi
    setenv ota_ok 0
    mw.b ${ota_h} 0 80
    if run ota_read_copy; then
      setexpr ota_p ${ota_h} + 4
      if itest.l *${ota_h} -eq 4241544f && itest.l *${ota_p} -eq 31544f4f; then
        run ota_crc
        setexpr ota_p ${ota_h} + 7c
        if itest.l *${ota_crc_le} -eq *${ota_p}; then
          setenv ota_ok 1
          setexpr ota_p ${ota_h} + 8
          itest.w *${ota_p} -eq 1 || setenv ota_ok 0
          setexpr ota_p ${ota_h} + a
          itest.b *${ota_p} -le 1 || setenv ota_ok 0
          setexpr ota_p ${ota_h} + b
          itest.b *${ota_p} -le 1 || setenv ota_ok 0
          setexpr ota_p ${ota_h} + c
          setexpr ota_q ${ota_h} + d
          itest.b *${ota_p} -le *${ota_q} || setenv ota_ok 0
          setexpr ota_p ${ota_h} + e
          itest.b *${ota_p} -le 1 || setenv ota_ok 0
          setexpr ota_p ${ota_h} + f
          itest.b *${ota_p} -le 1 || setenv ota_ok 0
          setexpr ota_p ${ota_h} + 78
          itest.l *${ota_p} -eq 0 || setenv ota_ok 0
        fi
      fi
    fi
    setenv ota_ok${ota_i} ${ota_ok}
  done
fi

# ---------------------------------------------------------------------------
# Step 2: the newest valid copy is the one with the higher counter; copy 0
# on a tie (BootFlags::Load). itest compares signed numbers, so the u64
# counter is compared as four 16-bit pieces, most significant first
# (ota_c<copy><piece>, piece 3 the highest): each is below 2^16, so
# positive whatever the width of U-Boot's long.

setenv ota_pick none
if test ${ota_ok0} = 1 && test ${ota_ok1} = 1; then
  for ota_i in 0 1; do
    setenv ota_h ${ota_buf0}
    if test ${ota_i} = 1; then
      setenv ota_h ${ota_buf1}
    fi
    setexpr ota_lo ${ota_h} + 10
    setexpr ota_hi ${ota_h} + 14
    setexpr.l ota_p0 *${ota_lo} % 10000
    setexpr.l ota_p1 *${ota_lo} / 10000
    setexpr.l ota_p2 *${ota_hi} % 10000
    setexpr.l ota_p3 *${ota_hi} / 10000
    setenv ota_c${ota_i}0 ${ota_p0}
    setenv ota_c${ota_i}1 ${ota_p1}
    setenv ota_c${ota_i}2 ${ota_p2}
    setenv ota_c${ota_i}3 ${ota_p3}
  done
  setenv ota_pick 0
  if itest ${ota_c13} -gt ${ota_c03}; then
    setenv ota_pick 1
  elif itest ${ota_c13} -eq ${ota_c03}; then
    if itest ${ota_c12} -gt ${ota_c02}; then
      setenv ota_pick 1
    elif itest ${ota_c12} -eq ${ota_c02}; then
      if itest ${ota_c11} -gt ${ota_c01}; then
        setenv ota_pick 1
      elif itest ${ota_c11} -eq ${ota_c01}; then
        if itest ${ota_c10} -gt ${ota_c00}; then
          setenv ota_pick 1
        fi
      fi
    fi
  fi
elif test ${ota_ok0} = 1; then
  setenv ota_pick 0
elif test ${ota_ok1} = 1; then
  setenv ota_pick 1
fi

# ---------------------------------------------------------------------------
# Step 3: work on a copy of the newest header in ${ota_new}; if anything
# changes it goes over the OTHER copy (BootFlags::Write), the rest of that
# erase block left erased (0xff).

setenv ota_boot none
setenv ota_changed 0
setenv ota_refusals
setenv ota_reason
if test ${ota_pick} = none; then
  setenv ota_refusals "no valid boot header"
else
  if test ${ota_pick} = 0; then
    setenv ota_src ${ota_buf0}
    setenv ota_dst ${ota_flags1}
  else
    setenv ota_src ${ota_buf1}
    setenv ota_dst ${ota_flags0}
  fi
  mw.b ${ota_new} ff ${ota_span}
  cp.b ${ota_src} ${ota_new} 80
  setexpr ota_f_slot ${ota_new} + a
  setexpr ota_f_trial ${ota_new} + b
  setexpr ota_f_left ${ota_new} + c
  setexpr ota_f_tries ${ota_new} + d
  setexpr ota_f_lo ${ota_new} + 10
  setexpr ota_f_hi ${ota_new} + 14
  setexpr ota_f_crc ${ota_new} + 7c

  # Step 4: the candidate is the active slot. It cannot boot when its trial
  # has no attempts left, or when it is not bootable. Then mark it not
  # bootable, make the other slot active, clear the trial, and try once
  # more. A slot that can boot: on a trial, count the attempt (recorded
  # before booting, so a crash while booting still uses it up).
  for ota_round in 1 2; do
    if test ${ota_boot} = none; then
      setexpr.b ota_slot *${ota_f_slot} + 0
      if test ${ota_slot} = 0; then
        setenv ota_name a
        setexpr ota_f_ok ${ota_new} + e
      else
        setenv ota_name b
        setexpr ota_f_ok ${ota_new} + f
      fi
      setenv ota_can 1
      if itest.b *${ota_f_trial} -eq 1 && itest.b *${ota_f_left} -eq 0; then
        setenv ota_can 0
        setenv ota_why attempts exhausted on ${ota_name}
      elif itest.b *${ota_f_ok} -ne 1; then
        setenv ota_can 0
        setenv ota_why ${ota_name} not bootable
      fi
      if test ${ota_can} = 1; then
        setenv ota_boot ${ota_slot}
        if itest.b *${ota_f_trial} -eq 1; then
          setexpr.b ota_left *${ota_f_left} + 0
          setexpr.b ota_tries *${ota_f_tries} + 0
          setexpr ota_n ${ota_tries} - ${ota_left}
          setexpr ota_n ${ota_n} + 1
          setexpr ota_left ${ota_left} - 1
          mw.b ${ota_f_left} ${ota_left}
          setenv ota_changed 1
          setenv ota_reason trial attempt ${ota_n} of ${ota_tries}
        elif test ${ota_changed} = 1; then
          setenv ota_reason fallback: ${ota_refusals}
        else
          setenv ota_reason committed
        fi
      else
        if test ${ota_changed} = 1; then
          setenv ota_refusals ${ota_refusals}, ${ota_why}
        else
          setenv ota_refusals ${ota_why}
        fi
        mw.b ${ota_f_ok} 0
        setexpr ota_other 1 - ${ota_slot}
        mw.b ${ota_f_slot} ${ota_other}
        mw.b ${ota_f_trial} 0
        mw.b ${ota_f_left} 0
        mw.b ${ota_f_tries} 0
        setenv ota_changed 1
      fi
    fi
  done
fi

# ---------------------------------------------------------------------------
# Step 5: record the decision before booting: counter + 1 (with carry into
# the high word), a new CRC, then erase and write the other copy. Nothing
# is written when no slot can boot. A failed write means no boot, as in
# Boot(): the next power-on decides again from what is on flash.

if test ${ota_boot} != none && test ${ota_changed} = 1; then
  setexpr.l ota_lo *${ota_f_lo} + 1
  setexpr.l ota_hi *${ota_f_hi} + 0
  if itest.l ${ota_lo} -eq 0; then
    setexpr.l ota_hi ${ota_hi} + 1
  fi
  mw.l ${ota_f_lo} ${ota_lo}
  mw.l ${ota_f_hi} ${ota_hi}
  setenv ota_h ${ota_new}
  run ota_crc
  cp.l ${ota_crc_le} ${ota_f_crc} 1
  if run ota_write_copy; then
    echo "ota: boot header written at ${ota_dst}"
  else
    echo "ota: cannot record the boot decision at ${ota_dst}; not booting"
    setenv ota_boot none
    setenv ota_refusals header write failed
  fi
fi

# ---------------------------------------------------------------------------
# Step 6: boot the chosen slot: attach its UBI partition, load the kernel
# volume, and tell Linux which slot runs (ubi.mtd= for the root, ota.slot=
# for the update client). If loading or bootm fails, reset: on a trial the
# next power-on counts another attempt and, once they run out, falls back.

if test ${ota_boot} = none; then
  echo "ota: no bootable slot: ${ota_refusals}"
else
  if test ${ota_boot} = 0; then
    setenv ota_part root_a
    setenv ota_name a
  else
    setenv ota_part root_b
    setenv ota_name b
  fi
  echo "ota: boot ${ota_name}: ${ota_reason}"
  setenv bootargs ${ota_bootargs} ubi.mtd=${ota_part} ota.slot=${ota_name}
  run ota_boot_slot
  echo "ota: cannot start slot ${ota_name}; resetting"
  reset
fi
