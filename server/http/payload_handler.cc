#include "server/http/payload_handler.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/crypto/bytes.h"
#include "common/crypto/hmac.h"
#include "server/http/range.h"

namespace ota::server {
namespace {

std::string Signature(const std::string& key, const std::string& path, int64_t expires) {
  return common::HexEncode(common::HmacSha256(key, absl::StrCat(path, "\n", expires)));
}

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

std::string SignPayloadPath(const std::string& key, const std::string& path,
                            int64_t expires_unix) {
  return absl::StrCat("expires=", expires_unix, "&sig=", Signature(key, path, expires_unix));
}

std::string PayloadHandler::CheckSignature(const HttpRequest& request) const {
  if (url_key_.empty()) return "";
  auto expires = request.query.find("expires");
  auto sig = request.query.find("sig");
  if (expires == request.query.end() || sig == request.query.end()) {
    return "this server needs a signed URL (expires and sig)";
  }
  int64_t when = 0;
  if (!absl::SimpleAtoi(expires->second, &when)) return "expires is not a number";
  const std::string want = Signature(url_key_, request.path, when);
  // Compared in constant time: the signature is a secret-derived MAC.
  if (!common::ConstantTimeEquals(sig->second, want)) return "the URL signature is wrong";
  if (clock_->NowUnix() > when) return "the URL has expired";
  return "";
}

HttpResponse PayloadHandler::Handle(const HttpRequest& request) const {
  if (request.method != "GET" && request.method != "HEAD") {
    HttpResponse r = HttpResponse::Text(405, "only GET and HEAD\n");
    r.headers.emplace_back("Allow", "GET, HEAD");
    return r;
  }
  absl::string_view name = request.path;
  if (!absl::ConsumePrefix(&name, kPayloadPrefix) || !BlobStore::IsDigest(name)) {
    return HttpResponse::Text(404, "not found\n");
  }
  if (std::string why = CheckSignature(request); !why.empty()) {
    return HttpResponse::Text(403, why + "\n");
  }
  const std::string path = blobs_->BlobPath(name);
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return HttpResponse::Text(404, "not found\n");
  struct stat st;
  if (fstat(fd, &st) != 0) {
    close(fd);
    return HttpResponse::Text(500, "cannot stat the blob\n");
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  const std::string etag = absl::StrCat("\"", name, "\"");

  HttpResponse r;
  r.headers = {{"ETag", etag},
               {"Accept-Ranges", "bytes"},
               {"Cache-Control", "public, max-age=31536000, immutable"},
               {"Content-Type", "application/octet-stream"}};
  const std::string none_match = request.Header("If-None-Match");
  if (!none_match.empty() && NoneMatchHits(none_match, etag)) {
    close(fd);
    r.status = 304;
    return r;
  }
  std::string range_header = request.Header("Range");
  const std::string if_range = request.Header("If-Range");
  // If-Range that does not name this exact representation asks for the
  // whole body: two versions are never spliced.
  if (!if_range.empty() && if_range != etag) range_header.clear();
  ByteRange range = ParseRange(range_header, size);
  switch (range.kind) {
    case ByteRange::kUnsatisfiable:
      close(fd);
      r.status = 416;
      r.headers.emplace_back("Content-Range", ContentRange(range, size));
      r.body = "range not satisfiable\n";
      return r;
    case ByteRange::kPartial:
      r.status = 206;
      r.headers.emplace_back("Content-Range", ContentRange(range, size));
      r.fd = fd;
      r.offset = range.first;
      r.length = range.length();
      return r;
    case ByteRange::kWhole:
      break;
  }
  r.status = 200;
  r.fd = fd;
  r.offset = 0;
  r.length = size;
  return r;
}

}  // namespace ota::server
