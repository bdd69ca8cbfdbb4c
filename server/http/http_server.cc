#include "server/http/http_server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"

namespace ota::server {

struct HttpServer::Counters {
  prometheus::Family<prometheus::Counter>* requests = nullptr;
  prometheus::Counter* body_bytes = nullptr;
};

namespace {

// Per-request state kept by libmicrohttpd between calls of the handler.
struct RequestState {
  std::string target;
  bool headers_seen = false;
  std::string body;
  bool too_large = false;
};

// Keeps the request target as sent, before libmicrohttpd decodes the path.
void* StartRequest(void*, const char* uri, MHD_Connection*) {
  auto* rs = new RequestState();
  rs->target = uri == nullptr ? "" : uri;
  return rs;
}

struct BodyStream;

// The streamed bodies being sent. libmicrohttpd refuses to stop while a
// connection is suspended, so the server resumes them all first.
struct StreamRegistry {
  absl::Mutex mu;
  std::set<BodyStream*> live ABSL_GUARDED_BY(mu);
};

// Ties an HttpBodySource to its connection: a Read that finds nothing ready
// suspends the connection, so no worker thread waits on it, and the
// source's wake resumes it.
struct BodyStream {
  std::shared_ptr<HttpBodySource> source;
  MHD_Connection* connection = nullptr;
  StreamRegistry* registry = nullptr;
  absl::Mutex mu;
  bool suspended ABSL_GUARDED_BY(mu) = false;
  bool closed ABSL_GUARDED_BY(mu) = false;
  // The server stops: the body ends where it is.
  bool stopping ABSL_GUARDED_BY(mu) = false;
};

ssize_t ReadBody(void* cls, uint64_t, char* buf, size_t max) {
  BodyStream* stream = static_cast<std::shared_ptr<BodyStream>*>(cls)->get();
  absl::MutexLock lock(&stream->mu);
  long n = stream->source->Read(buf, max);
  if (n == HttpBodySource::kEnd) return MHD_CONTENT_READER_END_OF_STREAM;
  if (n > 0) return n;
  if (stream->stopping) return MHD_CONTENT_READER_END_WITH_ERROR;
  stream->suspended = true;
  MHD_suspend_connection(stream->connection);
  return 0;
}

void FreeBody(void* cls) {
  auto* stream = static_cast<std::shared_ptr<BodyStream>*>(cls);
  {
    absl::MutexLock lock(&(*stream)->mu);
    (*stream)->closed = true;
  }
  {
    absl::MutexLock lock(&(*stream)->registry->mu);
    (*stream)->registry->live.erase(stream->get());
  }
  (*stream)->source->Close();
  delete stream;
}

MHD_Response* StreamResponse(std::shared_ptr<HttpBodySource> source, MHD_Connection* connection,
                             StreamRegistry* registry) {
  auto stream = std::make_shared<BodyStream>();
  stream->source = std::move(source);
  stream->connection = connection;
  stream->registry = registry;
  {
    absl::MutexLock lock(&registry->mu);
    registry->live.insert(stream.get());
  }
  std::weak_ptr<BodyStream> weak = stream;
  stream->source->Start([weak] {
    std::shared_ptr<BodyStream> s = weak.lock();
    if (s == nullptr) return;
    absl::MutexLock lock(&s->mu);
    if (s->suspended && !s->closed) {
      s->suspended = false;
      MHD_resume_connection(s->connection);
    }
  });
  auto* cls = new std::shared_ptr<BodyStream>(stream);
  MHD_Response* r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 << 10, &ReadBody,
                                                      cls, &FreeBody);
  if (r == nullptr) FreeBody(cls);
  return r;
}

MHD_Result CollectArgument(void* cls, enum MHD_ValueKind, const char* key, const char* value) {
  auto* query = static_cast<std::map<std::string, std::string>*>(cls);
  (*query)[key] = value == nullptr ? "" : value;
  return MHD_YES;
}

void Completed(void*, MHD_Connection*, void** state, enum MHD_RequestTerminationCode) {
  delete static_cast<RequestState*>(*state);
  *state = nullptr;
}

absl::StatusOr<sockaddr_storage> ParseAddress(const std::string& address, socklen_t* len) {
  sockaddr_storage out{};
  size_t colon = address.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("address \"", address, "\" has no port"));
  }
  std::string host = address.substr(0, colon);
  int port = 0;
  if (!absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("address \"", address, "\" has a bad port"));
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    auto* a6 = reinterpret_cast<sockaddr_in6*>(&out);
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(port);
    if (inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &a6->sin6_addr) != 1) {
      return absl::InvalidArgumentError(absl::StrCat("bad IPv6 address in \"", address, "\""));
    }
    *len = sizeof(sockaddr_in6);
    return out;
  }
  auto* a4 = reinterpret_cast<sockaddr_in*>(&out);
  a4->sin_family = AF_INET;
  a4->sin_port = htons(port);
  if (host.empty() || host == "*") {
    a4->sin_addr.s_addr = htonl(INADDR_ANY);
  } else if (inet_pton(AF_INET, host.c_str(), &a4->sin_addr) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("bad IPv4 address in \"", address, "\""));
  }
  *len = sizeof(sockaddr_in);
  return out;
}

}  // namespace

