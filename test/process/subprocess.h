// A child process for cross-process tests: started with arguments, its
// standard output read line by line, stopped by signal.
//
//   auto otad = Subprocess::Start({"server/otad", "--grpc_address=127.0.0.1:0"});
//   absl::StatusOr<std::string> line =
//       (*otad)->WaitForLine("otad: HTTP listening on ", absl::Seconds(20));
//   (*otad)->Stop();   // SIGTERM, then wait
#ifndef OTA_TEST_PROCESS_SUBPROCESS_H_
#define OTA_TEST_PROCESS_SUBPROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace ota::testing {

// What a shell command printed on standard output, and its exit code
// (-1 when it did not exit normally).
struct CommandResult {
  int exit_code = -1;
  std::string output;
};

// Runs `command` with /bin/sh and waits for it.
CommandResult RunCommand(const std::string& command);

class Subprocess {
 public:
  // Starts argv[0] (a path) with `argv`; stderr goes to the test's stderr.
  static absl::StatusOr<std::unique_ptr<Subprocess>> Start(const std::vector<std::string>& argv);

  // Kills (SIGKILL) and reaps the child if it still runs.
  ~Subprocess();

  // Reads stdout until a line starting with `prefix` arrives and returns the
  // rest of that line. DEADLINE_EXCEEDED after `timeout`; UNAVAILABLE when
  // the child's output ends first.
  absl::StatusOr<std::string> WaitForLine(const std::string& prefix, absl::Duration timeout);

  // Sends `signal` and waits for the exit; returns the exit status as
  // waitpid reports it.
  int Stop(int signal = 15);

  pid_t pid() const { return pid_; }

 private:
  Subprocess(pid_t pid, int out) : pid_(pid), out_(out) {}
  pid_t pid_;
  int out_;
  std::string buffer_;
};

}  // namespace ota::testing

#endif  // OTA_TEST_PROCESS_SUBPROCESS_H_
