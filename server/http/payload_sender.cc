#include "server/http/payload_sender.h"

#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <list>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/base/check.h"
#include "server/http/request_head.h"

namespace ota::server {
namespace {

using Clock = std::chrono::steady_clock;

// Most bytes one connection sends before the others get their turn: as
// nginx's sendfile_max_chunk (2m by default), so a socket with a large
// send buffer cannot hold the loop up for long.
constexpr uint64_t kMaxPerTurn = 2 << 20;
// How much a closing connection may still send us before it is cut off.
constexpr uint64_t kMaxDrain = 1 << 20;

// "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n" (RFC 9110 5.6.7), as
// libmicrohttpd writes it; by hand, so no locale can change it.
std::string DateLine(time_t t) {
  static constexpr char kDays[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr char kMonths[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[64];
  snprintf(buf, sizeof(buf), "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n",
           kDays[tm.tm_wday % 7], tm.tm_mday, kMonths[tm.tm_mon % 12], tm.tm_year + 1900,
           tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

void SetCork(int fd, bool on) {
  int v = on ? 1 : 0;
  setsockopt(fd, IPPROTO_TCP, TCP_CORK, &v, sizeof(v));
}

bool IsServerField(absl::string_view name) {
  return absl::EqualsIgnoreCase(name, "Content-Length") ||
         absl::EqualsIgnoreCase(name, "Connection") ||
         absl::EqualsIgnoreCase(name, "Transfer-Encoding");
}

}  // namespace

class PayloadSender::Worker {
 public:
  Worker(const Options& options, const Hooks* hooks);
  // Closes the connections still here and joins the thread.
  ~Worker();

  void Add(AcceptedSocket socket);

 private:
  enum class Phase {
    kHead,    // waiting for a whole request head (peeking)
    kSend,    // sending a response
    kLinger,  // response sent, write side shut: discarding input until EOF
  };
  struct Connection {
    AcceptedSocket socket;
    Phase phase = Phase::kHead;
    Clock::time_point last_active;
    std::list<Connection>::iterator self;
    // Bytes seen by the last peek, so that only new bytes count as activity.
    size_t peeked = 0;
    // Input may be waiting that no peek has seen: the last peek saw more
    // than the head it consumed, or an EPOLLIN came while sending. Without
    // it the next peek waits for the next EPOLLIN, as nginx's next read
    // does, rather than costing a call that finds nothing.
    bool input_pending = false;
    // The response in flight: head (status line and fields) and an
    // in-memory body go first, then `file_left` bytes of `file`.
    std::string head;
    std::string body;
    size_t written = 0;
    int file = -1;
    off_t file_offset = 0;
    uint64_t file_left = 0;
    bool corked = false;
    bool keep_alive = true;
    uint64_t drained = 0;
    // In ready_: writable, its turn ended before the socket was full.
    bool ready = false;
  };
  // What to do after one step on a connection.
  enum class Next {
    kWait,   // wait for the next epoll event
    kAgain,  // the phase changed: take the next step now
    kGone,   // closed or handed over: the Connection no longer exists
  };

  void Run();
  // False when the worker is to stop.
  bool TakeInbox();
  void Advance(Connection* c, uint32_t events);
  Next ReadHead(Connection* c, uint32_t events);
  Next Queue(Connection* c, HttpResponse response, bool is_head, bool keep_alive, int minor);
  Next Send(Connection* c);
  Next Drain(Connection* c);
  void Touch(Connection* c);
  // Takes `c` out of ready_ (it is being closed or handed over).
  void Unready(Connection* c);
  void Close(Connection* c);
  void HandOver(Connection* c);
  int NextTimeoutMs() const;
  void ExpireIdle();

  const Options options_;
  const Hooks* const hooks_;
  const Clock::duration idle_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::string peek_buffer_;
  // Least recently active first.
  std::list<Connection> connections_;
  // Connections to go on sending without an event (edge-triggered epoll
  // reports no new EPOLLOUT for a socket that never filled). Null entries
  // were closed meanwhile.
  std::vector<Connection*> ready_;
  time_t date_second_ = 0;
  std::string date_line_;

  absl::Mutex mu_;
  std::vector<AcceptedSocket> inbox_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;

  std::thread thread_;
};

PayloadSender::Worker::Worker(const Options& options, const Hooks* hooks)
    : options_(options),
      hooks_(hooks),
      idle_(std::chrono::seconds(std::max(1, options.idle_timeout_seconds))) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  OTA_CHECK(epoll_fd_ >= 0 && wake_fd_ >= 0);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;
  OTA_CHECK(epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) == 0);
  peek_buffer_.resize(std::max<size_t>(options.head_limit, 64));
  thread_ = std::thread([this] { Run(); });
}

PayloadSender::Worker::~Worker() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
  thread_.join();
  close(wake_fd_);
  close(epoll_fd_);
}

void PayloadSender::Worker::Add(AcceptedSocket socket) {
  {
    absl::MutexLock lock(&mu_);
    inbox_.push_back(socket);
  }
  uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
}

void PayloadSender::Worker::Run() {
  // sendfile to a socket the peer has reset raises SIGPIPE (it has no
  // MSG_NOSIGNAL); blocked here, the call just fails with EPIPE.
  pthread_setname_np(pthread_self(), "http-payload");
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, nullptr);

