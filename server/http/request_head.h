// The head of an HTTP/1.x request (request line and header fields) as the
// payload fast path reads it from bytes peeked off a socket.
//
//   HeadEnd end = FindHeadEnd(peeked);
//   if (end.kind == HeadEnd::kComplete) {
//     std::optional<RequestHead> head = ParseRequestHead(peeked.substr(0, end.length));
//     if (head) Serve(DecodePath(head->target), ParseQuery(head->target));
//   }
//
// The parser is strict on purpose: only the plain form every HTTP/1.x
// client sends (CRLF line ends, "METHOD SP target SP HTTP/1.x", "Name:
// value" fields without folding) is accepted. Anything else is not an error
// here; the caller leaves it to libmicrohttpd, which has the general parser
// and answers 400 where the request really is malformed.
#ifndef OTA_SERVER_HTTP_REQUEST_HEAD_H_
#define OTA_SERVER_HTTP_REQUEST_HEAD_H_

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace ota::server {

struct HeadEnd {
  enum Kind {
    // No empty line yet: more bytes are needed.
    kIncomplete,
    // The head is the first `length` bytes, its empty line included.
    kComplete,
    // Not in the strict form (a bare LF, or an empty line first).
    kForeign,
  };
  Kind kind = kIncomplete;
  size_t length = 0;
};

// Where the first request head in `data` ends.
HeadEnd FindHeadEnd(absl::string_view data);

struct RequestHead {
  absl::string_view method;
  // The request target as sent: origin form, path and query, not decoded.
  absl::string_view target;
  // 0 for HTTP/1.0, 1 for HTTP/1.1.
  int minor_version = 1;
  // Header fields in order, names as sent, values without surrounding
  // whitespace. Views into the parsed head.
  std::vector<std::pair<absl::string_view, absl::string_view>> fields;

  // The first value of field `name` (case-insensitive), if present.
  std::optional<absl::string_view> Field(absl::string_view name) const;
  // True when a Connection field lists `token` (case-insensitive).
  bool ConnectionHas(absl::string_view token) const;
};

// Parses a complete head (as FindHeadEnd delimits it). nullopt when it is
// not in the strict form: another HTTP version, a target that is not a
// path, a field name that is not a token, a control byte in a value.
std::optional<RequestHead> ParseRequestHead(absl::string_view head);

// The target's path without the query, percent-decoded (%XX; '+' stays)
// as libmicrohttpd decodes it.
std::string DecodePath(absl::string_view target);

// The target's query arguments as libmicrohttpd reads them: '&'-separated,
// '+' is a space, %XX decoded, a name without '=' has an empty value, the
// last of repeated names wins.
std::map<std::string, std::string> ParseQuery(absl::string_view target);

}  // namespace ota::server

#endif  // OTA_SERVER_HTTP_REQUEST_HEAD_H_
