// Content-addressed payload storage on local disk.
//
// A finished blob lives at <root>/sha256/<first two hex>/<sha256 hex>, named
// by the SHA-256 of its bytes; it is never modified, only deleted. An upload
// in progress lives at <root>/partial/<sha256 hex>. Writing goes: partial
// file, fsync, digest check, rename into place, fsync of the directory; a
// crash at any point leaves either a resumable partial file or the finished
// blob, never a wrong blob under a digest's name.
//
//   auto store = BlobStore::Open("/var/lib/otad/blobs");
//   auto writer = (*store)->StartUpload(sha, size, (*store)->PartialSize(sha));
//   (*writer)->Append(bytes);
//   absl::Status s = (*writer)->Finish();   // DATA_LOSS on a digest mismatch
#ifndef OTA_SERVER_BLOBS_BLOB_STORE_H_
#define OTA_SERVER_BLOBS_BLOB_STORE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/crypto/sha256.h"

namespace ota::server {

class BlobStore;

// One upload in progress. Not thread-safe; one writer per digest at a time
// (the caller serializes).
class BlobWriter {
 public:
  ~BlobWriter();

  // Appends `data` at the current end. INVALID_ARGUMENT, and nothing
  // written, when it would pass the declared size.
  absl::Status Append(absl::string_view data);

  // Flushes what was appended to stable storage, so a later upload can
  // resume from bytes_written().
  absl::Status Sync();

  // Bytes in the partial file so far.
  uint64_t bytes_written() const { return written_; }

  // When all declared bytes are in: checks their SHA-256 against the
  // declared one and moves the blob into place. DATA_LOSS, and the partial
  // file removed, on a mismatch; FAILED_PRECONDITION when bytes are missing.
  absl::Status Finish();

 private:
  friend class BlobStore;
  BlobWriter(const BlobStore* store, std::string sha256_hex, uint64_t size, int fd,
             uint64_t written, common::Sha256 hasher)
      : store_(store), sha_(std::move(sha256_hex)), size_(size), fd_(fd),
        written_(written), hasher_(std::move(hasher)) {}

  const BlobStore* store_;
  std::string sha_;
  uint64_t size_;
  int fd_;
  uint64_t written_;
  common::Sha256 hasher_;
};

class BlobStore {
 public:
  // Creates the folders under `root` when missing. INTERNAL when it cannot.
  static absl::StatusOr<std::unique_ptr<BlobStore>> Open(const std::string& root);

  // True when `sha256_hex` names a 64-character lowercase hex digest; only
  // such names ever reach the file system.
  static bool IsDigest(absl::string_view sha256_hex);

  // Where the finished blob is (whether or not it exists).
  std::string BlobPath(absl::string_view sha256_hex) const;

  // True when the finished blob exists.
  bool Exists(absl::string_view sha256_hex) const;

  // Size of the finished blob; NOT_FOUND when missing.
  absl::StatusOr<uint64_t> Size(absl::string_view sha256_hex) const;

  // Bytes of a partial upload on disk (0 when none).
  uint64_t PartialSize(absl::string_view sha256_hex) const;

  // Opens the partial file to write from `offset` (at most PartialSize();
  // bytes past it are discarded). The bytes before `offset` are read once to
  // seed the digest, so resuming never re-hashes later. INVALID_ARGUMENT for
  // a bad digest name or an offset past what is on disk.
  absl::StatusOr<std::unique_ptr<BlobWriter>> StartUpload(absl::string_view sha256_hex,
                                                          uint64_t size,
                                                          uint64_t offset);

  // Removes the finished blob and any partial file. OK when neither exists.
  absl::Status Delete(absl::string_view sha256_hex);

  const std::string& root() const { return root_; }

 private:
  friend class BlobWriter;
  explicit BlobStore(std::string root) : root_(std::move(root)) {}
  std::string PartialPath(absl::string_view sha256_hex) const;

  std::string root_;
};

}  // namespace ota::server

#endif  // OTA_SERVER_BLOBS_BLOB_STORE_H_
