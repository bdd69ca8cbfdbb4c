// Boot(): what the bootloader decides, trial attempts counting down, and
// every fallback.
#include <cstdint>
#include <string>

#include "common/crypto/sha256.h"
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
using ::testing::StartsWith;

constexpr uint64_t kSlotSize = 64 * 1024;

std::string Image(char seed, size_t size) {
  std::string image(size, '\0');
  for (size_t i = 0; i < size; ++i) image[i] = static_cast<char>(seed + i * 7);
  return image;
}

class BootTest : public ::testing::Test {
 protected:
  BootTest()
      : bootflags_(kBootFlagsSize, '\xff'),
        slot_a_(kSlotSize),
        slot_b_(kSlotSize),
        flags_(&bootflags_),
        image_a_(Image('a', 10000)),
        image_b_(Image('b', 12345)) {}

  void SetUp() override {
    slot_a_.WriteDurably(0, image_a_);
    ASSERT_OK(flags_.WriteFactoryHeader(Slot::kA, image_a_.size(),
                                        common::Sha256Digest(image_a_), 1));
  }

  // What the update client does to install image B into slot b.
  void InstallB(uint8_t attempts) {
    ASSERT_OK(flags_.MarkSlotUnbootable(Slot::kB));
    ASSERT_OK(slot_b_.Write(0, image_b_));
    ASSERT_OK(slot_b_.Flush());
    ASSERT_OK(flags_.SetTrial(Slot::kB, image_b_.size(),
                              common::Sha256Digest(image_b_), attempts, 2));
  }

  absl::StatusOr<BootDecision> BootNow(bool verify = false) {
    BootOptions options;
    options.verify_image = verify;
    return Boot(flags_, slot_a_, slot_b_, options);
  }

  // Boots and expects `slot` for `reason`.
  void ExpectBoot(Slot slot, const std::string& reason, bool verify = false) {
    absl::StatusOr<BootDecision> decision = BootNow(verify);
    ASSERT_TRUE(decision.ok()) << decision.status();
    EXPECT_EQ(decision->slot, slot);
    EXPECT_EQ(decision->reason, reason);
  }

  BootHeader Loaded() {
    absl::StatusOr<BootHeader> header = flags_.Load();
    EXPECT_TRUE(header.ok()) << header.status();
    return header.ok() ? *header : BootHeader{};
  }

  FakeBlockDevice bootflags_, slot_a_, slot_b_;
  BootFlags flags_;
  const std::string image_a_, image_b_;
};

TEST_F(BootTest, ACommittedSlotBootsWithoutAWrite) {
  ExpectBoot(Slot::kA, "committed");
  ExpectBoot(Slot::kA, "committed", /*verify=*/true);
  EXPECT_EQ(Loaded().counter, 1u);
}

TEST_F(BootTest, TrialAttemptsCountDownThenFallBack) {
  InstallB(3);
  ExpectBoot(Slot::kB, "trial attempt 1 of 3");
  EXPECT_EQ(Loaded().attempts_left, 2);
  ExpectBoot(Slot::kB, "trial attempt 2 of 3");
  EXPECT_EQ(Loaded().attempts_left, 1);
  ExpectBoot(Slot::kB, "trial attempt 3 of 3");
  EXPECT_EQ(Loaded().attempts_left, 0);
  EXPECT_TRUE(Loaded().trial);

  ExpectBoot(Slot::kA, "fallback: attempts exhausted on b");
  BootHeader header = Loaded();
  EXPECT_EQ(header.active_slot, Slot::kA);
  EXPECT_FALSE(header.trial);
  EXPECT_EQ(header.attempts_left, 0);
  EXPECT_FALSE(header.slot(Slot::kB).bootable);
  EXPECT_EQ(header.slot(Slot::kB).image_size, image_b_.size())
      << "what failed stays on record";

  uint64_t counter = Loaded().counter;
  ExpectBoot(Slot::kA, "committed");
  EXPECT_EQ(Loaded().counter, counter);
  EXPECT_THAT(flags_.Commit(), StatusIs(absl::StatusCode::kFailedPrecondition,
                                        HasSubstr("no trial to commit")));
}

TEST_F(BootTest, TrialAttemptsCountWithTheCounterAtItsLargestValue) {
  // Found by test/fuzz:boot_header: from a header whose counter was
  // 2^64 - 1 no write took effect, so a failing trial image was booted
  // again and again as "attempt 1" and never fell back.
  InstallB(2);
  BootHeader header = Loaded();
  header.counter = UINT64_MAX;
  bootflags_.WriteDurably(kBootHeaderCopyOffsets[0], *EncodeBootHeader(header));
  ExpectBoot(Slot::kB, "trial attempt 1 of 2");
  EXPECT_EQ(Loaded().attempts_left, 1);
  ExpectBoot(Slot::kB, "trial attempt 2 of 2");
  ExpectBoot(Slot::kA, "fallback: attempts exhausted on b");
}

TEST_F(BootTest, OneAttemptMeansOneTrialBoot) {
  InstallB(1);
  ExpectBoot(Slot::kB, "trial attempt 1 of 1");
  ExpectBoot(Slot::kA, "fallback: attempts exhausted on b");
}

TEST_F(BootTest, ACommittedTrialStaysBooted) {
  InstallB(3);
  ExpectBoot(Slot::kB, "trial attempt 1 of 3");
  ASSERT_OK(flags_.Commit());
  ExpectBoot(Slot::kB, "committed");
  ExpectBoot(Slot::kB, "committed");
  ExpectBoot(Slot::kB, "committed");
  ExpectBoot(Slot::kB, "committed", /*verify=*/true);
  EXPECT_TRUE(Loaded().slot(Slot::kA).bootable) << "a stays as the fallback";
}

