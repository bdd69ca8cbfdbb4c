// BootFlags: the two-copy write protocol and the update client's helpers.
#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/testing/status_matchers.h"
#include "device/boot/boot_header.h"
#include "device/slots/fake_block_device.h"
#include "device/slots/faulty_block_device.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ota::device {
namespace {

using ::ota::testing::StatusIs;
using ::testing::Eq;
using ::testing::HasSubstr;

const std::string kShaA(32, 'A');
const std::string kShaB(32, 'B');

class BootFlagsTest : public ::testing::Test {
 protected:
  BootFlagsTest() : device_(kBootFlagsSize, '\xff'), flags_(&device_) {}

  // The copy at index `i` as it is on the medium.
  absl::StatusOr<BootHeader> Copy(int i) {
    return DecodeBootHeader(device_.durable_contents().substr(
        kBootHeaderCopyOffsets[i], kBootHeaderSize));
  }

  void PutCopy(int i, BootHeader header) {
    absl::StatusOr<std::string> bytes = EncodeBootHeader(header);
    ASSERT_TRUE(bytes.ok());
    device_.WriteDurably(kBootHeaderCopyOffsets[i], *bytes);
  }

  void Corrupt(int i) {
    std::string byte(
        1, device_.durable_contents()[kBootHeaderCopyOffsets[i] + 20] ^ 1);
    device_.WriteDurably(kBootHeaderCopyOffsets[i] + 20, byte);
  }

  BootHeader Loaded() {
    absl::StatusOr<BootHeader> header = flags_.Load();
    EXPECT_TRUE(header.ok()) << header.status();
    return header.ok() ? *header : BootHeader{};
  }

  FakeBlockDevice device_;
  BootFlags flags_;
};

TEST_F(BootFlagsTest, BlankAreaHasNoValidHeader) {
  EXPECT_THAT(flags_.Load(),
              StatusIs(absl::StatusCode::kDataLoss,
                       Eq("no valid boot header (copy 0: bad magic; copy 1: "
                          "bad magic)")));
}

TEST_F(BootFlagsTest, TooSmallADeviceIsRefused) {
  FakeBlockDevice small(kBootFlagsMinSize - 1);
  BootFlags flags(&small);
  EXPECT_THAT(flags.Load(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       Eq(absl::StrCat("bootflags device is 262271 bytes, "
                                       "needs at least 262272"))));
  EXPECT_THAT(flags.Write(BootHeader{}),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("needs at least 262272")));
}

TEST_F(BootFlagsTest, WritesAlternateBetweenCopiesAndCountUp) {
  BootHeader header;
  header.counter = 999;  // ignored
  ASSERT_OK_AND_ASSIGN(uint64_t first, flags_.Write(header));
  EXPECT_EQ(first, 1u);
  EXPECT_EQ(Copy(0)->counter, 1u);
  EXPECT_THAT(Copy(1), StatusIs(absl::StatusCode::kDataLoss, Eq("bad magic")));

  ASSERT_OK_AND_ASSIGN(uint64_t second, flags_.Write(header));
  EXPECT_EQ(second, 2u);
  EXPECT_EQ(Copy(0)->counter, 1u);
  EXPECT_EQ(Copy(1)->counter, 2u);

  ASSERT_OK_AND_ASSIGN(uint64_t third, flags_.Write(header));
  EXPECT_EQ(third, 3u);
  EXPECT_EQ(Copy(0)->counter, 3u);
  EXPECT_EQ(Copy(1)->counter, 2u);
  EXPECT_EQ(Loaded().counter, 3u);
}

TEST_F(BootFlagsTest, AWriteIsFlushed) {
  BootHeader header;
  header.active_slot = Slot::kB;
  ASSERT_OK(flags_.Write(header).status());
  device_.LosePower();
  EXPECT_EQ(Loaded().active_slot, Slot::kB);
}

