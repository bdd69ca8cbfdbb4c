# Board settings for QEMU's virt machine, sourced by deploy/uboot/boot.cmd
# through ota_board_script. The first virtio block device stands in for the
# seed's NAND: the same offsets, in 512-byte blocks. Booting a slot only
# reports it and powers off.
setenv ota_read_copy 'setexpr ota_blk ${ota_off} / 200; setexpr ota_cnt ${ota_span} / 200; virtio read ${ota_h} ${ota_blk} ${ota_cnt}'
setenv ota_write_copy 'setexpr ota_blk ${ota_dst} / 200; setexpr ota_cnt ${ota_span} / 200; virtio write ${ota_new} ${ota_blk} ${ota_cnt}'
setenv ota_boot_slot 'echo "ota-test: bootm ${ota_part}: ${bootargs}"; poweroff'