TEST_F(BootTest, VerificationCatchesACorruptTrialImage) {
  InstallB(3);
  slot_b_.WriteDurably(5000, "X");
  ExpectBoot(Slot::kB, "trial attempt 1 of 3");  // unnoticed without verify
  ExpectBoot(Slot::kA, "fallback: sha256 mismatch on b", /*verify=*/true);
  BootHeader header = Loaded();
  EXPECT_EQ(header.active_slot, Slot::kA);
  EXPECT_FALSE(header.trial);
  EXPECT_FALSE(header.slot(Slot::kB).bootable);
}

TEST_F(BootTest, VerificationPassesAGoodTrialImage) {
  InstallB(2);
  ExpectBoot(Slot::kB, "trial attempt 1 of 2", /*verify=*/true);
}

TEST_F(BootTest, VerificationFallsBackFromACorruptCommittedImage) {
  InstallB(3);
  ExpectBoot(Slot::kB, "trial attempt 1 of 3");
  ASSERT_OK(flags_.Commit());
  slot_b_.WriteDurably(0, "X");
  ExpectBoot(Slot::kA, "fallback: sha256 mismatch on b", /*verify=*/true);
  ExpectBoot(Slot::kA, "committed", /*verify=*/true);
}

TEST_F(BootTest, NoBootableSlotWritesNothing) {
  slot_a_.WriteDurably(0, "X");
  uint64_t counter = Loaded().counter;
  EXPECT_THAT(BootNow(/*verify=*/true),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       Eq("no bootable slot: sha256 mismatch on a; b not "
                          "bootable")));
  EXPECT_EQ(Loaded().counter, counter);
  EXPECT_TRUE(Loaded().slot(Slot::kA).bootable);
}

TEST_F(BootTest, ExhaustedTrialWithoutAFallbackIsNoBootableSlot) {
  InstallB(1);
  ExpectBoot(Slot::kB, "trial attempt 1 of 1");
  BootHeader header = Loaded();
  header.slot(Slot::kA).bootable = false;
  ASSERT_OK(flags_.Write(header).status());
  EXPECT_THAT(BootNow(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       Eq("no bootable slot: attempts exhausted on b; a not "
                          "bootable")));
}

TEST_F(BootTest, AnActiveSlotNotBootableFallsBack) {
  BootHeader header = Loaded();
  header.slot(Slot::kB) = {true, image_b_.size(),
                           common::Sha256Digest(image_b_), 2};
  header.slot(Slot::kA).bootable = false;
  slot_b_.WriteDurably(0, image_b_);
  ASSERT_OK(flags_.Write(header).status());
  ExpectBoot(Slot::kB, "fallback: a not bootable", /*verify=*/true);
  EXPECT_EQ(Loaded().active_slot, Slot::kB);
  ExpectBoot(Slot::kB, "committed");
}

TEST_F(BootTest, AnImageLargerThanItsSlotCannotBeVerified) {
  BootHeader header = Loaded();
  header.slot(Slot::kA).image_size = kSlotSize + 1;
  ASSERT_OK(flags_.Write(header).status());
  EXPECT_THAT(BootNow(/*verify=*/true),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       Eq("no bootable slot: cannot read a: image of 65537 "
                          "bytes does not fit a slot of 65536 bytes; b not "
                          "bootable")));
}

TEST_F(BootTest, NoValidHeaderIsDataLoss) {
  FakeBlockDevice blank(kBootFlagsSize, '\xff');
  BootFlags flags(&blank);
  EXPECT_THAT(Boot(flags, slot_a_, slot_b_),
              StatusIs(absl::StatusCode::kDataLoss,
                       StartsWith("no valid boot header")));
}

TEST_F(BootTest, AFailedHeaderWriteMeansNoBoot) {
  InstallB(3);
  PowerCut::Options options;
  options.after_operations = 1;
  PowerCut power(options);
  FaultyBlockDevice faulty(&bootflags_, &power);
  BootFlags flags(&faulty);
  EXPECT_THAT(Boot(flags, slot_a_, slot_b_),
              StatusIs(absl::StatusCode::kUnavailable,
                       Eq("cannot record the boot of b (trial attempt 1 of "
                          "3): power lost")));
  // The attempt was not recorded, so the next power-on tries it again.
  ExpectBoot(Slot::kB, "trial attempt 1 of 3");
}

TEST(VerifySlotImageTest, NamesBothDigestsOnAMismatch) {
  FakeBlockDevice slot(16);
  ASSERT_OK(slot.Write(0, "abc"));
  SlotState state{true, 3, common::Sha256Digest("abd"), 1};
  EXPECT_THAT(
      VerifySlotImage(slot, state),
      StatusIs(
          absl::StatusCode::kDataLoss,
          Eq("sha256 mismatch: header has "
             "a52d159f262b2c6ddb724a61840befc36eb30c88877a4030b65cbe86298449"
             "c9, slot holds "
             "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015"
             "ad")));
  state.image_sha256 = common::Sha256Digest("abc");
  EXPECT_OK(VerifySlotImage(slot, state));
  state.image_size = 0;
  state.image_sha256 = common::Sha256Digest("");
  EXPECT_OK(VerifySlotImage(slot, state));
}

}  // namespace
}  // namespace ota::device
