#include "device/boot/crc32.h"

#include <array>

namespace ota::device {
namespace {

constexpr uint32_t kPolynomial = 0xEDB88320u;

// table[b] is the CRC register after shifting byte `b` through it.
constexpr std::array<uint32_t, 256> MakeTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t b = 0; b < 256; ++b) {
    uint32_t r = b;
    for (int bit = 0; bit < 8; ++bit) {
      r = (r & 1) ? (r >> 1) ^ kPolynomial : r >> 1;
    }
    table[b] = r;
  }
  return table;
}

constexpr std::array<uint32_t, 256> kTable = MakeTable();

}  // namespace

uint32_t Crc32Update(uint32_t crc, absl::string_view data) {
  uint32_t r = ~crc;
  for (char c : data) {
    r = kTable[(r ^ static_cast<uint8_t>(c)) & 0xFFu] ^ (r >> 8);
  }
  return ~r;
}

uint32_t Crc32(absl::string_view data) { return Crc32Update(0, data); }

}  // namespace ota::device
