#include "server/gateway/proto_comments.h"

#include <google/protobuf/descriptor.pb.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace ota::server::gateway {
namespace {

template <typename D>
std::string Leading(const D* d) {
  google::protobuf::SourceLocation location;
  if (d == nullptr || !d->GetSourceLocation(&location)) return "";
  std::vector<std::string> lines;
  for (absl::string_view line : absl::StrSplit(location.leading_comments, '\n')) {
    lines.emplace_back(absl::StripAsciiWhitespace(line));
  }
  return std::string(absl::StripAsciiWhitespace(absl::StrJoin(lines, "\n")));
}

}  // namespace

absl::StatusOr<std::unique_ptr<ProtoComments>> ProtoComments::Parse(
    absl::string_view descriptor_set) {
  google::protobuf::FileDescriptorSet set;
  if (!set.ParseFromArray(descriptor_set.data(), static_cast<int>(descriptor_set.size()))) {
    return absl::InvalidArgumentError("not a serialized FileDescriptorSet");
  }
  std::unique_ptr<ProtoComments> comments(new ProtoComments());
  for (const google::protobuf::FileDescriptorProto& file : set.file()) {
    if (comments->pool_.BuildFile(file) == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("descriptor set: ", file.name(), " does not build"));
    }
  }
  return comments;
}

std::string ProtoComments::Of(const google::protobuf::Descriptor* d) const {
  return Leading(pool_.FindMessageTypeByName(d->full_name()));
}

std::string ProtoComments::Of(const google::protobuf::FieldDescriptor* d) const {
  return Leading(pool_.FindFieldByName(d->full_name()));
}

std::string ProtoComments::Of(const google::protobuf::EnumDescriptor* d) const {
  return Leading(pool_.FindEnumTypeByName(d->full_name()));
}

std::string ProtoComments::Of(const google::protobuf::ServiceDescriptor* d) const {
  return Leading(pool_.FindServiceByName(d->full_name()));
}

std::string ProtoComments::Of(const google::protobuf::MethodDescriptor* d) const {
  return Leading(pool_.FindMethodByName(d->full_name()));
}

}  // namespace ota::server::gateway
