// The operator page in a real browser: otad as a process on a throwaway
// PostgreSQL, six devices on real Connect streams (five reporting progress
// in a two-wave campaign, one offline) and a draft campaign; then
// web_ui_check.mjs opens the page in Debian's Chromium through
// playwright-core and checks what it shows, live updates over the watch
// stream, the pause button and the gateway's errors. Screenshots go to
// TEST_UNDECLARED_OUTPUTS_DIR.
#include <grpcpp/grpcpp.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/base/clock.h"
#include "common/base/file.h"
#include "common/manifest/uuid.h"
#include "gtest/gtest.h"
#include "ota/v1/campaign_service.grpc.pb.h"
#include "ota/v1/device_registry_service.grpc.pb.h"
#include "server/auth/access_store.h"
#include "server/campaigns/test_manifest.h"
#include "server/store/database.h"
#include "test/e2e/device_stub.h"
#include "test/e2e/otad_process.h"
#include "test/e2e/token_channel.h"
#include "test/pg/postgres_cluster.h"
#include "test/process/subprocess.h"

namespace ota {
namespace {

using ota::testing::DeviceStub;
using ota::v1::Campaign;

constexpr char kOld[] = "the old image";
constexpr char kNew[] = "the new image";

ota::v1::InstalledImage Running(uint64_t sequence, const std::string& image,
                                const std::string& version) {
  ota::v1::InstalledImage installed = ota::testing::Running(sequence, image);
  installed.set_version(version);
  return installed;
}

// The folder that holds this test's sources (the runfiles are links into
// it), where install.sh puts node_modules.
std::string SourceDir() {
  char real[PATH_MAX];
  if (realpath("test/web/web_ui_check.mjs", real) == nullptr) return "";
  std::string path = real;
  return path.substr(0, path.rfind('/'));
}

class WebUiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = ota::testing::PostgresCluster::Start();
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = std::move(*cluster);
    auto url = cluster_->CreateDatabase();
    ASSERT_TRUE(url.ok()) << url.status();
    std::string grpc_address, http_address;
    auto otad = ota::testing::StartOtad(*url, "web",
                                        {"--engine_tick_ms=100", "--deployment_poll_seconds=600",
                                         "--plaintext"},
                                        &grpc_address, &http_address);
    ASSERT_TRUE(otad.ok()) << otad.status();
    otad_ = std::move(*otad);
    base_url_ = absl::StrCat("http://", http_address);
    // Access checks are on, as in production: the test and the page use an
    // operator token.
    auto db_for_token = server::Database::Open(*url, 1);
    ASSERT_TRUE(db_for_token.ok()) << db_for_token.status();
    server::AccessStore access(db_for_token->get(), &common::RealClock());
    auto token = access.CreateToken("web-test", ota::v1::ROLE_OPERATOR, 0, "test");
    ASSERT_TRUE(token.ok()) << token.status();
    token_ = token->secret();
    channel_ = ota::testing::TokenChannel(grpc_address, token_);
    campaigns_ = ota::v1::CampaignService::NewStub(channel_);
    registry_ = ota::v1::DeviceRegistryService::NewStub(channel_);
    vendor_ = common::Uuid5(common::kDnsNamespaceUuid, "example.com");
    class_ = common::Uuid5(vendor_, "gw");
    auto db = server::Database::Open(*url, 1);
    ASSERT_TRUE(db.ok()) << db.status();
    auto id = server::InsertTestManifest(db->get(), vendor_, class_, 2, kNew);
    ASSERT_TRUE(id.ok()) << id.status();
    manifest_id_ = *id;
  }

  void TearDown() override {
    devices_.clear();
    if (otad_ != nullptr) EXPECT_EQ(otad_->Stop(), 0);
  }

  DeviceStub* AddDevice(const std::string& id, const std::string& region,
                        const std::string& cell) {
    devices_.push_back(std::make_unique<DeviceStub>(
        channel_, id, vendor_, class_,
        std::map<std::string, std::string>{{"region", region}, {"cell", cell}}));
    devices_.back()->Connect(Running(1, kOld, "1.0.0"));
    return devices_.back().get();
  }

  // Waits until the registry lists `n` devices, `online` of them online.
  bool WaitForDevices(int n, int online) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline) {
      ota::v1::ListDevicesRequest request;
      ota::v1::ListDevicesResponse response;
      grpc::ClientContext ctx;
      if (registry_->ListDevices(&ctx, request, &response).ok() &&
          response.devices_size() == n) {
        int up = 0;
        for (const auto& d : response.devices()) up += d.online();
        if (up == online) return true;
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    return false;
  }

  Campaign Create(const std::string& name, const std::string& filter,
                  const ota::v1::RolloutPolicy& policy) {
    ota::v1::CreateCampaignRequest create;
    create.set_name(name);
    create.set_manifest_id(manifest_id_);
    create.set_device_filter(filter);
    *create.mutable_policy() = policy;
    Campaign c;
    grpc::ClientContext ctx;
    grpc::Status s = campaigns_->CreateCampaign(&ctx, create, &c);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return c;
  }

  Campaign Get(const std::string& id) {
    ota::v1::GetCampaignRequest get;
    get.set_campaign_id(id);
    Campaign c;
    grpc::ClientContext ctx;
    EXPECT_TRUE(campaigns_->GetCampaign(&ctx, get, &c).ok());
    return c;
  }

  std::unique_ptr<ota::testing::PostgresCluster> cluster_;
  std::unique_ptr<ota::testing::Subprocess> otad_;
  std::string base_url_;
  std::string token_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<ota::v1::CampaignService::Stub> campaigns_;
  std::unique_ptr<ota::v1::DeviceRegistryService::Stub> registry_;
  std::vector<std::unique_ptr<DeviceStub>> devices_;
  std::string vendor_, class_, manifest_id_;
};

