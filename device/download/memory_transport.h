// A testonly HttpTransport serving one byte string from memory with correct
// range semantics (206 and Content-Range for a range request, a fixed
// ETag), in 4 KiB body blocks; counts its requests.
#ifndef OTA_DEVICE_DOWNLOAD_MEMORY_TRANSPORT_H_
#define OTA_DEVICE_DOWNLOAD_MEMORY_TRANSPORT_H_

#include <algorithm>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "device/download/http_transport.h"

namespace ota::device {

class MemoryTransport : public HttpTransport {
 public:
  explicit MemoryTransport(std::string content) : content_(std::move(content)) {}

  absl::StatusOr<HttpHead> Fetch(const HttpFetch& fetch,
                                 const std::function<bool(const HttpHead&)>& on_head,
                                 const std::function<bool(absl::string_view)>& on_body) override {
    ++requests_;
    HttpHead head;
    head.etag = "\"v1\"";
    const uint64_t first =
        fetch.range.has_value() ? std::min<uint64_t>(fetch.range->first, content_.size()) : 0;
    head.status = fetch.range.has_value() ? 206 : 200;
    if (fetch.range.has_value()) head.content_range_first = first;
    head.content_length = content_.size() - first;
    if (!on_head(head)) return absl::CancelledError("head refused");
    for (uint64_t off = first; off < content_.size(); off += 4096) {
      if (!on_body(absl::string_view(content_).substr(off, 4096))) {
        return absl::CancelledError("body refused");
      }
    }
    return head;
  }

  // Requests served so far.
  int requests() const { return requests_; }

 private:
  std::string content_;
  int requests_ = 0;
};

}  // namespace ota::device

#endif  // OTA_DEVICE_DOWNLOAD_MEMORY_TRANSPORT_H_
