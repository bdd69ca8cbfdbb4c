#include "server/gateway/gateway.h"

#include <cstring>
#include <deque>
#include <thread>

#include <google/protobuf/message.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/client_context.h>
#include <grpcpp/completion_queue.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/byte_buffer.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "server/gateway/errors.h"
#include "server/gateway/openapi.h"
#include "server/gateway/proto_comments.h"
#include "server/gateway/request_fields.h"

namespace ota::server::gateway {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

namespace {

using MessagePtr = std::unique_ptr<Message>;

MessagePtr NewMessage(const google::protobuf::Descriptor* type) {
  return MessagePtr(
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(type)->New());
}

HttpResponse Json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers.emplace_back("Content-Type", "application/json");
  return r;
}

HttpResponse Error(grpc::StatusCode code, absl::string_view message) {
  return Json(HttpStatusFromCode(code), ErrorJson(code, message));
}

grpc::ByteBuffer ToBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

bool FromBuffer(const grpc::ByteBuffer& buffer, Message* message) {
  std::vector<grpc::Slice> slices;
  if (!buffer.Dump(&slices).ok()) return false;
  std::string bytes;
  for (const grpc::Slice& s : slices) {
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return message->ParseFromString(bytes);
}

// Waits for the next event on `cq`; false when the operation failed.
bool Await(grpc::CompletionQueue* cq) {
  void* tag = nullptr;
  bool ok = false;
  return cq->Next(&tag, &ok) && ok;
}

void Drain(grpc::CompletionQueue* cq) {
  cq->Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (cq->Next(&tag, &ok)) {
  }
}

// protobuf 3.21 has a status type of its own.
absl::Status FromProtobuf(const google::protobuf::util::Status& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.code()),
                      absl::string_view(s.message().data(), s.message().size()));
}

absl::Status ToJson(const Message& message, const std::string& field, std::string* out) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  absl::Status s = FromProtobuf(google::protobuf::util::MessageToJsonString(message, out, options));
  if (!s.ok() || field.empty()) return s;
  google::protobuf::Value whole;
  s = FromProtobuf(google::protobuf::util::JsonStringToMessage(*out, &whole));
  if (!s.ok()) return s;
  const FieldDescriptor* f = message.GetDescriptor()->FindFieldByName(field);
  const auto& fields = whole.struct_value().fields();
  auto it = fields.find(f->json_name());
  if (it == fields.end()) {
    *out = "null";
    return absl::OkStatus();
  }
  out->clear();
  return FromProtobuf(google::protobuf::util::MessageToJsonString(it->second, out));
}

// Fills `request` from the body, the path and the query.
absl::Status BuildRequest(const Route& route, const std::vector<PathBinding>& bindings,
                          const std::string& body,
                          const std::vector<std::pair<std::string, std::string>>& query,
                          Message* request) {
  google::protobuf::util::JsonParseOptions options;
  if (!route.body.empty() && !body.empty()) {
    std::string json = body;
    if (route.body != "*") {
      const FieldDescriptor* field = request->GetDescriptor()->FindFieldByName(route.body);
      json = absl::StrCat("{", JsonQuote(field->json_name()), ":", body, "}");
    }
    absl::Status s =
        FromProtobuf(google::protobuf::util::JsonStringToMessage(json, request, options));
    if (!s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("request body: ", s.message()));
    }
  }
  for (const PathBinding& b : bindings) {
    if (absl::Status s = SetFieldFromText(request, b.field_path, b.value); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("path: ", s.message()));
    }
  }
  for (const auto& [name, value] : query) {
    auto fields = ResolveFieldPath(request->GetDescriptor(), name);
    bool covered = route.body == "*" ||
                   (fields.ok() && !route.body.empty() && fields->front()->name() == route.body);
    for (const PathBinding& b : bindings) {
      if (fields.ok() && (name == b.field_path || absl::StartsWith(b.field_path, name + "."))) {
        covered = true;
      }
    }
    if (!fields.ok() || covered) {
      return absl::InvalidArgumentError(absl::StrCat("unknown query parameter \"", name, "\""));
    }
    if (absl::Status s = SetFieldFromText(request, name, value); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("query parameter \"", name, "\": ",
                                                     s.message()));
    }
  }
  return absl::OkStatus();
}