  epoll_event events[64];
  std::vector<Connection*> turn;
  while (true) {
    int n = epoll_wait(epoll_fd_, events, 64, ready_.empty() ? NextTimeoutMs() : 0);
    for (int i = 0; i < n; ++i) {
      if (events[i].data.ptr == nullptr) {
        if (!TakeInbox()) {
          while (!connections_.empty()) Close(&connections_.front());
          return;
        }
        continue;
      }
      Advance(static_cast<Connection*>(events[i].data.ptr), events[i].events);
    }
    ExpireIdle();
    // Advance(c) closes or hands over only c, whose entry is passed.
    turn.swap(ready_);
    for (Connection* c : turn) {
      if (c == nullptr) continue;
      c->ready = false;
      Advance(c, EPOLLOUT);
    }
    turn.clear();
  }
}

bool PayloadSender::Worker::TakeInbox() {
  uint64_t count;
  (void)!read(wake_fd_, &count, sizeof(count));
  std::vector<AcceptedSocket> sockets;
  bool stop;
  {
    absl::MutexLock lock(&mu_);
    sockets.swap(inbox_);
    stop = stop_;
  }
  for (AcceptedSocket& s : sockets) {
    if (stop) {
      close(s.fd);
      hooks_->closed(reinterpret_cast<const sockaddr*>(&s.address));
      continue;
    }
    connections_.emplace_back();
    Connection* c = &connections_.back();
    c->self = std::prev(connections_.end());
    c->socket = s;
    c->last_active = Clock::now();
    epoll_event ev{};
    // Edge-triggered: every new segment and every freeing of send space is
    // one event, while bytes only peeked at do not wake the loop again.
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = c;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, s.fd, &ev) != 0) Close(c);
  }
  return !stop;
}

void PayloadSender::Worker::Advance(Connection* c, uint32_t events) {
  if ((events & (EPOLLERR | EPOLLHUP)) != 0) {
    Close(c);
    return;
  }
  if ((events & (EPOLLIN | EPOLLRDHUP)) != 0 && c->phase == Phase::kSend) {
    c->input_pending = true;
  }
  while (true) {
    Next next = Next::kWait;
    switch (c->phase) {
      case Phase::kHead:
        next = ReadHead(c, events);
        break;
      case Phase::kSend:
        next = Send(c);
        break;
      case Phase::kLinger:
        next = Drain(c);
        break;
    }
    if (next != Next::kAgain) return;
  }
}

