#include "device/slots/script_block_device.h"

#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/base/file.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ota::device {
namespace {

using ::ota::testing::StatusIs;
using ::testing::AllOf;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr uint64_t kSlotSize = 64 * 1024;

// The seed's activation step with ubiformat replaced by dd: copies
// $FIRMWARE over the slot file named after $UPDATE_SLOT_MTD, in place.
constexpr char kActivateScript[] = R"(#!/bin/sh
set -e
echo "$UPDATE_SLOT_MTD" > "$DIR/mtd_seen"
echo "$FIRMWARE" > "$DIR/firmware_seen"
cmp -s "$FIRMWARE" "$DIR/expected" || { echo "unexpected image" >&2; exit 9; }
dd if="$FIRMWARE" of="$DIR/$UPDATE_SLOT_MTD" conv=notrunc status=none
)";

class ScriptBlockDeviceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "/script_block.XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    ASSERT_OK(common::WriteFileAtomically(dir_ + "/mtd5",
                                          std::string(kSlotSize, '\0')));
    ASSERT_OK(common::WriteFileAtomically(dir_ + "/activate.sh",
                                          kActivateScript, 0755));
  }

  ScriptBlockDevice::Options OptionsFor(const std::string& command) {
    ScriptBlockDevice::Options options;
    options.command = command;
    options.slot_mtd = "mtd5";
    options.read_path = dir_ + "/mtd5";
    options.staging_dir = dir_;
    options.timeout = absl::Seconds(30);
    return options;
  }

  std::string ActivateCommand() {
    return absl::StrCat("DIR='", dir_, "' sh '", dir_, "/activate.sh'");
  }

  std::string Read(const BlockDevice& device, uint64_t offset, size_t len) {
    std::string out(len, '?');
    EXPECT_OK(device.Read(offset, out.data(), len));
    return out;
  }

  std::string dir_;
};

TEST_F(ScriptBlockDeviceTest, FlushInstallsTheStagedImageThroughTheScript) {
  std::string image = "first chunk|second chunk";
  ASSERT_OK(common::WriteFileAtomically(dir_ + "/expected", image));
  ASSERT_OK_AND_ASSIGN(auto slot,
                       ScriptBlockDevice::Open(OptionsFor(ActivateCommand())));
  EXPECT_EQ(*slot->Size(), kSlotSize);
  ASSERT_OK(slot->Write(0, "first chunk|"));
  ASSERT_OK(slot->Write(12, "second chunk"));
  std::string staged = slot->staged_path();
  EXPECT_THAT(staged, StartsWith(dir_ + "/ota-slot-"));
  // Reads show what is installed, not what is staged.
  EXPECT_EQ(Read(*slot, 0, 5), std::string(5, '\0'));

  ASSERT_OK(slot->Flush());
  EXPECT_EQ(Read(*slot, 0, image.size()), image);
  EXPECT_EQ(*common::ReadFile(dir_ + "/mtd_seen"), "mtd5\n");
  EXPECT_EQ(*common::ReadFile(dir_ + "/firmware_seen"), staged + "\n");
  EXPECT_FALSE(common::PathExists(staged));
  EXPECT_EQ(slot->staged_path(), "");
  EXPECT_EQ(*slot->Size(), kSlotSize);
}

TEST_F(ScriptBlockDeviceTest, TheScriptSeesOnlyItsOwnFirmwareVariables) {
  setenv("FIRMWARE", "/not/this/one", 1);
  setenv("UPDATE_SLOT_MTD", "mtd99", 1);
  ASSERT_OK(common::WriteFileAtomically(dir_ + "/expected", "x"));
  ASSERT_OK_AND_ASSIGN(auto slot,
                       ScriptBlockDevice::Open(OptionsFor(ActivateCommand())));
  ASSERT_OK(slot->Write(0, "x"));
  ASSERT_OK(slot->Flush());
  EXPECT_EQ(*common::ReadFile(dir_ + "/mtd_seen"), "mtd5\n");
  unsetenv("FIRMWARE");
  unsetenv("UPDATE_SLOT_MTD");
}

TEST_F(ScriptBlockDeviceTest, FlushWithNothingStagedRunsNothing) {
  ASSERT_OK_AND_ASSIGN(auto slot,
                       ScriptBlockDevice::Open(OptionsFor("exit 1")));
  EXPECT_OK(slot->Flush());
}