void AddMetadata(const HttpRequest& request, grpc::ClientContext* ctx) {
  if (std::string auth = request.Header("Authorization"); !auth.empty()) {
    ctx->AddMetadata("authorization", auth);
  }
  if (std::string id = request.Header("X-Request-Id"); !id.empty()) {
    ctx->AddMetadata("x-request-id", id);
  }
}

// One server-streaming call whose messages become a chunked HTTP body. A
// thread of its own reads from gRPC into a bounded queue; the HTTP server
// takes from the queue as the client reads. Closing the body (the client
// went away) cancels the call.
class GrpcEventStream : public HttpBodySource,
                        public std::enable_shared_from_this<GrpcEventStream> {
 public:
  GrpcEventStream(const google::protobuf::Descriptor* output, std::string response_body, bool sse,
                  size_t max_queued, absl::Duration keepalive)
      : output_(output),
        response_body_(std::move(response_body)),
        sse_(sse),
        max_queued_(max_queued),
        keepalive_(keepalive) {}

  grpc::ClientContext* context() { return &ctx_; }

  void Begin(std::shared_ptr<grpc::Channel> channel, std::string method, std::string request) {
    std::thread([self = shared_from_this(), channel = std::move(channel),
                 method = std::move(method), request = std::move(request)] {
      self->Run(channel, method, request);
    }).detach();
  }

  // Waits until the first message or the end, at most `timeout`. Returns
  // the call's error when it failed before any message; from then on the
  // stream owns what comes, errors included.
  grpc::Status WaitForFirst(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(
                             +[](GrpcEventStream* s) { return s->sent_ > 0 || s->done_; }, this),
                         timeout);
    if (done_ && sent_ == 0 && !status_.ok()) return status_;
    released_ = true;
    return grpc::Status::OK;
  }

  void Start(std::function<void()> wake) override {
    absl::MutexLock lock(&mu_);
    if (!closed_) wake_ = std::move(wake);
  }

  long Read(char* buf, size_t max) override {
    absl::MutexLock lock(&mu_);
    if (queue_.empty()) return done_ ? kEnd : 0;
    std::string& front = queue_.front();
    size_t n = std::min(max, front.size() - offset_);
    memcpy(buf, front.data() + offset_, n);
    offset_ += n;
    if (offset_ == front.size()) {
      queue_.pop_front();
      offset_ = 0;
    }
    return static_cast<long>(n);
  }

  void Close() override {
    {
      absl::MutexLock lock(&mu_);
      closed_ = true;
      wake_ = nullptr;
    }
    ctx_.TryCancel();
  }

 private:
  std::string Frame(const std::string& json, bool error) const {
    if (sse_) return absl::StrCat(error ? "event: error\n" : "", "data: ", json, "\n\n");
    return error ? absl::StrCat("{\"error\":", json, "}\n") : absl::StrCat(json, "\n");
  }

  // Queues a keepalive unless something waits to be sent: a server-sent
  // events comment, or an empty line of newline-delimited JSON. Sending it
  // is how a client that went away is noticed while the stream is quiet.
  // False once closed.
  bool PushKeepalive() {
    std::function<void()> wake;
    {
      absl::MutexLock lock(&mu_);
      if (closed_) return false;
      if (!queue_.empty()) return true;
      queue_.push_back(sse_ ? ": keepalive\n\n" : "\n");
      wake = wake_;
    }
    if (wake) wake();
    return true;
  }

  // Waits for the read started on `cq`, sending keepalives while it takes
  // long; false when the read failed (the stream ended).
  bool AwaitRead(grpc::CompletionQueue* cq) {
    void* tag = nullptr;
    bool ok = false;
    while (true) {
      switch (cq->AsyncNext(&tag, &ok, absl::ToChronoTime(absl::Now() + keepalive_))) {
        case grpc::CompletionQueue::GOT_EVENT:
          return ok;
        case grpc::CompletionQueue::SHUTDOWN:
          return false;
        case grpc::CompletionQueue::TIMEOUT:
          if (!PushKeepalive()) ctx_.TryCancel();
          break;
      }
    }
  }

  // Queues a frame, waiting while the queue is full; false once closed.
  bool Push(std::string frame) {
    std::function<void()> wake;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](GrpcEventStream* s) { return s->closed_ || s->queue_.size() < s->max_queued_; },
          this));
      if (closed_) return false;
      queue_.push_back(std::move(frame));
      ++sent_;
      wake = wake_;
    }
    if (wake) wake();
    return true;
  }

  void Run(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
           const std::string& request) {
    grpc::GenericStub stub(channel);
    grpc::CompletionQueue cq;
    std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call =
        stub.PrepareCall(&ctx_, method, &cq);
    call->StartCall(nullptr);
    if (Await(&cq)) {
      grpc::ByteBuffer out = ToBuffer(request);
      call->Write(out, nullptr);
      if (Await(&cq)) {
        call->WritesDone(nullptr);
        Await(&cq);
      }
      while (true) {
        grpc::ByteBuffer in;
        call->Read(&in, nullptr);
        if (!AwaitRead(&cq)) break;
        MessagePtr message = NewMessage(output_);
        std::string json;
        if (!FromBuffer(in, message.get()) || !ToJson(*message, response_body_, &json).ok()) {
          ctx_.TryCancel();
          break;
        }
        if (!Push(Frame(json, false))) break;
      }
    }
    grpc::Status status;
    call->Finish(&status, nullptr);
    Await(&cq);
    Drain(&cq);
    std::function<void()> wake;
    {
      absl::MutexLock lock(&mu_);
      status_ = status;
      if (!status.ok() && released_ && !closed_) {
        queue_.push_back(Frame(ErrorJson(status.error_code(), status.error_message()), true));
      }
      done_ = true;
      wake = wake_;
    }
    if (wake) wake();
  }

  const google::protobuf::Descriptor* output_;
  const std::string response_body_;
  const bool sse_;
  const size_t max_queued_;
  const absl::Duration keepalive_;
  grpc::ClientContext ctx_;

  absl::Mutex mu_;
  std::deque<std::string> queue_ ABSL_GUARDED_BY(mu_);
  size_t offset_ ABSL_GUARDED_BY(mu_) = 0;  // into queue_.front()
  size_t sent_ ABSL_GUARDED_BY(mu_) = 0;
  bool released_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
  std::function<void()> wake_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<Gateway>> Gateway::Create(std::shared_ptr<grpc::Channel> channel,
                                                         const std::vector<std::string>& services,
                                                         GatewayOptions options) {
  absl::StatusOr<std::vector<Route>> routes = RoutesForServices(services);
  if (!routes.ok()) return routes.status();
  std::unique_ptr<ProtoComments> comments;
  if (!options.descriptor_set.empty()) {
    auto parsed = ProtoComments::Parse(options.descriptor_set);
    if (!parsed.ok()) return parsed.status();
    comments = *std::move(parsed);
  }
  std::string openapi = OpenApiDocument(*routes, options.title, options.version, comments.get());
  std::unique_ptr<Gateway> gateway(
      new Gateway(std::move(channel), RouteTable(*std::move(routes)), std::move(options)));
  gateway->openapi_ = std::move(openapi);
  return gateway;
}

