#include "device/slots/script_block_device.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

extern char** environ;

namespace ota::device {
namespace {

absl::Status Errno(absl::string_view what, int err) {
  return absl::InternalError(absl::StrCat(what, ": ", strerror(err)));
}

// The process environment without `drop`'s variables, plus `add`.
std::vector<std::string> Environment(const std::vector<std::string>& drop,
                                     const std::vector<std::string>& add) {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    absl::string_view entry(*e);
    bool dropped = false;
    for (const std::string& name : drop) {
      dropped = dropped || absl::StartsWith(entry, absl::StrCat(name, "="));
    }
    if (!dropped) env.emplace_back(entry);
  }
  env.insert(env.end(), add.begin(), add.end());
  return env;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ScriptBlockDevice>> ScriptBlockDevice::Open(
    Options options) {
  if (options.command.empty()) {
    return absl::InvalidArgumentError("activation command is empty");
  }
  if (options.read_path.empty()) {
    return absl::InvalidArgumentError("slot read path is empty");
  }
  if (options.timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("activation timeout must be positive, got ",
                     absl::FormatDuration(options.timeout)));
  }
  absl::StatusOr<std::unique_ptr<FileBlockDevice>> reader =
      FileBlockDevice::Open(options.read_path,
                            FileBlockDevice::Mode::kReadOnly);
  if (!reader.ok()) return reader.status();
  absl::StatusOr<uint64_t> size = (*reader)->Size();
  if (!size.ok()) return size.status();
  return std::unique_ptr<ScriptBlockDevice>(
      new ScriptBlockDevice(std::move(options), *std::move(reader), *size));
}

ScriptBlockDevice::ScriptBlockDevice(Options options,
                                     std::unique_ptr<FileBlockDevice> reader,
                                     uint64_t size)
    : options_(std::move(options)), reader_(std::move(reader)), size_(size) {}

ScriptBlockDevice::~ScriptBlockDevice() { DropStaged(); }

absl::StatusOr<uint64_t> ScriptBlockDevice::Size() const { return size_; }

absl::Status ScriptBlockDevice::Read(uint64_t offset, char* buf,
                                     size_t len) const {
  return reader_->Read(offset, buf, len);
}

absl::Status ScriptBlockDevice::Write(uint64_t offset, absl::string_view data) {
  if (absl::Status s = CheckBlockRange("write", options_.read_path, offset,
                                       data.size(), size_);
      !s.ok()) {
    return s;
  }
  if (staged_fd_ < 0) {
    std::string path = absl::StrCat(options_.staging_dir, "/ota-slot-XXXXXX");
    int fd = mkostemp(path.data(), O_CLOEXEC);
    if (fd < 0) {
      return Errno(absl::StrCat("cannot create a staging file in ",
                                options_.staging_dir),
                   errno);
    }
    staged_fd_ = fd;
    staged_path_ = path;
  }
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = pwrite(staged_fd_, data.data() + done, data.size() - done,
                       static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno(absl::StrCat("cannot write ", staged_path_), errno);
    }
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status ScriptBlockDevice::Flush() {
  if (staged_fd_ < 0) return absl::OkStatus();
  if (absl::Status s = RunCommand(); !s.ok()) return s;
  DropStaged();
  // The command may have replaced the node (a new file, a re-created
  // device): read what is there now.
  absl::StatusOr<std::unique_ptr<FileBlockDevice>> reader =
      FileBlockDevice::Open(options_.read_path,
                            FileBlockDevice::Mode::kReadOnly);
  if (!reader.ok()) return reader.status();
  reader_ = *std::move(reader);
  return absl::OkStatus();
}

void ScriptBlockDevice::DropStaged() {
  if (staged_fd_ < 0) return;
  close(staged_fd_);
  unlink(staged_path_.c_str());
  staged_fd_ = -1;
  staged_path_.clear();
}

absl::Status ScriptBlockDevice::RunCommand() const {
  // Everything the child needs is built before it is spawned.
  std::vector<std::string> env =
      Environment({"UPDATE_SLOT_MTD", "FIRMWARE"},
                  {absl::StrCat("UPDATE_SLOT_MTD=", options_.slot_mtd),
                   absl::StrCat("FIRMWARE=", staged_path_)});
  std::vector<char*> envp;
  for (std::string& entry : env) envp.push_back(entry.data());
  envp.push_back(nullptr);
  std::string sh = "sh", dash_c = "-c", command = options_.command;
  char* argv[] = {sh.data(), dash_c.data(), command.data(), nullptr};
  const std::string what = absl::StrCat("activation command `", command, "`");

  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0)
    return Errno("cannot make a pipe", errno);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Its own process group, so a timeout kills whatever the script started.
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
                                      POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t signals;
  sigemptyset(&signals);
  posix_spawnattr_setsigmask(&attr, &signals);
  sigfillset(&signals);
  posix_spawnattr_setsigdefault(&attr, &signals);
  pid_t pid;
  int rc = posix_spawn(&pid, "/bin/sh", &actions, &attr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(pipe_fds[1]);
  if (rc != 0) {
    close(pipe_fds[0]);
    return Errno(absl::StrCat("cannot start ", what), rc);
  }

  // Collects the tail of stderr until it closes, then waits for the exit;
  // both within the timeout.
  const auto deadline =
      std::chrono::steady_clock::now() +
      std::chrono::milliseconds(absl::ToInt64Milliseconds(options_.timeout));
  std::string tail;
  bool stderr_open = true;
  bool exited = false;
  int wait_status = 0;
  absl::Status failure;
  while (failure.ok() && !exited) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      failure = absl::DeadlineExceededError(absl::StrCat(
          what, " timed out after ", absl::FormatDuration(options_.timeout),
          " and was killed"));
      break;
    }
    if (stderr_open) {
      pollfd p = {pipe_fds[0], POLLIN, 0};
      int ready = poll(
          &p, 1, static_cast<int>(std::min<int64_t>(left.count(), 1 << 30)));
      if (ready < 0 && errno != EINTR) {
        failure = Errno("cannot poll the activation command's stderr", errno);
      } else if (ready > 0) {
        char buf[4096];
        ssize_t n = read(pipe_fds[0], buf, sizeof(buf));
        if (n > 0) {
          tail.append(buf, static_cast<size_t>(n));
          if (tail.size() > options_.stderr_tail_bytes) {
            tail.erase(0, tail.size() - options_.stderr_tail_bytes);
          }
        } else if (n == 0 || errno != EINTR) {
          stderr_open = false;
        }
      }
      continue;
    }
    pid_t waited = waitpid(pid, &wait_status, WNOHANG);
    if (waited == pid) {
      exited = true;
    } else if (waited < 0 && errno != EINTR) {
      failure = Errno("cannot wait for the activation command", errno);
    } else {
      // stderr is closed but the command runs on: look again shortly.
      timespec pause = {0, 5 * 1000 * 1000};
      nanosleep(&pause, nullptr);
    }
  }
  close(pipe_fds[0]);
  if (!exited) {
    kill(-pid, SIGKILL);
    while (waitpid(pid, &wait_status, 0) < 0 && errno == EINTR) {
    }
  }
  absl::string_view stderr_tail = absl::StripAsciiWhitespace(tail);
  std::string detail =
      stderr_tail.empty() ? "" : absl::StrCat("; stderr: ", stderr_tail);
  if (!failure.ok()) {
    return absl::Status(failure.code(),
                        absl::StrCat(failure.message(), detail));
  }
  if (WIFSIGNALED(wait_status)) {
    return absl::InternalError(absl::StrCat(what, " was killed by signal ",
                                            WTERMSIG(wait_status), detail));
  }
  if (WEXITSTATUS(wait_status) != 0) {
    return absl::InternalError(absl::StrCat(what, " exited with status ",
                                            WEXITSTATUS(wait_status), detail));
  }
  return absl::OkStatus();
}

}  // namespace ota::device
