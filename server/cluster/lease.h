// Leadership among otad replicas on one PostgreSQL: the replica holding a
// session-level advisory lock leads (runs the rollout engine). The lock
// lives on a connection of its own, so when the leader dies, or its
// connection does, PostgreSQL releases the lock and another replica's next
// Hold() takes it.
//
//   AdvisoryLease lease(url, AdvisoryLease::kEngineKey);
//   if (lease.Hold()) engine.Tick();   // once per period
//
// Leading is an optimisation, not a safety property: the engine locks each
// campaign row it works on, so two replicas that both believe they lead for
// a moment never work on one campaign together.
#ifndef OTA_SERVER_CLUSTER_LEASE_H_
#define OTA_SERVER_CLUSTER_LEASE_H_

#include <cstdint>
#include <memory>
#include <string>

#include <pqxx/pqxx>

namespace ota::server {

class AdvisoryLease {
 public:
  // The lock key of the rollout engine.
  static constexpr int64_t kEngineKey = 0x6f74610001;  // "ota", 1

  AdvisoryLease(std::string url, int64_t key) : url_(std::move(url)), key_(key) {}

  // True while this process holds the lock: takes it when it is free and
  // checks, when held, that the connection still works. Never throws; a
  // failure to reach PostgreSQL is false (and the lease is given up).
  bool Hold();

  // Gives the lock up at once (unlocks, then closes the connection).
  void Release();

  bool held() const { return held_; }

 private:
  const std::string url_;
  const int64_t key_;
  std::unique_ptr<pqxx::connection> conn_;
  bool held_ = false;
};

}  // namespace ota::server

#endif  // OTA_SERVER_CLUSTER_LEASE_H_
