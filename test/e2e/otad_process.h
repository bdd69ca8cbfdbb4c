// otad as a child process for tests: the binary from the test's runfiles,
// ports picked by the system, its blobs under TEST_TMPDIR.
//
//   std::string grpc_address;
//   auto otad = StartOtad(url, "a", {"--engine_tick_ms=100"}, &grpc_address);
#ifndef OTA_TEST_E2E_OTAD_PROCESS_H_
#define OTA_TEST_E2E_OTAD_PROCESS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "test/process/subprocess.h"

namespace ota::testing {

// Starts otad on `database_url` with `flags` added and waits until it
// listens; `name` keeps the blob folders of several otads apart.
// `http_address` (host:port) may be null.
absl::StatusOr<std::unique_ptr<Subprocess>> StartOtad(const std::string& database_url,
                                                      const std::string& name,
                                                      const std::vector<std::string>& flags,
                                                      std::string* grpc_address,
                                                      std::string* http_address = nullptr);

}  // namespace ota::testing

#endif  // OTA_TEST_E2E_OTAD_PROCESS_H_
