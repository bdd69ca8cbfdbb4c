// Operator access on PostgreSQL: bearer tokens, each with one role, and
// the append-only audit log.
//
//   AccessStore access(db, clock);
//   auto created = access.CreateToken("ci", ota::v1::ROLE_OPERATOR, 0, "admin");
//   // created->secret is shown once; only its SHA-256 is kept.
//   absl::StatusOr<Principal> who = access.Authenticate(created->secret);
//   Authorize(*who, ota::v1::ROLE_VIEWER);   // OK: OPERATOR includes VIEWER
//
// A secret is "ota_<token id>_<64 hex digits>": the id finds the row, the
// whole secret's SHA-256 is compared in constant time.
#ifndef OTA_SERVER_AUTH_ACCESS_STORE_H_
#define OTA_SERVER_AUTH_ACCESS_STORE_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/base/clock.h"
#include "ota/v1/access_service.pb.h"
#include "server/store/database.h"
#include "server/store/stores.h"

namespace ota::server {

// Who is calling.
struct Principal {
  std::string token_id;
  std::string name;
  ota::v1::Role role = ota::v1::ROLE_UNSPECIFIED;
};

// OK when `who` may act as `needed`: ADMIN may do anything, OPERATOR and
// PUBLISHER include VIEWER. PERMISSION_DENIED naming both roles otherwise.
absl::Status Authorize(const Principal& who, ota::v1::Role needed);

// "ROLE_OPERATOR" -> OPERATOR etc.; INVALID_ARGUMENT for anything else.
absl::StatusOr<ota::v1::Role> ParseRole(const std::string& name);

class AccessStore {
 public:
  AccessStore(Database* db, const common::Clock* clock) : db_(db), clock_(clock) {}

  // INVALID_ARGUMENT for a bad name, role or expiry; ALREADY_EXISTS when
  // an unrevoked token has the name.
  absl::StatusOr<ota::v1::CreateTokenResponse> CreateToken(const std::string& name,
                                                           ota::v1::Role role,
                                                           int64_t expires_unix,
                                                           const std::string& created_by);
  absl::StatusOr<Page<ota::v1::AccessToken>> ListTokens(const ota::v1::ListTokensRequest& request);
  // NOT_FOUND when unknown; FAILED_PRECONDITION when already revoked.
  absl::StatusOr<ota::v1::AccessToken> RevokeToken(const std::string& token_id);

  // The token's principal. UNAUTHENTICATED with the reason (malformed,
  // unknown, revoked, expired) otherwise; never says which part of a
  // wrong secret was wrong.
  absl::StatusOr<Principal> Authenticate(const std::string& secret);

  // Appends one event; its time and id are assigned here.
  absl::Status Audit(ota::v1::AuditEvent event);
  absl::StatusOr<Page<ota::v1::AuditEvent>> ListAuditEvents(
      const ota::v1::ListAuditEventsRequest& request);

 private:
  Database* db_;
  const common::Clock* clock_;
};

}  // namespace ota::server

#endif  // OTA_SERVER_AUTH_ACCESS_STORE_H_
