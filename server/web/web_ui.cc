#include "server/web/web_ui.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/crypto/bytes.h"
#include "common/crypto/sha256.h"

namespace ota::server::web {
namespace {

constexpr absl::string_view kFilePrefix = "/ui/";

// True when an If-None-Match value lists `etag` (weak comparison, as RFC
// 9110 13.1.2 asks) or is "*".
bool NoneMatchHits(absl::string_view header, absl::string_view etag) {
  for (absl::string_view tag : absl::StrSplit(header, ',')) {
    tag = absl::StripAsciiWhitespace(tag);
    absl::ConsumePrefix(&tag, "W/");
    if (tag == "*" || tag == etag) return true;
  }
  return false;
}

}  // namespace

absl::string_view ContentTypeFor(absl::string_view name) {
  static constexpr std::pair<absl::string_view, absl::string_view> kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".json", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
  };
  for (const auto& [extension, type] : kTypes) {
    if (absl::EndsWith(name, extension)) return type;
  }
  return "application/octet-stream";
}

WebUi::WebUi(absl::Span<const WebFile> files) {
  for (const WebFile& f : files) {
    files_[std::string(f.name)] =
        Entry{f.bytes, ContentTypeFor(f.name),
              absl::StrCat("\"", common::HexEncode(common::Sha256Digest(f.bytes)).substr(0, 32),
                           "\"")};
  }
}

HttpResponse WebUi::Handle(const HttpRequest& request) const {
  if (request.method != "GET" && request.method != "HEAD") {
    HttpResponse r = HttpResponse::Text(405, "method not allowed\n");
    r.headers.emplace_back("Allow", "GET, HEAD");
    return r;
  }
  absl::string_view name;
  if (request.path == "/") {
    name = "index.html";
  } else if (absl::StartsWith(request.path, kFilePrefix)) {
    name = absl::string_view(request.path).substr(kFilePrefix.size());
  }
  auto it = name.empty() ? files_.end() : files_.find(name);
  if (it == files_.end()) return HttpResponse::Text(404, "not found\n");
  const Entry& file = it->second;

  HttpResponse r;
  r.headers = {{"ETag", file.etag},
               {"Cache-Control", "no-cache"},
               {"Content-Type", std::string(file.content_type)},
               {"X-Content-Type-Options", "nosniff"}};
  const std::string none_match = request.Header("If-None-Match");
  if (!none_match.empty() && NoneMatchHits(none_match, file.etag)) {
    r.status = 304;
    return r;
  }
  r.status = 200;
  r.body = std::string(file.bytes);
  return r;
}

}  // namespace ota::server::web
