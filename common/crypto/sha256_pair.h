// Two SHA-256 streams fed the same bytes in one pass: a payload's current
// chunk and the whole payload, which a downloader hashes side by side.
//
//   ota::common::Sha256Pair pair;
//   pair.Update(bytes);                        // into both streams
//   std::string chunk = pair.FinishFirst();   // the first restarts empty
//   ...
//   std::string whole = pair.FinishSecond();
//
// SHA-256 is a chain: each 64-byte block's rounds wait for the previous
// ones, so one stream leaves most of a core's hashing units idle. When both
// streams stand at the same offset within a block (always, for chunks
// whose size is a multiple of 64), whole blocks go through both chains
// interleaved, sharing the message schedule: on a CPU with the x86 SHA
// extensions the two digests cost about what one does. Elsewhere, and for
// unaligned streams, each stream is updated in turn by OpenSSL's own
// SHA-256 (so never slower than two Sha256 objects).
//
// A Sha256Pair is a plain value: copying it (=) snapshots both streams,
// which is how a chunk that fails its check is taken back out.
#ifndef OTA_COMMON_CRYPTO_SHA256_PAIR_H_
#define OTA_COMMON_CRYPTO_SHA256_PAIR_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace ota::common {

class Sha256Pair {
 public:
  Sha256Pair();

  // Adds `data` to both streams.
  void Update(absl::string_view data);
  // Adds `data` to the second stream only.
  void UpdateSecond(absl::string_view data);

  // The 32-byte digest of everything the first (second) stream was fed;
  // that stream then starts over empty. The other is untouched.
  std::string FinishFirst();
  std::string FinishSecond();

  // Whether this machine hashes the two streams together (the x86 SHA
  // extensions are there).
  static bool Interleaved();

 private:
  // Each stream: OpenSSL's SHA256_CTX, kept as bytes so that this header
  // names no OpenSSL type (the .cc checks the size and alignment).
  struct alignas(8) Stream {
    unsigned char bytes[112];
  };
  Stream first_;
  Stream second_;
};

}  // namespace ota::common

#endif  // OTA_COMMON_CRYPTO_SHA256_PAIR_H_
