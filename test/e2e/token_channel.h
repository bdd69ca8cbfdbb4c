// A gRPC channel that sends a bearer token on every call, for tests that
// talk to otad with its access checks on:
//
//   auto channel = TokenChannel(grpc_address, secret);
//   auto campaigns = ota::v1::CampaignService::NewStub(channel);
#ifndef OTA_TEST_E2E_TOKEN_CHANNEL_H_
#define OTA_TEST_E2E_TOKEN_CHANNEL_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

namespace ota::testing {

std::shared_ptr<grpc::Channel> TokenChannel(const std::string& address, const std::string& secret);

}  // namespace ota::testing

#endif  // OTA_TEST_E2E_TOKEN_CHANNEL_H_
