// Sha256Pair against OpenSSL's one-shot SHA-256. The input's first bytes
// choose a chunk size and a prefix fed to the second stream alone (so the
// streams stand at the same or at different block offsets); the rest is
// the payload, fed in pieces whose sizes the input also chooses. Every
// chunk's digest and the whole digest must equal the one-shot digests of
// the same bytes, and a snapshot taken mid-way must go on independently.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "common/crypto/bytes.h"
#include "common/crypto/sha256.h"
#include "common/crypto/sha256_pair.h"
#include "test/fuzz/invariant.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  // Odd first byte: chunks and prefix in whole blocks, as a downloader's
  // are, so whole blocks go through the interleaved path.
  const bool aligned = (data[0] & 1) != 0;
  const size_t chunk = aligned ? 64 * (1 + data[1] % 64) : 1 + data[1] * 17;
  const size_t prefix_size = aligned ? 64 * (data[2] % 3) : data[2] % 130;
  const uint8_t piece_seed = data[3];
  absl::string_view rest(reinterpret_cast<const char*>(data) + 4, size - 4);
  const size_t take = prefix_size < rest.size() ? prefix_size : rest.size();
  const absl::string_view prefix = rest.substr(0, take);
  const absl::string_view payload = rest.substr(take);

  ota::common::Sha256Pair pair;
  pair.UpdateSecond(prefix);
  ota::common::Sha256Pair snapshot;
  bool snapped = false;
  size_t snap_at = 0;
  size_t chunk_start = 0;
  size_t pos = 0;
  size_t piece = 1 + piece_seed;
  while (pos < payload.size()) {
    const size_t chunk_end = std::min(payload.size(), chunk_start + chunk);
    const size_t n = std::min(piece, chunk_end - pos);
    pair.Update(payload.substr(pos, n));
    pos += n;
    piece = 1 + (piece * 131 + 7) % 997;
    if (!snapped && pos * 2 >= payload.size()) {
      snapshot = pair;
      snapped = true;
      snap_at = pos;
    }
    if (pos == chunk_end) {
      const std::string want = ota::common::Sha256Digest(
          payload.substr(chunk_start, chunk_end - chunk_start));
      ota::fuzz::Require(pair.FinishFirst() == want, "a chunk digest differs",
                         ota::common::HexEncode(want));
      chunk_start = chunk_end;
    }
  }
  std::string whole(prefix);
  whole.append(payload.data(), payload.size());
  ota::fuzz::Require(pair.FinishSecond() == ota::common::Sha256Digest(whole),
                     "the whole digest differs");
  if (snapped) {
    snapshot.Update(payload.substr(snap_at));
    ota::fuzz::Require(snapshot.FinishSecond() == ota::common::Sha256Digest(whole),
                       "a snapshot's whole digest differs");
  }
  return 0;
}
