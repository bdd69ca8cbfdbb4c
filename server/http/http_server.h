// otad's HTTP/1.1 server on libmicrohttpd: payload downloads, /metrics,
// /healthz and the REST gateway share it.
//
//   HttpServerOptions options;
//   options.address = "127.0.0.1:0";
//   auto server = HttpServer::Start(options, {
//       {"/payloads/", [&](const HttpRequest& r) { return payloads.Handle(r); },
//        HttpRoute::kPayload},
//       {"/healthz", [](const HttpRequest&) { return HttpResponse::Text(200, "ok\n"); }}});
//   int port = (*server)->port();
//
// Routes match by longest path prefix; no match is 404. A response body is
// either bytes in memory or a byte range of an open file, which goes out
// with sendfile and is never read into memory. Limits bound what one client
// can hold: connections in all and per address, header memory per
// connection, request body size, and an idle timeout after which a silent
// or slow connection is closed. A body of unknown length (server-sent
// events, streamed JSON) comes from an HttpBodySource and goes out chunked.
//
// The server accepts connections itself. GET and HEAD under a payload
// route are answered by a fast path with nginx's send pattern (see
// payload_sender.h); every other request goes to libmicrohttpd.
#ifndef OTA_SERVER_HTTP_HTTP_SERVER_H_
#define OTA_SERVER_HTTP_HTTP_SERVER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

struct MHD_Daemon;
struct MHD_Connection;

namespace prometheus {
class Registry;
}

namespace ota::server {

class Acceptor;
struct AcceptedSocket;
class ConnectionLimits;
class PayloadSender;

struct HttpRequest {
  std::string method;
  // The decoded path, without the query.
  std::string path;
  // The request target as the client sent it: path and query, not decoded.
  std::string target;
  std::map<std::string, std::string> query;
  // Header fields in the order received, names as sent.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // The value of the first request header `name` (case-insensitive), or
  // empty.
  std::string Header(absl::string_view name) const;
};

// A response body produced while it is sent, of a length not known in
// advance; the server sends it with chunked transfer encoding. The server
// calls Start once, then Read from its worker threads whenever the client
// can take more, and Close once when it is done with the body: sent
// completely, or the client went away. A source is never read after Close.
class HttpBodySource {
 public:
  static constexpr long kEnd = -1;

  virtual ~HttpBodySource() = default;

  // `wake` is to be called, from any thread and without holding a lock
  // that Read takes, whenever bytes become ready or the body ends after
  // Read returned 0. It may be called after Close; it then does nothing.
  virtual void Start(std::function<void()> wake) = 0;
  // Copies up to `max` ready bytes into `buf` and returns how many; 0 when
  // none are ready yet (the connection then waits for `wake` without
  // holding a worker thread); kEnd when the body is complete. Never blocks.
  virtual long Read(char* buf, size_t max) = 0;
  // The server is done with the body; the source stops producing it.
  virtual void Close() = 0;
};

struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // When fd >= 0 the body is `length` bytes of the file from `offset`; the
  // server takes ownership of fd and closes it.
  int fd = -1;
  uint64_t offset = 0;
  uint64_t length = 0;
  // When set (and fd < 0), the body comes from this source, chunked.
  std::shared_ptr<HttpBodySource> source;

  // A text/plain response.
  static HttpResponse Text(int status, std::string body);
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpRoute {
  enum Kind {
    kOrdinary,
    // GET and HEAD without a body are answered on the payload fast path:
    // the handler runs on a payload worker thread, so it must be quick and
    // never block (no database); file bodies go out corked, in large
    // sendfile calls.
    kPayload,
  };
  // A path, or a prefix when it ends in '/'.
  std::string prefix;
  HttpHandler handler;
  Kind kind = kOrdinary;
};

struct HttpServerOptions {
  // host:port, IPv4 or [IPv6]; port 0 picks a free port.
  std::string address = "127.0.0.1:7480";
  // Worker threads, each with its own epoll loop: this many on the payload
  // fast path and as many in libmicrohttpd's pool.
  int threads = 2;
  // Connections at most, in all and from one address (0: no per-address cap).
  int connection_limit = 4096;
  int per_address_limit = 0;
  // A connection that sends or takes nothing for this long is closed.
  int idle_timeout_seconds = 30;
  // Memory for one connection's request line, headers and buffers; a
  // request whose headers do not fit is refused (431).
  size_t connection_memory = 32 << 10;
  // Largest request body accepted (413 beyond).
  size_t max_body = 4 << 20;
  // PEM certificate (chain) and key: with both, every connection speaks TLS
  // (libmicrohttpd with GnuTLS) and the payload fast path, which sends
  // plaintext file ranges, is not used.
  std::string tls_cert_pem;
  std::string tls_key_pem;
  // Where request and byte counters go; may be null.
  prometheus::Registry* metrics = nullptr;
};

class HttpServer {
 public:
  // Binds and starts the worker threads. UNAVAILABLE when the address
  // cannot be bound; INVALID_ARGUMENT when it does not parse.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options,
                                                           std::vector<HttpRoute> routes);

  // Stops accepting, closes the payload connections, joins the payload
  // workers, then stops libmicrohttpd (closing its connections).
  ~HttpServer();

  int port() const { return port_; }

 private:
  struct Counters;
  struct Streams;
  HttpServer();
  static int Dispatch(void* cls, MHD_Connection* connection, const char* url,
                      const char* method, const char* version, const char* upload_data,
                      size_t* upload_data_size, void** state);
  const HttpRoute* Route(absl::string_view path) const;
  // Counts an answered request in the metrics.
  void Count(int status, bool head, uint64_t body_bytes);
  // Gives libmicrohttpd a connection nothing has been read from.
  void HandOver(AcceptedSocket socket);

  MHD_Daemon* daemon_ = nullptr;
  int port_ = 0;
  size_t max_body_ = 0;
  std::vector<HttpRoute> routes_;
  std::unique_ptr<Counters> counters_;
  std::unique_ptr<Streams> streams_;
  std::unique_ptr<ConnectionLimits> limits_;
  std::unique_ptr<PayloadSender> sender_;
  std::unique_ptr<Acceptor> acceptor_;
  std::string tls_cert_pem_, tls_key_pem_;  // libmicrohttpd keeps pointers
};

}  // namespace ota::server

#endif  // OTA_SERVER_HTTP_HTTP_SERVER_H_
