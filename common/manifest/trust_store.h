// The update keys a verifier trusts: on a device, those installed at
// manufacture or delivered in a root-signed key list; on the server, the
// registered, unrevoked update certificates.
//
//   TrustStore trust;
//   trust.AddCertificate(cert);           // key valid within cert's window
//   trust.set_threshold(2);               // two distinct keys must sign
#ifndef OTA_COMMON_MANIFEST_TRUST_STORE_H_
#define OTA_COMMON_MANIFEST_TRUST_STORE_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/crypto/ecdsa.h"
#include "common/crypto/x509.h"

namespace ota::common {

// One trusted key and when it may be used.
struct TrustedKey {
  EcdsaP256PublicKey key;
  // Validity window, Unix seconds; 0 leaves that side open.
  int64_t not_before_unix = 0;
  int64_t not_after_unix = 0;
  // A revoked key's signatures count for nothing.
  bool revoked = false;
  // Who holds it, for messages.
  std::string description;
};

class TrustStore {
 public:
  // Trusts the certificate's key within the certificate's validity window.
  // INVALID_ARGUMENT when the certificate's key is not P-256.
  absl::Status AddCertificate(const Certificate& certificate);

  // Trusts `key` within [not_before_unix, not_after_unix] (0 = open).
  // Replaces an entry with the same key id.
  void AddKey(const EcdsaP256PublicKey& key, int64_t not_before_unix,
              int64_t not_after_unix, std::string description);

  // Trusts every PEM block of `pem`: a CERTIFICATE as AddCertificate does,
  // a PUBLIC KEY with no time limit, described as `description`.
  // INVALID_ARGUMENT when there is no block or one does not parse.
  absl::Status AddPem(absl::string_view pem, const std::string& description);

  // Marks a key revoked. NOT_FOUND when the key id is unknown.
  absl::Status Revoke(absl::string_view key_id);

  // The key with `key_id` (lowercase hex), or null.
  const TrustedKey* Find(absl::string_view key_id) const;

  // How many distinct trusted keys must sign a manifest (default 1).
  uint32_t threshold() const { return threshold_; }
  void set_threshold(uint32_t threshold) { threshold_ = threshold < 1 ? 1 : threshold; }

  size_t size() const { return keys_.size(); }

 private:
  std::map<std::string, TrustedKey, std::less<>> keys_;
  uint32_t threshold_ = 1;
};

}  // namespace ota::common

#endif  // OTA_COMMON_MANIFEST_TRUST_STORE_H_
