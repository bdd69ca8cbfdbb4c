#include "device/slots/file_block_device.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <mtd/mtd-user.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace ota::device {
namespace {

// Linux's character-device major number for /dev/mtdN.
constexpr unsigned kMtdCharMajor = 90;

// How many contiguous written bytes make writeback start.
constexpr uint64_t kWritebackBatch = 2 << 20;

absl::Status Errno(absl::string_view what, const std::string& path, int err) {
  std::string msg =
      absl::StrCat("cannot ", what, " ", path, ": ", strerror(err));
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(msg);
    case EACCES:
    case EPERM:
    case EROFS:
      return absl::PermissionDeniedError(msg);
    default:
      return absl::InternalError(msg);
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<FileBlockDevice>> FileBlockDevice::Open(
    const std::string& path, Mode mode) {
  int flags = (mode == Mode::kReadOnly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
  int fd = open(path.c_str(), flags);
  if (fd < 0) return Errno("open", path, errno);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    return Errno("stat", path, err);
  }
  uint64_t size = 0;
  absl::Status status;
  if (S_ISREG(st.st_mode)) {
    size = static_cast<uint64_t>(st.st_size);
  } else if (S_ISBLK(st.st_mode)) {
    if (ioctl(fd, BLKGETSIZE64, &size) != 0) {
      status = Errno("get the size (BLKGETSIZE64) of", path, errno);
    }
  } else if (S_ISCHR(st.st_mode) && major(st.st_rdev) == kMtdCharMajor) {
    // pwrite on raw NAND without an erase corrupts it silently.
    if (mode != Mode::kReadOnly) {
      status = absl::FailedPreconditionError(
          absl::StrCat(path,
                       " is a raw MTD device: it must be erased before it is "
                       "written, so it opens read-only here"));
    } else {
      mtd_info_user info;
      if (ioctl(fd, MEMGETINFO, &info) != 0) {
        status = Errno("get the size (MEMGETINFO) of", path, errno);
      } else {
        size = info.size;
      }
    }
  } else {
    status = absl::InvalidArgumentError(absl::StrCat(
        path, " is neither a regular file, a block device nor an MTD device"));
  }
  if (!status.ok()) {
    close(fd);
    return status;
  }
  return std::unique_ptr<FileBlockDevice>(
      new FileBlockDevice(path, fd, size, mode));
}

absl::StatusOr<std::unique_ptr<FileBlockDevice>> FileBlockDevice::Create(
    const std::string& path, uint64_t size) {
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    if (errno == EEXIST) {
      return absl::AlreadyExistsError(absl::StrCat(path, " already exists"));
    }
    return Errno("create", path, errno);
  }
  // Reserved blocks: writing the image later allocates nothing and cannot
  // run out of space halfway. A file system without fallocate gets a
  // sparse file.
  bool reserved = size == 0 || fallocate(fd, 0, 0, static_cast<off_t>(size)) == 0;
  if (!reserved && errno == ENOSPC) {
    close(fd);
    unlink(path.c_str());
    return Errno("reserve space for", path, ENOSPC);
  }
  if ((!reserved && ftruncate(fd, static_cast<off_t>(size)) != 0) || fsync(fd) != 0) {
    int err = errno;
    close(fd);
    unlink(path.c_str());
    return Errno("size", path, err);
  }
  return std::unique_ptr<FileBlockDevice>(
      new FileBlockDevice(path, fd, size, Mode::kReadWrite));
}

FileBlockDevice::FileBlockDevice(std::string path, int fd, uint64_t size,
                                 Mode mode)
    : path_(std::move(path)), fd_(fd), size_(size), mode_(mode) {}

FileBlockDevice::~FileBlockDevice() { close(fd_); }

absl::StatusOr<uint64_t> FileBlockDevice::Size() const { return size_; }

absl::Status FileBlockDevice::Read(uint64_t offset, char* buf,
                                   size_t len) const {
  if (absl::Status s = CheckBlockRange("read", path_, offset, len, size_);
      !s.ok()) {
    return s;
  }
  size_t done = 0;
  while (done < len) {
    ssize_t n =
        pread(fd_, buf + done, len - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("read", path_, errno);
    }
    if (n == 0) {
      return absl::DataLossError(
          absl::StrCat(path_, " ended at ", offset + done, " while ", size_,
                       " bytes were expected: it shrank after it was opened"));
    }
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status FileBlockDevice::Write(uint64_t offset, absl::string_view data) {
  if (mode_ == Mode::kReadOnly) {
    return absl::FailedPreconditionError(
        absl::StrCat(path_, " is open read-only"));
  }
  if (absl::Status s =
          CheckBlockRange("write", path_, offset, data.size(), size_);
      !s.ok()) {
    return s;
  }
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = pwrite(fd_, data.data() + done, data.size() - done,
                       static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("write", path_, errno);
    }
    done += static_cast<size_t>(n);
  }
  if (offset != dirty_end_) {
    StartWriteback();
    dirty_begin_ = offset;
  }
  dirty_end_ = offset + data.size();
  if (dirty_end_ - dirty_begin_ >= kWritebackBatch) StartWriteback();
  return absl::OkStatus();
}

void FileBlockDevice::StartWriteback() {
  if (writeback_hints_ && dirty_end_ > dirty_begin_) {
    // Only a hint: an error here shows again at the next fdatasync.
    if (sync_file_range(fd_, static_cast<off_t>(dirty_begin_),
                        static_cast<off_t>(dirty_end_ - dirty_begin_),
                        SYNC_FILE_RANGE_WRITE) != 0 &&
        (errno == ESPIPE || errno == EINVAL || errno == ENOSYS)) {
      writeback_hints_ = false;
    }
  }
  dirty_begin_ = dirty_end_;
}

absl::Status FileBlockDevice::Flush() {
  if (mode_ == Mode::kReadOnly) return absl::OkStatus();
  while (fdatasync(fd_) != 0) {
    if (errno != EINTR) return Errno("sync", path_, errno);
  }
  return absl::OkStatus();
}

}  // namespace ota::device
