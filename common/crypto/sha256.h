// SHA-256, one shot or streamed, over OpenSSL 3 (the header names no OpenSSL
// type, so another library can stand behind it).
//
//   ota::common::Sha256 hasher;
//   hasher.Update(chunk1);
//   hasher.Update(chunk2);
//   std::string digest = hasher.Finish();   // 32 raw bytes
//
//   std::string d = ota::common::Sha256Digest("abc");
#ifndef OTA_COMMON_CRYPTO_SHA256_H_
#define OTA_COMMON_CRYPTO_SHA256_H_

#include <memory>
#include <string>

#include "absl/strings/string_view.h"

namespace ota::common {

// Length of a SHA-256 digest in bytes.
inline constexpr size_t kSha256Size = 32;

// A streaming SHA-256. Not thread-safe; movable, not copyable.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  // Adds `data` to the hash.
  void Update(absl::string_view data);

  // Returns the 32-byte digest of everything added, and resets the hasher
  // so it can be used again.
  std::string Finish();

  // A hasher in the same state as this one (everything added so far):
  // feeding both the same bytes gives the same digest. Costs a copy of the
  // state, not a pass over the bytes.
  Sha256 Clone() const;

 private:
  struct State;
  explicit Sha256(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// The 32-byte SHA-256 digest of `data`.
std::string Sha256Digest(absl::string_view data);

// The 20-byte SHA-1 digest of `data`. Only for name-based UUIDs (RFC 4122
// version 5), which are defined over SHA-1; never for integrity.
std::string Sha1DigestForUuid(absl::string_view data);

}  // namespace ota::common

#endif  // OTA_COMMON_CRYPTO_SHA256_H_
