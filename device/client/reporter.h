// Sends the outbox's status reports to the server and drops what the server
// acknowledged. Reports stay on disk until then, so none is lost to a
// crash, a reboot or an outage; the server stores each (device, seq) once,
// so a resend after a lost answer is harmless.
#ifndef OTA_DEVICE_CLIENT_REPORTER_H_
#define OTA_DEVICE_CLIENT_REPORTER_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "device/client/persistent.h"
#include "ota/v1/device.grpc.pb.h"

namespace ota::device {

class Reporter {
 public:
  Reporter(std::string device_id, ReportOutbox* outbox,
           ota::v1::DeviceService::StubInterface* stub)
      : device_id_(std::move(device_id)), outbox_(outbox), stub_(stub) {}

  // Sends pending reports in batches until the outbox is empty. Returns the
  // first failure (the reports stay in the outbox).
  absl::Status Flush(absl::Duration per_call_timeout = absl::Seconds(10));

 private:
  std::string device_id_;
  ReportOutbox* outbox_;
  ota::v1::DeviceService::StubInterface* stub_;
};

}  // namespace ota::device

#endif  // OTA_DEVICE_CLIENT_REPORTER_H_
