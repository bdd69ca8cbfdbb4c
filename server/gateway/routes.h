// The REST routes of gRPC services, read from the google.api.http options
// of their methods in the generated descriptor pool, and the lookup of the
// route for an HTTP request.
//
//   auto routes = RoutesForServices({"ota.v1.CampaignService"});
//   RouteTable table(*std::move(routes));
//   std::vector<std::string> allowed;
//   auto match = table.Find("POST", "/v1/campaigns/c1:start", &allowed);
#ifndef OTA_SERVER_GATEWAY_ROUTES_H_
#define OTA_SERVER_GATEWAY_ROUTES_H_

#include <optional>
#include <string>
#include <vector>

#include <google/protobuf/descriptor.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/gateway/path_template.h"

namespace ota::server::gateway {

// One HTTP binding of one RPC.
struct Route {
  // "GET", "POST", "PUT", "PATCH", "DELETE" or a custom rule's kind.
  std::string http_method;
  PathTemplate path;
  const google::protobuf::MethodDescriptor* method = nullptr;
  // Where the request body goes: "" (no body), "*" (the whole request) or
  // the name of one request field.
  std::string body;
  // The response field sent as the body, or "" for the whole response.
  std::string response_body;
  // 0 for a method's rule, 1, 2, ... for its additional bindings.
  int binding = 0;
};

// The routes of every rule, additional bindings included, of the methods
// of `services` (full names, e.g. "ota.v1.CampaignService"). Methods
// without a rule and client-streaming methods have no route. NOT_FOUND
// when a service's descriptor is not linked in; INVALID_ARGUMENT naming the
// method when a rule has no pattern, its template does not parse, a path
// variable is not a singular non-message field, or body or response_body
// names no field of the request or response.
absl::StatusOr<std::vector<Route>> RoutesForServices(const std::vector<std::string>& services);

class RouteTable {
 public:
  explicit RouteTable(std::vector<Route> routes) : routes_(std::move(routes)) {}

  struct Match {
    const Route* route = nullptr;
    std::vector<PathBinding> bindings;
  };

  // The most specific route whose method is `method` and whose template
  // matches `path` (percent-encoded, without the query). When there is
  // none, `allowed` (if not null) receives the sorted methods of routes
  // whose template matches: a 405 rather than a 404 when not empty.
  std::optional<Match> Find(absl::string_view method, absl::string_view path,
                            std::vector<std::string>* allowed) const;

  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

}  // namespace ota::server::gateway

#endif  // OTA_SERVER_GATEWAY_ROUTES_H_
