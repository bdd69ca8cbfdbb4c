#include <deque>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/base/log.h"
#include "common/manifest/uuid.h"
#include "prometheus/counter.h"
#include "server/api/services.h"
#include "server/api/status.h"
#include "server/auth/device_identity.h"
#include "server/notify/deployment_message.h"
#include "server/notify/timer_wheel.h"
#include "server/notify/work_queue.h"
#include "server/observe/counter.h"

namespace ota::server {

// --------------------------------------------------------------- streams

namespace {

const char* StateName(ota::v1::DeploymentState state) {
  return ota::v1::DeploymentState_Name(state).c_str() + sizeof("DEPLOYMENT_STATE_") - 1;
}

// `message` serialized, as the raw Connect stream writes it.
grpc::ByteBuffer ToByteBuffer(const ota::v1::ServerMessage& message) {
  grpc::Slice slice(message.SerializeAsString());
  return grpc::ByteBuffer(&slice, 1);
}

}  // namespace

// What every stream shares: the work queue for database calls, the lookup
// queue, the timer wheels. Owned by DeviceServiceImpl.
class DeviceServiceImpl::Streams {
 public:
  Streams(const ServiceDeps& deps, DeviceStore* store, DeviceHub* hub)
      : deps_(deps),
        store_(store),
        hub_(hub),
        connects_(NewCounter(deps.metrics, "otad_device_connects_total",
                             "Device streams opened (registered and running)")),
        work_(deps.options.stream_threads),
        keepalives_(absl::Seconds(std::max(1, deps.options.keepalive_seconds)),
                    10 * std::max(1, deps.options.keepalive_seconds)),
        polls_(absl::Seconds(std::max(1, deps.options.deployment_poll_seconds)),
               10 * std::max(1, deps.options.deployment_poll_seconds)) {
    for (int i = 0; i < std::max(1, deps.options.lookup_threads); ++i) {
      lookup_threads_.emplace_back([this] { LookupLoop(); });
    }
  }

  ~Streams() {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    for (std::thread& t : lookup_threads_) t.join();
  }

  // Queues `stream` for a deployment lookup unless it is queued already.
  // Wakes (a deployment was just made for the device) go ahead of the
  // periodic looks, so that a busy poll never delays a wake.
  void RequestLookup(const std::shared_ptr<Stream>& stream, bool wake);

  const ServiceDeps& deps() const { return deps_; }
  DeviceStore* store() { return store_; }
  DeviceHub* hub() { return hub_; }
  GrpcMetrics* grpc_metrics() const { return deps_.grpc_metrics; }
  const AccessGate* gate() const { return deps_.gate; }
  WorkQueue& work() { return work_; }
  TimerWheel& keepalives() { return keepalives_; }
  TimerWheel& polls() { return polls_; }
  // Counts and logs a stream that opened.
  void Opened(const std::string& device_id, const ota::v1::InstalledImage& installed) {
    if (connects_ != nullptr) connects_->Increment();
    common::LogEvent(common::LogLevel::kInfo, "device.connect",
                     {{"device_id", device_id},
                      {"slot", installed.active_slot()},
                      {"sequence", absl::StrCat(installed.sequence_number())},
                      {"version", installed.version()}});
  }

 private:
  void LookupLoop();

