#include "test/e2e/device_stub.h"

#include "absl/time/clock.h"
#include "common/crypto/sha256.h"

namespace ota::testing {

ota::v1::InstalledImage Running(uint64_t sequence, const std::string& image) {
  ota::v1::InstalledImage installed;
  installed.set_active_slot("a");
  installed.set_sequence_number(sequence);
  installed.set_image_sha256(common::Sha256Digest(image));
  return installed;
}

DeviceStub::DeviceStub(std::shared_ptr<grpc::Channel> channel, std::string device_id,
                       std::string vendor_id, std::string class_id,
                       std::map<std::string, std::string> attributes)
    : stub_(ota::v1::DeviceService::NewStub(channel)),
      id_(std::move(device_id)),
      vendor_(std::move(vendor_id)),
      class_(std::move(class_id)),
      attributes_(std::move(attributes)) {}

DeviceStub::~DeviceStub() { Disconnect(); }

void DeviceStub::Connect(const ota::v1::InstalledImage& installed) {
  Disconnect();
  ota::v1::ConnectRequest request;
  request.set_device_id(id_);
  request.set_vendor_id(vendor_);
  request.set_class_id(class_);
  *request.mutable_installed() = installed;
  request.set_report_seq(seq_);
  for (const auto& [k, v] : attributes_) (*request.mutable_attributes())[k] = v;
  context_ = std::make_unique<grpc::ClientContext>();
  reader_ = stub_->Connect(context_.get(), request);
  thread_ = std::thread([this] {
    ota::v1::ServerMessage m;
    while (reader_->Read(&m)) {
      if (m.has_deployment()) {
        std::lock_guard<std::mutex> lock(mu_);
        deployments_.push_back(m.deployment().deployment_id());
      }
    }
  });
}

void DeviceStub::Disconnect() {
  if (context_ == nullptr) return;
  context_->TryCancel();
  thread_.join();
  reader_->Finish().ok();  // CANCELLED, as asked
  reader_.reset();
  context_.reset();
}

std::vector<std::string> DeviceStub::deployment_ids() {
  std::lock_guard<std::mutex> lock(mu_);
  return deployments_;
}

std::string DeviceStub::deployment_id() {
  std::lock_guard<std::mutex> lock(mu_);
  return deployments_.empty() ? "" : deployments_.back();
}

bool DeviceStub::WaitForDeployment(absl::Duration timeout, size_t n) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (deployment_ids().size() >= n) return true;
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
}

grpc::Status DeviceStub::Report(ota::v1::DeploymentState state,
                                const ota::v1::InstalledImage& installed,
                                ota::v1::ReasonCode reason, uint64_t* acked_seq) {
  ota::v1::ReportStatusRequest request;
  request.set_device_id(id_);
  ota::v1::StatusReport* r = request.add_reports();
  r->set_seq(++seq_);
  r->set_deployment_id(deployment_id());
  r->set_state(state);
  r->set_reason(reason);
  *r->mutable_installed() = installed;
  ota::v1::ReportStatusResponse response;
  grpc::Status s = Send(request, &response);
  if (acked_seq != nullptr) *acked_seq = response.acked_seq();
  return s;
}

grpc::Status DeviceStub::Send(const ota::v1::ReportStatusRequest& request,
                              ota::v1::ReportStatusResponse* response) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return stub_->ReportStatus(&context, request, response);
}

size_t WaitForDeployments(const std::vector<std::unique_ptr<DeviceStub>>& devices, size_t n,
                          absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    size_t have = 0;
    for (const auto& d : devices) have += !d->deployment_id().empty();
    if (have >= n || absl::Now() > deadline) return have;
    absl::SleepFor(absl::Milliseconds(10));
  }
}

}  // namespace ota::testing
