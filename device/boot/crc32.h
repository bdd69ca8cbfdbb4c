// CRC-32/IEEE 802.3 (the zlib, PNG and U-Boot `crc32` checksum): reflected
// polynomial 0xEDB88320, initial value and final XOR 0xFFFFFFFF.
// The boot header carries one so that the bootloader can tell a whole copy
// from a torn or decayed one; U-Boot computes the same value.
//
//   uint32_t crc = Crc32("123456789");            // 0xCBF43926
//   uint32_t same = Crc32Update(Crc32("1234"), "56789");
#ifndef OTA_DEVICE_BOOT_CRC32_H_
#define OTA_DEVICE_BOOT_CRC32_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace ota::device {

// The CRC-32 of `data`.
uint32_t Crc32(absl::string_view data);

// The CRC-32 of the bytes that gave `crc` followed by `data`.
uint32_t Crc32Update(uint32_t crc, absl::string_view data);

}  // namespace ota::device

#endif  // OTA_DEVICE_BOOT_CRC32_H_