TEST_F(BootFlagsTest, LoadTakesTheHigherCounterWhicheverCopyHoldsIt) {
  BootHeader old_header, new_header;
  old_header.counter = 5;
  new_header.counter = 7;
  new_header.active_slot = Slot::kB;
  PutCopy(0, new_header);
  PutCopy(1, old_header);
  EXPECT_EQ(Loaded(), new_header);
  // The next write replaces the older copy, 1.
  ASSERT_OK_AND_ASSIGN(uint64_t counter, flags_.Write(BootHeader{}));
  EXPECT_EQ(counter, 8u);
  EXPECT_EQ(Copy(0)->counter, 7u);
  EXPECT_EQ(Copy(1)->counter, 8u);
}

TEST_F(BootFlagsTest, ACorruptNewestCopyFallsBackToTheOtherAndIsOverwritten) {
  BootHeader older, newer;
  older.counter = 4;
  newer.counter = 5;
  newer.active_slot = Slot::kB;
  PutCopy(0, older);
  PutCopy(1, newer);
  Corrupt(1);
  EXPECT_EQ(Loaded(), older);
  ASSERT_OK_AND_ASSIGN(uint64_t counter, flags_.Write(BootHeader{}));
  EXPECT_EQ(counter, 5u);
  EXPECT_EQ(Copy(0)->counter, 4u) << "the only valid copy is never overwritten";
  EXPECT_EQ(Copy(1)->counter, 5u);
}

TEST_F(BootFlagsTest, OneCorruptCopyAloneStillLoads) {
  BootHeader header;
  header.counter = 9;
  PutCopy(1, header);
  Corrupt(1);
  EXPECT_THAT(flags_.Load(),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("no valid boot header (copy 0: bad magic; "
                                 "copy 1: bad CRC: stored 0x")));
  PutCopy(0, header);
  EXPECT_EQ(Loaded().counter, 9u);
}

TEST_F(BootFlagsTest, EqualCountersLoadCopyZero) {
  BootHeader zero, one;
  zero.counter = one.counter = 3;
  one.active_slot = Slot::kB;
  PutCopy(0, zero);
  PutCopy(1, one);
  EXPECT_EQ(Loaded().active_slot, Slot::kA);
  ASSERT_OK(flags_.Write(BootHeader{}).status());
  EXPECT_EQ(Copy(1)->counter, 4u);
}

TEST_F(BootFlagsTest, ACounterAtItsLargestValueStartsAgainFromOne) {
  // Found by test/fuzz:boot_header: with the newest counter at 2^64 - 1 the
  // next counter wrapped to 0, so every later write (a trial attempt
  // counted by the bootloader, a fallback) lost to the old copy.
  BootHeader stuck, older;
  stuck.counter = UINT64_MAX;
  older.counter = 3;
  PutCopy(0, stuck);
  PutCopy(1, older);
  BootHeader next;
  next.active_slot = Slot::kB;
  ASSERT_OK_AND_ASSIGN(uint64_t counter, flags_.Write(next));
  EXPECT_EQ(counter, 2u);
  EXPECT_EQ(Copy(1)->counter, 1u);
  EXPECT_EQ(Copy(0)->counter, 2u);
  device_.LosePower();
  EXPECT_EQ(Loaded().active_slot, Slot::kB);
  ASSERT_OK_AND_ASSIGN(counter, flags_.Write(BootHeader{}));
  EXPECT_EQ(counter, 3u);
  EXPECT_EQ(Loaded().active_slot, Slot::kA);
}

TEST(BootFlagsPowerCutTest, StartingTheCounterAgainLeavesOldOrNew) {
  // Starting again is two writes and two flushes; a cut at any of them,
  // tearing the write it hits, leaves the old header or the new one.
  for (int64_t k = 1; k <= 4; ++k) {
    for (uint64_t seed = 0; seed < 8; ++seed) {
      FakeBlockDevice device(kBootFlagsSize, '\xff');
      BootHeader stuck;
      stuck.counter = UINT64_MAX;
      device.WriteDurably(kBootHeaderCopyOffsets[0], *EncodeBootHeader(stuck));
      BootHeader next;
      next.active_slot = Slot::kB;
      PowerCut cut({/*after_operations=*/k, /*tear_last_write=*/true, seed});
      FaultyBlockDevice faulty(&device, &cut);
      (void)BootFlags(&faulty).Write(next);
      absl::StatusOr<BootHeader> loaded = BootFlags(&device).Load();
      ASSERT_TRUE(loaded.ok()) << "cut " << k << ": " << loaded.status();
      if (loaded->active_slot == Slot::kA) {
        EXPECT_EQ(loaded->counter, UINT64_MAX) << "cut " << k;
      } else {
        EXPECT_LE(loaded->counter, 2u) << "cut " << k;
      }
      if (k == 4) EXPECT_EQ(loaded->active_slot, Slot::kB);
    }
  }
}

