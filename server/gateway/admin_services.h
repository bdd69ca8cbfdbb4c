// The admin services otad exposes over REST, with their descriptors linked
// into the binary so that the gateway finds them in the generated pool.
#ifndef OTA_SERVER_GATEWAY_ADMIN_SERVICES_H_
#define OTA_SERVER_GATEWAY_ADMIN_SERVICES_H_

#include <string>
#include <vector>

namespace ota::server::gateway {

// Full names of the ota.v1 admin services, e.g. "ota.v1.CampaignService".
std::vector<std::string> AdminServices();

}  // namespace ota::server::gateway

#endif  // OTA_SERVER_GATEWAY_ADMIN_SERVICES_H_
