#include "server/http/range.h"

#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace ota::server {
namespace {

// Parses 1*DIGIT; false on anything else or on overflow.
bool ParseDigits(absl::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 19) return false;  // 19 digits always fit
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *out = v;
  return true;
}

}  // namespace

ByteRange ParseRange(absl::string_view header, uint64_t size) {
  ByteRange whole;
  absl::string_view h = absl::StripAsciiWhitespace(header);
  if (h.empty()) return whole;
  // The unit is case-insensitive; anything but "bytes" is ignored.
  if (h.size() < 6 || !absl::EqualsIgnoreCase(h.substr(0, 6), "bytes=")) return whole;
  absl::string_view spec = absl::StripAsciiWhitespace(h.substr(6));
  if (spec.find(',') != absl::string_view::npos) return whole;  // several ranges
  size_t dash = spec.find('-');
  if (dash == absl::string_view::npos) return whole;
  absl::string_view a = absl::StripAsciiWhitespace(spec.substr(0, dash));
  absl::string_view b = absl::StripAsciiWhitespace(spec.substr(dash + 1));
  ByteRange r;
  r.kind = ByteRange::kPartial;
  if (a.empty()) {
    // Suffix range "-n": the last n bytes.
    uint64_t n = 0;
    if (!ParseDigits(b, &n)) return whole;
    if (n == 0 || size == 0) return ByteRange{ByteRange::kUnsatisfiable, 0, 0};
    r.first = n >= size ? 0 : size - n;
    r.last = size - 1;
    return r;
  }
  uint64_t first = 0;
  if (!ParseDigits(a, &first)) return whole;
  uint64_t last = 0;
  if (b.empty()) {
    last = size == 0 ? 0 : size - 1;
  } else {
    if (!ParseDigits(b, &last)) return whole;
    if (last < first) return whole;  // invalid: ignored, per RFC 9110 14.1.1
  }
  if (first >= size) return ByteRange{ByteRange::kUnsatisfiable, 0, 0};
  r.first = first;
  r.last = last >= size ? size - 1 : last;
  return r;
}

std::string ContentRange(const ByteRange& range, uint64_t size) {
  if (range.kind == ByteRange::kUnsatisfiable) return absl::StrCat("bytes */", size);
  return absl::StrCat("bytes ", range.first, "-", range.last, "/", size);
}

}  // namespace ota::server
