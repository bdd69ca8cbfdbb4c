// A throwaway PostgreSQL cluster for tests: initdb into a fresh folder under
// /tmp, a server listening only on a Unix socket in that folder (no port to
// collide with), one fresh database per test, and everything removed when
// the object goes away.
//
//   auto cluster = PostgresCluster::Start();
//   absl::StatusOr<std::string> url = (*cluster)->CreateDatabase();
//   ... connect with *url ...
//
// initdb refuses to run as root, so as root the server runs as the
// `postgres` user that Debian's postgresql package creates.
#ifndef OTA_TEST_PG_POSTGRES_CLUSTER_H_
#define OTA_TEST_PG_POSTGRES_CLUSTER_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ota::testing {

class PostgresCluster {
 public:
  // Creates and starts a cluster. UNAVAILABLE when PostgreSQL's binaries are
  // missing or the server does not come up (the message has its log).
  static absl::StatusOr<std::unique_ptr<PostgresCluster>> Start();

  ~PostgresCluster();
  PostgresCluster(const PostgresCluster&) = delete;
  PostgresCluster& operator=(const PostgresCluster&) = delete;

  // A new, empty database; returns its connection URL.
  absl::StatusOr<std::string> CreateDatabase();

  // The connection URL of database `name`.
  std::string Url(const std::string& name) const;

  // Stops the server (fast shutdown: sessions are cut) and starts it again,
  // for tests of what clients do while the database is away.
  absl::Status Stop();
  absl::Status Restart();

 private:
  explicit PostgresCluster(std::string dir) : dir_(std::move(dir)) {}
  absl::Status Run(const std::string& command) const;
  absl::Status StartServer();

  std::string dir_;
  bool running_ = false;
  int next_db_ = 0;
};

}  // namespace ota::testing

#endif  // OTA_TEST_PG_POSTGRES_CLUSTER_H_
