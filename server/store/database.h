// PostgreSQL access for otad: a small connection pool, transactions that
// return absl::Status, and schema migrations applied at start.
//
// libpqxx throws; nothing here lets an exception out. Every call runs its
// function inside one transaction, so a multi-row change is all or nothing.
//
//   auto db = Database::Open(url, /*pool_size=*/8);
//   absl::Status s = (*db)->Transact([&](pqxx::work& txn) {
//     txn.exec_params("INSERT INTO ...", a, b);
//     return absl::OkStatus();
//   });
//
// Errors: UNAVAILABLE when the server cannot be reached or the connection
// broke mid-transaction (the caller may retry; the pool is emptied and new
// connections are made on next use; a pooled connection found dead before
// anything ran is replaced without an error), ALREADY_EXISTS for a unique violation,
// FAILED_PRECONDITION for a foreign-key violation, INVALID_ARGUMENT for a
// check violation, ABORTED for a serialization failure that kept recurring,
// INTERNAL for anything else. A commit whose outcome is unknown is
// UNAVAILABLE with "outcome unknown" in the message.
#ifndef OTA_SERVER_STORE_DATABASE_H_
#define OTA_SERVER_STORE_DATABASE_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "pqxx/pqxx"

namespace ota::server {

class Database {
 public:
  // Checks that `url` can connect (UNAVAILABLE otherwise) and returns a pool
  // of at most `pool_size` connections.
  static absl::StatusOr<std::unique_ptr<Database>> Open(const std::string& url,
                                                        int pool_size);

  // Runs `fn` in a READ COMMITTED transaction and commits when it returns
  // OK; rolls back otherwise and returns its status. Blocks while all pooled
  // connections are busy.
  absl::Status Transact(const std::function<absl::Status(pqxx::work&)>& fn);

  // Applies every migration not yet applied, in order, in one transaction
  // under an advisory lock so that replicas starting together do not race.
  // Returns the versions applied now.
  absl::StatusOr<std::vector<int>> Migrate();

  // Converts an exception thrown inside a transaction to a status.
  static absl::Status FromException(const std::exception& e);

 private:
  Database(std::string url, int pool_size) : url_(std::move(url)), pool_size_(pool_size) {}

  // A pooled connection, or a new one; `reused` tells which.
  absl::StatusOr<std::unique_ptr<pqxx::connection>> Acquire(bool* reused);
  // Returns `conn` to the pool; null when it was dropped.
  void Release(std::unique_ptr<pqxx::connection> conn);
  // Closes every idle connection (after the server went away).
  void DropIdle();

  const std::string url_;
  const int pool_size_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;
};

// A schema migration: its version and SQL.
struct Migration {
  int version;
  const char* name;
  const char* sql;
};

// The migrations compiled into otad, in version order.
const std::vector<Migration>& Migrations();

}  // namespace ota::server

#endif  // OTA_SERVER_STORE_DATABASE_H_
