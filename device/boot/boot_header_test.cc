// The boot header's byte layout and every way a copy can be rejected.
#include "device/boot/boot_header.h"

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/testing/status_matchers.h"
#include "device/boot/crc32.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ota::device {
namespace {

using ::ota::testing::IsOk;
using ::ota::testing::StatusIs;
using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// A header in which every field differs from its default.
BootHeader Sample() {
  BootHeader header;
  header.counter = 0x0102030405060708;
  header.active_slot = Slot::kB;
  header.trial = true;
  header.attempts_left = 2;
  header.trial_attempts = 3;
  header.slot(Slot::kA).bootable = true;
  header.slot(Slot::kA).image_size = 20578304;
  header.slot(Slot::kA).sequence = 41;
  header.slot(Slot::kA).image_sha256 = std::string(32, '\xaa');
  header.slot(Slot::kB).bootable = true;
  header.slot(Slot::kB).image_size = 0x1122334455;
  header.slot(Slot::kB).sequence = 42;
  header.slot(Slot::kB).image_sha256 = std::string(32, '\xbb');
  return header;
}

uint64_t LittleEndian(const std::string& bytes, size_t at, int n) {
  uint64_t value = 0;
  for (int i = n - 1; i >= 0; --i) {
    value = (value << 8) | static_cast<uint8_t>(bytes[at + i]);
  }
  return value;
}

// `bytes` with its CRC recomputed, so that a test reaches the checks after it.
std::string Recrc(std::string bytes) {
  uint32_t crc = Crc32(absl::string_view(bytes).substr(0, 0x7C));
  for (int i = 0; i < 4; ++i)
    bytes[0x7C + i] = static_cast<char>(crc >> (8 * i));
  return bytes;
}

std::string Encoded(const BootHeader& header) {
  absl::StatusOr<std::string> bytes = EncodeBootHeader(header);
  EXPECT_THAT(bytes, IsOk());
  return bytes.ok() ? *bytes : std::string();
}

TEST(BootHeaderTest, LayoutMatchesTheTableInTheHeaderFile) {
  std::string bytes = Encoded(Sample());
  ASSERT_EQ(bytes.size(), 128u);
  EXPECT_EQ(bytes.substr(0x00, 8), "OTABOOT1");
  EXPECT_EQ(LittleEndian(bytes, 0x08, 2), 1u);
  EXPECT_EQ(bytes[0x0A], 1);  // b
  EXPECT_EQ(bytes[0x0B], 1);
  EXPECT_EQ(bytes[0x0C], 2);
  EXPECT_EQ(bytes[0x0D], 3);
  EXPECT_EQ(bytes[0x0E], 1);
  EXPECT_EQ(bytes[0x0F], 1);
  EXPECT_EQ(LittleEndian(bytes, 0x10, 8), 0x0102030405060708u);
  EXPECT_EQ(static_cast<uint8_t>(bytes[0x10]), 0x08);  // little-endian
  EXPECT_EQ(LittleEndian(bytes, 0x18, 8), 20578304u);
  EXPECT_EQ(LittleEndian(bytes, 0x20, 8), 0x1122334455u);
  EXPECT_EQ(LittleEndian(bytes, 0x28, 8), 41u);
  EXPECT_EQ(LittleEndian(bytes, 0x30, 8), 42u);
  EXPECT_EQ(bytes.substr(0x38, 32), std::string(32, '\xaa'));
  EXPECT_EQ(bytes.substr(0x58, 32), std::string(32, '\xbb'));
  EXPECT_EQ(LittleEndian(bytes, 0x78, 4), 0u);
  EXPECT_EQ(LittleEndian(bytes, 0x7C, 4),
            Crc32(absl::string_view(bytes).substr(0, 0x7C)));
}

// The two 32-bit words deploy/uboot/boot.cmd compares the magic with.
TEST(BootHeaderTest, MagicWordsTheUBootScriptCompares) {
  std::string bytes = Encoded(BootHeader{});
  EXPECT_EQ(LittleEndian(bytes, 0, 4), 0x4241544Fu);
  EXPECT_EQ(LittleEndian(bytes, 4, 4), 0x31544F4Fu);
}

TEST(BootHeaderTest, RoundTrips) {
  for (const BootHeader& header : {BootHeader{}, Sample()}) {
    ASSERT_OK_AND_ASSIGN(BootHeader decoded, DecodeBootHeader(Encoded(header)));
    EXPECT_EQ(decoded, header);
  }
}

TEST(BootHeaderTest, WrongLengthIsInvalidArgument) {
  std::string bytes = Encoded(Sample());
  EXPECT_THAT(DecodeBootHeader(bytes.substr(0, 127)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       Eq("boot header is 127 bytes, want 128")));
  EXPECT_THAT(DecodeBootHeader(bytes + "x"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       Eq("boot header is 129 bytes, want 128")));
}

TEST(BootHeaderTest, BlankFlashIsBadMagic) {
  EXPECT_THAT(DecodeBootHeader(std::string(128, '\xff')),
              StatusIs(absl::StatusCode::kDataLoss, Eq("bad magic")));
  EXPECT_THAT(DecodeBootHeader(std::string(128, '\0')),
              StatusIs(absl::StatusCode::kDataLoss, Eq("bad magic")));
}

TEST(BootHeaderTest, EveryFlippedBitIsCaught) {
  const std::string good = Encoded(Sample());
  for (size_t at = 0; at < good.size(); ++at) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = good;
      bad[at] = static_cast<char>(bad[at] ^ (1 << bit));
      if (at < 8) {
        EXPECT_THAT(DecodeBootHeader(bad),
                    StatusIs(absl::StatusCode::kDataLoss, Eq("bad magic")))
            << "byte " << at << " bit " << bit;
      } else {
        EXPECT_THAT(DecodeBootHeader(bad),
                    StatusIs(absl::StatusCode::kDataLoss,
                             StartsWith("bad CRC: stored 0x")))
            << "byte " << at << " bit " << bit;
      }
    }
  }
}

