#include "common/base/file.h"

#include <sys/stat.h>

#include <cstdlib>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ota::common {
namespace {

using ::ota::testing::IsOk;
using ::ota::testing::StatusIs;
using ::testing::HasSubstr;

std::string TmpDir() { return std::getenv("TEST_TMPDIR"); }

TEST(FileTest, WriteThenReadBack) {
  std::string path = TmpDir() + "/a/b/c.txt";
  ASSERT_THAT(MakeDirs(TmpDir() + "/a/b"), IsOk());
  ASSERT_THAT(WriteFileAtomically(path, std::string("x\0y", 3), 0600), IsOk());
  EXPECT_EQ(*ReadFile(path), std::string("x\0y", 3));
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_THAT(WriteFileAtomically(path, "new"), IsOk());
  EXPECT_EQ(*ReadFile(path), "new");
  EXPECT_FALSE(PathExists(path + ".tmp." + std::to_string(getpid())));
}

TEST(FileTest, MissingFileIsNotFound) {
  EXPECT_THAT(ReadFile(TmpDir() + "/nope"),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("No such file or directory")));
}

TEST(FileTest, SizeLimitCheckedBeforeReading) {
  std::string path = TmpDir() + "/big";
  ASSERT_THAT(WriteFileAtomically(path, std::string(100, 'x')), IsOk());
  EXPECT_THAT(ReadFile(path, 99),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       path + " is 100 bytes, at most 99 are read"));
}

TEST(FileTest, WriteIntoMissingDirectoryFailsCleanly) {
  EXPECT_THAT(WriteFileAtomically(TmpDir() + "/missing/x", "d"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("cannot create")));
}

}  // namespace
}  // namespace ota::common