TEST_F(BootFlagsTest, AHeaderThatCannotBeEncodedWritesNothing) {
  BootHeader header;
  header.slot(Slot::kA).image_sha256 = "x";
  EXPECT_THAT(flags_.Write(header),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       Eq("image sha256 of slot a is 1 bytes, want 32")));
  EXPECT_EQ(device_.durable_contents(), std::string(kBootFlagsSize, '\xff'));
}

TEST_F(BootFlagsTest, DeviceErrorsPassThrough) {
  PowerCut::Options cut;
  cut.after_operations = 1;
  PowerCut power(cut);
  FaultyBlockDevice faulty(&device_, &power);
  BootFlags flags(&faulty);
  EXPECT_THAT(flags.Write(BootHeader{}),
              StatusIs(absl::StatusCode::kUnavailable, Eq("power lost")));
  EXPECT_THAT(flags.Load(),
              StatusIs(absl::StatusCode::kUnavailable, Eq("power lost")));
}

TEST_F(BootFlagsTest, FactoryHeaderCommitsOneSlot) {
  ASSERT_OK(flags_.WriteFactoryHeader(Slot::kA, 1000, kShaA, 7));
  BootHeader header = Loaded();
  EXPECT_EQ(header.active_slot, Slot::kA);
  EXPECT_FALSE(header.trial);
  EXPECT_EQ(header.attempts_left, 0);
  EXPECT_TRUE(header.slot(Slot::kA).bootable);
  EXPECT_EQ(header.slot(Slot::kA).image_size, 1000u);
  EXPECT_EQ(header.slot(Slot::kA).image_sha256, kShaA);
  EXPECT_EQ(header.slot(Slot::kA).sequence, 7u);
  EXPECT_EQ(header.slot(Slot::kB), SlotState{});
}

TEST_F(BootFlagsTest, MarkSlotUnbootableForgetsTheImage) {
  ASSERT_OK(flags_.WriteFactoryHeader(Slot::kA, 1000, kShaA, 7));
  BootHeader header = Loaded();
  header.slot(Slot::kB) = {true, 500, kShaB, 6};
  ASSERT_OK(flags_.Write(header).status());

  ASSERT_OK(flags_.MarkSlotUnbootable(Slot::kB));
  header = Loaded();
  EXPECT_EQ(header.slot(Slot::kB), SlotState{});
  EXPECT_EQ(header.slot(Slot::kA).image_sha256, kShaA);
  EXPECT_EQ(header.counter, 3u);

  // Already unbootable: nothing to write.
  ASSERT_OK(flags_.MarkSlotUnbootable(Slot::kB));
  EXPECT_EQ(Loaded().counter, 3u);
}

TEST_F(BootFlagsTest, MarkSlotUnbootableRefusesTheActiveSlot) {
  ASSERT_OK(flags_.WriteFactoryHeader(Slot::kA, 1000, kShaA, 7));
  EXPECT_THAT(flags_.MarkSlotUnbootable(Slot::kA),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       Eq("slot a is active: it cannot be written")));
}

TEST_F(BootFlagsTest, MarkSlotUnbootableRefusesTheLastGoodImageDuringATrial) {
  ASSERT_OK(flags_.WriteFactoryHeader(Slot::kA, 1000, kShaA, 7));
  ASSERT_OK(flags_.SetTrial(Slot::kB, 500, kShaB, 3, 8));
  EXPECT_THAT(flags_.MarkSlotUnbootable(Slot::kA),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       Eq("slot b is on trial and slot a holds the last "
                          "committed image: commit first")));
  EXPECT_TRUE(Loaded().slot(Slot::kA).bootable);
}

