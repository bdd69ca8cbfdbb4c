// Power cuts at every write and flush of an update: installing into the
// inactive slot and switching to it (SetTrial), the bootloader's trial boots
// and fallback, and Commit. After each cut the device restarts, and the
// boot header must load and name a bootable slot whose content matches the
// header's SHA-256: the device is in its old state or its new one, never
// in a broken one. Torn writes (a prefix of the last write reaching the
// medium) are included.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
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

constexpr uint64_t kSlotSize = 64 * 1024;
constexpr size_t kChunk = 4096;
constexpr uint8_t kAttempts = 3;

std::string Image(char seed, size_t size) {
  std::string image(size, '\0');
  for (size_t i = 0; i < size; ++i) {
    image[i] = static_cast<char>(seed * 31 + i * 13 + (i >> 8));
  }
  return image;
}

const std::string& ImageA() {
  static const std::string* image = new std::string(Image(1, 30000));
  return *image;
}
const std::string& ImageB() {
  static const std::string* image = new std::string(Image(2, 40000));
  return *image;
}

const std::string& ImageOld() {
  static const std::string* image = new std::string(Image(3, 35000));
  return *image;
}

// One device's flash as it leaves the previous update: slot a active and
// committed, slot b holding the release before it, still bootable as the
// fallback. The bootflags area and both slots, as they survive power loss.
struct Flash {
  Flash()
      : bootflags(kBootFlagsSize, '\xff'),
        slot_a(kSlotSize),
        slot_b(kSlotSize) {
    slot_a.WriteDurably(0, ImageA());
    slot_b.WriteDurably(0, ImageOld());
    BootFlags flags(&bootflags);
    EXPECT_OK(flags.WriteFactoryHeader(Slot::kA, ImageA().size(),
                                       common::Sha256Digest(ImageA()), 1));
    absl::StatusOr<BootHeader> header = flags.Load();
    EXPECT_TRUE(header.ok());
    header->slot(Slot::kB) = {true, ImageOld().size(),
                              common::Sha256Digest(ImageOld()), 0};
    EXPECT_OK(flags.Write(*header).status());
  }
  FakeBlockDevice bootflags, slot_a, slot_b;
};

// The same flash seen through a power supply that fails at a chosen point.
struct Powered {
  Powered(Flash& flash, PowerCut::Options options)
      : power(options),
        bootflags(&flash.bootflags, &power),
        slot_a(&flash.slot_a, &power),
        slot_b(&flash.slot_b, &power),
        flags(&bootflags) {}
  PowerCut power;
  FaultyBlockDevice bootflags, slot_a, slot_b;
  BootFlags flags;
};

using Step = std::function<absl::Status(Powered&)>;

// The update client installing image B into slot b.
absl::Status InstallB(Powered& device) {
  if (absl::Status s = device.flags.MarkSlotUnbootable(Slot::kB); !s.ok()) {
    return s;
  }
  const std::string& image = ImageB();
  for (size_t at = 0; at < image.size(); at += kChunk) {
    absl::Status s =
        device.slot_b.Write(at, absl::string_view(image).substr(at, kChunk));
    if (!s.ok()) return s;
  }
  if (absl::Status s = device.slot_b.Flush(); !s.ok()) return s;
  return device.flags.SetTrial(Slot::kB, image.size(),
                               common::Sha256Digest(image), kAttempts, 2);
}

absl::Status BootOnce(Powered& device) {
  BootOptions options;
  options.verify_image = true;
  return Boot(device.flags, device.slot_a, device.slot_b, options).status();
}

absl::Status Commit(Powered& device) { return device.flags.Commit(); }

// Runs `steps` on a fresh flash with power never failing, and returns how
// many writes and flushes they make.
int64_t CountOperations(const std::function<void(Flash&)>& prepare,
                        const std::vector<Step>& steps) {
  Flash flash;
  prepare(flash);
  Powered device(flash, {});
  for (const Step& step : steps) {
    absl::Status s = step(device);
    EXPECT_OK(s);
  }
  return device.power.operations();
}

// The state after a restart, which must be whole.
struct Outcome {
  Slot active;
  bool trial;
  uint8_t attempts_left;
};

Outcome CheckWhole(Flash& flash, const std::string& context) {
  BootFlags flags(&flash.bootflags);
  absl::StatusOr<BootHeader> header = flags.Load();
  EXPECT_TRUE(header.ok()) << context << ": " << header.status();
  if (!header.ok()) return {};
  Slot active = header->active_slot;
  const FakeBlockDevice& slot =
      active == Slot::kA ? flash.slot_a : flash.slot_b;
  EXPECT_TRUE(header->slot(active).bootable) << context;
  EXPECT_OK(VerifySlotImage(slot, header->slot(active))) << context;
  // The inactive slot, when bootable, is a usable fallback too.
  Slot other = OtherSlot(active);
  if (header->slot(other).bootable) {
    EXPECT_OK(VerifySlotImage(other == Slot::kA ? flash.slot_a : flash.slot_b,
                              header->slot(other)))
        << context;
  }
  return {active, header->trial, header->attempts_left};
}

