#include "device/client/updater.h"

#include <functional>

#include "absl/strings/str_cat.h"
#include "common/crypto/bytes.h"
#include "common/crypto/sha256.h"
#include "common/manifest/manifest.h"
#include "common/manifest/payload_digest.h"
#include "common/manifest/policy.h"
#include "common/manifest/uuid.h"
#include "common/manifest/verifier.h"
#include "common/status/reason.h"

namespace ota::device {
namespace {

using ota::v1::DeploymentState;
using ota::v1::ReasonCode;

int SlotIndex(const std::string& name) { return name == "b" ? 1 : 0; }

std::map<std::string, std::string> HookEnv(const Journal& j, const ota::v1::Manifest& m,
                                           const std::string& step) {
  return {{"OTA_STEP", step},
          {"OTA_DEPLOYMENT_ID", j.deployment_id()},
          {"OTA_CAMPAIGN_ID", j.campaign_id()},
          {"OTA_VERSION", m.version()},
          {"OTA_SEQUENCE", absl::StrCat(m.sequence_number())},
          {"OTA_TARGET_SLOT", j.target_slot()}};
}

ReasonCode HookReason(const HookResult& r) {
  return r.verdict == HookResult::kTimeout ? ota::v1::REASON_HOOK_TIMEOUT
                                           : ota::v1::REASON_HOOK_REFUSED;
}

std::string HookMessage(const std::string& which, const HookResult& r) {
  std::string verdict = r.verdict == HookResult::kTimeout
                            ? "did not answer in time"
                            : absl::StrCat("exited with status ", r.exit_status);
  return absl::StrCat(which, " hook ", verdict, r.output.empty() ? "" : ": ", r.output);
}

// Reads `device` bytes [0, size) in order through one small buffer into
// `consume`.
absl::Status ReadImage(const BlockDevice& device, uint64_t size,
                       const std::function<void(absl::string_view)>& consume) {
  std::string buf(64 << 10, '\0');
  for (uint64_t off = 0; off < size; off += buf.size()) {
    size_t n = std::min<uint64_t>(buf.size(), size - off);
    if (absl::Status s = device.Read(off, buf.data(), n); !s.ok()) {
      return common::ReasonError(absl::StatusCode::kUnavailable, ota::v1::REASON_STORAGE_ERROR,
                                 absl::StrCat("reading the image back: ", s.message()));
    }
    consume(absl::string_view(buf.data(), n));
  }
  return absl::OkStatus();
}

ota::v1::InstalledImage ImageOf(const ota::v1::Manifest& m, const std::string& slot, bool trial) {
  ota::v1::InstalledImage img;
  img.set_active_slot(slot);
  img.set_image_sha256(m.payload().sha256());
  img.set_sequence_number(m.sequence_number());
  img.set_version(m.version());
  img.set_component(m.component());
  img.set_trial(trial);
  return img;
}

}  // namespace

ota::v1::InstalledImage Updater::Current() const {
  absl::StatusOr<int> booted = deps_.boot->BootedSlot();
  const std::string booted_name = SlotName(booted.ok() ? *booted : 0);
  absl::StatusOr<Journal> j = deps_.journal->Load();
  if (j.ok() && j->step() >= STEP_DOWNLOADED && j->target_slot() == booted_name) {
    absl::StatusOr<bool> trial = deps_.boot->InTrial();
    ota::v1::SignedManifest sm;
    ota::v1::Manifest m;
    if (trial.ok() && *trial && sm.ParseFromString(j->signed_manifest()) &&
        m.ParseFromString(sm.manifest())) {
      return ImageOf(m, booted_name, /*trial=*/true);
    }
  }
  absl::StatusOr<Installed> installed = deps_.installed->Load();
  ota::v1::InstalledImage img;
  if (installed.ok()) img = installed->image();
  if (img.active_slot() != booted_name) {
    // Nothing recorded for the slot that runs: the factory image.
    img = ota::v1::InstalledImage();
    img.set_active_slot(booted_name);
    img.set_version(deps_.config->factory_version());
  }
  return img;
}

void Updater::Report(const Journal& j, DeploymentState state, ReasonCode reason,
                     const std::string& message, uint64_t bytes_done, uint64_t bytes_total,
                     const ota::v1::InstalledImage* installed) {
  ota::v1::StatusReport r;
  r.set_deployment_id(j.deployment_id());
  r.set_state(state);
  r.set_reason(reason);
  r.set_message(message.size() > 4000 ? message.substr(0, 4000) : message);
  r.set_bytes_done(bytes_done);
  r.set_bytes_total(bytes_total);
  r.set_time_ms(deps_.clock->NowMillis());
  *r.mutable_installed() = installed != nullptr ? *installed : Current();
  // A report that cannot be stored is lost with the storage; the pipeline
  // still goes on, since its own state is the journal.
  (void)deps_.outbox->Add(std::move(r));
}

Outcome Updater::Finish(const Journal& j, DeploymentState state, ReasonCode reason,
                        const std::string& message, Outcome outcome) {
  if (absl::Status s = deps_.journal->Clear(); !s.ok()) return Outcome::kInterrupted;
  Report(j, state, reason, message);
  return outcome;
}

Outcome Updater::Run(const ota::v1::Deployment& d) {
  absl::StatusOr<Journal> current = deps_.journal->Load();
  if (!current.ok()) return Outcome::kInterrupted;
  Journal j;
  j.set_deployment_id(d.deployment_id());
  j.set_campaign_id(d.campaign_id());
  if (!current->deployment_id().empty()) {
    if (current->deployment_id() == d.deployment_id()) return Continue(*current);
    Report(j, ota::v1::DEPLOYMENT_STATE_REJECTED, ota::v1::REASON_WRONG_STATE,
           absl::StrCat("deployment ", current->deployment_id(), " is still in progress"));
    return Outcome::kRejected;
  }
  const int64_t now = deps_.clock->NowUnix();
  absl::StatusOr<common::VerifiedManifest> v =
      common::VerifyManifest(d.manifest(), *deps_.trust, now);
  if (!v.ok()) {
    Report(j, ota::v1::DEPLOYMENT_STATE_REJECTED, common::ReasonOf(v.status()),
           std::string(v.status().message()));
    return Outcome::kRejected;
  }
  const ota::v1::Manifest& m = v->manifest;
  absl::StatusOr<int> booted = deps_.boot->BootedSlot();
  if (!booted.ok()) return Outcome::kInterrupted;
  const int target = 1 - *booted;
  const ota::v1::InstalledImage running = Current();

  common::DeviceState device;
  device.device_id = deps_.config->device_id();
  device.vendor_id = common::ParseUuid(deps_.config->vendor_id()).value_or("");
  device.class_id = common::ParseUuid(deps_.config->class_id()).value_or("");
  device.installed_sequence = running.sequence_number();
  device.installed_sha256 = running.image_sha256();
  device.max_payload_size = deps_.config->max_payload_size();
  absl::StatusOr<uint64_t> slot_size = deps_.slots[target]->Size();
  if (!slot_size.ok()) return Outcome::kInterrupted;
  device.slot_size = *slot_size;
  if (absl::Status s = common::CheckApplicable(m, device, now); !s.ok()) {
    if (common::ReasonOf(s) == ota::v1::REASON_SEQUENCE_NOT_NEWER &&
        m.payload().sha256() == running.image_sha256()) {
      Report(j, ota::v1::DEPLOYMENT_STATE_SKIPPED, ota::v1::REASON_SEQUENCE_NOT_NEWER,
             "this image already runs");
      return Outcome::kRejected;
    }
    Report(j, ota::v1::DEPLOYMENT_STATE_REJECTED, common::ReasonOf(s), std::string(s.message()));
    return Outcome::kRejected;
  }
  if (m.payload().format() != ota::v1::PAYLOAD_FORMAT_FULL) {
    Report(j, ota::v1::DEPLOYMENT_STATE_REJECTED, ota::v1::REASON_INVALID_FIELD,
           "this client installs full images only; the payload is a delta");
    return Outcome::kRejected;
  }
  j.set_target_slot(SlotName(target));
  HookResult hook = deps_.hooks->Run(deps_.config->download_hook(), HookEnv(j, m, "download"));
  if (hook.verdict == HookResult::kDefer) {
    Report(j, ota::v1::DEPLOYMENT_STATE_DEFERRED, ota::v1::REASON_HOOK_DEFERRED,
           HookMessage("download", hook));
    return Outcome::kDeferred;
  }
  if (hook.verdict != HookResult::kGo) {
    Report(j, ota::v1::DEPLOYMENT_STATE_REJECTED, HookReason(hook), HookMessage("download", hook));
    return Outcome::kRejected;
  }
  j.set_signed_manifest(d.manifest().SerializeAsString());
  for (const std::string& uri : d.payload_uris()) j.add_payload_uris(uri);
  for (const std::string& uri : m.payload().uris()) j.add_payload_uris(uri);
  j.set_step(STEP_ACCEPTED);
  *j.mutable_previous() = running;
  if (!deps_.journal->Save(j).ok()) return Outcome::kInterrupted;
  return Continue(std::move(j));
}

absl::Status Updater::VerifyDownload(const BlockDevice& device,
                                     const ota::v1::Payload& payload) {
  // One pass over the image is enough when it matches; only a mismatch
  // pays for a second one, which names the first chunk that differs.
  common::Sha256 whole;
  if (absl::Status s = ReadImage(device, payload.size(),
                                 [&whole](absl::string_view data) { whole.Update(data); });
      !s.ok()) {
    return s;
  }
  if (common::ConstantTimeEquals(whole.Finish(), payload.sha256())) return absl::OkStatus();
  common::PayloadHasher hasher(payload.chunk_size());
  if (absl::Status s = ReadImage(device, payload.size(),
                                 [&hasher](absl::string_view data) { hasher.Update(data); });
      !s.ok()) {
    return s;
  }
  return common::CheckPayloadDigests(payload, hasher.Finish());
}

absl::Status Updater::CopyIntoSlot(int slot, const ota::v1::Payload& payload) {
  std::string buf(1 << 20, '\0');
  for (uint64_t off = 0; off < payload.size(); off += buf.size()) {
    size_t n = std::min<uint64_t>(buf.size(), payload.size() - off);
    if (absl::Status s = deps_.staging->Read(off, buf.data(), n); !s.ok()) return s;
    if (absl::Status s = deps_.slots[slot]->Write(off, absl::string_view(buf.data(), n));
        !s.ok()) {
      return s;
    }
  }
  return deps_.slots[slot]->Flush();
}

Outcome Updater::Continue(Journal j) {
  ota::v1::SignedManifest sm;
  if (!sm.ParseFromString(j.signed_manifest())) {
    return Finish(j, ota::v1::DEPLOYMENT_STATE_FAILED, ota::v1::REASON_WRONG_STATE,
                  "the journaled manifest does not parse", Outcome::kFailed);
  }
  // Checked again: the key may have been revoked, the journal tampered with.
  absl::StatusOr<common::VerifiedManifest> v =
      common::VerifyManifest(sm, *deps_.trust, deps_.clock->NowUnix());
  if (!v.ok()) {
    return Finish(j, ota::v1::DEPLOYMENT_STATE_FAILED, common::ReasonOf(v.status()),
                  std::string(v.status().message()), Outcome::kFailed);
  }
  const ota::v1::Manifest& m = v->manifest;
  const ota::v1::Payload& payload = m.payload();
  const int target = SlotIndex(j.target_slot());

  if (j.step() == STEP_ACCEPTED) {
    // A half-written image must never be bootable.
    if (!deps_.boot->MarkUnbootable(target).ok()) return Outcome::kInterrupted;
    j.set_step(STEP_DOWNLOADING);
    if (!deps_.journal->Save(j).ok()) return Outcome::kInterrupted;
    Report(j, ota::v1::DEPLOYMENT_STATE_DOWNLOADING, ota::v1::REASON_UNSPECIFIED, "",
           j.verified_chunks() * payload.chunk_size(), payload.size());
  }

  if (j.step() == STEP_DOWNLOADING) {
    DownloadProgress progress;
    progress.verified_chunks = j.verified_chunks();
    progress.etag = j.etag();
    progress.uri_index = j.uri_index();
    std::vector<std::string> uris(j.payload_uris().begin(), j.payload_uris().end());
    int last_decile = static_cast<int>(10 * j.verified_chunks() * payload.chunk_size() /
                                       std::max<uint64_t>(payload.size(), 1));
    absl::Status s = deps_.downloader->Download(
        payload, uris, DownloadTarget(target), &progress,
        [&](const DownloadProgress& p, uint64_t done) -> absl::Status {
          j.set_verified_chunks(p.verified_chunks);
          j.set_etag(p.etag);
          j.set_uri_index(p.uri_index);
          if (absl::Status saved = deps_.journal->Save(j); !saved.ok()) return saved;
          int decile = static_cast<int>(10 * done / std::max<uint64_t>(payload.size(), 1));
          if (decile > last_decile && done < payload.size()) {
            last_decile = decile;
            Report(j, ota::v1::DEPLOYMENT_STATE_DOWNLOADING, ota::v1::REASON_UNSPECIFIED, "",
                   done, payload.size());
          }
          return absl::OkStatus();
        },
        deps_.cancel);
    if (!s.ok()) {
      ReasonCode reason = common::ReasonOf(s);
      if (absl::IsCancelled(s) || reason == ota::v1::REASON_STORAGE_ERROR ||
          reason == ota::v1::REASON_UNSPECIFIED) {
        return Outcome::kInterrupted;
      }
      return Finish(j, ota::v1::DEPLOYMENT_STATE_FAILED, reason, std::string(s.message()),
                    Outcome::kFailed);
    }
    // What is on the slot now, read back, must be the signed image.
    if (absl::Status check = VerifyDownload(*DownloadTarget(target), payload); !check.ok()) {
      if (common::ReasonOf(check) == ota::v1::REASON_STORAGE_ERROR) return Outcome::kInterrupted;
      return Finish(j, ota::v1::DEPLOYMENT_STATE_FAILED, common::ReasonOf(check),
                    absl::StrCat("slot ", j.target_slot(), " read back: ", check.message()),
                    Outcome::kFailed);
    }
    j.set_step(STEP_DOWNLOADED);
    if (!deps_.journal->Save(j).ok()) return Outcome::kInterrupted;
    Report(j, ota::v1::DEPLOYMENT_STATE_DOWNLOADED, ota::v1::REASON_UNSPECIFIED, "",
           payload.size(), payload.size());
  }

  if (j.step() == STEP_DOWNLOADED) {
    HookResult hook = deps_.hooks->Run(deps_.config->install_hook(), HookEnv(j, m, "install"));
    if (hook.verdict == HookResult::kDefer) {
      j.set_deferrals(j.deferrals() + 1);
      if (!deps_.journal->Save(j).ok()) return Outcome::kInterrupted;
      Report(j, ota::v1::DEPLOYMENT_STATE_DEFERRED, ota::v1::REASON_HOOK_DEFERRED,
             HookMessage("install", hook));
      return Outcome::kDeferred;
    }
    if (hook.verdict != HookResult::kGo) {
      return Finish(j, ota::v1::DEPLOYMENT_STATE_FAILED, HookReason(hook),
                    HookMessage("install", hook), Outcome::kFailed);
    }
    Report(j, ota::v1::DEPLOYMENT_STATE_INSTALLING, ota::v1::REASON_UNSPECIFIED, "");
    if (deps_.staging != nullptr) {
      if (absl::Status s = CopyIntoSlot(target, payload); !s.ok()) {
        return Finish(j, ota::v1::DEPLOYMENT_STATE_FAILED, ota::v1::REASON_INSTALL_FAILED,
                      absl::StrCat("installing into slot ", j.target_slot(), ": ", s.message()),
                      Outcome::kFailed);
      }
    }
    uint32_t attempts = deps_.config->trial_attempts() == 0 ? 3 : deps_.config->trial_attempts();
    // The header first, then the journal: a cut between the two is found
    // by Recover (booted into the target while the journal says DOWNLOADED).
    if (!deps_.boot->SetTrial(target, payload.size(), payload.sha256(), attempts,
                               m.sequence_number()).ok()) {
      return Outcome::kInterrupted;
    }
    j.set_step(STEP_ACTIVATED);
    if (!deps_.journal->Save(j).ok()) return Outcome::kInterrupted;
    Report(j, ota::v1::DEPLOYMENT_STATE_REBOOTING, ota::v1::REASON_UNSPECIFIED, "");
    if (!deps_.rebooter->Reboot().ok()) return Outcome::kInterrupted;
    return Outcome::kRebooting;
  }
  if (j.step() == STEP_ACTIVATED) return AfterReboot(j);
  return Outcome::kIdle;
}

Outcome Updater::AfterReboot(const Journal& j) {
  absl::StatusOr<int> booted = deps_.boot->BootedSlot();
  if (!booted.ok()) return Outcome::kInterrupted;
  const int target = SlotIndex(j.target_slot());
  ota::v1::SignedManifest sm;
  ota::v1::Manifest m;
  sm.ParseFromString(j.signed_manifest());
  m.ParseFromString(sm.manifest());
  if (*booted != target) {
    // The bootloader fell back (attempts ran out), or the pipeline had
    // already switched back before a power cut.
    ReasonCode reason = j.rollback_reason() != 0
                            ? static_cast<ReasonCode>(j.rollback_reason())
                            : ota::v1::REASON_BOOT_FAILED;
    return Finish(j, ota::v1::DEPLOYMENT_STATE_ROLLED_BACK, reason,
                  absl::StrCat("slot ", j.target_slot(), " did not stay booted; running ",
                               SlotName(*booted)),
                  Outcome::kRolledBack);
  }
  absl::StatusOr<bool> trial = deps_.boot->InTrial();
  if (!trial.ok()) return Outcome::kInterrupted;
  if (*trial) {
    HookResult health = deps_.hooks->Run(deps_.config->health_hook(), HookEnv(j, m, "health"));
    if (health.verdict != HookResult::kGo) {
      Journal marked = j;
      marked.set_rollback_reason(ota::v1::REASON_HEALTH_CHECK_FAILED);
      if (!deps_.journal->Save(marked).ok()) return Outcome::kInterrupted;
      const int previous = SlotIndex(j.previous().active_slot());
      if (!deps_.boot->RollBack(previous).ok()) return Outcome::kInterrupted;
      if (!deps_.journal->Clear().ok()) return Outcome::kInterrupted;
      ota::v1::InstalledImage returning = j.previous();
      returning.set_trial(false);
      Report(marked, ota::v1::DEPLOYMENT_STATE_ROLLED_BACK, ota::v1::REASON_HEALTH_CHECK_FAILED,
             HookMessage("health", health), 0, 0, &returning);
      (void)deps_.rebooter->Reboot();
      return Outcome::kRolledBack;
    }
    if (!deps_.boot->Commit().ok()) return Outcome::kInterrupted;
  }
  Installed installed;
  *installed.mutable_image() = ImageOf(m, j.target_slot(), /*trial=*/false);
  if (!deps_.installed->Save(installed).ok()) return Outcome::kInterrupted;
  return Finish(j, ota::v1::DEPLOYMENT_STATE_SUCCEEDED, ota::v1::REASON_UNSPECIFIED,
                absl::StrCat("running ", m.version(), " (sequence ", m.sequence_number(),
                             ") from slot ", j.target_slot()),
                Outcome::kSucceeded);
}

Outcome Updater::Recover() {
  absl::StatusOr<Journal> j = deps_.journal->Load();
  if (!j.ok()) return Outcome::kInterrupted;
  if (j->deployment_id().empty()) return Outcome::kIdle;
  if (j->step() == STEP_DOWNLOADED) {
    // The header may have switched just before a power cut, ahead of the
    // journal: booted into the target on a trial means activated.
    absl::StatusOr<int> booted = deps_.boot->BootedSlot();
    absl::StatusOr<bool> trial = deps_.boot->InTrial();
    if (booted.ok() && trial.ok() && *booted == SlotIndex(j->target_slot()) && *trial) {
      j->set_step(STEP_ACTIVATED);
      if (!deps_.journal->Save(*j).ok()) return Outcome::kInterrupted;
    }
  }
  if (j->step() == STEP_ACTIVATED) return AfterReboot(*j);
  return Continue(*std::move(j));
}

}  // namespace ota::device
