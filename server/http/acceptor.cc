#include "server/http/acceptor.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace ota::server {
namespace {

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

// The address bytes without the port: what per-address limits count.
std::string AddressKey(const sockaddr* address) {
  if (address->sa_family == AF_INET6) {
    const auto* a6 = reinterpret_cast<const sockaddr_in6*>(address);
    return std::string(reinterpret_cast<const char*>(&a6->sin6_addr), sizeof(a6->sin6_addr));
  }
  const auto* a4 = reinterpret_cast<const sockaddr_in*>(address);
  return std::string(reinterpret_cast<const char*>(&a4->sin_addr), sizeof(a4->sin_addr));
}

}  // namespace

bool ConnectionLimits::Admit(const sockaddr* address) {
  absl::MutexLock lock(&mu_);
  if (open_ >= total_) return false;
  if (per_address_ > 0) {
    int& n = by_address_[AddressKey(address)];
    if (n >= per_address_) return false;
    ++n;
  }
  ++open_;
  return true;
}

void ConnectionLimits::Release(const sockaddr* address) {
  absl::MutexLock lock(&mu_);
  --open_;
  if (per_address_ > 0) {
    auto it = by_address_.find(AddressKey(address));
    if (it != by_address_.end() && --it->second <= 0) by_address_.erase(it);
  }
}

absl::StatusOr<std::unique_ptr<Acceptor>> Acceptor::Listen(const std::string& address) {
  socklen_t len = 0;
  absl::StatusOr<sockaddr_storage> addr = ParseAddress(address, &len);
  if (!addr.ok()) return addr.status();
  const int family = addr->ss_family;
  std::unique_ptr<Acceptor> acceptor(new Acceptor());
  acceptor->listen_fd_ = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (acceptor->listen_fd_ < 0) {
    return absl::UnavailableError(absl::StrCat("cannot serve HTTP on ", address, ": socket: ",
                                               std::strerror(errno)));
  }
  int on = 1;
  setsockopt(acceptor->listen_fd_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  // An [IPv6] address serves IPv6 only, as libmicrohttpd did without its
  // dual-stack flag.
  if (family == AF_INET6) setsockopt(acceptor->listen_fd_, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
  if (bind(acceptor->listen_fd_, reinterpret_cast<sockaddr*>(&*addr), len) != 0 ||
      listen(acceptor->listen_fd_, 1024) != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve HTTP on ", address, ": ", std::strerror(errno)));
  }
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof(bound);
  getsockname(acceptor->listen_fd_, reinterpret_cast<sockaddr*>(&bound), &bound_len);
  acceptor->port_ = ntohs(family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                             : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  acceptor->stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (acceptor->stop_fd_ < 0) {
    return absl::UnavailableError(absl::StrCat("eventfd: ", std::strerror(errno)));
  }
  return acceptor;
}

Acceptor::~Acceptor() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    (void)!write(stop_fd_, &one, sizeof(one));
    thread_.join();
  }
  if (stop_fd_ >= 0) close(stop_fd_);
  if (listen_fd_ >= 0) close(listen_fd_);
}

void Acceptor::Start(ConnectionLimits* limits, OnAccept on_accept) {
  limits_ = limits;
  on_accept_ = std::move(on_accept);
  thread_ = std::thread([this] { Run(); });
}

void Acceptor::Run() {
  pthread_setname_np(pthread_self(), "http-accept");
  pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
  while (true) {
    if (poll(fds, 2, -1) < 0 && errno != EINTR) return;
    if (fds[1].revents != 0) return;
    if (fds[0].revents == 0) continue;
    while (true) {
      AcceptedSocket s;
      s.address_len = sizeof(s.address);
      s.fd = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&s.address), &s.address_len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (s.fd < 0) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          // Out of descriptors or memory: the backlog waits until some
          // connection closes rather than the thread spinning.
          poll(&fds[1], 1, 100);
        }
        break;  // EAGAIN, or an error of one connection (ECONNABORTED)
      }
      if (!limits_->Admit(reinterpret_cast<sockaddr*>(&s.address))) {
        close(s.fd);
        continue;
      }
      int on = 1;
      // Small answers (errors, the next response on a kept-alive
      // connection) leave at once; payload bodies are corked around.
      setsockopt(s.fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
      on_accept_(s);
    }
  }
}

}  // namespace ota::server