// Cuts power after each write or flush of `steps` in turn, with and
// without tearing, and checks the flash after each cut. `check` also sees
// the outcome and may assert which states are allowed.
void CutEverywhere(
    const std::function<void(Flash&)>& prepare, const std::vector<Step>& steps,
    const std::function<void(const Outcome&, const std::string&)>& check) {
  int64_t total = CountOperations(prepare, steps);
  ASSERT_GT(total, 0);
  ::testing::Test::RecordProperty("cut_points", static_cast<int>(total));
  for (int64_t k = 1; k <= total; ++k) {
    for (bool tear : {false, true}) {
      std::string context = absl::StrCat("cut after operation ", k, " of ",
                                         total, tear ? ", torn" : "");
      Flash flash;
      prepare(flash);
      PowerCut::Options options;
      options.after_operations = k;
      options.tear_last_write = tear;
      options.seed = static_cast<uint64_t>(k) * 7919;
      {
        Powered device(flash, options);
        absl::Status status;
        for (const Step& step : steps) {
          status = step(device);
          if (!status.ok()) break;
        }
        EXPECT_THAT(status, StatusIs(absl::StatusCode::kUnavailable,
                                     ::testing::HasSubstr("power lost")))
            << context;
        EXPECT_TRUE(device.power.lost()) << context;
      }
      Outcome outcome = CheckWhole(flash, context);
      check(outcome, context);

      // And the device goes on: the bootloader boots a verified slot.
      Powered restarted(flash, {});
      BootOptions verify;
      verify.verify_image = true;
      absl::StatusOr<BootDecision> decision =
          Boot(restarted.flags, restarted.slot_a, restarted.slot_b, verify);
      EXPECT_TRUE(decision.ok()) << context << ": " << decision.status();
      CheckWhole(flash, context + ", then booted");
    }
  }
}

void NothingToPrepare(Flash&) {}

void Installed(Flash& flash) {
  Powered device(flash, {});
  EXPECT_OK(InstallB(device));
}

void InstalledAndBootedOnce(Flash& flash) {
  Powered device(flash, {});
  EXPECT_OK(InstallB(device));
  EXPECT_OK(BootOnce(device));
}

TEST(PowerLossTest, EveryStepIsCutSomewhere) {
  // MarkSlotUnbootable: write + flush; the image: 10 chunks + flush;
  // SetTrial: write + flush.
  EXPECT_EQ(CountOperations(NothingToPrepare, {InstallB}), 15);
  // Three counted trial boots and the fallback: write + flush each.
  EXPECT_EQ(
      CountOperations(Installed, {BootOnce, BootOnce, BootOnce, BootOnce}), 8);
  EXPECT_EQ(CountOperations(InstalledAndBootedOnce, {Commit}), 2);
}

TEST(PowerLossTest, InstallAndSetTrialEndOldOrNew) {
  int old_states = 0, new_states = 0;
  CutEverywhere(NothingToPrepare, {InstallB},
                [&](const Outcome& outcome, const std::string& context) {
                  if (outcome.active == Slot::kA) {
                    EXPECT_FALSE(outcome.trial) << context;
                    ++old_states;
                  } else {
                    EXPECT_TRUE(outcome.trial) << context;
                    EXPECT_EQ(outcome.attempts_left, kAttempts) << context;
                    ++new_states;
                  }
                });
  EXPECT_GT(old_states, 0);
  EXPECT_GT(new_states, 0);
}

TEST(PowerLossTest, AnInterruptedInstallCanBeRedone) {
  int64_t total = CountOperations(NothingToPrepare, {InstallB});
  for (int64_t k = 1; k <= total; ++k) {
    Flash flash;
    PowerCut::Options options;
    options.after_operations = k;
    options.tear_last_write = true;
    options.seed = static_cast<uint64_t>(k);
    {
      Powered device(flash, options);
      EXPECT_FALSE(InstallB(device).ok());
    }
    Powered restarted(flash, {});
    absl::StatusOr<BootHeader> header = restarted.flags.Load();
    ASSERT_TRUE(header.ok()) << header.status();
    if (header->active_slot == Slot::kA) {
      EXPECT_OK(InstallB(restarted)) << "cut after operation " << k;
    }
    header = restarted.flags.Load();
    ASSERT_TRUE(header.ok());
    EXPECT_EQ(header->active_slot, Slot::kB);
    EXPECT_TRUE(header->trial);
  }
}

TEST(PowerLossTest, TrialBootsAndFallbackEndOldOrNew) {
  CutEverywhere(Installed, {BootOnce, BootOnce, BootOnce, BootOnce},
                [](const Outcome& outcome, const std::string& context) {
                  if (outcome.active == Slot::kB) {
                    EXPECT_TRUE(outcome.trial) << context;
                  } else {
                    EXPECT_FALSE(outcome.trial) << context;
                  }
                });
}

TEST(PowerLossTest, CommitEndsOnTrialOrCommitted) {
  int trial = 0, committed = 0;
  CutEverywhere(InstalledAndBootedOnce, {Commit},
                [&](const Outcome& outcome, const std::string& context) {
                  EXPECT_EQ(outcome.active, Slot::kB) << context;
                  if (outcome.trial) {
                    EXPECT_EQ(outcome.attempts_left, kAttempts - 1) << context;
                    ++trial;
                  } else {
                    ++committed;
                  }
                });
  EXPECT_GT(trial, 0);
  EXPECT_GT(committed, 0);
}

TEST(PowerLossTest, TheWholeUpdateNeverBreaks) {
  CutEverywhere(NothingToPrepare, {InstallB, BootOnce, Commit, BootOnce},
                [](const Outcome&, const std::string&) {});
}

}  // namespace
}  // namespace ota::device
