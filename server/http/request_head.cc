#include "server/http/request_head.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"

namespace ota::server {
namespace {

// RFC 9110 5.6.2 token characters.
bool IsTokenChar(char c) {
  if (absl::ascii_isalnum(static_cast<unsigned char>(c))) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

bool IsToken(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsTokenChar(c)) return false;
  }
  return true;
}

// Visible characters, spaces, tabs and obs-text: what a field value or a
// request target may hold.
bool IsFieldText(absl::string_view s) {
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 && u != '\t') return false;
    if (u == 0x7f) return false;
  }
  return true;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX sequences decoded; a '%' not followed by two hex digits stays as it
// is (libmicrohttpd's MHD_http_unescape does the same).
std::string PercentDecode(absl::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%' && i + 2 < s.size()) {
      int hi = HexValue(s[i + 1]);
      int lo = HexValue(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && c == '+' ? ' ' : c);
  }
  return out;
}

}  // namespace

HeadEnd FindHeadEnd(absl::string_view data) {
  size_t pos = 0;
  while (true) {
    size_t nl = data.find('\n', pos);
    if (nl == absl::string_view::npos) return {HeadEnd::kIncomplete, 0};
    if (nl == pos || data[nl - 1] != '\r') return {HeadEnd::kForeign, 0};
    if (nl == pos + 1) {
      // An empty line: the end of the head, unless it comes first.
      if (pos == 0) return {HeadEnd::kForeign, 0};
      return {HeadEnd::kComplete, nl + 1};
    }
    pos = nl + 1;
  }
}

std::optional<absl::string_view> RequestHead::Field(absl::string_view name) const {
  for (const auto& [n, v] : fields) {
    if (absl::EqualsIgnoreCase(n, name)) return v;
  }
  return std::nullopt;
}

bool RequestHead::ConnectionHas(absl::string_view token) const {
  for (const auto& [n, v] : fields) {
    if (!absl::EqualsIgnoreCase(n, "Connection")) continue;
    for (absl::string_view t : absl::StrSplit(v, ',')) {
      if (absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(t), token)) return true;
    }
  }
  return false;
}

std::optional<RequestHead> ParseRequestHead(absl::string_view head) {
  if (!absl::ConsumeSuffix(&head, "\r\n\r\n")) return std::nullopt;
  std::vector<absl::string_view> lines = absl::StrSplit(head, "\r\n");
  RequestHead out;

  // "METHOD SP target SP HTTP/1.x", single spaces.
  std::vector<absl::string_view> parts = absl::StrSplit(lines[0], ' ');
  if (parts.size() != 3 || !IsToken(parts[0])) return std::nullopt;
  if (parts[1].empty() || parts[1][0] != '/' || !IsFieldText(parts[1]) ||
      absl::StrContains(parts[1], '\t')) {
    return std::nullopt;
  }
  if (parts[2] == "HTTP/1.1") {
    out.minor_version = 1;
  } else if (parts[2] == "HTTP/1.0") {
    out.minor_version = 0;
  } else {
    return std::nullopt;
  }
  out.method = parts[0];
  out.target = parts[1];

  for (size_t i = 1; i < lines.size(); ++i) {
    absl::string_view line = lines[i];
    size_t colon = line.find(':');
    // No folded lines (they start with whitespace, which is no token) and
    // no whitespace before the colon (RFC 9112 5.1).
    if (colon == absl::string_view::npos || !IsToken(line.substr(0, colon))) {
      return std::nullopt;
    }
    absl::string_view value = line.substr(colon + 1);
    if (!IsFieldText(value)) return std::nullopt;
    value = absl::StripAsciiWhitespace(value);
    out.fields.emplace_back(line.substr(0, colon), value);
  }
  return out;
}

std::string DecodePath(absl::string_view target) {
  return PercentDecode(target.substr(0, target.find('?')), /*plus_is_space=*/false);
}

std::map<std::string, std::string> ParseQuery(absl::string_view target) {
  std::map<std::string, std::string> query;
  size_t q = target.find('?');
  if (q == absl::string_view::npos) return query;
  for (absl::string_view arg : absl::StrSplit(target.substr(q + 1), '&', absl::SkipEmpty())) {
    size_t eq = arg.find('=');
    if (eq == absl::string_view::npos) {
      query[PercentDecode(arg, true)] = "";
    } else {
      query[PercentDecode(arg.substr(0, eq), true)] = PercentDecode(arg.substr(eq + 1), true);
    }
  }
  return query;
}

}  // namespace ota::server
