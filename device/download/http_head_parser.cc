#include "device/download/http_head_parser.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace ota::device {
namespace {

bool ParseDecimal(absl::string_view text, uint64_t* value) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return absl::SimpleAtoi(text, value);
}

}  // namespace

std::optional<int> ParseHttpStatusLine(absl::string_view line) {
  line = absl::StripAsciiWhitespace(line);
  if (!absl::StartsWith(line, "HTTP/")) return std::nullopt;
  size_t space = line.find(' ');
  if (space == absl::string_view::npos) return std::nullopt;
  absl::string_view rest = line.substr(space + 1);
  absl::string_view code = rest.substr(0, rest.find(' '));
  uint64_t value = 0;
  if (code.size() != 3 || !ParseDecimal(code, &value) || value < 100) {
    return std::nullopt;
  }
  return static_cast<int>(value);
}

std::optional<uint64_t> ParseContentRangeFirst(absl::string_view value) {
  value = absl::StripAsciiWhitespace(value);
  constexpr absl::string_view kUnit = "bytes";
  if (value.size() <= kUnit.size() ||
      !absl::EqualsIgnoreCase(value.substr(0, kUnit.size()), kUnit) ||
      value[kUnit.size()] != ' ') {
    return std::nullopt;
  }
  value = absl::StripLeadingAsciiWhitespace(value.substr(kUnit.size()));
  size_t slash = value.find('/');
  if (slash == absl::string_view::npos) return std::nullopt;
  absl::string_view range = value.substr(0, slash);
  absl::string_view total = value.substr(slash + 1);
  size_t dash = range.find('-');
  if (dash == absl::string_view::npos) return std::nullopt;
  uint64_t first = 0;
  uint64_t last = 0;
  if (!ParseDecimal(range.substr(0, dash), &first) ||
      !ParseDecimal(range.substr(dash + 1), &last) || first > last) {
    return std::nullopt;
  }
  if (total != "*") {
    uint64_t length = 0;
    if (!ParseDecimal(total, &length) || last >= length) return std::nullopt;
  }
  return first;
}

void HttpHeadParser::AddLine(absl::string_view line) {
  if (std::optional<int> status = ParseHttpStatusLine(line)) {
    head_ = HttpHead();
    head_.status = *status;
    complete_ = false;
    return;
  }
  absl::string_view stripped = absl::StripAsciiWhitespace(line);
  if (stripped.empty()) {
    complete_ = head_.status >= 200;
    return;
  }
  size_t colon = stripped.find(':');
  if (colon == absl::string_view::npos) return;
  absl::string_view name = absl::StripTrailingAsciiWhitespace(stripped.substr(0, colon));
  absl::string_view value = absl::StripAsciiWhitespace(stripped.substr(colon + 1));
  if (absl::EqualsIgnoreCase(name, "ETag")) {
    head_.etag = std::string(value);
  } else if (absl::EqualsIgnoreCase(name, "Content-Range")) {
    head_.content_range_first = ParseContentRangeFirst(value);
  } else if (absl::EqualsIgnoreCase(name, "Content-Length")) {
    uint64_t length = 0;
    head_.content_length = ParseDecimal(value, &length) ? length : 0;
  }
}

}  // namespace ota::device
