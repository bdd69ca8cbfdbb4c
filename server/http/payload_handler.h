// GET and HEAD of /payloads/<sha256>: the blobs devices download, served so
// that any HTTP cache or CDN in front can keep them.
//
// - Only 64-character lowercase hex names reach the blob store, so no path
//   can leave it (anything else is 404).
// - ETag is the quoted SHA-256 (strong: the name is the content's digest);
//   Cache-Control marks the blob immutable for a year.
// - Range (one range), If-Range (strong ETag match, else the whole body),
//   If-None-Match (304), 416 with "Content-Range: bytes */size".
// - With a URL key configured, requests must carry ?expires=<unix>&sig=<hex>
//   where sig = HMAC-SHA256(key, path "\n" expires); a missing, wrong or
//   expired signature is 403. Authenticity of the bytes never depends on
//   this: devices check them against the signed manifest.
#ifndef OTA_SERVER_HTTP_PAYLOAD_HANDLER_H_
#define OTA_SERVER_HTTP_PAYLOAD_HANDLER_H_

#include <cstdint>
#include <string>

#include "common/base/clock.h"
#include "server/blobs/blob_store.h"
#include "server/http/http_server.h"

namespace ota::server {

// The path prefix payloads are served under.
inline constexpr char kPayloadPrefix[] = "/payloads/";

// The query string ("expires=...&sig=...") that makes `path` downloadable
// until `expires_unix` under `key`.
std::string SignPayloadPath(const std::string& key, const std::string& path,
                            int64_t expires_unix);

class PayloadHandler {
 public:
  // `url_key` empty: payloads are public. Not owned: blobs, clock.
  PayloadHandler(const BlobStore* blobs, const common::Clock* clock, std::string url_key)
      : blobs_(blobs), clock_(clock), url_key_(std::move(url_key)) {}

  HttpResponse Handle(const HttpRequest& request) const;

 private:
  // Empty when the request may proceed; otherwise why not.
  std::string CheckSignature(const HttpRequest& request) const;

  const BlobStore* blobs_;
  const common::Clock* clock_;
  std::string url_key_;
};

}  // namespace ota::server

#endif  // OTA_SERVER_HTTP_PAYLOAD_HANDLER_H_
