#include "server/store/database.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"

namespace ota::server {
namespace {

// pg_advisory_xact_lock key for migrations: "ota-mig" in ASCII.
constexpr int64_t kMigrationLock = 0x6f74612d6d6967;
constexpr int kSerializationRetries = 3;

}  // namespace

absl::Status Database::FromException(const std::exception& e) {
  if (const auto* ex = dynamic_cast<const pqxx::in_doubt_error*>(&e)) {
    return absl::UnavailableError(
        absl::StrCat("database commit outcome unknown: ", ex->what()));
  }
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) {
    return absl::UnavailableError(absl::StrCat("database unavailable: ", e.what()));
  }
  if (const auto* ex = dynamic_cast<const pqxx::sql_error*>(&e)) {
    const std::string& state = ex->sqlstate();
    std::string what = ex->what();
    if (state == "23505") return absl::AlreadyExistsError(what);
    // foreign_key_violation, restrict_violation
    if (state == "23503" || state == "23001") return absl::FailedPreconditionError(what);
    if (state == "23514" || state == "22P02" || state == "23502") {
      return absl::InvalidArgumentError(what);
    }
    if (state == "40001" || state == "40P01") return absl::AbortedError(what);
    // Class 08 (connection exception) and 57P (operator intervention, as
    // when the server shuts down) are worth a retry.
    if (absl::StartsWith(state, "08") || absl::StartsWith(state, "57P")) {
      return absl::UnavailableError(absl::StrCat("database unavailable: ", what));
    }
    return absl::InternalError(absl::StrCat("database error ", state, ": ", what));
  }
  return absl::InternalError(absl::StrCat("database error: ", e.what()));
}

absl::StatusOr<std::unique_ptr<Database>> Database::Open(const std::string& url,
                                                         int pool_size) {
  std::unique_ptr<Database> db(new Database(url, pool_size < 1 ? 1 : pool_size));
  bool reused = false;
  absl::StatusOr<std::unique_ptr<pqxx::connection>> conn = db->Acquire(&reused);
  if (!conn.ok()) return conn.status();
  db->Release(*std::move(conn));
  return db;
}

absl::StatusOr<std::unique_ptr<pqxx::connection>> Database::Acquire(bool* reused) {
  *reused = false;
  {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](Database* d) ABSL_EXCLUSIVE_LOCKS_REQUIRED(d->mu_) {
          return !d->idle_.empty() || d->open_ < d->pool_size_;
        },
        this));
    if (!idle_.empty()) {
      std::unique_ptr<pqxx::connection> c = std::move(idle_.back());
      idle_.pop_back();
      *reused = true;
      return c;
    }
    ++open_;
  }
  try {
    return std::make_unique<pqxx::connection>(url_);
  } catch (const std::exception& e) {
    absl::MutexLock lock(&mu_);
    --open_;
    return absl::UnavailableError(absl::StrCat("cannot connect to the database: ", e.what()));
  }
}

void Database::Release(std::unique_ptr<pqxx::connection> conn) {
  absl::MutexLock lock(&mu_);
  if (conn != nullptr && conn->is_open()) {
    idle_.push_back(std::move(conn));
  } else {
    --open_;
  }
}

absl::Status Database::Transact(const std::function<absl::Status(pqxx::work&)>& fn) {
  absl::Status last;
  for (int attempt = 0; attempt < kSerializationRetries; ++attempt) {
    bool reused = false;
    absl::StatusOr<std::unique_ptr<pqxx::connection>> conn = Acquire(&reused);
    if (!conn.ok()) return conn.status();
    std::unique_ptr<pqxx::work> txn;
    try {
      txn = std::make_unique<pqxx::work>(**conn);
    } catch (const std::exception& e) {
      // Nothing ran yet, so trying again is safe. A pooled connection that
      // broke (the server restarted) means its idle siblings broke too:
      // drop them all and go on with a fresh connection.
      conn->reset();
      Release(nullptr);
      absl::Status s = FromException(e);
      if (reused && absl::IsUnavailable(s)) {
        DropIdle();
        --attempt;
        continue;
      }
      return s;
    }
    absl::Status result;
    bool broken = false;
    try {
      result = fn(*txn);
      if (result.ok()) {
        txn->commit();
      } else {
        txn->abort();
      }
    } catch (const std::exception& e) {
      result = FromException(e);
      broken = absl::IsUnavailable(result);
    }
    txn.reset();
    if (broken) {
      conn->reset();
      Release(nullptr);
      DropIdle();
    } else {
      Release(*std::move(conn));
    }
    if (!absl::IsAborted(result)) return result;
    last = result;
  }
  return last;
}

void Database::DropIdle() {
  absl::MutexLock lock(&mu_);
  open_ -= static_cast<int>(idle_.size());
  idle_.clear();
}

absl::StatusOr<std::vector<int>> Database::Migrate() {
  std::vector<int> applied;
  absl::Status s = Transact([&](pqxx::work& txn) -> absl::Status {
    applied.clear();
    txn.exec_params("SELECT pg_advisory_xact_lock($1)", kMigrationLock);
    txn.exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version integer PRIMARY KEY, name text NOT NULL,"
        " applied_unix bigint NOT NULL DEFAULT extract(epoch FROM now())::bigint)");
    pqxx::result done = txn.exec("SELECT version FROM schema_migrations");
    std::vector<int> have;
    for (const auto& row : done) have.push_back(row[0].as<int>());
    for (const Migration& m : Migrations()) {
      if (std::find(have.begin(), have.end(), m.version) != have.end()) continue;
      txn.exec(m.sql);
      txn.exec_params("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                      m.version, m.name);
      applied.push_back(m.version);
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return applied;
}

}  // namespace ota::server
