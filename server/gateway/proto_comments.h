// The comments of proto elements, read from a FileDescriptorSet compiled
// with source info (protoc --include_source_info --include_imports). The
// generated descriptor pool drops comments; the OpenAPI document takes its
// descriptions from here.
//
//   auto comments = ProtoComments::Parse(ApiDescriptorSet());
//   std::string text = comments->Of(v1::Campaign::descriptor());
#ifndef OTA_SERVER_GATEWAY_PROTO_COMMENTS_H_
#define OTA_SERVER_GATEWAY_PROTO_COMMENTS_H_

#include <memory>
#include <string>

#include <google/protobuf/descriptor.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ota::server::gateway {

class ProtoComments {
 public:
  // INVALID_ARGUMENT when `descriptor_set` is not a serialized
  // FileDescriptorSet whose files build in order.
  static absl::StatusOr<std::unique_ptr<ProtoComments>> Parse(absl::string_view descriptor_set);

  // The leading comment of the element with the same full name in the
  // set, each line stripped of the comment's indentation; empty when the
  // element is not there or has none.
  std::string Of(const google::protobuf::Descriptor* d) const;
  std::string Of(const google::protobuf::FieldDescriptor* d) const;
  std::string Of(const google::protobuf::EnumDescriptor* d) const;
  std::string Of(const google::protobuf::ServiceDescriptor* d) const;
  std::string Of(const google::protobuf::MethodDescriptor* d) const;

 private:
  ProtoComments() = default;
  google::protobuf::DescriptorPool pool_;
};

}  // namespace ota::server::gateway

#endif  // OTA_SERVER_GATEWAY_PROTO_COMMENTS_H_
