#include "test/e2e/otad_process.h"

#include <cstdlib>

#include "absl/time/time.h"

namespace ota::testing {

absl::StatusOr<std::unique_ptr<Subprocess>> StartOtad(const std::string& database_url,
                                                      const std::string& name,
                                                      const std::vector<std::string>& flags,
                                                      std::string* grpc_address,
                                                      std::string* http_address) {
  std::vector<std::string> argv = {
      "server/otad", "--grpc_address=127.0.0.1:0", "--http_address=127.0.0.1:0",
      "--database_url=" + database_url,
      "--blob_dir=" + std::string(std::getenv("TEST_TMPDIR")) + "/blobs-" + name};
  argv.insert(argv.end(), flags.begin(), flags.end());
  auto otad = Subprocess::Start(argv);
  if (!otad.ok()) return otad.status();
  auto address = (*otad)->WaitForLine("otad: gRPC listening on ", absl::Seconds(30));
  if (!address.ok()) return address.status();
  *grpc_address = *address;
  auto http = (*otad)->WaitForLine("otad: HTTP listening on ", absl::Seconds(5));
  if (!http.ok()) return http.status();
  if (http_address != nullptr) *http_address = http->substr(0, http->find(' '));
  return otad;
}

}  // namespace ota::testing
