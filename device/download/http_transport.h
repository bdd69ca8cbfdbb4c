// HttpTransport: one HTTP GET at a time, its head and body handed to
// callbacks as they arrive, so a caller can check and store a body of any
// size in constant memory. The downloader (downloader.h) takes one through
// its constructor; curl_transport.h is the libcurl implementation.
//
//   HttpFetch fetch;
//   fetch.url = "https://cdn.example.com/payloads/abc";
//   fetch.range = HttpRange{1 << 20, size - 1};
//   fetch.if_range = "\"v7\"";
//   absl::StatusOr<HttpHead> head = transport->Fetch(
//       fetch,
//       [](const HttpHead& h) { return h.status == 206 || h.status == 200; },
//       [&](absl::string_view block) { return Store(block); });
#ifndef OTA_DEVICE_DOWNLOAD_HTTP_TRANSPORT_H_
#define OTA_DEVICE_DOWNLOAD_HTTP_TRANSPORT_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ota::device {

// A byte range, both ends included (as in "Range: bytes=first-last").
struct HttpRange {
  uint64_t first = 0;
  uint64_t last = 0;
};

// What to fetch and how long to wait for it.
struct HttpFetch {
  std::string url;
  // When set, only these bytes are asked for ("Range: bytes=first-last").
  std::optional<HttpRange> range;
  // An entity tag sent as If-Range: a server whose current ETag differs
  // answers 200 with the whole object instead of 206. Empty: none sent.
  std::string if_range;
  // The transfer fails with DEADLINE_EXCEEDED when fewer than
  // `low_speed_bytes_per_second` arrive per second for `low_speed_seconds`
  // in a row (0 bytes: no such limit), or when it has not ended after
  // `total_timeout_seconds` (0: none).
  int low_speed_bytes_per_second = 1024;
  int low_speed_seconds = 30;
  int total_timeout_seconds = 3600;
  // When not null, polled while the transfer runs, at least about once a
  // second even when no byte arrives: once true, the transfer stops with
  // CANCELLED. Not owned; must outlive the Fetch call.
  const std::atomic<bool>* cancel = nullptr;
};

// The head of the final response (after redirects).
struct HttpHead {
  int status = 0;
  // The ETag header as sent, quotes included ("\"v7\"", "W/\"x\""); empty
  // when there is none.
  std::string etag;
  // The first byte position of "Content-Range: bytes first-last/total";
  // unset when the header is absent or names no range ("bytes */total").
  std::optional<uint64_t> content_range_first;
  // Content-Length when the server sent one, else 0.
  uint64_t content_length = 0;
};

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;

  // Performs one GET of `fetch`. Not reentrant: one request at a time.
  //
  // `on_head` is called once, with the final response's head, before the
  // first body block (or after the transfer when there is no body); it
  // returns false to stop the transfer. `on_body` is called with each body
  // block in order (the block is valid only during the call); it returns
  // false to stop. Both run on the calling thread.
  //
  // Returns the head of the final response whatever its status (a 404 is
  // a head, not an error), or:
  //   UNAVAILABLE        the connection or the transfer failed (the message
  //                      says how: refused, reset, cut short, too many
  //                      redirects, TLS);
  //   DEADLINE_EXCEEDED  the low-speed limit or the total timeout hit;
  //   CANCELLED          a callback returned false, or `fetch.cancel` was set;
  //   INVALID_ARGUMENT   the URL is malformed or its scheme is not http or
  //                      https (retrying cannot help).
  virtual absl::StatusOr<HttpHead> Fetch(
      const HttpFetch& fetch,
      const std::function<bool(const HttpHead&)>& on_head,
      const std::function<bool(absl::string_view)>& on_body) = 0;
};

}  // namespace ota::device

#endif  // OTA_DEVICE_DOWNLOAD_HTTP_TRANSPORT_H_
