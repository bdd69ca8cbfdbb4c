#include "server/auth/access_store.h"

#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/crypto/bytes.h"
#include "common/crypto/random.h"
#include "common/crypto/sha256.h"

namespace ota::server {
namespace {

constexpr char kSecretPrefix[] = "ota_";
constexpr size_t kIdBytes = 8;       // 16 hex digits
constexpr size_t kSecretBytes = 32;  // 64 hex digits
constexpr int64_t kLastUsedGranularity = 60;

const char* kTokenColumns =
    "token_id, name, role, created_unix, expires_unix, revoked_unix, last_used_unix, created_by";

ota::v1::AccessToken TokenFromRow(const pqxx::row& r) {
  ota::v1::AccessToken t;
  t.set_token_id(r["token_id"].c_str());
  t.set_name(r["name"].c_str());
  t.set_role(static_cast<ota::v1::Role>(r["role"].as<int>()));
  t.set_created_unix(r["created_unix"].as<int64_t>());
  t.set_expires_unix(r["expires_unix"].as<int64_t>());
  t.set_revoked_unix(r["revoked_unix"].as<int64_t>());
  t.set_revoked(t.revoked_unix() != 0);
  t.set_last_used_unix(r["last_used_unix"].as<int64_t>());
  t.set_created_by(r["created_by"].c_str());
  return t;
}

bool Includes(ota::v1::Role have, ota::v1::Role needed) {
  if (have == ota::v1::ROLE_ADMIN) return true;
  if (needed == ota::v1::ROLE_VIEWER) {
    return have == ota::v1::ROLE_VIEWER || have == ota::v1::ROLE_OPERATOR ||
           have == ota::v1::ROLE_PUBLISHER;
  }
  return have == needed && needed != ota::v1::ROLE_UNSPECIFIED;
}

std::string RoleShortName(ota::v1::Role role) {
  return ota::v1::Role_Name(role).substr(sizeof("ROLE_") - 1);
}

}  // namespace

absl::Status Authorize(const Principal& who, ota::v1::Role needed) {
  if (needed == ota::v1::ROLE_UNSPECIFIED || Includes(who.role, needed)) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat("token \"", who.name, "\" has role ",
                                                  RoleShortName(who.role), "; this call needs ",
                                                  RoleShortName(needed)));
}

