#include "server/blobs/blob_store.h"

#include <cstdlib>

#include "common/base/file.h"
#include "common/crypto/bytes.h"
#include "common/crypto/sha256.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ota::server {
namespace {

using ::ota::testing::IsOk;
using ::ota::testing::StatusIs;
using ::testing::HasSubstr;

class BlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::string(std::getenv("TEST_TMPDIR")) + "/blobs-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    ASSERT_OK_AND_ASSIGN(store_, BlobStore::Open(root_));
    data_.resize(3 << 20);
    for (size_t i = 0; i < data_.size(); ++i) data_[i] = static_cast<char>(i * 7 + (i >> 12));
    sha_ = common::HexEncode(common::Sha256Digest(data_));
  }
  std::string root_, data_, sha_;
  std::unique_ptr<BlobStore> store_;
};

TEST_F(BlobStoreTest, UploadInOneGo) {
  ASSERT_OK_AND_ASSIGN(auto w, store_->StartUpload(sha_, data_.size(), 0));
  ASSERT_THAT(w->Append(data_), IsOk());
  ASSERT_THAT(w->Finish(), IsOk());
  EXPECT_TRUE(store_->Exists(sha_));
  EXPECT_EQ(*common::ReadFile(store_->BlobPath(sha_)), data_);
  EXPECT_EQ(store_->PartialSize(sha_), 0u);
  EXPECT_EQ(*store_->Size(sha_), data_.size());
}

TEST_F(BlobStoreTest, ResumeAfterInterruption) {
  {
    ASSERT_OK_AND_ASSIGN(auto w, store_->StartUpload(sha_, data_.size(), 0));
    ASSERT_THAT(w->Append(absl::string_view(data_).substr(0, 1000000)), IsOk());
    ASSERT_THAT(w->Sync(), IsOk());
  }  // the connection dropped
  EXPECT_EQ(store_->PartialSize(sha_), 1000000u);
  // Resume a little earlier than what is on disk: the tail is rewritten.
  ASSERT_OK_AND_ASSIGN(auto w, store_->StartUpload(sha_, data_.size(), 999000));
  ASSERT_THAT(w->Append(absl::string_view(data_).substr(999000)), IsOk());
  ASSERT_THAT(w->Finish(), IsOk());
  EXPECT_EQ(*common::ReadFile(store_->BlobPath(sha_)), data_);
}

TEST_F(BlobStoreTest, OffsetPastReceivedIsRefused) {
  EXPECT_THAT(store_->StartUpload(sha_, data_.size(), 5),
              StatusIs(absl::StatusCode::kInvalidArgument, "offset 5 is past the 0 bytes received"));
}

TEST_F(BlobStoreTest, WrongBytesAreDataLossAndRemoved) {
  std::string other = data_;
  other[12345] ^= 1;
  ASSERT_OK_AND_ASSIGN(auto w, store_->StartUpload(sha_, other.size(), 0));
  ASSERT_THAT(w->Append(other), IsOk());
  EXPECT_THAT(w->Finish(), StatusIs(absl::StatusCode::kDataLoss,
                                    HasSubstr("not the declared " + sha_)));
  EXPECT_FALSE(store_->Exists(sha_));
  EXPECT_EQ(store_->PartialSize(sha_), 0u);
}

TEST_F(BlobStoreTest, MoreThanDeclaredIsRefused) {
  ASSERT_OK_AND_ASSIGN(auto w, store_->StartUpload(sha_, 10, 0));
  EXPECT_THAT(w->Append("01234567890"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "upload passes the declared size 10 (11 bytes sent)"));
  EXPECT_THAT(w->Finish(), StatusIs(absl::StatusCode::kFailedPrecondition,
                                    "upload has 0 of 10 bytes"));
}

TEST_F(BlobStoreTest, NamesMustBeDigests) {
  EXPECT_FALSE(BlobStore::IsDigest("../../etc/passwd"));
  EXPECT_FALSE(BlobStore::IsDigest(std::string(64, 'A')));
  EXPECT_TRUE(BlobStore::IsDigest(sha_));
  EXPECT_THAT(store_->StartUpload("../x", 1, 0),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a lowercase hex SHA-256")));
  EXPECT_FALSE(store_->Exists("../../etc/passwd"));
}

TEST_F(BlobStoreTest, Delete) {
  ASSERT_OK_AND_ASSIGN(auto w, store_->StartUpload(sha_, data_.size(), 0));
  ASSERT_THAT(w->Append(data_), IsOk());
  ASSERT_THAT(w->Finish(), IsOk());
  ASSERT_THAT(store_->Delete(sha_), IsOk());
  EXPECT_FALSE(store_->Exists(sha_));
  EXPECT_THAT(store_->Delete(sha_), IsOk());
}

}  // namespace
}  // namespace ota::server
