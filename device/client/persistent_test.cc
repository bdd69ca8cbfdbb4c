#include "device/client/persistent.h"

#include <cstdlib>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ota::device {
namespace {

using ::ota::testing::IsOk;
using ::ota::testing::StatusIs;

std::string Path(const std::string& name) {
  return std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
}

TEST(ProtoFileTest, MissingIsEmptyThenRoundTrips) {
  ProtoFile<Journal> f(Path("journal.pb"));
  ASSERT_OK_AND_ASSIGN(Journal empty, f.Load());
  EXPECT_EQ(empty.deployment_id(), "");
  Journal j;
  j.set_deployment_id("d1");
  j.set_step(STEP_DOWNLOADING);
  j.set_verified_chunks(7);
  ASSERT_THAT(f.Save(j), IsOk());
  ASSERT_OK_AND_ASSIGN(Journal back, f.Load());
  EXPECT_EQ(back.verified_chunks(), 7u);
  EXPECT_EQ(back.step(), STEP_DOWNLOADING);
}

TEST(ProtoFileTest, CorruptFileIsDataLoss) {
  ASSERT_THAT(common::WriteFileAtomically(Path("bad.pb"), "\xff\xff\xff"), IsOk());
  ProtoFile<Journal> f(Path("bad.pb"));
  EXPECT_THAT(f.Load(), StatusIs(absl::StatusCode::kDataLoss, Path("bad.pb") + " does not parse"));
}

TEST(ReportOutboxTest, NumbersPersistsAndAcks) {
  const std::string path = Path("outbox.pb");
  {
    ReportOutbox box(path);
    ASSERT_THAT(box.Open(), IsOk());
    for (int i = 0; i < 3; ++i) {
      ota::v1::StatusReport r;
      r.set_deployment_id("d");
      r.set_state(ota::v1::DEPLOYMENT_STATE_DOWNLOADING);
      ASSERT_OK_AND_ASSIGN(uint64_t seq, box.Add(r));
      EXPECT_EQ(seq, static_cast<uint64_t>(i + 1));
    }
    ASSERT_THAT(box.Ack(2), IsOk());
  }
  // A restart keeps what was not acknowledged, and the numbering.
  ReportOutbox again(path);
  ASSERT_THAT(again.Open(), IsOk());
  std::vector<ota::v1::StatusReport> pending = again.Pending(10);
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].seq(), 3u);
  ASSERT_OK_AND_ASSIGN(uint64_t seq, again.Add(ota::v1::StatusReport()));
  EXPECT_EQ(seq, 4u);
  EXPECT_EQ(again.Pending(1).size(), 1u);
  ASSERT_THAT(again.Ack(4), IsOk());
  EXPECT_EQ(again.size(), 0u);
}

}  // namespace
}  // namespace ota::device
