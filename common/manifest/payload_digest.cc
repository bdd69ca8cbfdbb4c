#include "common/manifest/payload_digest.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/base/check.h"
#include "common/crypto/bytes.h"
#include "common/status/reason.h"

namespace ota::common {

PayloadHasher::PayloadHasher(uint32_t chunk_size) : chunk_size_(chunk_size) {
  OTA_CHECK(chunk_size > 0);
}

void PayloadHasher::Update(absl::string_view data) {
  whole_.Update(data);
  size_ += data.size();
  while (!data.empty()) {
    size_t take = std::min<uint64_t>(data.size(), chunk_size_ - in_chunk_);
    chunk_.Update(data.substr(0, take));
    in_chunk_ += take;
    data.remove_prefix(take);
    if (in_chunk_ == chunk_size_) {
      chunks_.push_back(chunk_.Finish());
      in_chunk_ = 0;
    }
  }
}

PayloadDigests PayloadHasher::Finish() {
  if (in_chunk_ > 0) chunks_.push_back(chunk_.Finish());
  PayloadDigests d;
  d.size = size_;
  d.chunk_size = chunk_size_;
  d.sha256 = whole_.Finish();
  d.chunks = std::move(chunks_);
  return d;
}

absl::StatusOr<PayloadDigests> DigestFile(const std::string& path,
                                          uint32_t chunk_size) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    std::string msg = absl::StrCat("cannot open ", path, ": ", strerror(err));
    return err == ENOENT ? absl::NotFoundError(msg) : absl::InternalError(msg);
  }
  PayloadHasher hasher(chunk_size);
  std::string buf(1 << 20, '\0');
  while (true) {
    ssize_t n = read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      close(fd);
      return absl::InternalError(
          absl::StrCat("cannot read ", path, ": ", strerror(err)));
    }
    if (n == 0) break;
    hasher.Update(absl::string_view(buf.data(), n));
  }
  close(fd);
  return hasher.Finish();
}

void SetPayloadDigests(const PayloadDigests& digests,
                       ota::v1::Payload* payload) {
  payload->set_size(digests.size);
  payload->set_sha256(digests.sha256);
  payload->set_chunk_size(digests.chunk_size);
  payload->clear_chunk_sha256();
  for (const std::string& c : digests.chunks) payload->add_chunk_sha256(c);
}

absl::Status CheckPayloadDigests(const ota::v1::Payload& payload,
                                 const PayloadDigests& actual) {
  if (actual.size != payload.size()) {
    return ReasonError(absl::StatusCode::kDataLoss,
                       ota::v1::REASON_PAYLOAD_SIZE_MISMATCH,
                       absl::StrCat("payload is ", actual.size,
                                    " bytes, the manifest declares ",
                                    payload.size()));
  }
  if (actual.chunk_size == payload.chunk_size()) {
    size_t n = std::min<size_t>(actual.chunks.size(), payload.chunk_sha256_size());
    for (size_t i = 0; i < n; ++i) {
      if (!ConstantTimeEquals(actual.chunks[i], payload.chunk_sha256(i))) {
        return ReasonError(
            absl::StatusCode::kDataLoss, ota::v1::REASON_CHUNK_DIGEST_MISMATCH,
            absl::StrCat("chunk ", i, " sha256 is ", HexEncode(actual.chunks[i]),
                         ", the manifest declares ",
                         HexEncode(payload.chunk_sha256(i))));
      }
    }
  }
  if (!ConstantTimeEquals(actual.sha256, payload.sha256())) {
    return ReasonError(absl::StatusCode::kDataLoss,
                       ota::v1::REASON_PAYLOAD_DIGEST_MISMATCH,
                       absl::StrCat("payload sha256 is ", HexEncode(actual.sha256),
                                    ", the manifest declares ",
                                    HexEncode(payload.sha256())));
  }
  return absl::OkStatus();
}

}  // namespace ota::common
