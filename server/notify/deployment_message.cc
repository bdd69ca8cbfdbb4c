#include "server/notify/deployment_message.h"

#include <google/protobuf/io/coded_stream.h>

namespace ota::server {
namespace {

// Tag of ServerMessage.deployment (field 1, length-delimited).
constexpr uint8_t kDeploymentTag = (1 << 3) | 2;

}  // namespace

SharedDeployment::SharedDeployment(const std::string& campaign_id,
                                   const ota::v1::SignedManifest& manifest)
    : campaign_id_(campaign_id) {
  ota::v1::Deployment d;  // no deployment_id: field 1 is left out
  d.set_campaign_id(campaign_id);
  *d.mutable_manifest() = manifest;
  shared_ = grpc::Slice(d.SerializeAsString());
}

grpc::ByteBuffer SharedDeployment::MessageFor(const std::string& deployment_id) const {
  ota::v1::Deployment own;
  own.set_deployment_id(deployment_id);
  const std::string inner = own.SerializeAsString();
  const size_t length = inner.size() + shared_.size();
  // Tag, varint length (at most 10 bytes), the device's own fields.
  std::string prefix;
  prefix.reserve(1 + 10 + inner.size());
  prefix.push_back(static_cast<char>(kDeploymentTag));
  uint8_t varint[10];
  uint8_t* end = google::protobuf::io::CodedOutputStream::WriteVarint64ToArray(length, varint);
  prefix.append(reinterpret_cast<const char*>(varint), end - varint);
  prefix += inner;
  grpc::Slice parts[2] = {grpc::Slice(prefix), shared_};
  return grpc::ByteBuffer(parts, 2);
}

ota::v1::ServerMessage SharedDeployment::ProtoFor(const std::string& deployment_id) const {
  ota::v1::ServerMessage m;
  ota::v1::Deployment* d = m.mutable_deployment();
  d->ParseFromArray(shared_.begin(), static_cast<int>(shared_.size()));
  d->set_deployment_id(deployment_id);
  return m;
}

}  // namespace ota::server