PayloadSender::Worker::Next PayloadSender::Worker::ReadHead(Connection* c, uint32_t events) {
  const size_t limit = options_.head_limit;
  ssize_t n = recv(c->socket.fd, peek_buffer_.data(), limit, MSG_PEEK | MSG_DONTWAIT);
  if (n == 0) {
    Close(c);
    return Next::kGone;
  }
  if (n < 0) {
    if (errno == EINTR) return Next::kAgain;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if ((events & EPOLLRDHUP) == 0) return Next::kWait;
    }
    Close(c);
    return Next::kGone;
  }
  if (static_cast<size_t>(n) > c->peeked) {
    c->peeked = n;
    Touch(c);
  }
  const absl::string_view data(peek_buffer_.data(), n);
  const HeadEnd end = FindHeadEnd(data);
  switch (end.kind) {
    case HeadEnd::kIncomplete:
      if (static_cast<size_t>(n) >= limit) {
        return Queue(c, HttpResponse::Text(431, "request header fields too large\n"),
                     /*is_head=*/false, /*keep_alive=*/false, /*minor=*/1);
      }
      // Half a head and the peer has stopped sending: nothing will come.
      if ((events & EPOLLRDHUP) != 0) {
        Close(c);
        return Next::kGone;
      }
      return Next::kWait;
    case HeadEnd::kForeign:
      HandOver(c);
      return Next::kGone;
    case HeadEnd::kComplete:
      break;
  }
  std::optional<RequestHead> head = ParseRequestHead(data.substr(0, end.length));
  if (!head || (head->method != "GET" && head->method != "HEAD") ||
      // libmicrohttpd answers 400 to these; so it shall here.
      (head->minor_version == 1 && !head->Field("Host")) ||
      // A body: libmicrohttpd reads and bounds it.
      head->Field("Transfer-Encoding") || head->Field("Content-Length").value_or("0") != "0") {
    HandOver(c);
    return Next::kGone;
  }
  HttpRequest request;
  request.path = DecodePath(head->target);
  const HttpHandler* handler = hooks_->payload_route(request.path);
  if (handler == nullptr) {
    HandOver(c);
    return Next::kGone;
  }
  // Now the head is ours: consume it (MSG_TRUNC discards without copying).
  if (recv(c->socket.fd, nullptr, end.length, MSG_TRUNC | MSG_DONTWAIT) !=
      static_cast<ssize_t>(end.length)) {
    Close(c);
    return Next::kGone;
  }
  c->peeked = 0;
  c->input_pending = static_cast<size_t>(n) > end.length;
  request.method = std::string(head->method);
  request.query = ParseQuery(head->target);
  request.headers.reserve(head->fields.size());
  for (const auto& [name, value] : head->fields) {
    request.headers.emplace_back(std::string(name), std::string(value));
  }
  const bool keep_alive = head->minor_version == 1 ? !head->ConnectionHas("close")
                                                   : head->ConnectionHas("keep-alive");
  return Queue(c, (*handler)(request), request.method == "HEAD", keep_alive,
               head->minor_version);
}

PayloadSender::Worker::Next PayloadSender::Worker::Queue(Connection* c, HttpResponse response,
                                                          bool is_head, bool keep_alive,
                                                          int minor) {
  const int status = response.status;
  const uint64_t body_length = response.fd >= 0 ? response.length : response.body.size();
  // The same rules as libmicrohttpd: no length for 1xx and 204; a length
  // but no body for HEAD and 304.
  const bool has_length = status >= 200 && status != 204;
  const bool send_body = has_length && !is_head && status != 304;
  hooks_->answered(status, is_head, body_length);

  const time_t now = time(nullptr);
  if (now != date_second_) {
    date_second_ = now;
    date_line_ = DateLine(now);
  }
  const char* reason = MHD_get_reason_phrase_for(static_cast<unsigned>(status));
  std::string& h = c->head;
  h.clear();
  absl::StrAppend(&h, "HTTP/1.1 ", status, " ",
                  reason == nullptr || *reason == '\0' ? "Non-Standard Status" : reason, "\r\n");
  bool has_date = false;
  for (const auto& [name, value] : response.headers) {
    has_date = has_date || absl::EqualsIgnoreCase(name, "Date");
  }
  if (!has_date) h += date_line_;
  if (!keep_alive) {
    h += "Connection: close\r\n";
  } else if (minor == 0) {
    h += "Connection: Keep-Alive\r\n";
  }
  for (const auto& [name, value] : response.headers) {
    if (!IsServerField(name)) absl::StrAppend(&h, name, ": ", value, "\r\n");
  }
  if (has_length) absl::StrAppend(&h, "Content-Length: ", body_length, "\r\n");
  h += "\r\n";

  c->written = 0;
  c->body.clear();
  c->keep_alive = keep_alive;
  if (response.fd >= 0) {
    if (send_body && response.length > 0) {
      c->file = response.fd;
      c->file_offset = static_cast<off_t>(response.offset);
      c->file_left = response.length;
      // Corked until the last byte: the head leaves in the body's first
      // segment and no segment goes out part-filled.
      SetCork(c->socket.fd, true);
      c->corked = true;
    } else {
      close(response.fd);
    }
  } else if (send_body) {
    c->body = std::move(response.body);
  }
  c->phase = Phase::kSend;
  return Next::kAgain;
}

