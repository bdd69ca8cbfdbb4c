#include "test/http/fault_server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace ota::testing {
namespace {

// A requested byte range resolved against the object's length.
struct ByteRange {
  uint64_t first = 0;
  uint64_t last = 0;
};

enum class RangeKind { kNone, kSatisfiable, kUnsatisfiable };

bool ParseNumber(absl::string_view text, uint64_t* value) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return absl::SimpleAtoi(text, value);
}

// One "bytes=" range (first-last, first- or -suffix). Several ranges, or
// anything malformed, are treated as no Range at all, as RFC 9110 allows.
RangeKind ParseRange(absl::string_view header, uint64_t length, ByteRange* out) {
  header = absl::StripAsciiWhitespace(header);
  if (!absl::ConsumePrefix(&header, "bytes=")) return RangeKind::kNone;
  if (absl::StrContains(header, ',')) return RangeKind::kNone;
  size_t dash = header.find('-');
  if (dash == absl::string_view::npos) return RangeKind::kNone;
  absl::string_view a = header.substr(0, dash);
  absl::string_view b = header.substr(dash + 1);
  uint64_t first = 0;
  uint64_t last = 0;
  if (a.empty()) {
    uint64_t suffix = 0;
    if (!ParseNumber(b, &suffix)) return RangeKind::kNone;
    if (suffix == 0 || length == 0) return RangeKind::kUnsatisfiable;
    first = length - std::min(suffix, length);
    last = length - 1;
  } else {
    if (!ParseNumber(a, &first)) return RangeKind::kNone;
    if (b.empty()) {
      last = length == 0 ? 0 : length - 1;
    } else if (!ParseNumber(b, &last) || last < first) {
      return RangeKind::kNone;
    }
    if (first >= length) return RangeKind::kUnsatisfiable;
    last = std::min(last, length - 1);
  }
  *out = ByteRange{first, last};
  return RangeKind::kSatisfiable;
}

std::string Header(MHD_Connection* connection, const char* name) {
  const char* v = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, name);
  return v == nullptr ? "" : v;
}

}  // namespace

// What one body being sent needs, owned by libmicrohttpd's response.
struct FaultServerCallbacks {
  struct Body {
    FaultServer* server = nullptr;
    size_t served_index = 0;
    std::shared_ptr<const std::string> content;
    uint64_t first = 0;      // object offset of body byte 0
    uint64_t length = 0;     // object bytes in the body
    uint64_t garbage = 0;    // bytes appended after them
    FaultServer::Faults faults;
  };

  static MHD_Result Handle(void* cls, MHD_Connection* connection, const char* url,
                           const char*, const char*, const char*, size_t*,
                           void** state) {
    static int headers_seen;
    if (*state == nullptr) {
      *state = &headers_seen;  // the headers are in; the (empty) body follows
      return MHD_YES;
    }
    return static_cast<MHD_Result>(
        static_cast<FaultServer*>(cls)->Respond(connection, url));
  }

  static ssize_t ReadBody(void* cls, uint64_t pos, char* buf, size_t max) {
    auto* body = static_cast<Body*>(cls);
    FaultServer* server = body->server;
    const uint64_t total = body->length + body->garbage;
    const std::optional<uint64_t>& cut = body->faults.cut_after_body_bytes;
    if (cut.has_value() && pos >= *cut) return MHD_CONTENT_READER_END_WITH_ERROR;
    if (pos >= total) return MHD_CONTENT_READER_END_OF_STREAM;
    uint64_t n = std::min<uint64_t>(max, total - pos);
    if (cut.has_value()) n = std::min(n, *cut - pos);
    if (body->faults.trickle) {
      absl::MutexLock lock(&server->mu_);
      if (server->mu_.AwaitWithTimeout(absl::Condition(&server->stopping_),
                                       absl::Seconds(1))) {
        return MHD_CONTENT_READER_END_WITH_ERROR;
      }
      n = 1;
    }
    for (uint64_t i = 0; i < n; ++i) {
      uint64_t at = pos + i;
      if (at >= body->length) {
        buf[i] = 'G';
        continue;
      }
      uint64_t object_at = body->first + at;
      char c = (*body->content)[object_at];
      const FaultServer::Faults& f = body->faults;
      if (f.poison_chunk.has_value() && f.chunk_size > 0 &&
          object_at / f.chunk_size == *f.poison_chunk) {
        c = static_cast<char>(c ^ 0x5a);
      }
      buf[i] = c;
    }
    absl::MutexLock lock(&server->mu_);
    server->body_bytes_ += n;
    server->served_[body->served_index].body_bytes += n;
    return static_cast<ssize_t>(n);
  }

