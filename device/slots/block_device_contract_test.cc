// The BlockDevice contract, run over every implementation that keeps it
// (ScriptBlockDevice stages writes until Flush() and has its own test).
#include <stdlib.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/base/check.h"
#include "common/testing/status_matchers.h"
#include "device/slots/block_device.h"
#include "device/slots/fake_block_device.h"
#include "device/slots/file_block_device.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ota::device {
namespace {

using ::ota::testing::IsOk;
using ::ota::testing::StatusIs;
using ::testing::HasSubstr;

constexpr uint64_t kSize = 64 * 1024;

// How to make one implementation, and how to "restart" it: a restart
// returns a device showing only what a reboot would find.
struct Implementation {
  std::string name;
  std::function<std::unique_ptr<BlockDevice>(const std::string& dir,
                                             uint64_t size)>
      make;
  std::function<std::unique_ptr<BlockDevice>(std::unique_ptr<BlockDevice>,
                                             const std::string& dir)>
      restart;
};

Implementation FileImplementation() {
  return {
      "File",
      [](const std::string& dir,
         uint64_t size) -> std::unique_ptr<BlockDevice> {
        auto device = FileBlockDevice::Create(dir + "/slot.img", size);
        OTA_CHECK(device.ok());
        return *std::move(device);
      },
      [](std::unique_ptr<BlockDevice> device,
         const std::string& dir) -> std::unique_ptr<BlockDevice> {
        device.reset();
        auto reopened = FileBlockDevice::Open(dir + "/slot.img");
        OTA_CHECK(reopened.ok());
        return *std::move(reopened);
      },
  };
}

Implementation FakeImplementation() {
  return {
      "Fake",
      [](const std::string&, uint64_t size) -> std::unique_ptr<BlockDevice> {
        return std::make_unique<FakeBlockDevice>(size);
      },
      [](std::unique_ptr<BlockDevice> device,
         const std::string&) -> std::unique_ptr<BlockDevice> {
        static_cast<FakeBlockDevice*>(device.get())->LosePower();
        return device;
      },
  };
}

class BlockDeviceContractTest
    : public ::testing::TestWithParam<Implementation> {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "/contract.XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    device_ = GetParam().make(dir_, kSize);
  }

  std::string ReadAll(const BlockDevice& device) {
    std::string out(kSize, '?');
    EXPECT_OK(device.Read(0, out.data(), out.size()));
    return out;
  }

  std::string dir_;
  std::unique_ptr<BlockDevice> device_;
};

TEST_P(BlockDeviceContractTest, SizeIsTheCreatedSize) {
  EXPECT_THAT(device_->Size(), IsOk());
  EXPECT_EQ(*device_->Size(), kSize);
}

TEST_P(BlockDeviceContractTest, NewDeviceReadsZeros) {
  EXPECT_EQ(ReadAll(*device_), std::string(kSize, '\0'));
}

TEST_P(BlockDeviceContractTest, ReadsBackWhatWasWritten) {
  ASSERT_OK(device_->Write(0, "head"));
  ASSERT_OK(device_->Write(1000, "middle"));
  ASSERT_OK(device_->Write(kSize - 4, "tail"));
  std::string buf(6, '?');
  ASSERT_OK(device_->Read(1000, buf.data(), 6));
  EXPECT_EQ(buf, "middle");
  ASSERT_OK(device_->Read(0, buf.data(), 4));
  EXPECT_EQ(buf.substr(0, 4), "head");
  ASSERT_OK(device_->Read(kSize - 4, buf.data(), 4));
  EXPECT_EQ(buf.substr(0, 4), "tail");
}

TEST_P(BlockDeviceContractTest, OverwritesOnlyTheBytesWritten) {
  ASSERT_OK(device_->Write(10, "aaaa"));
  ASSERT_OK(device_->Write(11, "bb"));
  std::string buf(6, '?');
  ASSERT_OK(device_->Read(9, buf.data(), buf.size()));
  EXPECT_EQ(buf, std::string("\0abba\0", 6));
}

TEST_P(BlockDeviceContractTest, WholeDeviceRoundTrip) {
  std::mt19937 random(7);
  std::string image(kSize, '\0');
  for (char& c : image) c = static_cast<char>(random());
  ASSERT_OK(device_->Write(0, image));
  EXPECT_EQ(ReadAll(*device_), image);
}

TEST_P(BlockDeviceContractTest, ReadPastTheEndIsOutOfRangeAndLeavesBuffer) {
  std::string buf = "????";
  EXPECT_THAT(device_->Read(kSize - 2, buf.data(), 4),
              StatusIs(absl::StatusCode::kOutOfRange,
                       HasSubstr(absl::StrCat("read of 4 bytes at ", kSize - 2,
                                              " ends past the end of"))));
  EXPECT_EQ(buf, "????");
  EXPECT_THAT(device_->Read(kSize + 1, buf.data(), 0),
              StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("read of 0")));
}

TEST_P(BlockDeviceContractTest, RangeChecksDoNotOverflow) {
  char buf[4];
  EXPECT_THAT(device_->Read(std::numeric_limits<uint64_t>::max(), buf, 2),
              StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("read of 2")));
  EXPECT_THAT(device_->Write(std::numeric_limits<uint64_t>::max() - 1, "abcd"),
              StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("write of 4")));
}

TEST_P(BlockDeviceContractTest, WritePastTheEndWritesNothing) {
  EXPECT_THAT(device_->Write(kSize - 2, "abcd"),
              StatusIs(absl::StatusCode::kOutOfRange,
                       HasSubstr(absl::StrCat("write of 4 bytes at ", kSize - 2,
                                              " ends past the end of"))));
  EXPECT_EQ(ReadAll(*device_), std::string(kSize, '\0'));
}

TEST_P(BlockDeviceContractTest, EmptyOperationsAtTheEndAreOk) {
  char buf[1];
  EXPECT_OK(device_->Read(kSize, buf, 0));
  EXPECT_OK(device_->Write(kSize, ""));
}

TEST_P(BlockDeviceContractTest, FlushWithNothingWrittenIsOk) {
  EXPECT_OK(device_->Flush());
}

TEST_P(BlockDeviceContractTest, FlushedWritesSurviveARestart) {
  ASSERT_OK(device_->Write(100, "durable"));
  ASSERT_OK(device_->Flush());
  std::unique_ptr<BlockDevice> after =
      GetParam().restart(std::move(device_), dir_);
  std::string buf(7, '?');
  ASSERT_OK(after->Read(100, buf.data(), buf.size()));
  EXPECT_EQ(buf, "durable");
  EXPECT_EQ(*after->Size(), kSize);
}

INSTANTIATE_TEST_SUITE_P(
    AllBlockDevices, BlockDeviceContractTest,
    ::testing::Values(FileImplementation(), FakeImplementation()),
    [](const ::testing::TestParamInfo<Implementation>& param_info) {
      return param_info.param.name;
    });

}  // namespace
}  // namespace ota::device
