// Application hooks: executables the device asks before it downloads,
// before it installs, and after the trial boot (health). A hook answers by
// its exit status: 0 go on, 75 (EX_TEMPFAIL) not now (a critical operation
// runs), anything else refuse. A hook that does not finish within its
// timeout is killed and counts as a timeout.
//
//   HookRunner hooks(absl::Seconds(30));
//   HookResult r = hooks.Run("/etc/ota/install-hook", {{"OTA_VERSION", "2.0.0"}});
#ifndef OTA_DEVICE_CLIENT_HOOK_H_
#define OTA_DEVICE_CLIENT_HOOK_H_

#include <map>
#include <string>

#include "absl/time/time.h"

namespace ota::device {

struct HookResult {
  enum Verdict { kGo, kDefer, kRefuse, kTimeout };
  Verdict verdict = kGo;
  int exit_status = 0;
  // The last few hundred bytes the hook wrote to stdout and stderr.
  std::string output;
};

inline constexpr int kHookDeferStatus = 75;

class HookRunner {
 public:
  explicit HookRunner(absl::Duration timeout) : timeout_(timeout) {}

  // Runs `path` with `env` added to the environment. An empty path is a
  // hook that always says go. A path that cannot run refuses.
  HookResult Run(const std::string& path, const std::map<std::string, std::string>& env) const;

 private:
  absl::Duration timeout_;
};

}  // namespace ota::device

#endif  // OTA_DEVICE_CLIENT_HOOK_H_
