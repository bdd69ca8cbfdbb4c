// The A/B update pipeline of ota-device: one deployment at a time, every
// step journaled (fsync + rename) before the next begins, so a restart or a
// power cut at any instant resumes where it was.
//
//   verify manifest -> check applicability -> download hook -> mark target
//   slot unbootable -> download into it, chunk by chunk -> read the slot
//   back and check its SHA-256 -> install hook -> switch the boot header to
//   the target as a trial -> reboot -> (next start) health hook -> commit,
//   or roll back.
//
// Every transition is reported through the outbox with the stable states
// and reason codes of proto/ota/v1.
//
//   Updater updater(deps);
//   updater.Recover();             // at start: finish what the journal says
//   updater.Run(deployment);       // for each deployment the server sends
#ifndef OTA_DEVICE_CLIENT_UPDATER_H_
#define OTA_DEVICE_CLIENT_UPDATER_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "common/base/clock.h"
#include "common/manifest/trust_store.h"
#include "device/client/boot_control.h"
#include "device/client/hook.h"
#include "device/client/persistent.h"
#include "device/client/rebooter.h"
#include "device/client/state.pb.h"
#include "device/download/downloader.h"
#include "device/slots/block_device.h"
#include "ota/v1/device.pb.h"

namespace ota::device {

// Everything the pipeline touches; nothing owned.
struct UpdaterDeps {
  const DeviceConfig* config;
  const common::TrustStore* trust;
  BootControl* boot;
  BlockDevice* slots[2];
  // When set, the payload is downloaded and verified here and copied into
  // the slot at install time with a single Flush (for slots written by an
  // activation script); when null it goes straight into the slot.
  BlockDevice* staging = nullptr;
  PayloadDownloader* downloader;
  HookRunner* hooks;
  Rebooter* rebooter;
  ReportOutbox* outbox;
  ProtoFile<Journal>* journal;
  ProtoFile<Installed>* installed;
  const common::Clock* clock;
  // Set to stop a download early (the daemon is shutting down).
  const std::atomic<bool>* cancel = nullptr;
};

// How Run or Recover ended.
enum class Outcome {
  kIdle,        // nothing to do
  kRejected,    // the deployment was refused before any change (reported)
  kFailed,      // a step failed; the old image runs untouched (reported)
  kDeferred,    // a hook said "not now"; the journal keeps the place
  kRebooting,   // the new image is staged as a trial; a reboot was asked for
  kSucceeded,   // the new image runs and is committed
  kRolledBack,  // the new image was abandoned; the old one runs
  kInterrupted, // storage failed or the run was cancelled; resume later
};

class Updater {
 public:
  explicit Updater(UpdaterDeps deps) : deps_(deps) {}

  // At start: reads the journal and finishes what it describes: after the
  // trial reboot, runs the health hook and commits or rolls back; in the
  // middle of a download or before activation, resumes the deployment.
  Outcome Recover();

  // Runs `deployment` as far as it can go now. A deployment already in the
  // journal with the same id resumes; another one while a deployment is in
  // progress is rejected with REASON_WRONG_STATE.
  Outcome Run(const ota::v1::Deployment& deployment);

  // What runs now: the committed image, or the trial one.
  ota::v1::InstalledImage Current() const;

 private:
  Outcome Continue(Journal journal);
  Outcome AfterReboot(const Journal& journal);
  // Adds a report; `installed` overrides Current() as what the device runs
  // (a rollback reports the image it returns to).
  void Report(const Journal& journal, ota::v1::DeploymentState state,
              ota::v1::ReasonCode reason, const std::string& message,
              uint64_t bytes_done = 0, uint64_t bytes_total = 0,
              const ota::v1::InstalledImage* installed = nullptr);
  Outcome Finish(const Journal& journal, ota::v1::DeploymentState state,
                 ota::v1::ReasonCode reason, const std::string& message, Outcome outcome);
  // The device the payload is downloaded into.
  BlockDevice* DownloadTarget(int slot) const {
    return deps_.staging != nullptr ? deps_.staging : deps_.slots[slot];
  }
  absl::Status VerifyDownload(const BlockDevice& device, const ota::v1::Payload& payload);
  absl::Status CopyIntoSlot(int slot, const ota::v1::Payload& payload);

  UpdaterDeps deps_;
};

}  // namespace ota::device

#endif  // OTA_DEVICE_CLIENT_UPDATER_H_
