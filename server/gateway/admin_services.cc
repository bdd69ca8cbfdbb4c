#include "server/gateway/admin_services.h"

#include "ota/v1/access_service.pb.h"
#include "ota/v1/asset_service.pb.h"
#include "ota/v1/campaign_service.pb.h"
#include "ota/v1/certificate_service.pb.h"
#include "ota/v1/device_registry_service.pb.h"
#include "ota/v1/manifest_service.pb.h"

namespace ota::server::gateway {

std::vector<std::string> AdminServices() {
  // A message of each file names its service; asking for the descriptor
  // links the file in even where nothing else uses it.
  std::vector<std::string> out;
  for (const google::protobuf::FileDescriptor* file :
       {v1::Certificate::descriptor()->file(), v1::Asset::descriptor()->file(),
        v1::ManifestRecord::descriptor()->file(), v1::Device::descriptor()->file(),
        v1::Campaign::descriptor()->file(), v1::AccessToken::descriptor()->file()}) {
    for (int i = 0; i < file->service_count(); ++i) out.push_back(file->service(i)->full_name());
  }
  return out;
}

}  // namespace ota::server::gateway