  const ServiceDeps& deps_;
  DeviceStore* store_;
  DeviceHub* hub_;
  prometheus::Counter* const connects_;
  absl::Mutex mu_;
  std::deque<std::weak_ptr<Stream>> wakes_ ABSL_GUARDED_BY(mu_);
  std::deque<std::weak_ptr<Stream>> looks_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> lookup_threads_;
  // Destroyed before the work queue: their callbacks post work.
  WorkQueue work_;
  TimerWheel keepalives_;
  TimerWheel polls_;
};

// One Connect stream. Owns itself from creation until OnDone; the hub, the
// timers and the lookup queue hold weak references.
class DeviceServiceImpl::Stream final : public grpc::ServerWriteReactor<grpc::ByteBuffer>,
                                        public std::enable_shared_from_this<Stream> {
 public:
  Stream(Streams* owner, grpc::CallbackServerContext* context, std::string device_id)
      : owner_(owner), context_(context), device_id_(std::move(device_id)) {
    if (owner_->grpc_metrics() != nullptr) owner_->grpc_metrics()->StreamOpened(kConnectMethod);
  }

  // Registers the device on the work queue, then starts sending.
  void Start(std::shared_ptr<Stream> self, DeviceHello hello) {
    self_ = self;
    owner_->work().Post([self, hello = std::move(hello)] { self->Open(hello); });
  }

  // Ends the stream at once with `status` (a stream that failed validation).
  void Reject(std::shared_ptr<Stream> self, grpc::Status status) {
    self_ = std::move(self);
    absl::MutexLock lock(&mu_);
    opened_ = true;
    FinishLocked(std::move(status));
  }

  const std::string& device_id() const { return device_id_; }

  // The deployment this stream wrote last (empty before the first).
  std::string last_sent() {
    absl::MutexLock lock(&mu_);
    return last_sent_;
  }

  // Takes `deployment_id` of `shared`'s campaign as the deployment to send
  // next, replacing one not yet sent. The message references the campaign's
  // shared bytes; nothing of the manifest is copied per stream.
  // Returns false when it drops the deployment: sent already, already
  // next, or the stream is ending.
  bool Offer(const std::string& deployment_id, std::shared_ptr<const SharedDeployment> shared) {
    absl::MutexLock lock(&mu_);
    if (finished_ || deployment_id == last_sent_ ||
        (next_.has_value() && next_->deployment_id == deployment_id)) {
      return false;
    }
    next_ = PendingDeployment{deployment_id, std::move(shared)};
    MaybeWriteLocked();
    return true;
  }

  void Keepalive() {
    absl::MutexLock lock(&mu_);
    keepalive_due_ = true;
    MaybeWriteLocked();
  }

  // Sends a newer update key list, ahead of any deployment.
  void OfferKeyList(ota::v1::SignedKeyList list) {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    key_list_ = std::move(list);
    MaybeWriteLocked();
  }

  // Set while the stream waits in the wake and the look queue.
  std::atomic<bool> wake_queued{false};
  std::atomic<bool> look_queued{false};

 private:
  void Open(const DeviceHello& hello) {
    {
      absl::MutexLock lock(&mu_);
      if (done_) return;  // the client left before its turn came
    }
    const ServiceDeps& deps = owner_->deps();
    absl::StatusOr<ota::v1::Device> device =
        owner_->store()->Connected(hello, deps.clock->NowUnix());
    if (!device.ok()) {
      absl::MutexLock lock(&mu_);
      opened_ = true;
      FinishLocked(ToGrpc(device.status()));
      return;
    }
    (void)DetectRollback(deps.db, device_id_, hello.installed, deps.clock->NowMillis());
    owner_->Opened(device_id_, hello.installed);
    // A device holding an older update key list gets the newest first.
    std::optional<ota::v1::SignedKeyList> newer;
    (void)deps.db->Transact([&](pqxx::work& txn) {
      pqxx::result r = txn.exec_params(
          "SELECT signed_key_list FROM key_lists WHERE version > $1 ORDER BY version DESC LIMIT 1",
          static_cast<int64_t>(hello.key_list_version));
      if (!r.empty()) {
        newer.emplace();
        newer->ParseFromString(pqxx::binarystring(r[0][0]).str());
      }
      return absl::OkStatus();
    });
    if (newer.has_value()) OfferKeyList(*std::move(newer));
    std::weak_ptr<Stream> weak = weak_from_this();
    Streams* owner = owner_;
    waker_ = owner_->hub()->Attach(
        device_id_,
        {.on_wake =
             [weak, owner] {
               if (auto s = weak.lock()) owner->RequestLookup(s, true);
             },
         .on_replaced =
             [weak] {
               if (auto s = weak.lock()) s->Replaced();
             },
         .on_deployment =
             [weak](const std::string& deployment_id,
                    const std::shared_ptr<const SharedDeployment>& shared) {
               auto s = weak.lock();
               return s != nullptr && s->Offer(deployment_id, shared);
             }});
    keepalive_handle_ = owner_->keepalives().Add([weak] {
      if (auto s = weak.lock()) s->Keepalive();
    });
    poll_handle_ = owner_->polls().Add([weak, owner] {
      if (auto s = weak.lock()) owner->RequestLookup(s, false);
    });
    bool done;
    {
      absl::MutexLock lock(&mu_);
      opened_ = true;
      registered_ = true;
      done = done_;
      if (!done) {
        keepalive_due_ = true;
        MaybeWriteLocked();
      }
    }
    if (done) {
      Close();  // the client left while this was being set up
    } else {
      owner_->RequestLookup(shared_from_this(), true);  // what is pending at connect
    }
  }

  void Replaced() {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    // A write stuck on a client that does not read would hold the status
    // back; a newer stream of the device means this one is stale.
    if (writing_) context_->TryCancel();
    FinishLocked(grpc::Status(grpc::StatusCode::ABORTED,
                              absl::StrCat("device ", device_id_,
                                           " connected again on a newer stream")));
  }

  void MaybeWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || finished_) return;
    if (key_list_.has_value()) {
      ota::v1::ServerMessage m;
      *m.mutable_key_list() = std::move(*key_list_);
      key_list_.reset();
      out_ = ToByteBuffer(m);
    } else if (next_.has_value()) {
      last_sent_ = next_->deployment_id;
      out_ = next_->shared->MessageFor(next_->deployment_id);
      next_.reset();
    } else if (keepalive_due_) {
      keepalive_due_ = false;
      ota::v1::ServerMessage m;
      m.mutable_keepalive()->set_server_time_ms(owner_->deps().clock->NowMillis());
      out_ = ToByteBuffer(m);
    } else {
      return;
    }
    writing_ = true;
    StartWrite(&out_);
  }

  void FinishLocked(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    next_.reset();
    // What the access gate's interceptor records for other methods: the
    // audit of a refused call, its target named by the device id.
    if (owner_->gate() != nullptr) {
      ota::v1::ConnectRequest named;
      named.set_device_id(device_id_);
      owner_->gate()->RecordResult(context_, kConnectMethod, named, status);
    }
    finish_code_ = status.error_code();
    Finish(std::move(status));
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    out_.Clear();  // lets go of a sent deployment's bytes
    if (!ok) {
      FinishLocked(grpc::Status::OK);  // the client is gone
      return;
    }
    MaybeWriteLocked();
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    FinishLocked(grpc::Status::OK);
  }

  void OnDone() override {
    bool close;
    {
      absl::MutexLock lock(&mu_);
      done_ = true;
      close = opened_;
    }
    if (close) Close();
    // Counted as the metrics interceptor counts other calls: by the status
    // sent (Finish always runs before OnDone).
    if (owner_->grpc_metrics() != nullptr) {
      owner_->grpc_metrics()->Finished(kConnectMethod, /*streaming=*/true, finish_code_,
                                       /*seconds=*/0);
    }
    self_.reset();  // may delete this
  }

  // Unregisters everywhere; runs once, after OnDone and Open both ran.
  void Close() {
    bool registered;
    {
      absl::MutexLock lock(&mu_);
      registered = registered_;
      registered_ = false;
    }
    if (!registered) return;
    owner_->keepalives().Remove(keepalive_handle_);
    owner_->polls().Remove(poll_handle_);
    owner_->hub()->Detach(device_id_, waker_);
    // A newer stream holds the device: it stays online.
    if (waker_->replaced()) return;
    DeviceStore* store = owner_->store();
    const common::Clock* clock = owner_->deps().clock;
    owner_->work().Post([store, clock, id = device_id_] {
      (void)store->Disconnected(id, clock->NowUnix());
    });
    common::LogEvent(common::LogLevel::kInfo, "device.disconnect", {{"device_id", device_id_}});
  }

  Streams* const owner_;
  grpc::CallbackServerContext* const context_;
  const std::string device_id_;
  std::shared_ptr<Stream> self_;
  std::shared_ptr<DeviceHub::Waker> waker_;
  TimerWheel::Handle keepalive_handle_ = 0;
  TimerWheel::Handle poll_handle_ = 0;

  absl::Mutex mu_;
  bool opened_ ABSL_GUARDED_BY(mu_) = false;      // Open finished (or never will run)
  bool registered_ ABSL_GUARDED_BY(mu_) = false;  // in the hub and the wheels
  bool done_ ABSL_GUARDED_BY(mu_) = false;        // OnDone ran
  bool finished_ ABSL_GUARDED_BY(mu_) = false;    // Finish called
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool keepalive_due_ ABSL_GUARDED_BY(mu_) = false;
  grpc::StatusCode finish_code_ = grpc::StatusCode::UNKNOWN;  // set by FinishLocked
  struct PendingDeployment {
    std::string deployment_id;
    std::shared_ptr<const SharedDeployment> shared;
  };
  std::optional<PendingDeployment> next_ ABSL_GUARDED_BY(mu_);
  std::optional<ota::v1::SignedKeyList> key_list_ ABSL_GUARDED_BY(mu_);
  std::string last_sent_ ABSL_GUARDED_BY(mu_);
  grpc::ByteBuffer out_ ABSL_GUARDED_BY(mu_);  // the write in flight
};

