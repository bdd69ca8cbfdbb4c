// DeviceHub, WorkQueue and TimerWheel on their own.
#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "server/notify/deployment_message.h"
#include "server/notify/device_hub.h"
#include "server/notify/timer_wheel.h"
#include "server/notify/work_queue.h"

namespace ota::server {
namespace {

TEST(DeviceHubTest, WakeCallsTheConnectedStreamsOnly) {
  DeviceHub hub;
  int woken_a = 0, woken_b = 0;
  auto a = hub.Attach("a", {.on_wake = [&] { ++woken_a; }});
  auto b = hub.Attach("b", {.on_wake = [&] { ++woken_b; }});
  EXPECT_TRUE(a->TakeWake());  // a new stream looks once
  EXPECT_FALSE(a->TakeWake());
  hub.Wake({"a", "elsewhere"});
  EXPECT_EQ(woken_a, 1);
  EXPECT_EQ(woken_b, 0);
  EXPECT_TRUE(a->TakeWake());
  EXPECT_EQ(hub.connected(), 2u);
  hub.Detach("a", a);
  hub.Wake({"a"});
  EXPECT_EQ(woken_a, 1);
  EXPECT_EQ(hub.connected(), 1u);
}

TEST(DeviceHubTest, ANewerStreamReplacesTheOlder) {
  DeviceHub hub;
  int replaced = 0, old_woken = 0, new_woken = 0;
  auto old_stream =
      hub.Attach("a", {.on_wake = [&] { ++old_woken; }, .on_replaced = [&] { ++replaced; }});
  auto new_stream = hub.Attach("a", {.on_wake = [&] { ++new_woken; }});
  EXPECT_EQ(replaced, 1);
  EXPECT_TRUE(old_stream->replaced());
  EXPECT_FALSE(new_stream->replaced());
  // The old stream leaving does not unregister the new one.
  hub.Detach("a", old_stream);
  hub.Wake({"a"});
  EXPECT_EQ(old_woken, 0);
  EXPECT_EQ(new_woken, 1);
  EXPECT_EQ(hub.connected(), 1u);
}

ota::v1::SignedManifest TestManifest() {
  ota::v1::SignedManifest m;
  m.set_manifest(std::string(3000, 'm'));  // long enough for a two-byte length
  ota::v1::Signature* sig = m.add_signatures();
  sig->set_key_id("key-1");
  sig->set_signature(std::string(72, 's'));
  return m;
}

// The bytes `m` has when protobuf serializes it.
std::string Bytes(const grpc::ByteBuffer& b) {
  std::vector<grpc::Slice> slices;
  EXPECT_TRUE(b.Dump(&slices).ok());
  std::string out;
  for (const grpc::Slice& s : slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

TEST(SharedDeploymentTest, EachMessageEqualsTheOneProtobufBuilds) {
  const ota::v1::SignedManifest manifest = TestManifest();
  SharedDeployment shared("campaign-7", manifest);
  for (const std::string& id : {std::string("d"), std::string(200, 'x')}) {
    ota::v1::ServerMessage expected;
    expected.mutable_deployment()->set_deployment_id(id);
    expected.mutable_deployment()->set_campaign_id("campaign-7");
    *expected.mutable_deployment()->mutable_manifest() = manifest;
    const grpc::ByteBuffer b = shared.MessageFor(id);
    EXPECT_EQ(Bytes(b), expected.SerializeAsString());
    ota::v1::ServerMessage parsed;
    ASSERT_TRUE(parsed.ParseFromString(Bytes(b)));
    EXPECT_EQ(parsed.deployment().deployment_id(), id);
    EXPECT_EQ(parsed.deployment().manifest().manifest(), manifest.manifest());
    EXPECT_EQ(shared.ProtoFor(id).SerializeAsString(), expected.SerializeAsString());
  }
}

TEST(SharedDeploymentTest, MessagesShareTheManifestBytes) {
  SharedDeployment shared("c", TestManifest());
  std::vector<grpc::Slice> a, b;
  ASSERT_TRUE(shared.MessageFor("d1").Dump(&a).ok());
  ASSERT_TRUE(shared.MessageFor("d2").Dump(&b).ok());
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(b.size(), 2u);
  EXPECT_GT(a[1].size(), 3000u);
  EXPECT_EQ(a[1].begin(), b[1].begin());  // the same memory, not a copy
  EXPECT_NE(a[0].begin(), b[0].begin());
}

TEST(DeviceHubTest, OfferHandsEachConnectedStreamItsDeployment) {
  DeviceHub hub;
  std::vector<std::pair<std::string, std::string>> got;
  auto record = [&](const std::string& device) {
    return DeviceHub::Callbacks{
        .on_deployment = [&got, device](const std::string& deployment_id,
                                        const std::shared_ptr<const SharedDeployment>& s) {
          EXPECT_EQ(s->campaign_id(), "c");
          got.emplace_back(device, deployment_id);
          return deployment_id != "d-dup";  // a stream that had this one
        }};
  };
  auto a = hub.Attach("a", record("a"));
  auto b = hub.Attach("b", record("b"));
  auto quiet = hub.Attach("quiet", {});  // a stream without on_deployment
  std::vector<std::string> ids = hub.ConnectedIds();
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::string>{"a", "b", "quiet"}));
  hub.Detach("b", b);  // left after the ids were taken
  auto shared = std::make_shared<const SharedDeployment>("c", TestManifest());
  EXPECT_EQ(hub.Offer(shared, {{"a", "d-a"}, {"b", "d-b"}, {"quiet", "d-q"}, {"gone", "d-g"}}),
            1u);
  EXPECT_EQ(got, (std::vector<std::pair<std::string, std::string>>{{"a", "d-a"}}));
  // A stream that drops what it has sent already is not counted.
  EXPECT_EQ(hub.Offer(shared, {{"a", "d-dup"}}), 0u);
}

TEST(WorkQueueTest, RunsEveryTaskPostedBeforeItIsDestroyed) {
  std::atomic<int> ran{0};
  {
    WorkQueue queue(3);
    for (int i = 0; i < 1000; ++i) queue.Post([&] { ran++; });
  }
  EXPECT_EQ(ran.load(), 1000);
}

TEST(TimerWheelTest, RunsEachEntryOncePerPeriodUntilRemoved) {
  TimerWheel wheel(absl::Milliseconds(200), 4);
  std::atomic<int> a{0}, b{0};
  TimerWheel::Handle ha = wheel.Add([&] { a++; });
  wheel.Add([&] { b++; });
  EXPECT_EQ(wheel.size(), 2u);
  absl::SleepFor(absl::Milliseconds(1100));
  // About 5 periods; the bounds leave room for a slow machine.
  EXPECT_GE(a.load(), 3);
  EXPECT_LE(a.load(), 6);
  EXPECT_GE(b.load(), 3);
  wheel.Remove(ha);
  const int at_removal = a.load();
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_EQ(a.load(), at_removal);
  EXPECT_EQ(wheel.size(), 1u);
}

}  // namespace
}  // namespace ota::server
