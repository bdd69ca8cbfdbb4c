#include "server/http/http_server.h"

#include <microhttpd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <vector>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"
#include "server/http/acceptor.h"
#include "server/http/payload_sender.h"

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

MHD_Result CollectHeader(void* cls, enum MHD_ValueKind, const char* key, const char* value) {
  auto* headers = static_cast<std::vector<std::pair<std::string, std::string>>*>(cls);
  headers->emplace_back(key, value == nullptr ? "" : value);
  return MHD_YES;
}

void Completed(void*, MHD_Connection*, void** state, enum MHD_RequestTerminationCode) {
  delete static_cast<RequestState*>(*state);
  *state = nullptr;
}

// A connection libmicrohttpd closes leaves the limits it was counted in.
void ConnectionNotice(void* cls, MHD_Connection* connection, void**,
                      enum MHD_ConnectionNotificationCode code) {
  if (code != MHD_CONNECTION_NOTIFY_CLOSED) return;
  const MHD_ConnectionInfo* info =
      MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  if (info != nullptr && info->client_addr != nullptr) {
    static_cast<ConnectionLimits*>(cls)->Release(info->client_addr);
  }
}

}  // namespace

struct HttpServer::Streams : StreamRegistry {};

std::string HttpRequest::Header(absl::string_view name) const {
  for (const auto& [n, value] : headers) {
    if (absl::EqualsIgnoreCase(n, name)) return value;
  }
  return "";
}

HttpResponse HttpResponse::Text(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
  return r;
}

HttpServer::HttpServer() = default;

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options,
                                                              std::vector<HttpRoute> routes) {
  absl::StatusOr<std::unique_ptr<Acceptor>> acceptor = Acceptor::Listen(options.address);
  if (!acceptor.ok()) return acceptor.status();
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
  server->limits_ =
      std::make_unique<ConnectionLimits>(options.connection_limit, options.per_address_limit);
  const unsigned int threads = static_cast<unsigned int>(options.threads < 1 ? 1 : options.threads);
  // No listening socket of its own: connections come from HandOver. The
  // limits are counted by limits_ for both paths; libmicrohttpd's own
  // total cap is only a backstop.
  unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
                       MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC |
                       MHD_ALLOW_SUSPEND_RESUME;
  const bool tls = !options.tls_cert_pem.empty() && !options.tls_key_pem.empty();
  server->tls_cert_pem_ = options.tls_cert_pem;
  server->tls_key_pem_ = options.tls_key_pem;
  std::vector<MHD_OptionItem> mhd_options = {
      {MHD_OPTION_THREAD_POOL_SIZE, threads, nullptr},
      {MHD_OPTION_CONNECTION_LIMIT, options.connection_limit, nullptr},
      {MHD_OPTION_CONNECTION_TIMEOUT, options.idle_timeout_seconds, nullptr},
      {MHD_OPTION_CONNECTION_MEMORY_LIMIT, static_cast<intptr_t>(options.connection_memory),
       nullptr},
      {MHD_OPTION_NOTIFY_COMPLETED, reinterpret_cast<intptr_t>(&Completed), nullptr},
      {MHD_OPTION_URI_LOG_CALLBACK, reinterpret_cast<intptr_t>(&StartRequest), nullptr},
      {MHD_OPTION_NOTIFY_CONNECTION, reinterpret_cast<intptr_t>(&ConnectionNotice),
       server->limits_.get()},
  };
  if (tls) {
    flags |= MHD_USE_TLS;
    mhd_options.push_back({MHD_OPTION_HTTPS_MEM_CERT, 0, server->tls_cert_pem_.data()});
    mhd_options.push_back({MHD_OPTION_HTTPS_MEM_KEY, 0, server->tls_key_pem_.data()});
  }
  mhd_options.push_back({MHD_OPTION_END, 0, nullptr});
  server->daemon_ = MHD_start_daemon(
      flags, 0, nullptr, nullptr,
      reinterpret_cast<MHD_AccessHandlerCallback>(&HttpServer::Dispatch), server.get(),
      MHD_OPTION_ARRAY, mhd_options.data(), MHD_OPTION_END);
  if (server->daemon_ == nullptr) {
    return absl::UnavailableError(absl::StrCat("cannot serve HTTP on ", options.address));
  }
  PayloadSender::Options sender_options;
  sender_options.threads = static_cast<int>(threads);
  sender_options.head_limit = options.connection_memory;
  sender_options.idle_timeout_seconds = options.idle_timeout_seconds;
  HttpServer* self = server.get();
  server->sender_ = std::make_unique<PayloadSender>(
      sender_options,
      PayloadSender::Hooks{
          [self](absl::string_view path) -> const HttpHandler* {
            const HttpRoute* route = self->Route(path);
            return route != nullptr && route->kind == HttpRoute::kPayload ? &route->handler
                                                                          : nullptr;
          },
          [self](AcceptedSocket s) { self->HandOver(s); },
          [self](const sockaddr* address) { self->limits_->Release(address); },
          [self](int status, bool head, uint64_t body_bytes) {
            self->Count(status, head, body_bytes);
          }});
  server->acceptor_ = *std::move(acceptor);
  server->port_ = server->acceptor_->port();
  if (tls) {
    // TLS end to end: every connection to libmicrohttpd.
    server->acceptor_->Start(server->limits_.get(),
                             [self](AcceptedSocket s) { self->HandOver(s); });
  } else {
    server->acceptor_->Start(server->limits_.get(),
                             [self](AcceptedSocket s) { self->sender_->Add(s); });
  }
  return server;
}

HttpServer::~HttpServer() {
  acceptor_.reset();
  sender_.reset();
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

void HttpServer::HandOver(AcceptedSocket s) {
  // On failure libmicrohttpd has closed the socket without a notice.
  if (MHD_add_connection(daemon_, s.fd, reinterpret_cast<const sockaddr*>(&s.address),
                         s.address_len) != MHD_YES) {
    limits_->Release(reinterpret_cast<const sockaddr*>(&s.address));
  }
}

void HttpServer::Count(int status, bool head, uint64_t body_bytes) {
  if (counters_->requests == nullptr) return;
  counters_->requests->Add({{"code", absl::StrCat(status)}}).Increment();
  if (!head) counters_->body_bytes->Increment(static_cast<double>(body_bytes));
}

const HttpRoute* HttpServer::Route(absl::string_view path) const {
  const HttpRoute* best = nullptr;
  size_t best_len = 0;
  for (const HttpRoute& route : routes_) {
    const std::string& prefix = route.prefix;
    bool match = prefix.back() == '/' ? absl::StartsWith(path, prefix) : path == prefix;
    if (match && prefix.size() >= best_len) {
      best = &route;
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
  MHD_get_connection_values(connection, MHD_GET_ARGUMENT_KIND, &CollectArgument, &request.query);
  MHD_get_connection_values(connection, MHD_HEADER_KIND, &CollectHeader, &request.headers);
  HttpResponse response;
  if (rs->too_large) {
    response = HttpResponse::Text(413, absl::StrCat("request body is larger than ",
                                                    self->max_body_, " bytes\n"));
  } else {
    request.body = std::move(rs->body);
    const HttpRoute* route = self->Route(request.path);
    response = route == nullptr ? HttpResponse::Text(404, "not found\n") : route->handler(request);
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
  self->Count(response.status, request.method == "HEAD", body_bytes);
  return rc;
}

}  // namespace ota::server
