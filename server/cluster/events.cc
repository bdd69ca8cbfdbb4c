#include "server/cluster/events.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/base/log.h"
#include "absl/random/random.h"
#include "absl/strings/str_format.h"

namespace ota::server {
namespace {

// PostgreSQL refuses notification payloads of 8000 bytes or more.
constexpr size_t kMaxPayload = 7999;

// Payload: "<replica id> <kind> <campaign id>", then for a device range
// " <first device id> <last device id>", both hex-encoded (device ids may
// hold spaces).
class Receiver final : public pqxx::notification_receiver {
 public:
  Receiver(pqxx::connection_base& c, std::function<void(const std::string&)> on)
      : pqxx::notification_receiver(c, ClusterEvents::kChannel), on_(std::move(on)) {}
  void operator()(const std::string& payload, int) override { on_(payload); }

 private:
  std::function<void(const std::string&)> on_;
};

}  // namespace

std::unique_ptr<ClusterEvents> ClusterEvents::Start(std::string url, std::string replica_id,
                                                    Handler handler, int retry_ms) {
  std::unique_ptr<ClusterEvents> events(
      new ClusterEvents(std::move(url), std::move(replica_id), std::move(handler), retry_ms));
  events->thread_ = std::thread([e = events.get()] { e->Run(); });
  return events;
}

ClusterEvents::~ClusterEvents() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void ClusterEvents::Publish(pqxx::transaction_base& txn, absl::string_view replica_id,
                            absl::string_view kind, absl::string_view campaign_id,
                            const DeviceRange& devices) {
  std::string payload = absl::StrCat(replica_id, " ", kind, " ", campaign_id);
  if (!devices.all()) {
    std::string range = absl::StrCat(" ", absl::BytesToHexString(devices.first), " ",
                                     absl::BytesToHexString(devices.last));
    if (payload.size() + range.size() < kMaxPayload) payload += range;
  }
  txn.exec_params("SELECT pg_notify($1, $2)", std::string(kChannel), payload);
}

std::string ClusterEvents::NewReplicaId() {
  absl::BitGen gen;
  return absl::StrFormat("%016x", absl::Uniform<uint64_t>(gen));
}

void ClusterEvents::Deliver(const std::string& payload) {
  std::vector<std::string> parts = absl::StrSplit(payload, ' ');
  if ((parts.size() != 3 && parts.size() != 5) || parts[0] == replica_id_) return;
  ClusterEvent event{parts[1], parts[2]};
  if (parts.size() == 5) {
    event.devices.first = absl::HexStringToBytes(parts[3]);
    event.devices.last = absl::HexStringToBytes(parts[4]);
  }
  ++received_;
  handler_(event);
}

void ClusterEvents::Run() {
  bool connected_before = false;
  while (!stop_) {
    try {
      pqxx::connection conn(url_);
      Receiver receiver(conn, [this](const std::string& p) { Deliver(p); });
      conn.get_notifs();  // LISTEN is issued on registration
      if (connected_before) handler_(ClusterEvent{kResync, ""});
      connected_before = true;
      while (!stop_) conn.await_notification(0, 200 * 1000);
    } catch (const std::exception& e) {
      if (stop_) break;
      common::LogEvent(common::LogLevel::kWarning, "cluster.events",
                       {{"replica", replica_id_}, {"error", e.what()}, {"action", "reconnecting"}});
      connected_before = true;
    }
    for (int waited = 0; !stop_ && waited < retry_ms_; waited += 50) {
      absl::SleepFor(absl::Milliseconds(50));
    }
  }
}

}  // namespace ota::server
