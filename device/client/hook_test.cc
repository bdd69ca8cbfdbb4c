#include "device/client/hook.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ota::device {
namespace {

using ::testing::HasSubstr;

std::string Script(const std::string& name, const std::string& body) {
  std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
  std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
  chmod(path.c_str(), 0755);
  return path;
}

TEST(HookRunnerTest, EmptyPathGoes) {
  EXPECT_EQ(HookRunner(absl::Seconds(5)).Run("", {}).verdict, HookResult::kGo);
}

TEST(HookRunnerTest, ExitStatusesAndEnvironment) {
  HookRunner hooks(absl::Seconds(10));
  HookResult go = hooks.Run(Script("go", "echo version=$OTA_VERSION"), {{"OTA_VERSION", "2.0"}});
  EXPECT_EQ(go.verdict, HookResult::kGo);
  EXPECT_THAT(go.output, HasSubstr("version=2.0"));
  HookResult defer = hooks.Run(Script("defer", "echo busy >&2; exit 75"), {});
  EXPECT_EQ(defer.verdict, HookResult::kDefer);
  EXPECT_THAT(defer.output, HasSubstr("busy"));
  HookResult refuse = hooks.Run(Script("refuse", "exit 3"), {});
  EXPECT_EQ(refuse.verdict, HookResult::kRefuse);
  EXPECT_EQ(refuse.exit_status, 3);
  EXPECT_EQ(hooks.Run("/nonexistent/hook", {}).verdict, HookResult::kRefuse);
}

TEST(HookRunnerTest, TimeoutKillsTheHook) {
  HookRunner hooks(absl::Milliseconds(300));
  HookResult r = hooks.Run(Script("slow", "echo started; sleep 30"), {});
  EXPECT_EQ(r.verdict, HookResult::kTimeout);
  EXPECT_THAT(r.output, HasSubstr("started"));
}

}  // namespace
}  // namespace ota::device
