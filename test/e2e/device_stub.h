// A scripted device on a real gRPC Connect stream, for tests of what otad
// sends and records: it connects, notes every deployment it is sent, and
// reports whatever the test tells it to.
//
//   DeviceStub gw(channel, "gw-1", vendor, class_id);
//   gw.Connect();
//   ASSERT_TRUE(gw.WaitForDeployment(absl::Seconds(5)));
//   gw.Report(ota::v1::DEPLOYMENT_STATE_SUCCEEDED, Running(2, "new image"));
#ifndef OTA_TEST_E2E_DEVICE_STUB_H_
#define OTA_TEST_E2E_DEVICE_STUB_H_

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "ota/v1/device.grpc.pb.h"

namespace ota::testing {

// What a device runs: `sequence` and the SHA-256 of `image`.
ota::v1::InstalledImage Running(uint64_t sequence, const std::string& image);

class DeviceStub {
 public:
  DeviceStub(std::shared_ptr<grpc::Channel> channel, std::string device_id, std::string vendor_id,
             std::string class_id, std::map<std::string, std::string> attributes = {});
  ~DeviceStub();  // disconnects

  // Opens the Connect stream, reporting `installed`; a previous stream is
  // closed first.
  void Connect(const ota::v1::InstalledImage& installed);
  // Closes the stream (the device goes offline).
  void Disconnect();

  // The deployments sent so far, oldest first (the same one may come twice).
  std::vector<std::string> deployment_ids();
  // The last deployment sent, or empty.
  std::string deployment_id();
  // True once at least `n` deployments have been sent; false after `timeout`.
  bool WaitForDeployment(absl::Duration timeout, size_t n = 1);

  // Reports `state` for the last deployment, with the next seq. Returns the
  // RPC's status; `acked_seq` gets the server's answer.
  grpc::Status Report(ota::v1::DeploymentState state, const ota::v1::InstalledImage& installed,
                      ota::v1::ReasonCode reason = ota::v1::REASON_UNSPECIFIED,
                      uint64_t* acked_seq = nullptr);
  // Sends exactly `request` (for duplicates and bad input).
  grpc::Status Send(const ota::v1::ReportStatusRequest& request,
                    ota::v1::ReportStatusResponse* response);

  const std::string& id() const { return id_; }
  uint64_t last_seq() const { return seq_; }

 private:
  std::unique_ptr<ota::v1::DeviceService::Stub> stub_;
  const std::string id_, vendor_, class_;
  const std::map<std::string, std::string> attributes_;
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<grpc::ClientReader<ota::v1::ServerMessage>> reader_;
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> deployments_;
  uint64_t seq_ = 0;
};

// How many of `devices` have been sent a deployment, waiting up to
// `timeout` for `n` of them.
size_t WaitForDeployments(const std::vector<std::unique_ptr<DeviceStub>>& devices, size_t n,
                          absl::Duration timeout);

}  // namespace ota::testing

#endif  // OTA_TEST_E2E_DEVICE_STUB_H_