absl::StatusOr<ota::v1::Role> ParseRole(const std::string& name) {
  for (ota::v1::Role r : {ota::v1::ROLE_VIEWER, ota::v1::ROLE_OPERATOR, ota::v1::ROLE_PUBLISHER,
                          ota::v1::ROLE_ADMIN}) {
    if (name == ota::v1::Role_Name(r) || name == RoleShortName(r) ||
        absl::AsciiStrToUpper(name) == RoleShortName(r)) {
      return r;
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("role \"", name, "\" is not one of viewer, operator, publisher, admin"));
}

absl::StatusOr<ota::v1::CreateTokenResponse> AccessStore::CreateToken(
    const std::string& name, ota::v1::Role role, int64_t expires_unix,
    const std::string& created_by) {
  if (name.empty() || name.size() > 64) {
    return absl::InvalidArgumentError("name must be 1 to 64 characters");
  }
  for (char c : name) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError("name has a control character");
    }
  }
  if (role == ota::v1::ROLE_UNSPECIFIED || !ota::v1::Role_IsValid(role)) {
    return absl::InvalidArgumentError("role must be VIEWER, OPERATOR, PUBLISHER or ADMIN");
  }
  const int64_t now = clock_->NowUnix();
  if (expires_unix != 0 && expires_unix <= now) {
    return absl::InvalidArgumentError(
        absl::StrCat("expires_unix ", expires_unix, " is not in the future"));
  }
  const std::string id = common::HexEncode(common::RandomBytes(kIdBytes));
  ota::v1::CreateTokenResponse out;
  out.set_secret(
      absl::StrCat(kSecretPrefix, id, "_", common::HexEncode(common::RandomBytes(kSecretBytes))));
  const std::string digest = common::Sha256Digest(out.secret());
  absl::Status s = db_->Transact([&](pqxx::work& txn) -> absl::Status {
    if (!txn.exec_params("SELECT 1 FROM api_tokens WHERE name = $1 AND revoked_unix = 0", name)
             .empty()) {
      return absl::AlreadyExistsError(absl::StrCat("a token named \"", name, "\" exists"));
    }
    pqxx::result r = txn.exec_params(
        absl::StrCat("INSERT INTO api_tokens (token_id, name, secret_sha256, role, created_unix, "
                     "expires_unix, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ",
                     kTokenColumns),
        id, name, pqxx::binarystring(digest.data(), digest.size()), static_cast<int>(role), now,
        expires_unix, created_by);
    *out.mutable_token() = TokenFromRow(r[0]);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<Page<ota::v1::AccessToken>> AccessStore::ListTokens(
    const ota::v1::ListTokensRequest& request) {
  const int limit = EffectivePageSize(request.page_size());
  // Newest first; the page token is "created_unix/token_id" of the last row.
  int64_t after_time = std::numeric_limits<int64_t>::max();
  std::string after_id;
  if (!request.page_token().empty()) {
    std::vector<std::string> parts = absl::StrSplit(request.page_token(), '/');
    if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &after_time)) {
      return absl::InvalidArgumentError("page_token is not one this server returned");
    }
    after_id = parts[1];
  }
  Page<ota::v1::AccessToken> page;
  absl::Status s = db_->Transact([&](pqxx::work& txn) {
    page.items.clear();
    for (const auto& row : txn.exec_params(
             absl::StrCat("SELECT ", kTokenColumns, " FROM api_tokens WHERE ($1 OR revoked_unix = 0) "
                          "AND (created_unix, token_id) < ($2, $3) "
                          "ORDER BY created_unix DESC, token_id DESC LIMIT $4"),
             request.include_revoked(), after_time,
             after_id.empty() ? std::string("\x7f") : after_id, limit + 1)) {
      page.items.push_back(TokenFromRow(row));
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  page.Trim(limit, [](const ota::v1::AccessToken& t) {
    return absl::StrCat(t.created_unix(), "/", t.token_id());
  });
  return page;
}

absl::StatusOr<ota::v1::AccessToken> AccessStore::RevokeToken(const std::string& token_id) {
  ota::v1::AccessToken out;
  const int64_t now = clock_->NowUnix();
  absl::Status s = db_->Transact([&](pqxx::work& txn) -> absl::Status {
    pqxx::result r = txn.exec_params(
        absl::StrCat("SELECT ", kTokenColumns, " FROM api_tokens WHERE token_id = $1 FOR UPDATE"),
        token_id);
    if (r.empty()) return absl::NotFoundError(absl::StrCat("token ", token_id, " does not exist"));
    if (r[0]["revoked_unix"].as<int64_t>() != 0) {
      return absl::FailedPreconditionError(absl::StrCat("token ", token_id, " is already revoked"));
    }
    r = txn.exec_params(absl::StrCat("UPDATE api_tokens SET revoked_unix = $2 WHERE token_id = $1 "
                                     "RETURNING ", kTokenColumns),
                        token_id, now);
    out = TokenFromRow(r[0]);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<Principal> AccessStore::Authenticate(const std::string& secret) {
  const std::vector<std::string> parts = absl::StrSplit(secret, '_');
  if (parts.size() != 3 || parts[0] != "ota" || parts[1].size() != 2 * kIdBytes ||
      parts[2].size() != 2 * kSecretBytes) {
    return absl::UnauthenticatedError("the bearer token is malformed");
  }
  const std::string digest = common::Sha256Digest(secret);
  const int64_t now = clock_->NowUnix();
  Principal who;
  absl::Status s = db_->Transact([&](pqxx::work& txn) -> absl::Status {
    pqxx::result r = txn.exec_params(
        "SELECT name, secret_sha256, role, expires_unix, revoked_unix, last_used_unix "
        "FROM api_tokens WHERE token_id = $1",
        parts[1]);
    if (r.empty() ||
        !common::ConstantTimeEquals(pqxx::binarystring(r[0]["secret_sha256"]).str(), digest)) {
      return absl::UnauthenticatedError("the bearer token is not known");
    }
    if (r[0]["revoked_unix"].as<int64_t>() != 0) {
      return absl::UnauthenticatedError(
          absl::StrCat("token \"", r[0]["name"].c_str(), "\" was revoked"));
    }
    const int64_t expires = r[0]["expires_unix"].as<int64_t>();
    if (expires != 0 && expires <= now) {
      return absl::UnauthenticatedError(
          absl::StrCat("token \"", r[0]["name"].c_str(), "\" expired"));
    }
    who.token_id = parts[1];
    who.name = r[0]["name"].c_str();
    who.role = static_cast<ota::v1::Role>(r[0]["role"].as<int>());
    if (r[0]["last_used_unix"].as<int64_t>() + kLastUsedGranularity <= now) {
      txn.exec_params("UPDATE api_tokens SET last_used_unix = $2 WHERE token_id = $1", parts[1],
                      now);
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return who;
}

absl::Status AccessStore::Audit(ota::v1::AuditEvent e) {
  return db_->Transact([&](pqxx::work& txn) {
    txn.exec_params(
        "INSERT INTO audit_events (time_ms, actor, actor_token_id, action, target, result_code, "
        "result_message, peer) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        clock_->NowMillis(), e.actor(), e.actor_token_id(), e.action(), e.target(),
        e.result_code(), e.result_message(), e.peer());
    return absl::OkStatus();
  });
}

absl::StatusOr<Page<ota::v1::AuditEvent>> AccessStore::ListAuditEvents(
    const ota::v1::ListAuditEventsRequest& request) {
  const int limit = EffectivePageSize(request.page_size());
  int64_t before_id = std::numeric_limits<int64_t>::max();
  if (!request.page_token().empty() && !absl::SimpleAtoi(request.page_token(), &before_id)) {
    return absl::InvalidArgumentError("page_token is not one this server returned");
  }
  if (request.start_time_ms() < 0 || request.end_time_ms() < 0) {
    return absl::InvalidArgumentError("start_time_ms and end_time_ms must not be negative");
  }
  Page<ota::v1::AuditEvent> page;
  absl::Status s = db_->Transact([&](pqxx::work& txn) {
    page.items.clear();
    for (const auto& row : txn.exec_params(
             "SELECT event_id, time_ms, actor, actor_token_id, action, target, result_code, "
             "result_message, peer FROM audit_events WHERE event_id < $1 AND time_ms >= $2 "
             "AND ($3 = 0 OR time_ms < $3) AND ($4 = '' OR actor = $4) "
             "ORDER BY event_id DESC LIMIT $5",
             before_id, request.start_time_ms(), request.end_time_ms(), request.actor(),
             limit + 1)) {
      ota::v1::AuditEvent e;
      e.set_event_id(row["event_id"].c_str());
      e.set_time_ms(row["time_ms"].as<int64_t>());
      e.set_actor(row["actor"].c_str());
      e.set_actor_token_id(row["actor_token_id"].c_str());
      e.set_action(row["action"].c_str());
      e.set_target(row["target"].c_str());
      e.set_result_code(row["result_code"].as<int>());
      e.set_result_message(row["result_message"].c_str());
      e.set_peer(row["peer"].c_str());
      page.items.push_back(std::move(e));
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  page.Trim(limit, [](const ota::v1::AuditEvent& e) { return e.event_id(); });
  return page;
}

}  // namespace ota::server
