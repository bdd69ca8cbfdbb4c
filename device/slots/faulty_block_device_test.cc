// FakeBlockDevice's durable/volatile model and FaultyBlockDevice's power
// cuts, which every crash test above relies on.
#include "device/slots/faulty_block_device.h"

#include <set>
#include <string>

#include "common/testing/status_matchers.h"
#include "device/slots/fake_block_device.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ota::device {
namespace {

using ::ota::testing::StatusIs;
using ::testing::Eq;

std::string Contents(const BlockDevice& device, uint64_t offset, size_t len) {
  std::string out(len, '?');
  EXPECT_OK(device.Read(offset, out.data(), len));
  return out;
}

PowerCut::Options CutAfter(int64_t k, bool tear = false, uint64_t seed = 1) {
  PowerCut::Options options;
  options.after_operations = k;
  options.tear_last_write = tear;
  options.seed = seed;
  return options;
}

TEST(FakeBlockDeviceTest, StartsFilledAndDurable) {
  FakeBlockDevice device(4, '\xff');
  EXPECT_EQ(device.volatile_contents(), "\xff\xff\xff\xff");
  EXPECT_EQ(device.durable_contents(), "\xff\xff\xff\xff");
}

TEST(FakeBlockDeviceTest, LosePowerDropsWritesNotFlushed) {
  FakeBlockDevice device(8);
  ASSERT_OK(device.Write(0, "kept"));
  ASSERT_OK(device.Flush());
  ASSERT_OK(device.Write(4, "lost"));
  EXPECT_EQ(Contents(device, 0, 8), "keptlost");
  EXPECT_EQ(device.durable_contents(), std::string("kept\0\0\0\0", 8));
  device.LosePower();
  EXPECT_EQ(Contents(device, 0, 8), std::string("kept\0\0\0\0", 8));
}

TEST(FakeBlockDeviceTest, WriteDurablySurvivesLosePower) {
  FakeBlockDevice device(4);
  device.WriteDurably(1, "ab");
  device.LosePower();
  EXPECT_EQ(Contents(device, 0, 4), std::string("\0ab\0", 4));
}

TEST(FaultyBlockDeviceTest, WithoutACutCountsWritesAndFlushesOnly) {
  FakeBlockDevice fake(16);
  PowerCut power(CutAfter(0));
  FaultyBlockDevice device(&fake, &power);
  ASSERT_OK(device.Write(0, "a"));
  ASSERT_OK(device.Write(1, "b"));
  ASSERT_OK(device.Flush());
  char buf[2];
  ASSERT_OK(device.Read(0, buf, 2));
  ASSERT_OK(device.Size().status());
  EXPECT_EQ(power.operations(), 3);
  EXPECT_FALSE(power.lost());
}

TEST(FaultyBlockDeviceTest, AWriteThatFailsIsNotCounted) {
  FakeBlockDevice fake(4);
  PowerCut power(CutAfter(0));
  FaultyBlockDevice device(&fake, &power);
  EXPECT_THAT(
      device.Write(2, "toolong"),
      StatusIs(absl::StatusCode::kOutOfRange,
               Eq("write of 7 bytes at 2 ends past the end of fake block "
                  "device (4 bytes)")));
  EXPECT_EQ(power.operations(), 0);
}

TEST(FaultyBlockDeviceTest, CutAtAWriteLosesItAndEverythingUnflushed) {
  FakeBlockDevice fake(8);
  PowerCut power(CutAfter(4));
  FaultyBlockDevice device(&fake, &power);
  ASSERT_OK(device.Write(0, "aa"));
  ASSERT_OK(device.Flush());
  ASSERT_OK(device.Write(2, "bb"));
  // The fourth operation meets the cut.
  EXPECT_THAT(device.Write(4, "cc"),
              StatusIs(absl::StatusCode::kUnavailable, Eq("power lost")));
  EXPECT_TRUE(power.lost());
  EXPECT_EQ(power.operations(), 4);
  EXPECT_EQ(power.torn_bytes(), 0u);
  EXPECT_EQ(fake.volatile_contents(), std::string("aa\0\0\0\0\0\0", 8));
}

TEST(FaultyBlockDeviceTest, EveryCallFailsAfterTheCut) {
  FakeBlockDevice fake(8);
  PowerCut power(CutAfter(1));
  FaultyBlockDevice device(&fake, &power);
  EXPECT_THAT(device.Flush(),
              StatusIs(absl::StatusCode::kUnavailable, Eq("power lost")));
  char buf[1];
  EXPECT_THAT(device.Read(0, buf, 1),
              StatusIs(absl::StatusCode::kUnavailable, Eq("power lost")));
  EXPECT_THAT(device.Size(),
              StatusIs(absl::StatusCode::kUnavailable, Eq("power lost")));
  EXPECT_THAT(device.Write(0, "x"),
              StatusIs(absl::StatusCode::kUnavailable, Eq("power lost")));
  EXPECT_THAT(device.Flush(),
              StatusIs(absl::StatusCode::kUnavailable, Eq("power lost")));
  EXPECT_EQ(power.operations(), 1);
}

TEST(FaultyBlockDeviceTest, CutAtAFlushKeepsWhatItFlushed) {
  FakeBlockDevice fake(4);
  PowerCut power(CutAfter(2, /*tear=*/true));
  FaultyBlockDevice device(&fake, &power);
  ASSERT_OK(device.Write(0, "done"));
  EXPECT_THAT(device.Flush(),
              StatusIs(absl::StatusCode::kUnavailable, Eq("power lost")));
  EXPECT_EQ(fake.volatile_contents(), "done");
  EXPECT_EQ(power.torn_bytes(), 0u);
}

TEST(FaultyBlockDeviceTest, ATornWriteLeavesAPrefixChosenBySeed) {
  std::set<uint64_t> lengths;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    FakeBlockDevice fake(10, '.');
    PowerCut power(CutAfter(1, /*tear=*/true, seed));
    FaultyBlockDevice device(&fake, &power);
    EXPECT_THAT(device.Write(1, "XXXXXXXX"),
                StatusIs(absl::StatusCode::kUnavailable, Eq("power lost")));
    uint64_t n = power.torn_bytes();
    ASSERT_LE(n, 8u);
    EXPECT_EQ(fake.durable_contents(),
              "." + std::string(n, 'X') + std::string(9 - n, '.'))
        << "seed " << seed;
    EXPECT_EQ(fake.volatile_contents(), fake.durable_contents());
    lengths.insert(n);

    FakeBlockDevice again(10, '.');
    PowerCut same(CutAfter(1, /*tear=*/true, seed));
    FaultyBlockDevice replay(&again, &same);
    (void)replay.Write(1, "XXXXXXXX");
    EXPECT_EQ(same.torn_bytes(), n) << "the seed alone decides";
  }
  EXPECT_GE(lengths.size(), 4u);
}

TEST(FaultyBlockDeviceTest, DevicesOnOnePowerCutLoseTogether) {
  FakeBlockDevice flags(4), slot(4);
  PowerCut power(CutAfter(3));
  FaultyBlockDevice faulty_flags(&flags, &power);
  FaultyBlockDevice faulty_slot(&slot, &power);
  ASSERT_OK(faulty_slot.Write(0, "img"));
  ASSERT_OK(faulty_flags.Write(0, "hdr"));
  EXPECT_THAT(faulty_flags.Flush(),
              StatusIs(absl::StatusCode::kUnavailable, Eq("power lost")));
  EXPECT_EQ(flags.volatile_contents(), std::string("hdr\0", 4));
  EXPECT_EQ(slot.volatile_contents(), std::string(4, '\0'));
  EXPECT_THAT(faulty_slot.Write(0, "x"),
              StatusIs(absl::StatusCode::kUnavailable, Eq("power lost")));
}

}  // namespace
}  // namespace ota::device
