// The bytes of a ServerMessage carrying a Deployment, with the part that
// every device of a campaign shares (the campaign id and the signed
// manifest) serialized once. Each device's message is a small prefix of its
// own (the message and field headers, its deployment id) followed by a
// reference to the shared bytes, so sending one campaign wave to many
// streams costs no copy of the manifest per device.
//
//   auto shared = std::make_shared<const SharedDeployment>(campaign_id, signed_manifest);
//   grpc::ByteBuffer m = shared->MessageFor(deployment_id);   // for one stream
//
// The bytes equal those of ServerMessage{deployment: {deployment_id,
// campaign_id, manifest}} serialized by protobuf (fields in number order),
// so devices parse them as any ServerMessage.
#ifndef OTA_SERVER_NOTIFY_DEPLOYMENT_MESSAGE_H_
#define OTA_SERVER_NOTIFY_DEPLOYMENT_MESSAGE_H_

#include <string>

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/slice.h>

#include "ota/v1/device.pb.h"

namespace ota::server {

class SharedDeployment {
 public:
  // Serializes `campaign_id` and `manifest` once.
  SharedDeployment(const std::string& campaign_id, const ota::v1::SignedManifest& manifest);

  const std::string& campaign_id() const { return campaign_id_; }

  // One device's ServerMessage; the shared bytes are referenced, not copied.
  // Safe to call from many threads at once.
  grpc::ByteBuffer MessageFor(const std::string& deployment_id) const;

  // The same message as a proto (tests, and callers that want to look).
  ota::v1::ServerMessage ProtoFor(const std::string& deployment_id) const;

 private:
  std::string campaign_id_;
  grpc::Slice shared_;  // Deployment fields 2 and 3, serialized
};

}  // namespace ota::server

#endif  // OTA_SERVER_NOTIFY_DEPLOYMENT_MESSAGE_H_
