#include "absl/strings/str_cat.h"
#include "common/manifest/uuid.h"
#include "server/api/services.h"
#include "server/api/status.h"
#include "server/filter/filter.h"

namespace ota::server {
namespace {

absl::StatusOr<std::string> DashedUuid(absl::string_view field, const std::string& text) {
  if (text.empty()) return std::string();  // taken from the device's first Connect
  absl::StatusOr<std::string> raw = common::ParseUuid(text);
  if (!raw.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", raw.status().message()));
  }
  return common::UuidToString(*raw);
}

absl::Status CheckAttributes(absl::string_view field,
                             const google::protobuf::Map<std::string, std::string>& attrs) {
  if (attrs.size() > 64) {
    return absl::InvalidArgumentError(absl::StrCat(field, " has ", attrs.size(),
                                                   " entries, at most 64 allowed"));
  }
  for (const auto& [k, v] : attrs) {
    if (absl::Status s = CheckAttributeKey(field, k); !s.ok()) return s;
    if (v.size() > 256) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, " value of \"", k, "\" is longer than 256 bytes"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

grpc::Status DeviceRegistryServiceImpl::RegisterDevice(
    grpc::ServerContext* context, const ota::v1::RegisterDeviceRequest* request,
    ota::v1::Device* response) {
  if (grpc::Status s = Admit(deps_, context); !s.ok()) return s;
  if (absl::Status s = CheckDeviceId("device_id", request->device_id()); !s.ok()) {
    return ToGrpc(s);
  }
  absl::StatusOr<std::string> vendor = DashedUuid("vendor_id", request->vendor_id());
  if (!vendor.ok()) return ToGrpc(vendor.status());
  absl::StatusOr<std::string> klass = DashedUuid("class_id", request->class_id());
  if (!klass.ok()) return ToGrpc(klass.status());
  if (absl::Status s = CheckAttributes("attributes", request->attributes()); !s.ok()) {
    return ToGrpc(s);
  }
  std::map<std::string, std::string> attrs(request->attributes().begin(),
                                           request->attributes().end());
  auto d = store_.Register(request->device_id(), *vendor, *klass, attrs,
                           deps_.clock->NowUnix());
  if (!d.ok()) return ToGrpc(d.status());
  *response = *std::move(d);
  return grpc::Status::OK;
}

grpc::Status DeviceRegistryServiceImpl::GetDevice(grpc::ServerContext* context,
                                                  const ota::v1::GetDeviceRequest* request,
                                                  ota::v1::Device* response) {
  if (grpc::Status s = Admit(deps_, context); !s.ok()) return s;
  if (absl::Status s = CheckDeviceId("device_id", request->device_id()); !s.ok()) {
    return ToGrpc(s);
  }
  auto d = store_.Get(request->device_id());
  if (!d.ok()) return ToGrpc(d.status());
  *response = *std::move(d);
  return grpc::Status::OK;
}

grpc::Status DeviceRegistryServiceImpl::ListDevices(grpc::ServerContext* context,
                                                    const ota::v1::ListDevicesRequest* request,
                                                    ota::v1::ListDevicesResponse* response) {
  if (grpc::Status s = Admit(deps_, context); !s.ok()) return s;
  absl::StatusOr<DeviceFilter> filter = DeviceFilter::Parse(request->filter());
  if (!filter.ok()) return ToGrpc(filter.status());
  std::vector<std::string> params;
  std::string where = filter->ToSql(1, &params);
  int64_t total = 0;
  auto page = store_.List(where, params, request->online_only(), request->page_size(),
                          request->page_token(), &total);
  if (!page.ok()) return ToGrpc(page.status());
  for (auto& d : page->items) *response->add_devices() = std::move(d);
  response->set_next_page_token(page->next_page_token);
  if (request->page_token().empty()) response->set_total_size(total);
  return grpc::Status::OK;
}

grpc::Status DeviceRegistryServiceImpl::UpdateDeviceAttributes(
    grpc::ServerContext* context, const ota::v1::UpdateDeviceAttributesRequest* request,
    ota::v1::Device* response) {
  if (grpc::Status s = Admit(deps_, context); !s.ok()) return s;
  if (absl::Status s = CheckDeviceId("device_id", request->device_id()); !s.ok()) {
    return ToGrpc(s);
  }
  if (absl::Status s = CheckAttributes("set_attributes", request->set_attributes()); !s.ok()) {
    return ToGrpc(s);
  }
  // Keys are checked here, so only [a-z0-9_] ever reaches the SQL array.
  for (const std::string& k : request->remove_attributes()) {
    if (absl::Status s = CheckAttributeKey("remove_attributes", k); !s.ok()) return ToGrpc(s);
  }
  std::map<std::string, std::string> set(request->set_attributes().begin(),
                                         request->set_attributes().end());
  std::vector<std::string> remove(request->remove_attributes().begin(),
                                  request->remove_attributes().end());
  auto d = store_.UpdateAttributes(request->device_id(), set, remove);
  if (!d.ok()) return ToGrpc(d.status());
  *response = *std::move(d);
  return grpc::Status::OK;
}

grpc::Status DeviceRegistryServiceImpl::DeleteDevice(grpc::ServerContext* context,
                                                     const ota::v1::DeleteDeviceRequest* request,
                                                     ota::v1::DeleteDeviceResponse*) {
  if (grpc::Status s = Admit(deps_, context); !s.ok()) return s;
  if (absl::Status s = CheckDeviceId("device_id", request->device_id()); !s.ok()) {
    return ToGrpc(s);
  }
  return ToGrpc(store_.Delete(request->device_id()));
}

}  // namespace ota::server
