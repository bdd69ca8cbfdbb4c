// HttpHeadParser: builds an HttpHead from the header lines of an HTTP/1.x
// or HTTP/2 response, one line at a time, as libcurl's header callback
// hands them over. A status line starts a new head, so after redirects and
// interim 1xx responses the head is that of the final response.
//
//   HttpHeadParser parser;
//   parser.AddLine("HTTP/1.1 206 Partial Content\r\n");
//   parser.AddLine("ETag: \"v7\"\r\n");
//   parser.AddLine("Content-Range: bytes 100-199/1000\r\n");
//   parser.AddLine("\r\n");
//   parser.head();  // {206, "\"v7\"", 100, 0}
//
// Malformed values are ignored rather than guessed at: a Content-Range that
// does not parse leaves content_range_first unset, a bad Content-Length
// leaves 0, and the caller decides what a head without them means.
#ifndef OTA_DEVICE_DOWNLOAD_HTTP_HEAD_PARSER_H_
#define OTA_DEVICE_DOWNLOAD_HTTP_HEAD_PARSER_H_

#include <cstdint>
#include <optional>

#include "absl/strings/string_view.h"
#include "device/download/http_transport.h"

namespace ota::device {

class HttpHeadParser {
 public:
  // Adds one header line, with or without its CRLF. A status line
  // ("HTTP/1.1 200 OK", "HTTP/2 206") clears what came before; the empty
  // line ends the head; a field line sets ETag, Content-Range or
  // Content-Length (names in any case); other lines are skipped.
  void AddLine(absl::string_view line);

  // The head parsed so far.
  const HttpHead& head() const { return head_; }

  // Whether the empty line ending a final (non-1xx) response was seen.
  bool complete() const { return complete_; }

 private:
  HttpHead head_;
  bool complete_ = false;
};

// The status code of an HTTP status line ("HTTP/1.1 404 Not Found" -> 404);
// nullopt when `line` is not one.
std::optional<int> ParseHttpStatusLine(absl::string_view line);

// The first byte position of a Content-Range value ("bytes 0-9/100" -> 0);
// nullopt for "bytes */100", another unit, or anything malformed (first
// after last, last not below a known total).
std::optional<uint64_t> ParseContentRangeFirst(absl::string_view value);

}  // namespace ota::device

#endif  // OTA_DEVICE_DOWNLOAD_HTTP_HEAD_PARSER_H_
