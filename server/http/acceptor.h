// The listening socket of otad's HTTP server and the limits on the
// connections it holds. HttpServer accepts here itself and gives each
// connection to the payload fast path, which may pass it on to
// libmicrohttpd; the limits count a connection wherever it is served.
//
//   ConnectionLimits limits(/*total=*/4096, /*per_address=*/0);
//   auto acceptor = Acceptor::Listen("127.0.0.1:0");
//   (*acceptor)->Start(&limits, [&](AcceptedSocket s) { sender.Add(s); });
//   ...
//   limits.Release(s.address);  // when that connection closes
#ifndef OTA_SERVER_HTTP_ACCEPTOR_H_
#define OTA_SERVER_HTTP_ACCEPTOR_H_

#include <sys/socket.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace ota::server {

// An accepted connection: a non-blocking socket with TCP_NODELAY set, and
// the peer's address. Whoever holds it owns fd.
struct AcceptedSocket {
  int fd = -1;
  sockaddr_storage address{};
  socklen_t address_len = 0;
};

// Counts open connections in all and by peer address. Thread-safe.
class ConnectionLimits {
 public:
  // `per_address` 0: no per-address cap.
  ConnectionLimits(int total, int per_address) : total_(total), per_address_(per_address) {}

  // True, and the connection counted, when one more from `address` fits.
  bool Admit(const sockaddr* address);
  // Uncounts a connection Admit counted.
  void Release(const sockaddr* address);

 private:
  absl::Mutex mu_;
  const int total_;
  const int per_address_;
  int open_ ABSL_GUARDED_BY(mu_) = 0;
  // Keyed by the raw IPv4 or IPv6 address bytes, port excluded.
  std::unordered_map<std::string, int> by_address_ ABSL_GUARDED_BY(mu_);
};

class Acceptor {
 public:
  using OnAccept = std::function<void(AcceptedSocket)>;

  // Binds `address` (host:port, IPv4 or [IPv6], port 0 for any free port;
  // "*" or an empty host is every IPv4 address) and listens.
  // INVALID_ARGUMENT when it does not parse, UNAVAILABLE when it cannot be
  // bound.
  static absl::StatusOr<std::unique_ptr<Acceptor>> Listen(const std::string& address);

  // Stops accepting (joins the thread) and closes the listening socket.
  ~Acceptor();

  // The port bound.
  int port() const { return port_; }

  // Starts the accepting thread. Each connection `limits` admits goes to
  // `on_accept` (on that thread); any other is closed at once. Not owned:
  // limits, which must outlive this. Called once.
  void Start(ConnectionLimits* limits, OnAccept on_accept);

 private:
  Acceptor() = default;
  void Run();

  int listen_fd_ = -1;
  int stop_fd_ = -1;  // an eventfd that wakes Run to return
  int port_ = 0;
  ConnectionLimits* limits_ = nullptr;
  OnAccept on_accept_;
  std::thread thread_;
};

}  // namespace ota::server

#endif  // OTA_SERVER_HTTP_ACCEPTOR_H_
