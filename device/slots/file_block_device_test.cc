// What FileBlockDevice adds to the BlockDevice contract: opening, modes,
// the kinds of path it accepts. The contract itself is in
// block_device_contract_test.cc.
#include "device/slots/file_block_device.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <string>
#include <thread>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ota::device {
namespace {

using ::ota::testing::StatusIs;
using ::testing::HasSubstr;

class FileBlockDeviceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "/file_block.XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }

  std::string Slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  std::string dir_;
};

TEST_F(FileBlockDeviceTest, OpenTakesTheSizeOfAnExistingFile) {
  std::string path = dir_ + "/image";
  std::ofstream(path) << std::string(1000, 'x');
  ASSERT_OK_AND_ASSIGN(auto device, FileBlockDevice::Open(path));
  EXPECT_EQ(*device->Size(), 1000u);
  EXPECT_EQ(device->path(), path);
}

TEST_F(FileBlockDeviceTest, OpenOfAMissingPathIsNotFound) {
  EXPECT_THAT(FileBlockDevice::Open(dir_ + "/missing"),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("cannot open " + dir_ + "/missing")));
}

TEST_F(FileBlockDeviceTest, CreateMakesAZeroFileOfTheSize) {
  std::string path = dir_ + "/slot";
  ASSERT_OK_AND_ASSIGN(auto device, FileBlockDevice::Create(path, 4096));
  EXPECT_EQ(*device->Size(), 4096u);
  EXPECT_EQ(Slurp(path), std::string(4096, '\0'));
}

TEST_F(FileBlockDeviceTest, CreateRefusesAnExistingPath) {
  std::string path = dir_ + "/slot";
  std::ofstream(path) << "keep me";
  EXPECT_THAT(FileBlockDevice::Create(path, 4096),
              StatusIs(absl::StatusCode::kAlreadyExists,
                       HasSubstr(path + " already exists")));
  EXPECT_EQ(Slurp(path), "keep me");
}

TEST_F(FileBlockDeviceTest, FlushedWritesAreInTheFile) {
  std::string path = dir_ + "/slot";
  ASSERT_OK_AND_ASSIGN(auto device, FileBlockDevice::Create(path, 8));
  ASSERT_OK(device->Write(2, "abcd"));
  ASSERT_OK(device->Flush());
  EXPECT_EQ(Slurp(path), std::string("\0\0abcd\0\0", 8));
}

// Large sequential writes start their own writeback; flushes from another
// thread meanwhile are allowed and lose nothing.
TEST_F(FileBlockDeviceTest, FlushesAlongsideLargeWrites) {
  std::string path = dir_ + "/slot";
  constexpr size_t kBlock = 64 * 1024;
  constexpr size_t kBlocks = 100;  // past several writeback batches
  ASSERT_OK_AND_ASSIGN(auto device, FileBlockDevice::Create(path, kBlock * kBlocks));
  EXPECT_TRUE(device->FlushesAlongsideWrites());
  std::string expected;
  for (size_t i = 0; i < kBlocks; ++i) expected += std::string(kBlock, static_cast<char>('a' + i % 26));
  std::atomic<bool> writing{true};
  std::thread flusher([&] {
    while (writing) EXPECT_OK(device->Flush());
  });
  for (size_t i = 0; i < kBlocks; ++i) {
    ASSERT_OK(device->Write(i * kBlock, absl::string_view(expected).substr(i * kBlock, kBlock)));
  }
  writing = false;
  flusher.join();
  ASSERT_OK(device->Flush());
  EXPECT_EQ(Slurp(path), expected);
}

TEST_F(FileBlockDeviceTest, ReadOnlyRefusesWritesButReadsAndFlushes) {
  std::string path = dir_ + "/slot";
  std::ofstream(path) << "content";
  ASSERT_OK_AND_ASSIGN(
      auto device,
      FileBlockDevice::Open(path, FileBlockDevice::Mode::kReadOnly));
  EXPECT_THAT(device->Write(0, "x"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr(path + " is open read-only")));
  EXPECT_OK(device->Flush());
  std::string buf(7, '?');
  ASSERT_OK(device->Read(0, buf.data(), buf.size()));
  EXPECT_EQ(buf, "content");
}

TEST_F(FileBlockDeviceTest, ReadWriteOpenOfAReadOnlyFileIsPermissionDenied) {
  if (geteuid() == 0) GTEST_SKIP() << "root may write any file";
  std::string path = dir_ + "/slot";
  std::ofstream(path) << "content";
  ASSERT_EQ(chmod(path.c_str(), 0444), 0);
  EXPECT_THAT(FileBlockDevice::Open(path),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("cannot open " + path)));
}

TEST_F(FileBlockDeviceTest, ACharacterDeviceThatIsNotMtdIsRefused) {
  EXPECT_THAT(
      FileBlockDevice::Open("/dev/null", FileBlockDevice::Mode::kReadOnly),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("/dev/null is neither a regular file, a block device "
                         "nor an MTD device")));
}

TEST_F(FileBlockDeviceTest, ADirectoryIsRefused) {
  EXPECT_THAT(FileBlockDevice::Open(dir_, FileBlockDevice::Mode::kReadOnly),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("is neither a regular file")));
}

TEST_F(FileBlockDeviceTest, AFileThatShrankIsDataLoss) {
  std::string path = dir_ + "/slot";
  ASSERT_OK_AND_ASSIGN(auto device, FileBlockDevice::Create(path, 100));
  ASSERT_EQ(truncate(path.c_str(), 50), 0);
  char buf[100];
  EXPECT_THAT(device->Read(0, buf, sizeof(buf)),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr(path + " ended at 50 while 100 bytes were "
                                        "expected")));
}

}  // namespace
}  // namespace ota::device
