#include "server/cluster/lease.h"

namespace ota::server {

bool AdvisoryLease::Hold() {
  try {
    if (conn_ == nullptr) {
      held_ = false;
      conn_ = std::make_unique<pqxx::connection>(url_);
    }
    pqxx::nontransaction txn(*conn_);
    if (held_) {
      txn.exec("SELECT 1");
    } else {
      held_ = txn.exec_params("SELECT pg_try_advisory_lock($1)", key_)[0][0].as<bool>();
    }
  } catch (const std::exception&) {
    Release();
  }
  return held_;
}

void AdvisoryLease::Release() {
  if (held_ && conn_ != nullptr) {
    try {
      pqxx::nontransaction txn(*conn_);
      txn.exec_params("SELECT pg_advisory_unlock($1)", key_);
    } catch (const std::exception&) {
      // The session is gone, and the lock with it.
    }
  }
  conn_.reset();
  held_ = false;
}

}  // namespace ota::server
