// The fast path of otad's HTTP server: payload downloads sent the way
// nginx sends files, while libmicrohttpd keeps serving every other request.
//
// Every accepted connection comes here first. A worker peeks at the
// request head without consuming it (MSG_PEEK). A GET or HEAD without a
// body whose path is under a payload route is answered here: the head is
// consumed, the route's handler called, and for a file body the socket is
// corked, the status line and headers go out in one write, the whole range
// follows in as few sendfile calls as the socket takes, and the socket is
// uncorked at the end, so the header leaves in the body's first segment.
// libmicrohttpd 0.9.75 instead pushes the header as a packet of its own and
// sends the body 128 KiB per sendfile with an epoll round between calls,
// which cost 1 MiB ranged downloads about 15% against nginx.
//
// Anything else is handed over (see Hooks::hand_over) before a byte of it
// has been read: other paths and methods, requests with a body, heads not
// in the plain HTTP/1.0-1.1 form (malformed ones included: libmicrohttpd
// answers those 400), HTTP/1.1 without Host. A kept-alive connection gets
// the same decision for each request; once handed over it stays with
// libmicrohttpd.
//
// Limits: a head longer than `head_limit` is answered 431 and the
// connection closed; a connection that sends or takes nothing for
// `idle_timeout_seconds` (waiting for a head, or not reading its
// response) is closed. Connection counts are the caller's (Hooks::closed).
#ifndef OTA_SERVER_HTTP_PAYLOAD_SENDER_H_
#define OTA_SERVER_HTTP_PAYLOAD_SENDER_H_

#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "absl/strings/string_view.h"
#include "server/http/acceptor.h"
#include "server/http/http_server.h"

namespace ota::server {

class PayloadSender {
 public:
  struct Options {
    // Worker threads, each with its own epoll loop.
    int threads = 2;
    // Longest request head read; longer is 431.
    size_t head_limit = 32 << 10;
    int idle_timeout_seconds = 30;
  };

  // What the sender needs from the server around it. Each is called on a
  // worker thread, possibly on several at once.
  struct Hooks {
    // The handler for a GET or HEAD of decoded `path` when the path is
    // under a payload route; null when it is not.
    std::function<const HttpHandler*(absl::string_view path)> payload_route;
    // Takes over a connection of which nothing has been consumed.
    std::function<void(AcceptedSocket)> hand_over;
    // A connection was closed here (after it was counted as accepted).
    std::function<void(const sockaddr* address)> closed;
    // A response was queued: its status, whether the request was HEAD,
    // and its body length.
    std::function<void(int status, bool head, uint64_t body_bytes)> answered;
  };

  // Starts the workers.
  PayloadSender(const Options& options, Hooks hooks);
  // Closes every connection still here and joins the workers.
  ~PayloadSender();

  // Takes ownership of a freshly accepted socket. Thread-safe.
  void Add(AcceptedSocket socket);

 private:
  class Worker;
  const Hooks hooks_;  // before workers_: they use it until joined
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<unsigned> next_{0};
};

}  // namespace ota::server

#endif  // OTA_SERVER_HTTP_PAYLOAD_SENDER_H_