HttpResponse Gateway::Handle(const HttpRequest& request) const {
  std::string path = request.path;
  std::vector<std::pair<std::string, std::string>> query;
  if (!request.target.empty()) {
    absl::string_view target = request.target;
    size_t q = target.find('?');
    path = std::string(target.substr(0, q));
    if (q != absl::string_view::npos) {
      auto parsed = ParseQuery(target.substr(q + 1));
      if (!parsed.ok()) return Error(grpc::StatusCode::INVALID_ARGUMENT, parsed.status().message());
      query = *std::move(parsed);
    }
  } else {
    query.assign(request.query.begin(), request.query.end());
  }

  if (path == "/openapi.json") {
    if (request.method != "GET" && request.method != "HEAD") {
      HttpResponse r = Error(grpc::StatusCode::UNIMPLEMENTED,
                             absl::StrCat("method ", request.method, " is not allowed here"));
      r.status = 405;
      r.headers.emplace_back("Allow", "GET");
      return r;
    }
    return Json(200, openapi_);
  }

  std::vector<std::string> allowed;
  std::optional<RouteTable::Match> match = table_.Find(request.method, path, &allowed);
  if (!match.has_value()) {
    if (allowed.empty()) {
      return Error(grpc::StatusCode::NOT_FOUND, absl::StrCat("no route for ", path));
    }
    HttpResponse r = Error(grpc::StatusCode::UNIMPLEMENTED,
                           absl::StrCat("method ", request.method, " is not allowed on ", path));
    r.status = 405;
    r.headers.emplace_back("Allow", absl::StrJoin(allowed, ", "));
    return r;
  }
  const Route& route = *match->route;
  const google::protobuf::MethodDescriptor* method = route.method;
  MessagePtr message = NewMessage(method->input_type());
  if (absl::Status s = BuildRequest(route, match->bindings, request.body, query, message.get());
      !s.ok()) {
    return Error(grpc::StatusCode::INVALID_ARGUMENT, s.message());
  }
  const std::string rpc = absl::StrCat("/", method->service()->full_name(), "/", method->name());

  if (method->server_streaming()) {
    const bool sse = absl::StrContains(request.Header("Accept"), "text/event-stream");
    auto stream = std::make_shared<GrpcEventStream>(method->output_type(), route.response_body, sse,
                                                    options_.stream_buffer,
                                                    options_.stream_keepalive);
    AddMetadata(request, stream->context());
    stream->Begin(channel_, rpc, message->SerializeAsString());
    grpc::Status first = stream->WaitForFirst(options_.first_message_wait);
    if (!first.ok()) return Error(first.error_code(), first.error_message());
    HttpResponse r;
    r.headers.emplace_back("Content-Type", sse ? "text/event-stream" : "application/x-ndjson");
    r.headers.emplace_back("Cache-Control", "no-cache");
    r.source = std::move(stream);
    return r;
  }

  grpc::GenericStub stub(channel_);
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + options_.deadline));
  AddMetadata(request, &ctx);
  grpc::CompletionQueue cq;
  grpc::ByteBuffer out = ToBuffer(message->SerializeAsString());
  grpc::ByteBuffer in;
  grpc::Status status;
  std::unique_ptr<grpc::GenericClientAsyncResponseReader> call =
      stub.PrepareUnaryCall(&ctx, rpc, out, &cq);
  call->StartCall();
  call->Finish(&in, &status, nullptr);
  Await(&cq);
  Drain(&cq);
  if (!status.ok()) return Error(status.error_code(), status.error_message());
  MessagePtr response = NewMessage(method->output_type());
  std::string json;
  if (!FromBuffer(in, response.get())) {
    return Error(grpc::StatusCode::INTERNAL, "the response does not parse");
  }
  if (absl::Status s = ToJson(*response, route.response_body, &json); !s.ok()) {
    return Error(grpc::StatusCode::INTERNAL, absl::StrCat("response to JSON: ", s.message()));
  }
  return Json(200, std::move(json));
}

}  // namespace ota::server::gateway
