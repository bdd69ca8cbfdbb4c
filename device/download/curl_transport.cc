#include "device/download/curl_transport.h"

#include <curl/curl.h>

#include <algorithm>
#include <mutex>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "device/download/http_head_parser.h"

namespace ota::device {
namespace {

constexpr long kMaxRedirects = 5;

// What one transfer's callbacks share.
struct Transfer {
  const std::function<bool(const HttpHead&)>* on_head = nullptr;
  const std::function<bool(absl::string_view)>* on_body = nullptr;
  const std::atomic<bool>* cancel = nullptr;
  HttpHeadParser parser;
  bool head_delivered = false;
  bool stopped_by_callback = false;
  bool cancelled = false;

  // Hands the head over once; false when on_head refuses it.
  bool DeliverHead() {
    if (head_delivered) return true;
    head_delivered = true;
    if (!(*on_head)(parser.head())) {
      stopped_by_callback = true;
      return false;
    }
    return true;
  }
};

size_t OnHeaderLine(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  transfer->parser.AddLine(absl::string_view(data, size * count));
  return size * count;
}

size_t OnBodyBlock(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  size_t n = size * count;
  if (!transfer->DeliverHead()) return 0;
  if (!(*transfer->on_body)(absl::string_view(data, n))) {
    transfer->stopped_by_callback = true;
    return 0;
  }
  return n;
}

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* transfer = static_cast<Transfer*>(user);
  if (transfer->cancel != nullptr && transfer->cancel->load()) {
    transfer->cancelled = true;
    return 1;
  }
  return 0;
}

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

absl::StatusOr<std::unique_ptr<CurlTransport>> CurlTransport::Create(
    Options options) {
  GlobalInit();
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return absl::InternalError("curl_easy_init failed");
  return std::unique_ptr<CurlTransport>(
      new CurlTransport(curl, std::move(options)));
}

CurlTransport::CurlTransport(void* curl, Options options)
    : curl_(curl), options_(std::move(options)) {}

CurlTransport::~CurlTransport() { curl_easy_cleanup(static_cast<CURL*>(curl_)); }

absl::StatusOr<HttpHead> CurlTransport::Fetch(
    const HttpFetch& fetch,
    const std::function<bool(const HttpHead&)>& on_head,
    const std::function<bool(absl::string_view)>& on_body) {
  CURL* curl = static_cast<CURL*>(curl_);
  // Reset keeps the connection cache, so keep-alive survives between fetches.
  curl_easy_reset(curl);

  Transfer transfer;
  transfer.on_head = &on_head;
  transfer.on_body = &on_body;
  transfer.cancel = fetch.cancel;
  char error[CURL_ERROR_SIZE] = {0};

  std::string range;
  if (fetch.range.has_value()) {
    range = absl::StrCat(fetch.range->first, "-", fetch.range->last);
  }
  curl_slist* headers = nullptr;
  if (!fetch.if_range.empty()) {
    headers = curl_slist_append(headers,
                                absl::StrCat("If-Range: ", fetch.if_range).c_str());
  }

  curl_easy_setopt(curl, CURLOPT_URL, fetch.url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(curl, CURLOPT_MAXREDIRS, kMaxRedirects);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, options_.user_agent.c_str());
  curl_easy_setopt(curl, CURLOPT_BUFFERSIZE, options_.buffer_size);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  if (!options_.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, options_.ca_file.c_str());
  if (!range.empty()) curl_easy_setopt(curl, CURLOPT_RANGE, range.c_str());
  if (headers != nullptr) curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  if (fetch.low_speed_bytes_per_second > 0 && fetch.low_speed_seconds > 0) {
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT,
                     static_cast<long>(fetch.low_speed_bytes_per_second));
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME,
                     static_cast<long>(fetch.low_speed_seconds));
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT,
                     static_cast<long>(fetch.low_speed_seconds));
  }
  if (fetch.total_timeout_seconds > 0) {
    curl_easy_setopt(curl, CURLOPT_TIMEOUT,
                     static_cast<long>(fetch.total_timeout_seconds));
  }
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &OnHeaderLine);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &OnBodyBlock);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
  if (fetch.cancel != nullptr) {
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &OnProgress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &transfer);
  }

  CURLcode rc = curl_easy_perform(curl);
  curl_slist_free_all(headers);
  // The buffers named above die with this call; leave no pointer to them.
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(curl, CURLOPT_RANGE, nullptr);

  if (transfer.stopped_by_callback) {
    return absl::CancelledError("the transfer was stopped by its receiver");
  }
  if (transfer.cancelled) return absl::CancelledError("the transfer was cancelled");
  if (rc != CURLE_OK) {
    std::string message = curl_easy_strerror(rc);
    if (error[0] != '\0') absl::StrAppend(&message, " (", error, ")");
    switch (rc) {
      case CURLE_OPERATION_TIMEDOUT:
        return absl::DeadlineExceededError(message);
      case CURLE_URL_MALFORMAT:
      case CURLE_UNSUPPORTED_PROTOCOL:
        return absl::InvalidArgumentError(message);
      default:
        return absl::UnavailableError(message);
    }
  }
  if (transfer.parser.head().status == 0) {
    return absl::UnavailableError("the server sent no HTTP status line");
  }
  if (!transfer.DeliverHead()) {
    return absl::CancelledError("the transfer was stopped by its receiver");
  }
  return transfer.parser.head();
}

}  // namespace ota::device
