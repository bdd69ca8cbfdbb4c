// Published update key lists. A list is accepted only when root signatures
// meeting the server's root trust store verify over it and its version is
// above every published one: the server refuses what devices would refuse.
//
//   KeyListStore lists(db, clock, &roots);
//   auto record = lists.Publish(signed_list);   // then devices receive it
//   auto latest = lists.Get(0);
#ifndef OTA_SERVER_AUTH_KEY_LIST_STORE_H_
#define OTA_SERVER_AUTH_KEY_LIST_STORE_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "common/base/clock.h"
#include "common/manifest/trust_store.h"
#include "ota/v1/access_service.pb.h"
#include "server/store/database.h"

namespace ota::server {

class KeyListStore {
 public:
  // `roots` may be null: nothing can be published then.
  KeyListStore(Database* db, const common::Clock* clock, const common::TrustStore* roots)
      : db_(db), clock_(clock), roots_(roots) {}

  // FAILED_PRECONDITION when no root keys are configured, or (with
  // REASON_ROLLBACK) when the version is not above the latest; the errors
  // of VerifyKeyList otherwise.
  absl::StatusOr<ota::v1::KeyListRecord> Publish(const ota::v1::SignedKeyList& signed_list);

  // `version` 0 is the latest. NOT_FOUND when there is none.
  absl::StatusOr<ota::v1::KeyListRecord> Get(uint64_t version);

 private:
  Database* db_;
  const common::Clock* clock_;
  const common::TrustStore* roots_;
};

}  // namespace ota::server

#endif  // OTA_SERVER_AUTH_KEY_LIST_STORE_H_
