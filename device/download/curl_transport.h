// CurlTransport: HttpTransport over one libcurl easy handle. The handle is
// kept between fetches, so requests to the same server reuse the
// connection (HTTP keep-alive, TLS session).
//
//   absl::StatusOr<std::unique_ptr<CurlTransport>> transport =
//       CurlTransport::Create();
//   PayloadDownloader downloader(transport->get(), &sleeper, options);
//
// What every fetch sets: http and https only (also after a redirect), at
// most 5 redirects, Range from HttpFetch::range, an If-Range header from
// HttpFetch::if_range, CURLOPT_LOW_SPEED_LIMIT/TIME and CURLOPT_TIMEOUT
// from the fetch's limits (the connect timeout is the low-speed time, so a
// mirror that never answers counts as a stall), CURLOPT_NOSIGNAL (safe in
// a threaded daemon), no Accept-Encoding (bodies arrive as stored, so byte
// offsets mean what the manifest means). Server certificates are verified
// against the system's CA store.
//
// Memory: one receive buffer of Options::buffer_size bytes plus libcurl's
// connection state, whatever the size of the body.
//
// Not thread-safe: one Fetch at a time, as HttpTransport says.
#ifndef OTA_DEVICE_DOWNLOAD_CURL_TRANSPORT_H_
#define OTA_DEVICE_DOWNLOAD_CURL_TRANSPORT_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "device/download/http_transport.h"

namespace ota::device {

class CurlTransport : public HttpTransport {
 public:
  struct Options {
    // libcurl's receive buffer (CURLOPT_BUFFERSIZE), the largest block
    // on_body sees. Bigger blocks mean fewer callbacks per byte.
    long buffer_size = 64 * 1024;
    // Sent as User-Agent.
    std::string user_agent = "ota-device";
    // For https: a PEM file of the CAs to trust (CURLOPT_CAINFO); empty
    // keeps the system's.
    std::string ca_file;
  };

  // INTERNAL when libcurl cannot make an easy handle.
  static absl::StatusOr<std::unique_ptr<CurlTransport>> Create(
      Options options);
  static absl::StatusOr<std::unique_ptr<CurlTransport>> Create() {
    return Create(Options());
  }

  ~CurlTransport() override;
  CurlTransport(const CurlTransport&) = delete;
  CurlTransport& operator=(const CurlTransport&) = delete;

  absl::StatusOr<HttpHead> Fetch(
      const HttpFetch& fetch,
      const std::function<bool(const HttpHead&)>& on_head,
      const std::function<bool(absl::string_view)>& on_body) override;

 private:
  CurlTransport(void* curl, Options options);

  void* const curl_;  // CURL*, kept out of this header
  const Options options_;
};

}  // namespace ota::device

#endif  // OTA_DEVICE_DOWNLOAD_CURL_TRANSPORT_H_
