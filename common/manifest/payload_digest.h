// Digests of a payload as the manifest declares them: the whole-image
// SHA-256 and one SHA-256 per fixed-size chunk, computed in one streaming
// pass with constant memory.
//
//   PayloadHasher hasher(kDefaultChunkSize);
//   while (read(fd, buf)) hasher.Update(buf);
//   PayloadDigests d = hasher.Finish();
//
// CheckPayloadDigests compares what was computed with what a manifest says,
// giving the stable reason of the first difference.
#ifndef OTA_COMMON_MANIFEST_PAYLOAD_DIGEST_H_
#define OTA_COMMON_MANIFEST_PAYLOAD_DIGEST_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/crypto/sha256.h"
#include "ota/v1/manifest.pb.h"

namespace ota::common {

// What a payload hashes to.
struct PayloadDigests {
  uint64_t size = 0;
  uint32_t chunk_size = 0;
  std::string sha256;                 // 32 raw bytes
  std::vector<std::string> chunks;    // 32 raw bytes each
};

// Streams a payload through SHA-256 and per-chunk SHA-256.
class PayloadHasher {
 public:
  // `chunk_size` must be positive.
  explicit PayloadHasher(uint32_t chunk_size);

  // Adds the next bytes of the payload.
  void Update(absl::string_view data);

  // The digests of everything added. The hasher must not be used after.
  PayloadDigests Finish();

 private:
  uint32_t chunk_size_;
  uint64_t size_ = 0;
  uint64_t in_chunk_ = 0;
  Sha256 whole_;
  Sha256 chunk_;
  std::vector<std::string> chunks_;
};

// The digests of the file at `path`. NOT_FOUND or INTERNAL (with the
// path and errno text) when it cannot be read.
absl::StatusOr<PayloadDigests> DigestFile(const std::string& path,
                                          uint32_t chunk_size);

// Writes size, sha256, chunk_size and chunk_sha256 into `payload`.
void SetPayloadDigests(const PayloadDigests& digests, ota::v1::Payload* payload);

// OK when `actual` matches `payload` exactly. Otherwise DATA_LOSS with
// REASON_PAYLOAD_SIZE_MISMATCH, REASON_CHUNK_DIGEST_MISMATCH (naming the
// first bad chunk) or REASON_PAYLOAD_DIGEST_MISMATCH, checked in that order.
absl::Status CheckPayloadDigests(const ota::v1::Payload& payload,
                                 const PayloadDigests& actual);

}  // namespace ota::common

#endif  // OTA_COMMON_MANIFEST_PAYLOAD_DIGEST_H_
