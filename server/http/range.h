// The HTTP Range header for single byte ranges (RFC 9110 section 14).
//
//   ByteRange r = ParseRange(header_value, file_size);
//   switch (r.kind) { case ByteRange::kWhole: ...; case kPartial: ...;
//                     case kUnsatisfiable: ... }
//
// Multiple ranges, other units and malformed specifiers make the server
// ignore the header and send the whole representation, as RFC 9110 allows
// (a server "MAY ignore the Range header field"); a well-formed range that
// starts past the end is unsatisfiable (416).
#ifndef OTA_SERVER_HTTP_RANGE_H_
#define OTA_SERVER_HTTP_RANGE_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace ota::server {

struct ByteRange {
  enum Kind { kWhole, kPartial, kUnsatisfiable };
  Kind kind = kWhole;
  // For kPartial: first and last byte positions, inclusive, within the file.
  uint64_t first = 0;
  uint64_t last = 0;

  uint64_t length() const { return last - first + 1; }
};

// Interprets `header` (the Range field's value; empty when absent) for a
// representation of `size` bytes.
ByteRange ParseRange(absl::string_view header, uint64_t size);

// "bytes first-last/size".
std::string ContentRange(const ByteRange& range, uint64_t size);

}  // namespace ota::server

#endif  // OTA_SERVER_HTTP_RANGE_H_
