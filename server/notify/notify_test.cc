// DeviceHub, WorkQueue and TimerWheel on their own.
#include <atomic>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
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