  static void FreeBody(void* cls) { delete static_cast<Body*>(cls); }

  static void Connected(void* cls, MHD_Connection*, void**,
                        MHD_ConnectionNotificationCode code) {
    if (code != MHD_CONNECTION_NOTIFY_STARTED) return;
    auto* server = static_cast<FaultServer*>(cls);
    absl::MutexLock lock(&server->mu_);
    ++server->connections_;
  }
};

absl::StatusOr<std::unique_ptr<FaultServer>> FaultServer::Start(std::string path,
                                                                std::string content) {
  std::unique_ptr<FaultServer> server(new FaultServer(std::move(path), std::move(content)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  server->daemon_ = MHD_start_daemon(
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, nullptr,
      nullptr, &FaultServerCallbacks::Handle, server.get(), MHD_OPTION_SOCK_ADDR,
      reinterpret_cast<sockaddr*>(&addr), MHD_OPTION_CONNECTION_TIMEOUT, 60u,
      MHD_OPTION_NOTIFY_CONNECTION, &FaultServerCallbacks::Connected, server.get(),
      MHD_OPTION_END);
  if (server->daemon_ == nullptr) {
    return absl::UnavailableError("cannot start libmicrohttpd on 127.0.0.1");
  }
  const MHD_DaemonInfo* info = MHD_get_daemon_info(server->daemon_, MHD_DAEMON_INFO_BIND_PORT);
  if (info == nullptr || info->port == 0) {
    return absl::UnavailableError("libmicrohttpd did not report its port");
  }
  server->port_ = info->port;
  return server;
}

FaultServer::FaultServer(std::string path, std::string content) : path_(std::move(path)) {
  object_.etag = "\"v1\"";
  object_.content = std::make_shared<const std::string>(std::move(content));
}

FaultServer::~FaultServer() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (daemon_ != nullptr) MHD_stop_daemon(daemon_);
}

std::string FaultServer::url() const {
  return absl::StrCat("http://127.0.0.1:", port_, path_);
}

void FaultServer::SetFaults(Faults faults) {
  absl::MutexLock lock(&mu_);
  faults_ = std::move(faults);
  cuts_ = 0;
}

void FaultServer::SetContent(std::string content) {
  absl::MutexLock lock(&mu_);
  ++generation_;
  object_.etag = absl::StrCat("\"v", generation_, "\"");
  object_.content = std::make_shared<const std::string>(std::move(content));
}

std::string FaultServer::etag() const {
  absl::MutexLock lock(&mu_);
  return object_.etag;
}

int FaultServer::requests() const {
  absl::MutexLock lock(&mu_);
  return requests_;
}

int FaultServer::connections() const {
  absl::MutexLock lock(&mu_);
  return connections_;
}

uint64_t FaultServer::body_bytes_sent() const {
  absl::MutexLock lock(&mu_);
  return body_bytes_;
}

std::vector<FaultServer::Served> FaultServer::served() const {
  absl::MutexLock lock(&mu_);
  return served_;
}

void FaultServer::WaitForRequests(int n) const {
  absl::MutexLock lock(&mu_);
  auto arrived = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return requests_ >= n; };
  mu_.Await(absl::Condition(&arrived));
}

