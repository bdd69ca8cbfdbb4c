#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/manifest/uuid.h"
#include "server/api/services.h"
#include "server/api/status.h"

namespace ota::server {

grpc::Status DeviceServiceImpl::Connect(grpc::ServerContext* context,
                                        const ota::v1::ConnectRequest* request,
                                        grpc::ServerWriter<ota::v1::ServerMessage>* writer) {
  if (absl::Status s = CheckDeviceId("device_id", request->device_id()); !s.ok()) {
    return ToGrpc(s);
  }
  if (request->vendor_id().size() != 16 || request->class_id().size() != 16) {
    return ToGrpc(absl::InvalidArgumentError(absl::StrCat(
        "vendor_id and class_id must be 16 bytes (got ", request->vendor_id().size(), " and ",
        request->class_id().size(), ")")));
  }
  if (request->installed().image_sha256().size() != 0 &&
      request->installed().image_sha256().size() != 32) {
    return ToGrpc(absl::InvalidArgumentError("installed.image_sha256 must be 32 bytes"));
  }
  if (request->attributes().size() > 64) {
    return ToGrpc(absl::InvalidArgumentError("attributes has more than 64 entries"));
  }
  DeviceHello hello;
  for (const auto& [k, v] : request->attributes()) {
    if (absl::Status s = CheckAttributeKey("attributes", k); !s.ok()) return ToGrpc(s);
    if (v.size() > 256) {
      return ToGrpc(absl::InvalidArgumentError(
          absl::StrCat("attributes value of \"", k, "\" is longer than 256 bytes")));
    }
    hello.attributes[k] = v;
  }
  hello.device_id = request->device_id();
  hello.vendor_id = common::UuidToString(request->vendor_id());
  hello.class_id = common::UuidToString(request->class_id());
  hello.installed = request->installed();
  hello.client_version = request->client_version();
  hello.key_list_version = request->key_list_version();
  hello.slot_size = request->slot_size();
  hello.report_seq = request->report_seq();
  absl::StatusOr<ota::v1::Device> device = store_.Connected(hello, deps_.clock->NowUnix());
  if (!device.ok()) return ToGrpc(device.status());

  (void)DetectRollback(deps_.db, request->device_id(), request->installed(),
                       deps_.clock->NowMillis());

  // Registered: hold the stream, send what the device should run, keep it
  // alive, until the device leaves.
  std::shared_ptr<DeviceHub::Waker> waker;
  if (deps_.hub != nullptr) waker = deps_.hub->Attach(request->device_id());
  const absl::Duration keepalive_period = absl::Seconds(deps_.options.keepalive_seconds);
  const absl::Duration poll_period = absl::Seconds(deps_.options.deployment_poll_seconds);
  ota::v1::ServerMessage keepalive;
  keepalive.mutable_keepalive()->set_server_time_ms(deps_.clock->NowMillis());
  bool alive = writer->Write(keepalive);
  absl::Time next_keepalive = absl::Now() + keepalive_period;
  absl::Time next_poll = absl::Now();
  std::string last_sent;
  while (alive && !context->IsCancelled()) {
    const bool woken = waker != nullptr && waker->TakeWake();
    if (woken || absl::Now() >= next_poll) {
      next_poll = absl::Now() + poll_period;
      absl::StatusOr<ota::v1::Deployment> d =
          NextDeployment(deps_.db, request->device_id(), deps_.clock->NowMillis());
      if (d.ok() && d->deployment_id() != last_sent) {
        ota::v1::ServerMessage msg;
        *msg.mutable_deployment() = *d;
        alive = writer->Write(msg);
        last_sent = d->deployment_id();
        continue;
      }
    }
    if (absl::Now() >= next_keepalive) {
      keepalive.mutable_keepalive()->set_server_time_ms(deps_.clock->NowMillis());
      alive = writer->Write(keepalive);
      next_keepalive = absl::Now() + keepalive_period;
      continue;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  if (deps_.hub != nullptr) deps_.hub->Detach(request->device_id(), waker);
  (void)store_.Disconnected(request->device_id(), deps_.clock->NowUnix());
  return grpc::Status::OK;
}

grpc::Status DeviceServiceImpl::ReportStatus(grpc::ServerContext*,
                                             const ota::v1::ReportStatusRequest* request,
                                             ota::v1::ReportStatusResponse* response) {
  if (absl::Status s = CheckDeviceId("device_id", request->device_id()); !s.ok()) {
    return ToGrpc(s);
  }
  if (request->reports_size() > kMaxReportsPerCall) {
    return ToGrpc(absl::InvalidArgumentError(absl::StrCat(
        "reports has ", request->reports_size(), " entries, at most ", kMaxReportsPerCall,
        " allowed")));
  }
  uint64_t previous = 0;
  for (int i = 0; i < request->reports_size(); ++i) {
    const ota::v1::StatusReport& r = request->reports(i);
    if (r.seq() <= previous) {
      return ToGrpc(absl::InvalidArgumentError(absl::StrCat(
          "reports[", i, "].seq ", r.seq(), " does not increase (previous ", previous, ")")));
    }
    previous = r.seq();
    if (!ota::v1::DeploymentState_IsValid(r.state()) ||
        r.state() == ota::v1::DEPLOYMENT_STATE_UNSPECIFIED) {
      return ToGrpc(absl::InvalidArgumentError(
          absl::StrCat("reports[", i, "].state ", static_cast<int>(r.state()), " is not a state")));
    }
    if (r.message().size() > 4096) {
      return ToGrpc(absl::InvalidArgumentError(
          absl::StrCat("reports[", i, "].message is longer than 4096 bytes")));
    }
  }
  std::vector<ota::v1::StatusReport> reports(request->reports().begin(),
                                             request->reports().end());
  // Acknowledged only once the transaction holding the reports committed.
  const int64_t now_ms = deps_.clock->NowMillis();
  absl::StatusOr<uint64_t> acked = store_.StoreReports(
      request->device_id(), reports, now_ms, [&](pqxx::work& txn) {
        return ApplyReports(txn, request->device_id(), reports, now_ms);
      });
  // A finished deployment may let a wave advance.
  if (acked.ok() && deps_.wake_engine) deps_.wake_engine();
  if (!acked.ok()) return ToGrpc(acked.status());
  response->set_acked_seq(*acked);
  return grpc::Status::OK;
}

}  // namespace ota::server
