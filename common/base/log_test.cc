#include "common/base/log.h"

#include "gtest/gtest.h"

namespace ota::common {
namespace {

TEST(LogTest, PlainValuesStayBare) {
  EXPECT_EQ(FormatLogLine(1796016000123, LogLevel::kInfo, "campaign.state",
                          {{"campaign_id", "0f3a"}, {"to", "PAUSED"}}),
            "ts=2026-11-30T05:20:00.123Z level=info event=campaign.state campaign_id=0f3a "
            "to=PAUSED");
}

TEST(LogTest, ValuesThatWouldBreakTheLineAreQuoted) {
  EXPECT_EQ(FormatLogLine(0, LogLevel::kWarning, "device.report",
                          {{"message", "a \"b\" c=d"}, {"path", "C:\\x"}, {"empty", ""},
                           {"lines", "one\ntwo\x01"}}),
            "ts=1970-01-01T00:00:00.000Z level=warning event=device.report "
            "message=\"a \\\"b\\\" c=d\" path=\"C:\\\\x\" empty=\"\" lines=\"one\\ntwo\\x01\"");
}

TEST(LogTest, Levels) {
  EXPECT_NE(FormatLogLine(0, LogLevel::kError, "e", {}).find(" level=error "), std::string::npos);
  EXPECT_NE(FormatLogLine(0, LogLevel::kDebug, "e", {}).find(" level=debug "), std::string::npos);
}

}  // namespace
}  // namespace ota::common