TEST_F(WebUiTest, CampaignsDevicesLiveProgressAndPauseInChromium) {
  const std::string source_dir = SourceDir();
  ASSERT_FALSE(source_dir.empty());
  if (access((source_dir + "/node_modules/playwright-core").c_str(), F_OK) != 0) {
    ASSERT_EQ(std::system(("bash " + source_dir + "/install.sh").c_str()), 0);
  }

  DeviceStub* gw1 = AddDevice("gw-1", "eu", "c1");
  DeviceStub* gw2 = AddDevice("gw-2", "eu", "c1");
  DeviceStub* gw3 = AddDevice("gw-3", "eu", "c2");
  DeviceStub* gw4 = AddDevice("gw-4", "eu", "c2");
  DeviceStub* gw5 = AddDevice("gw-5", "eu", "c3");
  DeviceStub* gw6 = AddDevice("gw-6", "us", "c9");
  ASSERT_TRUE(WaitForDevices(6, 6));
  gw6->Disconnect();
  ASSERT_TRUE(WaitForDevices(6, 5));

  // Two waves: gw-1 and gw-2, then the rest once one of them succeeded.
  ota::v1::RolloutPolicy policy;
  policy.add_waves()->set_device_count(2);
  policy.add_waves()->set_percent(100);
  policy.set_success_ratio(0.5);
  policy.set_failure_ratio(1);
  Campaign c = Create("spring-rollout", "attr.region == \"eu\"", policy);
  {
    ota::v1::StartCampaignRequest start;
    start.set_campaign_id(c.campaign_id());
    grpc::ClientContext ctx;
    ASSERT_TRUE(campaigns_->StartCampaign(&ctx, start, &c).ok());
  }
  ASSERT_TRUE(gw1->WaitForDeployment(absl::Seconds(5)));
  ASSERT_TRUE(gw2->WaitForDeployment(absl::Seconds(5)));
  ASSERT_TRUE(gw1->Report(ota::v1::DEPLOYMENT_STATE_DOWNLOADING, Running(1, kOld, "1.0.0")).ok());
  ASSERT_TRUE(gw1->Report(ota::v1::DEPLOYMENT_STATE_SUCCEEDED, Running(2, kNew, "2.0.0")).ok());
  ASSERT_TRUE(gw2->Report(ota::v1::DEPLOYMENT_STATE_FAILED, Running(1, kOld, "1.0.0"),
                          ota::v1::REASON_INSTALL_FAILED)
                  .ok());
  ASSERT_TRUE(gw3->WaitForDeployment(absl::Seconds(5)));
  ASSERT_TRUE(gw4->WaitForDeployment(absl::Seconds(5)));
  ASSERT_TRUE(gw5->WaitForDeployment(absl::Seconds(5)));
  ASSERT_TRUE(gw3->Report(ota::v1::DEPLOYMENT_STATE_DOWNLOADING, Running(1, kOld, "1.0.0")).ok());
  ASSERT_TRUE(gw4->Report(ota::v1::DEPLOYMENT_STATE_ROLLED_BACK, Running(1, kOld, "1.0.0"),
                          ota::v1::REASON_HEALTH_CHECK_FAILED)
                  .ok());
  Campaign draft = Create("summer-draft", "attr.region == \"us\"", {});
  ASSERT_EQ(Get(c.campaign_id()).current_wave(), 2u);

  const char* outputs = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR");
  ASSERT_NE(outputs, nullptr);
  const std::string profile = absl::StrCat(std::getenv("TEST_TMPDIR"), "/chromium-profile");
  auto check = ota::testing::Subprocess::Start(
      {"/usr/bin/node", "test/web/web_ui_check.mjs", base_url_, c.campaign_id(),
       draft.campaign_id(), outputs, profile, token_});
  ASSERT_TRUE(check.ok()) << check.status();
  auto watching = (*check)->WaitForLine("ui: watching", absl::Seconds(90));
  ASSERT_TRUE(watching.ok()) << "the page checks failed before the live part (see above): "
                             << watching.status();
  ASSERT_TRUE(gw3->Report(ota::v1::DEPLOYMENT_STATE_SUCCEEDED, Running(2, kNew, "2.0.0")).ok());
  auto passed = (*check)->WaitForLine("ui: passed", absl::Seconds(90));
  EXPECT_TRUE(passed.ok()) << "the page checks failed (see above): " << passed.status();
  // Its output ends when node exits; then its exit status is there to take.
  EXPECT_TRUE(absl::IsUnavailable(
      (*check)->WaitForLine("no such line", absl::Seconds(30)).status()));
  EXPECT_EQ((*check)->Stop(), 0);

  // What the page's pause button did, as gRPC sees it.
  c = Get(c.campaign_id());
  EXPECT_EQ(c.state(), ota::v1::CAMPAIGN_STATE_PAUSED);
  EXPECT_EQ(c.state_reason(), "checking the rollback");
  EXPECT_TRUE(common::ReadFile(absl::StrCat(outputs, "/web_ui.png"), 64 << 20).ok());
}

}  // namespace
}  // namespace ota
