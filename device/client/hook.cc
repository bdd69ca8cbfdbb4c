#include "device/client/hook.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "absl/time/clock.h"

namespace ota::device {

HookResult HookRunner::Run(const std::string& path,
                           const std::map<std::string, std::string>& env) const {
  HookResult result;
  if (path.empty()) return result;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    result.verdict = HookResult::kRefuse;
    result.output = "cannot create a pipe for the hook";
    return result;
  }
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    setpgid(0, 0);
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    execl(path.c_str(), path.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  if (pid < 0) {
    close(fds[0]);
    result.verdict = HookResult::kRefuse;
    result.output = "cannot fork for the hook";
    return result;
  }
  const absl::Time deadline = absl::Now() + timeout_;
  std::string output;
  bool eof = false;
  int status = 0;
  bool exited = false;
  while (!exited) {
    int left = static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()));
    if (left <= 0) break;
    if (!eof) {
      pollfd p{fds[0], POLLIN, 0};
      if (poll(&p, 1, left < 100 ? left : 100) > 0) {
        char buf[512];
        ssize_t n = read(fds[0], buf, sizeof(buf));
        if (n > 0) {
          output.append(buf, n);
          if (output.size() > 4096) output.erase(0, output.size() - 4096);
        } else if (n == 0) {
          eof = true;
        }
      }
    } else {
      absl::SleepFor(absl::Milliseconds(10));
    }
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) exited = true;
  }
  if (!exited) {
    kill(-pid, SIGKILL);
    waitpid(pid, &status, 0);
    close(fds[0]);
    result.verdict = HookResult::kTimeout;
    result.output = output.size() > 400 ? output.substr(output.size() - 400) : output;
    return result;
  }
  // Drain what is left, without waiting on a child the hook left behind.
  fcntl(fds[0], F_SETFL, O_NONBLOCK);
  char buf[512];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0) output.append(buf, n);
  close(fds[0]);
  result.output = output.size() > 400 ? output.substr(output.size() - 400) : output;
  result.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (result.exit_status == 0) {
    result.verdict = HookResult::kGo;
  } else if (result.exit_status == kHookDeferStatus) {
    result.verdict = HookResult::kDefer;
  } else {
    result.verdict = HookResult::kRefuse;
  }
  return result;
}

}  // namespace ota::device