int FaultServer::Respond(MHD_Connection* connection, const std::string& url) {
  Served served;
  served.range = Header(connection, MHD_HTTP_HEADER_RANGE);
  served.if_range = Header(connection, MHD_HTTP_HEADER_IF_RANGE);

  auto body = std::make_unique<FaultServerCallbacks::Body>();
  body->server = this;
  std::string etag;
  int status = 0;
  {
    absl::MutexLock lock(&mu_);
    ++requests_;
    if (faults_.change_from_request > 0 && requests_ >= faults_.change_from_request &&
        !changed_) {
      changed_ = true;
      ++generation_;
      object_.etag = absl::StrCat("\"v", generation_, "\"");
      object_.content = std::make_shared<const std::string>(faults_.changed_content);
    }
    body->faults = faults_;
    if (faults_.cut_after_body_bytes.has_value() && faults_.cut_responses > 0 &&
        cuts_++ >= faults_.cut_responses) {
      body->faults.cut_after_body_bytes.reset();
    }
    body->content = object_.content;
    etag = object_.etag;
    status = faults_.status;
  }

  MHD_Response* response = nullptr;
  std::string content_range;
  if (status == 0 && url != path_) status = MHD_HTTP_NOT_FOUND;
  const uint64_t length = body->content->size();
  if (status == 0) {
    ByteRange range;
    RangeKind kind = RangeKind::kNone;
    if (!served.range.empty() && !body->faults.ignore_range &&
        (served.if_range.empty() || served.if_range == etag)) {
      kind = ParseRange(served.range, length, &range);
    }
    if (kind == RangeKind::kUnsatisfiable) {
      status = MHD_HTTP_RANGE_NOT_SATISFIABLE;
      content_range = absl::StrCat("bytes */", length);
    } else if (kind == RangeKind::kSatisfiable) {
      int64_t first = static_cast<int64_t>(range.first) + body->faults.shift_range_first;
      first = std::max<int64_t>(0, std::min<int64_t>(first, static_cast<int64_t>(range.last)));
      range.first = static_cast<uint64_t>(first);
      status = MHD_HTTP_PARTIAL_CONTENT;
      content_range = absl::StrCat("bytes ", range.first, "-", range.last, "/", length);
      body->first = range.first;
      body->length = range.last - range.first + 1;
    } else {
      status = MHD_HTTP_OK;
      body->first = 0;
      body->length = length;
    }
  }

  if (status == MHD_HTTP_OK || status == MHD_HTTP_PARTIAL_CONTENT) {
    body->garbage = body->faults.garbage_bytes;
    uint64_t declared = body->length;
    if (body->garbage > 0) {
      declared = body->faults.declare_garbage_length ? body->length + body->garbage
                                                     : MHD_SIZE_UNKNOWN;
    }
    served.status = status;
    served.etag = etag;
    served.first = body->first;
    {
      absl::MutexLock lock(&mu_);
      body->served_index = served_.size();
      served_.push_back(served);
    }
    FaultServerCallbacks::Body* raw = body.release();
    response = MHD_create_response_from_callback(declared, 16 * 1024,
                                                 &FaultServerCallbacks::ReadBody, raw,
                                                 &FaultServerCallbacks::FreeBody);
    if (response == nullptr) {
      delete raw;
      return MHD_NO;
    }
    MHD_add_response_header(response, MHD_HTTP_HEADER_ETAG, etag.c_str());
    MHD_add_response_header(response, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
    if (!content_range.empty()) {
      MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_RANGE, content_range.c_str());
    }
  } else {
    served.status = status;
    {
      absl::MutexLock lock(&mu_);
      served_.push_back(served);
    }
    std::string text = absl::StrCat("status ", status, "\n");
    response = MHD_create_response_from_buffer(text.size(), text.data(),
                                               MHD_RESPMEM_MUST_COPY);
    if (response == nullptr) return MHD_NO;
    if (!body->faults.location.empty()) {
      MHD_add_response_header(response, MHD_HTTP_HEADER_LOCATION,
                              body->faults.location.c_str());
    }
    if (!content_range.empty()) {
      MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_RANGE, content_range.c_str());
    }
  }
  MHD_Result rc = MHD_queue_response(connection, static_cast<unsigned int>(status), response);
  MHD_destroy_response(response);
  return rc;
}

}  // namespace ota::testing