TEST_F(ScriptBlockDeviceTest, NonZeroExitIsInternalWithStderrAndKeepsTheImage) {
  ASSERT_OK(common::WriteFileAtomically(dir_ + "/expected", "other"));
  ASSERT_OK_AND_ASSIGN(auto slot,
                       ScriptBlockDevice::Open(OptionsFor(ActivateCommand())));
  ASSERT_OK(slot->Write(0, "image"));
  EXPECT_THAT(slot->Flush(),
              StatusIs(absl::StatusCode::kInternal,
                       AllOf(HasSubstr("activation command `DIR="),
                             HasSubstr("exited with status 9; stderr: "
                                       "unexpected image"))));
  EXPECT_TRUE(common::PathExists(slot->staged_path()));
  EXPECT_EQ(Read(*slot, 0, 5), std::string(5, '\0'));

  // A retry after the cause is fixed installs the kept image.
  ASSERT_OK(common::WriteFileAtomically(dir_ + "/expected", "image"));
  ASSERT_OK(slot->Flush());
  EXPECT_EQ(Read(*slot, 0, 5), "image");
}

TEST_F(ScriptBlockDeviceTest, OnlyTheTailOfStderrIsKept) {
  ScriptBlockDevice::Options options = OptionsFor(
      "i=0; while [ $i -lt 500 ]; do echo 'noise noise noise' >&2; "
      "i=$((i+1)); done; echo 'the last line' >&2; exit 1");
  options.stderr_tail_bytes = 100;
  ASSERT_OK_AND_ASSIGN(auto slot, ScriptBlockDevice::Open(options));
  ASSERT_OK(slot->Write(0, "x"));
  absl::Status status = slot->Flush();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInternal,
                               EndsWith("noise noise\nthe last line")));
  EXPECT_LT(status.message().size(), 300u);
}

TEST_F(ScriptBlockDeviceTest, DeathBySignalIsInternal) {
  ASSERT_OK_AND_ASSIGN(auto slot,
                       ScriptBlockDevice::Open(OptionsFor("kill -9 $$")));
  ASSERT_OK(slot->Write(0, "x"));
  EXPECT_THAT(slot->Flush(), StatusIs(absl::StatusCode::kInternal,
                                      HasSubstr("was killed by signal 9")));
}

TEST_F(ScriptBlockDeviceTest, ACommandPastTheTimeoutIsKilled) {
  ScriptBlockDevice::Options options =
      OptionsFor("echo formatting >&2; sleep 30; echo done >&2");
  options.timeout = absl::Milliseconds(300);
  ASSERT_OK_AND_ASSIGN(auto slot, ScriptBlockDevice::Open(options));
  ASSERT_OK(slot->Write(0, "x"));
  auto start = std::chrono::steady_clock::now();
  EXPECT_THAT(slot->Flush(),
              StatusIs(absl::StatusCode::kDeadlineExceeded,
                       EndsWith("timed out after 300ms and was killed; "
                                "stderr: formatting")));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST_F(ScriptBlockDeviceTest, ACommandThatClosesStderrStillTimesOut) {
  ScriptBlockDevice::Options options = OptionsFor("exec 2>&-; sleep 30");
  options.timeout = absl::Milliseconds(300);
  ASSERT_OK_AND_ASSIGN(auto slot, ScriptBlockDevice::Open(options));
  ASSERT_OK(slot->Write(0, "x"));
  EXPECT_THAT(slot->Flush(), StatusIs(absl::StatusCode::kDeadlineExceeded,
                                      HasSubstr("timed out after 300ms")));
}

TEST_F(ScriptBlockDeviceTest, WritesPastTheSlotAreOutOfRange) {
  ASSERT_OK_AND_ASSIGN(auto slot, ScriptBlockDevice::Open(OptionsFor("true")));
  EXPECT_THAT(
      slot->Write(kSlotSize - 1, "ab"),
      StatusIs(absl::StatusCode::kOutOfRange,
               HasSubstr(absl::StrCat("write of 2 bytes at ", kSlotSize - 1))));
  EXPECT_EQ(slot->staged_path(), "");
}

TEST_F(ScriptBlockDeviceTest, DestructionDeletesTheStagedImage) {
  std::string staged;
  {
    ASSERT_OK_AND_ASSIGN(auto slot,
                         ScriptBlockDevice::Open(OptionsFor("true")));
    ASSERT_OK(slot->Write(0, "x"));
    staged = slot->staged_path();
    ASSERT_TRUE(common::PathExists(staged));
  }
  EXPECT_FALSE(common::PathExists(staged));
}

TEST_F(ScriptBlockDeviceTest, OpenChecksItsOptions) {
  EXPECT_THAT(ScriptBlockDevice::Open(OptionsFor("")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("activation command is empty")));
  ScriptBlockDevice::Options options = OptionsFor("true");
  options.timeout = absl::ZeroDuration();
  EXPECT_THAT(ScriptBlockDevice::Open(options),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("activation timeout must be positive")));
  options = OptionsFor("true");
  options.read_path = dir_ + "/mtd7";
  EXPECT_THAT(ScriptBlockDevice::Open(options),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("cannot open " + dir_ + "/mtd7")));
}

}  // namespace
}  // namespace ota::device