struct HttpServer::Streams : StreamRegistry {};

std::string HttpRequest::Header(absl::string_view name) const {
  const char* v = MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                                              std::string(name).c_str());
  return v == nullptr ? "" : v;
}

HttpResponse HttpResponse::Text(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
  return r;
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    const HttpServerOptions& options, std::vector<std::pair<std::string, HttpHandler>> routes) {
  socklen_t len = 0;
  absl::StatusOr<sockaddr_storage> addr = ParseAddress(options.address, &len);
  if (!addr.ok()) return addr.status();
  std::unique_ptr<HttpServer> server(new HttpServer());
  server->routes_ = std::move(routes);
  server->max_body_ = options.max_body;
  server->counters_ = std::make_unique<Counters>();
  server->streams_ = std::make_unique<Streams>();
  if (options.metrics != nullptr) {
    server->counters_->requests = &prometheus::BuildCounter()
                                       .Name("otad_http_requests_total")
                                       .Help("HTTP requests answered, by status code")
                                       .Register(*options.metrics);
    server->counters_->body_bytes =
        &prometheus::BuildCounter()
             .Name("otad_http_response_body_bytes_total")
             .Help("HTTP response body bytes queued (payload bytes served)")
             .Register(*options.metrics)
             .Add({});
  }
  unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
                       MHD_ALLOW_SUSPEND_RESUME;
  if (reinterpret_cast<sockaddr*>(&*addr)->sa_family == AF_INET6) flags |= MHD_USE_IPv6;
  server->daemon_ = MHD_start_daemon(
      flags, 0, nullptr, nullptr,
      reinterpret_cast<MHD_AccessHandlerCallback>(&HttpServer::Dispatch), server.get(),
      MHD_OPTION_SOCK_ADDR, reinterpret_cast<sockaddr*>(&*addr),
      MHD_OPTION_THREAD_POOL_SIZE, static_cast<unsigned int>(options.threads < 1 ? 1 : options.threads),
      MHD_OPTION_CONNECTION_LIMIT, static_cast<unsigned int>(options.connection_limit),
      MHD_OPTION_PER_IP_CONNECTION_LIMIT, static_cast<unsigned int>(options.per_address_limit),
      MHD_OPTION_CONNECTION_TIMEOUT, static_cast<unsigned int>(options.idle_timeout_seconds),
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, options.connection_memory,
      MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
      MHD_OPTION_NOTIFY_COMPLETED, &Completed, nullptr,
      MHD_OPTION_URI_LOG_CALLBACK, &StartRequest, nullptr,
      MHD_OPTION_END);
  if (server->daemon_ == nullptr) {
    return absl::UnavailableError(absl::StrCat("cannot serve HTTP on ", options.address));
  }
  const MHD_DaemonInfo* info = MHD_get_daemon_info(server->daemon_, MHD_DAEMON_INFO_BIND_PORT);
  server->port_ = info == nullptr ? 0 : info->port;
  return server;
}