void DeviceServiceImpl::Streams::RequestLookup(const std::shared_ptr<Stream>& stream,
                                               bool wake) {
  if ((wake ? stream->wake_queued : stream->look_queued).exchange(true)) return;
  absl::MutexLock lock(&mu_);
  (wake ? wakes_ : looks_).push_back(stream);
}

void DeviceServiceImpl::Streams::LookupLoop() {
  const size_t batch = std::max(1, deps_.options.lookup_batch);
  while (true) {
    std::vector<std::shared_ptr<Stream>> streams;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](Streams* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu_) {
            return s->stop_ || !s->wakes_.empty() || !s->looks_.empty();
          },
          this));
      if (stop_) return;
      for (auto* queue : {&wakes_, &looks_}) {
        while (!queue->empty() && streams.size() < batch) {
          if (auto s = queue->front().lock()) {
            // A wake that comes while this lookup runs queues the stream again.
            (queue == &wakes_ ? s->wake_queued : s->look_queued) = false;
            streams.push_back(std::move(s));
          }
          queue->pop_front();
        }
      }
    }
    std::vector<std::string> ids, sent;
    for (const auto& s : streams) {
      ids.push_back(s->device_id());
      // A stream drops a deployment it wrote already; not asking for it
      // spares the database the manifest and the marking.
      if (std::string last = s->last_sent(); !last.empty()) sent.push_back(std::move(last));
    }
    if (ids.empty()) continue;
    absl::StatusOr<std::map<std::string, ota::v1::Deployment>> found =
        NextDeployments(deps_.db, ids, deps_.clock->NowMillis(), sent);
    if (!found.ok()) continue;  // the periodic look tries again
    // A campaign's manifest is serialized once for the batch.
    std::map<std::string, std::shared_ptr<const SharedDeployment>> shared;
    for (const auto& s : streams) {
      auto it = found->find(s->device_id());
      if (it == found->end()) continue;
      const ota::v1::Deployment& d = it->second;
      std::shared_ptr<const SharedDeployment>& campaign = shared[d.campaign_id()];
      if (campaign == nullptr) {
        campaign = std::make_shared<const SharedDeployment>(d.campaign_id(), d.manifest());
      }
      s->Offer(d.deployment_id(), campaign);
    }
  }
}