PayloadSender::Worker::Next PayloadSender::Worker::Send(Connection* c) {
  const int fd = c->socket.fd;
  while (c->written < c->head.size() + c->body.size()) {
    iovec iov[2];
    int count = 0;
    if (c->written < c->head.size()) {
      iov[count++] = {c->head.data() + c->written, c->head.size() - c->written};
      if (!c->body.empty()) iov[count++] = {c->body.data(), c->body.size()};
    } else {
      const size_t at = c->written - c->head.size();
      iov[count++] = {c->body.data() + at, c->body.size() - at};
    }
    msghdr message{};
    message.msg_iov = iov;
    message.msg_iovlen = count;
    ssize_t n = sendmsg(fd, &message, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return Next::kWait;
      Close(c);
      return Next::kGone;
    }
    c->written += n;
    Touch(c);
  }
  uint64_t turn = 0;
  while (c->file_left > 0) {
    if (turn >= kMaxPerTurn) {
      if (!c->ready) {
        c->ready = true;
        ready_.push_back(c);
      }
      return Next::kWait;
    }
    ssize_t n = sendfile(fd, c->file, &c->file_offset,
                         std::min(c->file_left, kMaxPerTurn - turn));
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return Next::kWait;
      Close(c);
      return Next::kGone;
    }
    if (n == 0) {
      // The file is shorter than the length promised: the response cannot
      // be completed, and only closing tells the client so.
      Close(c);
      return Next::kGone;
    }
    c->file_left -= static_cast<uint64_t>(n);
    turn += static_cast<uint64_t>(n);
    Touch(c);
  }
  if (c->file >= 0) {
    close(c->file);
    c->file = -1;
  }
  if (c->corked) {
    SetCork(fd, false);
    c->corked = false;
  }
  c->head.clear();
  std::string().swap(c->body);
  c->written = 0;
  Touch(c);
  if (!c->keep_alive) {
    // Half-close and read what the client still sends until it closes:
    // closing with unread input would reset the connection, and the
    // client could lose the response before reading it.
    shutdown(fd, SHUT_WR);
    c->phase = Phase::kLinger;
    return Next::kAgain;
  }
  c->phase = Phase::kHead;
  // The next request may be here already (pipelined): then peek now.
  if (!c->input_pending) return Next::kWait;
  c->input_pending = false;
  return Next::kAgain;
}

PayloadSender::Worker::Next PayloadSender::Worker::Drain(Connection* c) {
  while (true) {
    ssize_t n = recv(c->socket.fd, nullptr, 64 << 10, MSG_TRUNC | MSG_DONTWAIT);
    if (n > 0) {
      c->drained += static_cast<uint64_t>(n);
      if (c->drained <= kMaxDrain) continue;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return Next::kWait;
    }
    Close(c);
    return Next::kGone;
  }
}

void PayloadSender::Worker::Touch(Connection* c) {
  c->last_active = Clock::now();
  connections_.splice(connections_.end(), connections_, c->self);
}

void PayloadSender::Worker::Unready(Connection* c) {
  if (!c->ready) return;
  std::replace(ready_.begin(), ready_.end(), c, static_cast<Connection*>(nullptr));
  c->ready = false;
}

void PayloadSender::Worker::Close(Connection* c) {
  Unready(c);
  if (c->file >= 0) close(c->file);
  // Out of the epoll set first: close alone leaves it there while another
  // process (a child between fork and exec) shares the socket, and a later
  // event would name a Connection that no longer exists.
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c->socket.fd, nullptr);
  close(c->socket.fd);
  hooks_->closed(reinterpret_cast<const sockaddr*>(&c->socket.address));
  connections_.erase(c->self);
}

void PayloadSender::Worker::HandOver(Connection* c) {
  Unready(c);
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c->socket.fd, nullptr);
  AcceptedSocket s = c->socket;
  connections_.erase(c->self);
  hooks_->hand_over(s);
}

int PayloadSender::Worker::NextTimeoutMs() const {
  if (connections_.empty()) return -1;
  auto left = connections_.front().last_active + idle_ - Clock::now();
  if (left <= Clock::duration::zero()) return 0;
  return static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(left).count());
}

void PayloadSender::Worker::ExpireIdle() {
  const Clock::time_point now = Clock::now();
  while (!connections_.empty() && connections_.front().last_active + idle_ <= now) {
    Close(&connections_.front());
  }
}

PayloadSender::PayloadSender(const Options& options, Hooks hooks)
    : hooks_(std::move(hooks)) {
  const int threads = std::max(1, options.threads);
  for (int i = 0; i < threads; ++i) {
    workers_.push_back(std::make_unique<Worker>(options, &hooks_));
  }
}

PayloadSender::~PayloadSender() = default;

void PayloadSender::Add(AcceptedSocket socket) {
  workers_[next_.fetch_add(1, std::memory_order_relaxed) % workers_.size()]->Add(socket);
}

}  // namespace ota::server