// A write torn anywhere over an erased (0xff) or an older copy is caught.
TEST(BootHeaderTest, EveryTornWriteIsCaught) {
  const std::string fresh = Encoded(Sample());
  BootHeader previous = Sample();
  previous.counter -= 2;
  previous.attempts_left = 3;
  const std::string older = Encoded(previous);
  for (size_t n = 8; n < fresh.size(); ++n) {
    for (const std::string& under : {std::string(128, '\xff'), older}) {
      std::string torn = fresh.substr(0, n) + under.substr(n);
      // Where the new bytes so far equal the old, the copy is simply old.
      if (torn == fresh || torn == older) continue;
      EXPECT_THAT(DecodeBootHeader(torn),
                  StatusIs(absl::StatusCode::kDataLoss, StartsWith("bad CRC")))
          << "torn after " << n << " bytes";
    }
  }
}

TEST(BootHeaderTest, BadCrcNamesBothValues) {
  std::string bytes = Encoded(Sample());
  uint32_t crc = static_cast<uint32_t>(LittleEndian(bytes, 0x7C, 4));
  bytes[0x7C] = static_cast<char>(bytes[0x7C] ^ 0x01);
  EXPECT_THAT(DecodeBootHeader(bytes),
              StatusIs(absl::StatusCode::kDataLoss,
                       Eq(absl::StrFormat("bad CRC: stored 0x%08x, computed "
                                          "0x%08x",
                                          crc ^ 0x01, crc))));
}

TEST(BootHeaderTest, UnknownVersionIsUnimplemented) {
  std::string bytes = Encoded(Sample());
  bytes[0x08] = 2;
  EXPECT_THAT(DecodeBootHeader(Recrc(bytes)),
              StatusIs(absl::StatusCode::kUnimplemented,
                       Eq("unknown boot header version 2 (this build reads "
                          "1)")));
  bytes[0x08] = 0;
  bytes[0x09] = 1;
  EXPECT_THAT(DecodeBootHeader(Recrc(bytes)),
              StatusIs(absl::StatusCode::kUnimplemented,
                       HasSubstr("unknown boot header version 256")));
}

TEST(BootHeaderTest, BadFieldsBehindAGoodCrcAreDataLoss) {
  struct Case {
    size_t at;
    char value;
    std::string message;
  };
  for (const Case& c : {
           Case{0x0A, 2, "bad active slot 2"},
           Case{0x0A, '\xff', "bad active slot 255"},
           Case{0x0B, 2, "bad trial flag 2"},
           Case{0x0C, 4, "attempts left 4 exceed trial attempts 3"},
           Case{0x0E, 7, "bad bootable flag 7 for slot a"},
           Case{0x0F, 2, "bad bootable flag 2 for slot b"},
           Case{0x78, 1, "reserved bytes are not zero"},
           Case{0x7B, '\x80', "reserved bytes are not zero"},
       }) {
    std::string bytes = Encoded(Sample());
    bytes[c.at] = c.value;
    EXPECT_THAT(DecodeBootHeader(Recrc(bytes)),
                StatusIs(absl::StatusCode::kDataLoss, Eq(c.message)))
        << "offset " << c.at;
  }
}

TEST(BootHeaderTest, EncodeRefusesWhatCannotBeEncoded) {
  BootHeader header = Sample();
  header.active_slot = static_cast<Slot>(2);
  EXPECT_THAT(
      EncodeBootHeader(header),
      StatusIs(absl::StatusCode::kInvalidArgument, Eq("bad active slot 2")));
  header = Sample();
  header.slot(Slot::kB).image_sha256 = "short";
  EXPECT_THAT(EncodeBootHeader(header),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       Eq("image sha256 of slot b is 5 bytes, want 32")));
  header = Sample();
  header.attempts_left = 4;
  EXPECT_THAT(EncodeBootHeader(header),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       Eq("attempts left 4 exceed trial attempts 3")));
}

}  // namespace
}  // namespace ota::device