// ---------------------------------------------------------- status ingest

// Group commit of ReportStatus calls: a writer thread takes every call
// waiting (up to report_batch), stores them in one transaction, then answers
// each. Several writers run at once; device rows are locked in id order, so
// two batches naming the same device wait for each other and never deadlock.
class DeviceServiceImpl::ReportWriter {
 public:
  ReportWriter(const ServiceDeps& deps, DeviceStore* store)
      : deps_(deps),
        store_(store),
        reports_(NewCounter(deps.metrics, "otad_status_reports_total",
                            "Device status reports in acknowledged (durable) ReportStatus calls")) {
    for (int i = 0; i < std::max(1, deps.options.report_writers); ++i) {
      threads_.emplace_back([this] { Run(); });
    }
  }

  ~ReportWriter() {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    for (std::thread& t : threads_) t.join();
  }

  struct Call {
    DeviceReports reports;
    ota::v1::ReportStatusResponse* response;
    grpc::ServerUnaryReactor* reactor;
  };

  void Submit(Call call) {
    absl::MutexLock lock(&mu_);
    queue_.push_back(std::move(call));
  }

 private:
  void Run() {
    const size_t max_batch = std::max(1, deps_.options.report_batch);
    while (true) {
      std::vector<Call> calls;
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(
            +[](ReportWriter* w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(w->mu_) {
              return w->stop_ || !w->queue_.empty();
            },
            this));
        if (queue_.empty()) return;  // stopping, and every call answered
        while (!queue_.empty() && calls.size() < max_batch) {
          calls.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      Store(&calls);
    }
  }

  void Store(std::vector<Call>* calls) {
    std::vector<DeviceReports> items;
    items.reserve(calls->size());
    for (Call& c : *calls) items.push_back(std::move(c.reports));
    absl::Status s = store_->StoreReportBatch(&items, ApplyReportBatch);
    if (!s.ok() && items.size() > 1 && !absl::IsUnavailable(s)) {
      // One call may have failed the batch (bad data): store each on its
      // own so that the others go through.
      for (DeviceReports& item : items) {
        std::vector<DeviceReports> one;
        one.push_back(std::move(item));
        absl::Status t = store_->StoreReportBatch(&one, ApplyReportBatch);
        item = std::move(one[0]);
        if (!t.ok()) item.acked = t;
      }
      s = absl::OkStatus();
    }
    bool deployments = false;
    for (size_t i = 0; i < calls->size(); ++i) {
      Call& c = (*calls)[i];
      const absl::StatusOr<uint64_t>& acked = s.ok() ? items[i].acked : absl::StatusOr<uint64_t>(s);
      if (acked.ok()) {
        for (const ota::v1::StatusReport& r : items[i].reports) {
          deployments = deployments || !r.deployment_id().empty();
          // One line per deployment that ended, with its device.
          if (!r.deployment_id().empty() && IsTerminal(r.state())) {
            common::LogEvent(common::LogLevel::kInfo, "deployment.end",
                             {{"device_id", items[i].device_id},
                              {"deployment_id", r.deployment_id()},
                              {"state", StateName(r.state())},
                              {"reason", r.reason() == ota::v1::REASON_UNSPECIFIED
                                             ? ""
                                             : ota::v1::ReasonCode_Name(r.reason())}});
          }
        }
        if (reports_ != nullptr) reports_->Increment(static_cast<double>(items[i].reports.size()));
        c.response->set_acked_seq(*acked);
        c.reactor->Finish(grpc::Status::OK);
      } else {
        c.reactor->Finish(ToGrpc(acked.status()));
      }
    }
    // A deployment's progress may let a wave advance or stop a campaign.
    if (deployments && deps_.wake_engine) deps_.wake_engine();
  }

  const ServiceDeps& deps_;
  DeviceStore* store_;
  prometheus::Counter* const reports_;
  absl::Mutex mu_;
  std::deque<Call> queue_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

// --------------------------------------------------------------- service

DeviceServiceImpl::DeviceServiceImpl(const ServiceDeps& deps) : deps_(deps), store_(deps.db) {
  DeviceHub* hub = deps_.hub;
  if (hub == nullptr) {
    own_hub_ = std::make_unique<DeviceHub>();
    hub = own_hub_.get();
  }
  streams_ = std::make_unique<Streams>(deps_, &store_, hub);
  reports_ = std::make_unique<ReportWriter>(deps_, &store_);
}

DeviceServiceImpl::~DeviceServiceImpl() {
  reports_.reset();
  streams_.reset();
}

size_t DeviceServiceImpl::open_streams() const {
  return (own_hub_ != nullptr ? own_hub_.get() : deps_.hub)->connected();
}

namespace {

absl::Status CheckConnect(const ota::v1::ConnectRequest& request) {
  if (absl::Status s = CheckDeviceId("device_id", request.device_id()); !s.ok()) return s;
  if (request.vendor_id().size() != 16 || request.class_id().size() != 16) {
    return absl::InvalidArgumentError(absl::StrCat(
        "vendor_id and class_id must be 16 bytes (got ", request.vendor_id().size(), " and ",
        request.class_id().size(), ")"));
  }
  if (request.installed().image_sha256().size() != 0 &&
      request.installed().image_sha256().size() != 32) {
    return absl::InvalidArgumentError("installed.image_sha256 must be 32 bytes");
  }
  if (request.attributes().size() > 64) {
    return absl::InvalidArgumentError("attributes has more than 64 entries");
  }
  for (const auto& [k, v] : request.attributes()) {
    if (absl::Status s = CheckAttributeKey("attributes", k); !s.ok()) return s;
    if (v.size() > 256) {
      return absl::InvalidArgumentError(
          absl::StrCat("attributes value of \"", k, "\" is longer than 256 bytes"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckReports(const ota::v1::ReportStatusRequest& request) {
  if (absl::Status s = CheckDeviceId("device_id", request.device_id()); !s.ok()) return s;
  if (request.reports_size() > kMaxReportsPerCall) {
    return absl::InvalidArgumentError(absl::StrCat("reports has ", request.reports_size(),
                                                   " entries, at most ", kMaxReportsPerCall,
                                                   " allowed"));
  }
  uint64_t previous = 0;
  for (int i = 0; i < request.reports_size(); ++i) {
    const ota::v1::StatusReport& r = request.reports(i);
    if (r.seq() <= previous) {
      return absl::InvalidArgumentError(absl::StrCat(
          "reports[", i, "].seq ", r.seq(), " does not increase (previous ", previous, ")"));
    }
    previous = r.seq();
    if (!ota::v1::DeploymentState_IsValid(r.state()) ||
        r.state() == ota::v1::DEPLOYMENT_STATE_UNSPECIFIED) {
      return absl::InvalidArgumentError(
          absl::StrCat("reports[", i, "].state ", static_cast<int>(r.state()), " is not a state"));
    }
    if (r.message().size() > 4096) {
      return absl::InvalidArgumentError(
          absl::StrCat("reports[", i, "].message is longer than 4096 bytes"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

grpc::ServerWriteReactor<grpc::ByteBuffer>* DeviceServiceImpl::Connect(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* raw) {
  ota::v1::ConnectRequest request;
  grpc::ByteBuffer copy(*raw);  // shares the slices; Deserialize consumes its argument
  const bool parses =
      grpc::SerializationTraits<ota::v1::ConnectRequest>::Deserialize(&copy, &request).ok();
  // gRPC keeps the request's bytes until the call ends, days for a device
  // stream; once parsed they are not needed. The buffer is gRPC's own
  // (not const) and is destroyed, empty, with the call.
  const_cast<grpc::ByteBuffer*>(raw)->Clear();
  auto stream = std::make_shared<Stream>(streams_.get(), context, request.device_id());
  if (!parses) {
    stream->Reject(stream, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                        "the ConnectRequest does not parse"));
    return stream.get();
  }
  if (absl::Status s = CheckConnect(request); !s.ok()) {
    stream->Reject(stream, ToGrpc(s));
    return stream.get();
  }
  if (grpc::Status s = CheckDeviceIdentity(*context, request.device_id(),
                                           deps_.options.require_device_certificates);
      !s.ok()) {
    stream->Reject(stream, s);
    return stream.get();
  }
  DeviceHello hello;
  for (const auto& [k, v] : request.attributes()) hello.attributes[k] = v;
  hello.device_id = request.device_id();
  hello.vendor_id = common::UuidToString(request.vendor_id());
  hello.class_id = common::UuidToString(request.class_id());
  hello.installed = request.installed();
  hello.client_version = request.client_version();
  hello.key_list_version = request.key_list_version();
  hello.slot_size = request.slot_size();
  hello.report_seq = request.report_seq();
  stream->Start(stream, std::move(hello));
  return stream.get();
}

grpc::ServerUnaryReactor* DeviceServiceImpl::ReportStatus(
    grpc::CallbackServerContext* context, const ota::v1::ReportStatusRequest* request,
    ota::v1::ReportStatusResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (absl::Status s = CheckReports(*request); !s.ok()) {
    reactor->Finish(ToGrpc(s));
    return reactor;
  }
  if (grpc::Status s = CheckDeviceIdentity(*context, request->device_id(),
                                           deps_.options.require_device_certificates);
      !s.ok()) {
    reactor->Finish(s);
    return reactor;
  }
  ReportWriter::Call call;
  call.reports.device_id = request->device_id();
  call.reports.reports.assign(request->reports().begin(), request->reports().end());
  call.reports.now_ms = deps_.clock->NowMillis();
  call.response = response;
  call.reactor = reactor;
  // Answered once the transaction holding the reports committed.
  reports_->Submit(std::move(call));
  return reactor;
}

}  // namespace ota::server
