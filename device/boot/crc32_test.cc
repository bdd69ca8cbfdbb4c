#include "device/boot/crc32.h"

#include <string>

#include "gtest/gtest.h"

namespace ota::device {
namespace {

TEST(Crc32Test, KnownValues) {
  EXPECT_EQ(Crc32(""), 0u);
  EXPECT_EQ(Crc32("a"), 0xE8B7BE43u);
  EXPECT_EQ(Crc32("123456789"), 0xCBF43926u);
  EXPECT_EQ(Crc32("The quick brown fox jumps over the lazy dog"), 0x414FA339u);
  EXPECT_EQ(Crc32(std::string(32, '\0')), 0x190A55ADu);
  EXPECT_EQ(Crc32(std::string(32, '\xff')), 0xFF6CAB0Bu);
}

// deploy/uboot/boot.cmd checks which byte order its `crc32` command stores
// results in by hashing the magic and comparing with this value.
TEST(Crc32Test, TheMagicValueTheUBootScriptCompares) {
  EXPECT_EQ(Crc32("OTABOOT1"), 0x938A0A90u);
}

TEST(Crc32Test, UpdateContinuesAComputation) {
  EXPECT_EQ(Crc32Update(Crc32("1234"), "56789"), Crc32("123456789"));
  EXPECT_EQ(Crc32Update(Crc32(""), "abc"), Crc32("abc"));
}

}  // namespace
}  // namespace ota::device