HttpServer::~HttpServer() {
  if (daemon_ == nullptr) return;
  {
    absl::MutexLock lock(&streams_->mu);
    for (BodyStream* stream : streams_->live) {
      absl::MutexLock stream_lock(&stream->mu);
      stream->stopping = true;
      if (stream->suspended) {
        stream->suspended = false;
        MHD_resume_connection(stream->connection);
      }
    }
  }
  MHD_stop_daemon(daemon_);
}

const HttpHandler* HttpServer::Route(absl::string_view path) const {
  const HttpHandler* best = nullptr;
  size_t best_len = 0;
  for (const auto& [prefix, handler] : routes_) {
    bool match = prefix.back() == '/' ? absl::StartsWith(path, prefix) : path == prefix;
    if (match && prefix.size() >= best_len) {
      best = &handler;
      best_len = prefix.size();
    }
  }
  return best;
}

int HttpServer::Dispatch(void* cls, MHD_Connection* connection, const char* url,
                         const char* method, const char*, const char* upload_data,
                         size_t* upload_data_size, void** state) {
  auto* self = static_cast<HttpServer*>(cls);
  if (*state == nullptr) *state = new RequestState();
  auto* rs = static_cast<RequestState*>(*state);
  if (!rs->headers_seen) {
    rs->headers_seen = true;
    return MHD_YES;  // headers only so far; body (if any) follows
  }
  if (*upload_data_size != 0) {
    if (rs->body.size() + *upload_data_size > self->max_body_) {
      rs->too_large = true;
    } else {
      rs->body.append(upload_data, *upload_data_size);
    }
    *upload_data_size = 0;
    return MHD_YES;
  }

  HttpRequest request;
  request.method = method;
  request.path = url;
  request.target = rs->target;
  request.connection = connection;
  MHD_get_connection_values(connection, MHD_GET_ARGUMENT_KIND, &CollectArgument, &request.query);
  HttpResponse response;
  if (rs->too_large) {
    response = HttpResponse::Text(413, absl::StrCat("request body is larger than ",
                                                    self->max_body_, " bytes\n"));
  } else {
    request.body = std::move(rs->body);
    const HttpHandler* handler = self->Route(request.path);
    response = handler == nullptr ? HttpResponse::Text(404, "not found\n") : (*handler)(request);
  }

  MHD_Response* r = nullptr;
  uint64_t body_bytes = 0;
  if (response.fd >= 0) {
    r = MHD_create_response_from_fd_at_offset64(response.length, response.fd,
                                                 response.offset);
    body_bytes = response.length;
  } else if (response.source != nullptr) {
    r = StreamResponse(std::move(response.source), connection, self->streams_.get());
  } else {
    r = MHD_create_response_from_buffer(response.body.size(),
                                        const_cast<char*>(response.body.data()),
                                        MHD_RESPMEM_MUST_COPY);
    body_bytes = response.body.size();
  }
  if (r == nullptr) {
    if (response.fd >= 0) close(response.fd);
    return MHD_NO;
  }
  for (const auto& [name, value] : response.headers) {
    MHD_add_response_header(r, name.c_str(), value.c_str());
  }
  MHD_Result rc = MHD_queue_response(connection, static_cast<unsigned int>(response.status), r);
  MHD_destroy_response(r);
  if (self->counters_->requests != nullptr) {
    self->counters_->requests->Add({{"code", absl::StrCat(response.status)}}).Increment();
    if (request.method != "HEAD") {
      self->counters_->body_bytes->Increment(static_cast<double>(body_bytes));
    }
  }
  return rc;
}

}  // namespace ota::server
