#include "server/blobs/blob_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/base/file.h"
#include "common/crypto/bytes.h"

namespace ota::server {
namespace {

absl::Status Errno(absl::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat("cannot ", what, " ", path, ": ", strerror(errno)));
}

absl::Status SyncDir(const std::string& dir) {
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("open", dir);
  int rc = fsync(fd);
  close(fd);
  if (rc != 0) return Errno("sync", dir);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<BlobStore>> BlobStore::Open(const std::string& root) {
  for (const std::string& dir : {root + "/sha256", root + "/partial"}) {
    if (absl::Status s = common::MakeDirs(dir); !s.ok()) return s;
  }
  return std::unique_ptr<BlobStore>(new BlobStore(root));
}

bool BlobStore::IsDigest(absl::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string BlobStore::BlobPath(absl::string_view sha) const {
  return absl::StrCat(root_, "/sha256/", sha.substr(0, 2), "/", sha);
}

std::string BlobStore::PartialPath(absl::string_view sha) const {
  return absl::StrCat(root_, "/partial/", sha);
}

bool BlobStore::Exists(absl::string_view sha) const {
  return IsDigest(sha) && common::PathExists(BlobPath(sha));
}

absl::StatusOr<uint64_t> BlobStore::Size(absl::string_view sha) const {
  struct stat st;
  if (!IsDigest(sha) || stat(BlobPath(sha).c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat("no blob ", sha));
  }
  return static_cast<uint64_t>(st.st_size);
}

uint64_t BlobStore::PartialSize(absl::string_view sha) const {
  struct stat st;
  if (!IsDigest(sha) || stat(PartialPath(sha).c_str(), &st) != 0) return 0;
  return static_cast<uint64_t>(st.st_size);
}

absl::StatusOr<std::unique_ptr<BlobWriter>> BlobStore::StartUpload(absl::string_view sha,
                                                                   uint64_t size,
                                                                   uint64_t offset) {
  if (!IsDigest(sha)) {
    return absl::InvalidArgumentError(absl::StrCat("\"", sha, "\" is not a lowercase hex SHA-256"));
  }
  uint64_t on_disk = PartialSize(sha);
  if (offset > on_disk) {
    return absl::InvalidArgumentError(
        absl::StrCat("offset ", offset, " is past the ", on_disk, " bytes received"));
  }
  if (offset > size) {
    return absl::InvalidArgumentError(
        absl::StrCat("offset ", offset, " is past the declared size ", size));
  }
  const std::string path = PartialPath(sha);
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("open", path);
  if (ftruncate(fd, static_cast<off_t>(offset)) != 0) {
    close(fd);
    return Errno("truncate", path);
  }
  common::Sha256 hasher;
  std::string buf(1 << 20, '\0');
  uint64_t done = 0;
  while (done < offset) {
    ssize_t n = pread(fd, buf.data(), std::min<uint64_t>(buf.size(), offset - done),
                      static_cast<off_t>(done));
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      close(fd);
      return Errno("read", path);
    }
    hasher.Update(absl::string_view(buf.data(), n));
    done += n;
  }
  if (lseek(fd, static_cast<off_t>(offset), SEEK_SET) < 0) {
    close(fd);
    return Errno("seek", path);
  }
  return std::unique_ptr<BlobWriter>(
      new BlobWriter(this, std::string(sha), size, fd, offset, std::move(hasher)));
}

absl::Status BlobStore::Delete(absl::string_view sha) {
  if (!IsDigest(sha)) {
    return absl::InvalidArgumentError(absl::StrCat("\"", sha, "\" is not a lowercase hex SHA-256"));
  }
  for (const std::string& path : {BlobPath(sha), PartialPath(sha)}) {
    if (unlink(path.c_str()) != 0 && errno != ENOENT) return Errno("remove", path);
  }
  return absl::OkStatus();
}

BlobWriter::~BlobWriter() {
  if (fd_ >= 0) close(fd_);
}

absl::Status BlobWriter::Append(absl::string_view data) {
  if (written_ + data.size() > size_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "upload passes the declared size ", size_, " (", written_ + data.size(), " bytes sent)"));
  }
  const char* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    ssize_t n = write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("write", store_->PartialPath(sha_));
    }
    p += n;
    left -= n;
  }
  hasher_.Update(data);
  written_ += data.size();
  return absl::OkStatus();
}

absl::Status BlobWriter::Sync() {
  if (fdatasync(fd_) != 0) return Errno("sync", store_->PartialPath(sha_));
  return absl::OkStatus();
}

absl::Status BlobWriter::Finish() {
  if (written_ != size_) {
    return absl::FailedPreconditionError(
        absl::StrCat("upload has ", written_, " of ", size_, " bytes"));
  }
  const std::string partial = store_->PartialPath(sha_);
  std::string actual = common::HexEncode(hasher_.Finish());
  if (actual != sha_) {
    close(fd_);
    fd_ = -1;
    unlink(partial.c_str());
    return absl::DataLossError(
        absl::StrCat("uploaded bytes hash to ", actual, ", not the declared ", sha_));
  }
  if (absl::Status s = Sync(); !s.ok()) return s;
  close(fd_);
  fd_ = -1;
  const std::string final_path = store_->BlobPath(sha_);
  const std::string dir = final_path.substr(0, final_path.rfind('/'));
  if (absl::Status s = common::MakeDirs(dir); !s.ok()) return s;
  if (rename(partial.c_str(), final_path.c_str()) != 0) return Errno("rename onto", final_path);
  if (absl::Status s = SyncDir(dir); !s.ok()) return s;
  return SyncDir(store_->root() + "/partial");
}

}  // namespace ota::server
