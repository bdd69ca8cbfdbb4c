// The REST/JSON gateway: HTTP requests to the gRPC services of the same
// server, driven by the services' google.api.http rules.
//
//   auto gateway = Gateway::Create(server->InProcessChannel({}),
//                                  {"ota.v1.CampaignService", ...});
//   routes: {"/v1/", [&](const HttpRequest& r) { return (*gateway)->Handle(r); }},
//           {"/openapi.json", ...Handle...}
//
// A request becomes the RPC's request message: the JSON body (protobuf's
// JSON mapping) where the rule has a body, path variables, and query
// parameters for the remaining fields; an unknown parameter or field is
// INVALID_ARGUMENT. The call goes through gRPC as serialized bytes, so what
// the server applies to every call (interceptors, authentication) applies
// here too; the Authorization and X-Request-Id headers go along as
// metadata. The answer is the response message as JSON, or an error object
// (see errors.h) with the HTTP status of the gRPC code. A server-streaming
// RPC answers with a chunked body: server-sent events ("data: <json>") when
// the client accepts text/event-stream, newline-delimited JSON otherwise.
// GET /openapi.json serves an OpenAPI 3.0 document of the routes.
#ifndef OTA_SERVER_GATEWAY_GATEWAY_H_
#define OTA_SERVER_GATEWAY_GATEWAY_H_

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/channel.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/gateway/routes.h"
#include "server/http/http_server.h"

namespace ota::server::gateway {

struct GatewayOptions {
  // Deadline of a unary call.
  absl::Duration deadline = absl::Seconds(30);
  // How long a streaming call may take to send its first message before
  // the HTTP answer starts (200, chunked) without it; an error before then
  // gets its own HTTP status.
  absl::Duration first_message_wait = absl::Seconds(5);
  // Encoded messages a stream holds for a slow client before it stops
  // reading from gRPC.
  size_t stream_buffer = 64;
  // A quiet stream sends a keepalive this often (a comment line in
  // server-sent events, an empty line in newline-delimited JSON), so that
  // proxies keep it open and a client that went away is noticed. Keep it
  // below the HTTP server's idle timeout.
  absl::Duration stream_keepalive = absl::Seconds(15);
  // OpenAPI document title and version.
  std::string title = "OTA update service";
  std::string version = "v1";
  // A FileDescriptorSet with source info whose comments become the OpenAPI
  // document's descriptions (see proto_comments.h); empty for none.
  std::string descriptor_set;
};

class Gateway {
 public:
  // Reads the routes of `services` (see RoutesForServices) and builds the
  // OpenAPI document. Calls go over `channel`, which must reach a server
  // running those services.
  static absl::StatusOr<std::unique_ptr<Gateway>> Create(std::shared_ptr<grpc::Channel> channel,
                                                         const std::vector<std::string>& services,
                                                         GatewayOptions options = {});

  // Answers one HTTP request; safe to call from several threads. Blocks
  // for the duration of a unary call.
  HttpResponse Handle(const HttpRequest& request) const;

  const std::string& openapi_json() const { return openapi_; }
  const RouteTable& routes() const { return table_; }

 private:
  Gateway(std::shared_ptr<grpc::Channel> channel, RouteTable table, GatewayOptions options)
      : channel_(std::move(channel)), table_(std::move(table)), options_(std::move(options)) {}

  std::shared_ptr<grpc::Channel> channel_;
  RouteTable table_;
  GatewayOptions options_;
  std::string openapi_;
};

}  // namespace ota::server::gateway

#endif  // OTA_SERVER_GATEWAY_GATEWAY_H_
