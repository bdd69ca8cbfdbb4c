#include "device/client/reporter.h"

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace ota::device {

absl::Status Reporter::Flush(absl::Duration per_call_timeout) {
  while (outbox_->size() > 0) {
    std::vector<ota::v1::StatusReport> batch = outbox_->Pending(100);
    ota::v1::ReportStatusRequest request;
    request.set_device_id(device_id_);
    for (auto& r : batch) *request.add_reports() = std::move(r);
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + per_call_timeout));
    ota::v1::ReportStatusResponse response;
    grpc::Status s = stub_->ReportStatus(&ctx, request, &response);
    if (!s.ok()) {
      return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                          absl::StrCat("reporting: ", s.error_message()));
    }
    uint64_t sent_up_to = request.reports(request.reports_size() - 1).seq();
    if (absl::Status a = outbox_->Ack(response.acked_seq()); !a.ok()) return a;
    if (response.acked_seq() < sent_up_to) {
      return absl::UnavailableError(absl::StrCat("the server stored reports up to ",
                                                 response.acked_seq(), " of ", sent_up_to));
    }
  }
  return absl::OkStatus();
}

}  // namespace ota::device