TEST_F(BootFlagsTest, SetTrialSwitchesToTheNewSlot) {
  ASSERT_OK(flags_.WriteFactoryHeader(Slot::kA, 1000, kShaA, 7));
  ASSERT_OK(flags_.MarkSlotUnbootable(Slot::kB));
  ASSERT_OK(flags_.SetTrial(Slot::kB, 500, kShaB, 3, 8));
  BootHeader header = Loaded();
  EXPECT_EQ(header.active_slot, Slot::kB);
  EXPECT_TRUE(header.trial);
  EXPECT_EQ(header.attempts_left, 3);
  EXPECT_EQ(header.trial_attempts, 3);
  EXPECT_EQ(header.slot(Slot::kB), (SlotState{true, 500, kShaB, 8}));
  EXPECT_EQ(header.slot(Slot::kA), (SlotState{true, 1000, kShaA, 7}));
}

TEST_F(BootFlagsTest, SetTrialChecksItsArguments) {
  ASSERT_OK(flags_.WriteFactoryHeader(Slot::kA, 1000, kShaA, 7));
  EXPECT_THAT(flags_.SetTrial(Slot::kB, 500, "short", 3, 8),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       Eq("image sha256 is 5 bytes, want 32")));
  EXPECT_THAT(flags_.SetTrial(Slot::kB, 500, kShaB, 0, 8),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       Eq("a trial needs at least one attempt")));
  EXPECT_THAT(flags_.SetTrial(Slot::kA, 500, kShaB, 3, 8),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       Eq("slot a is already active")));
  EXPECT_EQ(Loaded().counter, 1u);
}

TEST_F(BootFlagsTest, SetTrialRefusesASecondTrial) {
  ASSERT_OK(flags_.WriteFactoryHeader(Slot::kA, 1000, kShaA, 7));
  ASSERT_OK(flags_.SetTrial(Slot::kB, 500, kShaB, 3, 8));
  BootHeader header = Loaded();
  header.slot(Slot::kA) = SlotState{};
  ASSERT_OK(flags_.Write(header).status());
  EXPECT_THAT(flags_.SetTrial(Slot::kA, 500, kShaA, 3, 9),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       Eq("slot b is on trial: commit it first")));
}

TEST_F(BootFlagsTest, SetTrialRefusesASlotNeverMarkedUnbootable) {
  ASSERT_OK(flags_.WriteFactoryHeader(Slot::kA, 1000, kShaA, 7));
  BootHeader header = Loaded();
  header.slot(Slot::kB) = {true, 500, kShaB, 6};
  ASSERT_OK(flags_.Write(header).status());
  EXPECT_THAT(flags_.SetTrial(Slot::kB, 600, kShaB, 3, 8),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       Eq("slot b was not marked unbootable before its image "
                          "was written")));
}

TEST_F(BootFlagsTest, CommitEndsTheTrial) {
  ASSERT_OK(flags_.WriteFactoryHeader(Slot::kA, 1000, kShaA, 7));
  ASSERT_OK(flags_.SetTrial(Slot::kB, 500, kShaB, 3, 8));
  ASSERT_OK(flags_.Commit());
  BootHeader header = Loaded();
  EXPECT_EQ(header.active_slot, Slot::kB);
  EXPECT_FALSE(header.trial);
  EXPECT_EQ(header.attempts_left, 0);
  EXPECT_EQ(header.trial_attempts, 0);
  EXPECT_EQ(header.slot(Slot::kB), (SlotState{true, 500, kShaB, 8}));
  EXPECT_THAT(flags_.Commit(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       Eq("no trial to commit: slot b is active and "
                          "committed")));
}

TEST_F(BootFlagsTest, HelpersNeedAValidHeader) {
  EXPECT_THAT(
      flags_.MarkSlotUnbootable(Slot::kB),
      StatusIs(absl::StatusCode::kDataLoss, HasSubstr("no valid boot header")));
  EXPECT_THAT(
      flags_.SetTrial(Slot::kB, 1, kShaB, 1, 1),
      StatusIs(absl::StatusCode::kDataLoss, HasSubstr("no valid boot header")));
  EXPECT_THAT(flags_.Commit(), StatusIs(absl::StatusCode::kDataLoss,
                                        HasSubstr("no valid boot header")));
}

}  // namespace
}  // namespace ota::device
