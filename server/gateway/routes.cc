#include "server/gateway/routes.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "google/api/annotations.pb.h"
#include "google/api/http.pb.h"
#include "server/gateway/request_fields.h"

namespace ota::server::gateway {

using google::protobuf::FieldDescriptor;
using google::protobuf::MethodDescriptor;

namespace {

absl::Status BadRule(const MethodDescriptor* method, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(method->full_name(), ": ", why));
}

absl::Status AddRule(const MethodDescriptor* method, const google::api::HttpRule& rule,
                     int binding, std::vector<Route>* out) {
  Route route;
  route.method = method;
  route.binding = binding;
  std::string pattern;
  switch (rule.pattern_case()) {
    case google::api::HttpRule::kGet:
      route.http_method = "GET";
      pattern = rule.get();
      break;
    case google::api::HttpRule::kPut:
      route.http_method = "PUT";
      pattern = rule.put();
      break;
    case google::api::HttpRule::kPost:
      route.http_method = "POST";
      pattern = rule.post();
      break;
    case google::api::HttpRule::kDelete:
      route.http_method = "DELETE";
      pattern = rule.delete_();
      break;
    case google::api::HttpRule::kPatch:
      route.http_method = "PATCH";
      pattern = rule.patch();
      break;
    case google::api::HttpRule::kCustom:
      route.http_method = rule.custom().kind();
      pattern = rule.custom().path();
      if (route.http_method.empty()) return BadRule(method, "custom rule without a kind");
      break;
    default:
      return BadRule(method, "http rule without a pattern");
  }
  absl::StatusOr<PathTemplate> path = PathTemplate::Parse(pattern);
  if (!path.ok()) return BadRule(method, path.status().message());
  route.path = *std::move(path);
  for (const std::string& variable : route.path.variables()) {
    auto fields = ResolveFieldPath(method->input_type(), variable);
    if (!fields.ok()) return BadRule(method, fields.status().message());
    const FieldDescriptor* last = fields->back();
    if (last->is_repeated() || last->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      return BadRule(method, absl::StrCat("path variable \"", variable,
                                          "\" is not a singular non-message field"));
    }
  }
  route.body = rule.body();
  if (!route.body.empty() && route.body != "*" &&
      method->input_type()->FindFieldByName(route.body) == nullptr) {
    return BadRule(method, absl::StrCat("body \"", route.body, "\" names no request field"));
  }
  route.response_body = rule.response_body();
  if (!route.response_body.empty() &&
      method->output_type()->FindFieldByName(route.response_body) == nullptr) {
    return BadRule(method, absl::StrCat("response_body \"", route.response_body,
                                        "\" names no response field"));
  }
  out->push_back(std::move(route));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<Route>> RoutesForServices(const std::vector<std::string>& services) {
  std::vector<Route> routes;
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  for (const std::string& name : services) {
    const google::protobuf::ServiceDescriptor* service = pool->FindServiceByName(name);
    if (service == nullptr) {
      return absl::NotFoundError(absl::StrCat("service ", name, " is not linked in"));
    }
    for (int i = 0; i < service->method_count(); ++i) {
      const MethodDescriptor* method = service->method(i);
      if (method->client_streaming() || !method->options().HasExtension(google::api::http)) {
        continue;
      }
      const google::api::HttpRule& rule = method->options().GetExtension(google::api::http);
      if (absl::Status s = AddRule(method, rule, 0, &routes); !s.ok()) return s;
      for (int b = 0; b < rule.additional_bindings_size(); ++b) {
        if (absl::Status s = AddRule(method, rule.additional_bindings(b), b + 1, &routes);
            !s.ok()) {
          return s;
        }
      }
    }
  }
  return routes;
}

std::optional<RouteTable::Match> RouteTable::Find(absl::string_view method,
                                                  absl::string_view path,
                                                  std::vector<std::string>* allowed) const {
  std::optional<Match> best;
  for (const Route& route : routes_) {
    std::optional<std::vector<PathBinding>> bindings = route.path.Match(path);
    if (!bindings.has_value()) continue;
    if (route.http_method != method) {
      if (allowed != nullptr &&
          std::find(allowed->begin(), allowed->end(), route.http_method) == allowed->end()) {
        allowed->push_back(route.http_method);
      }
      continue;
    }
    if (!best.has_value() || route.path.MoreSpecificThan(best->route->path)) {
      best = Match{&route, *std::move(bindings)};
    }
  }
  if (best.has_value() && allowed != nullptr) allowed->clear();
  if (allowed != nullptr) std::sort(allowed->begin(), allowed->end());
  return best;
}

}  // namespace ota::server::gateway
