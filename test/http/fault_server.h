// FaultServer: an HTTP server for download tests that serves one object
// correctly (Range, 206, Content-Range, ETag, If-Range) and misbehaves on
// request, the ways caches, mirrors and networks do.
//
//   auto server = FaultServer::Start("/payload", content);
//   std::string url = (*server)->url();   // http://127.0.0.1:<port>/payload
//   FaultServer::Faults faults;
//   faults.cut_after_body_bytes = 4096;   // drop the connection mid-body
//   (*server)->SetFaults(faults);
//   ... download ...
//   EXPECT_EQ((*server)->body_bytes_sent(), ...);
//
// libmicrohttpd, one thread per connection, listening on 127.0.0.1 port 0
// (the kernel picks a free port). Bodies come from a content-reader
// callback, so a fault can end a response at any byte. Every method is
// thread-safe. The object stops the server when destroyed; responses that
// are trickling stop at once.
#ifndef OTA_TEST_HTTP_FAULT_SERVER_H_
#define OTA_TEST_HTTP_FAULT_SERVER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

struct MHD_Daemon;
struct MHD_Connection;

namespace ota::testing {

class FaultServer {
 public:
  // What to do wrong. Applies to every response that starts after
  // SetFaults; responses already under way keep the faults they began with.
  struct Faults {
    // Answer every request with this status and a short text body
    // (404, 500, ...); 0 serves the object.
    int status = 0;
    // With a 3xx status: the Location header sent.
    std::string location;
    // Drop the connection after this many body bytes of each response
    // (the reader reports an error, so the client sees a cut transfer).
    std::optional<uint64_t> cut_after_body_bytes;
    // How many responses, from SetFaults on, are cut; 0: every one.
    int cut_responses = 0;
    // Answer every request 200 with the whole object, Range or not.
    bool ignore_range = false;
    // Serve a 206 whose range starts this many bytes from the one asked
    // (negative: earlier), Content-Range saying so.
    int64_t shift_range_first = 0;
    // Serve different bytes (each XOR 0x5a) in object bytes
    // [poison_chunk * chunk_size, (poison_chunk + 1) * chunk_size).
    std::optional<uint64_t> poison_chunk;
    uint64_t chunk_size = 0;
    // Send one body byte per second.
    bool trickle = false;
    // Append this many bytes ('G') after the body. With
    // declare_garbage_length the Content-Length counts them; otherwise the
    // body is sent chunked, with no length at all.
    uint64_t garbage_bytes = 0;
    bool declare_garbage_length = true;
    // From the `change_from_request`-th request on (1-based, counting every
    // request the server has seen), serve `changed_content` under a new
    // ETag; 0 never.
    int change_from_request = 0;
    std::string changed_content;
  };

  // One response, as the server sent it.
  struct Served {
    std::string range;      // the request's Range header ("" if none)
    std::string if_range;   // the request's If-Range header ("" if none)
    int status = 0;
    std::string etag;
    uint64_t first = 0;      // object offset of the first body byte
    uint64_t body_bytes = 0; // body bytes handed to the connection
  };

  // Serves `content` at `path` under ETag "\"v1\"". UNAVAILABLE when the
  // server cannot start.
  static absl::StatusOr<std::unique_ptr<FaultServer>> Start(std::string path,
                                                            std::string content);
  ~FaultServer();
  FaultServer(const FaultServer&) = delete;
  FaultServer& operator=(const FaultServer&) = delete;

  std::string url() const;
  int port() const { return port_; }

  void SetFaults(Faults faults);

  // Replaces the object now; the ETag changes ("\"v2\"", "\"v3\"", ...).
  void SetContent(std::string content);
  // The current ETag, quotes included.
  std::string etag() const;

  // Requests seen so far (any path).
  int requests() const;
  // TCP connections accepted so far.
  int connections() const;
  // Body bytes handed to connections so far, over all responses.
  uint64_t body_bytes_sent() const;
  // Every response so far, in the order requests arrived.
  std::vector<Served> served() const;
  // Blocks until at least `n` requests have arrived (no polling).
  void WaitForRequests(int n) const;

 private:
  friend struct FaultServerCallbacks;
  struct Object {
    std::string etag;
    std::shared_ptr<const std::string> content;
  };

  FaultServer(std::string path, std::string content);
  // Answers one request; MHD_YES or MHD_NO.
  int Respond(MHD_Connection* connection, const std::string& url);

  const std::string path_;
  MHD_Daemon* daemon_ = nullptr;
  int port_ = 0;

  mutable absl::Mutex mu_;
  Object object_ ABSL_GUARDED_BY(mu_);
  int generation_ ABSL_GUARDED_BY(mu_) = 1;
  bool changed_ ABSL_GUARDED_BY(mu_) = false;
  Faults faults_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int requests_ ABSL_GUARDED_BY(mu_) = 0;
  int connections_ ABSL_GUARDED_BY(mu_) = 0;
  int cuts_ ABSL_GUARDED_BY(mu_) = 0;  // responses cut since SetFaults
  uint64_t body_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<Served> served_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ota::testing

#endif  // OTA_TEST_HTTP_FAULT_SERVER_H_
