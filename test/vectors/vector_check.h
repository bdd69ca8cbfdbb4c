// Runs a directory of manifest test vectors through the same checks a
// device makes: VerifyManifest, then CheckApplicable, then (when the vector
// names a payload) CheckPayloadDigests.
#ifndef OTA_TEST_VECTORS_VECTOR_CHECK_H_
#define OTA_TEST_VECTORS_VECTOR_CHECK_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "test/vectors/vectors.pb.h"

namespace ota::testvectors {

// The file every vector set is indexed by.
inline constexpr char kIndexFile[] = "index.textproto";

// What one vector gave against what it expects.
struct Outcome {
  Vector vector;
  absl::Status status;  // of the first check that failed, or OK
};

// Reads `dir`/index.textproto and checks every vector in it. Errors only
// when the index or a vector's files cannot be read.
absl::StatusOr<std::vector<Outcome>> CheckVectorSet(const std::string& dir);

// True when `outcome` has the expected reason and status code.
bool Matches(const Outcome& outcome);

// "name: want REASON_X/CODE, got REASON_Y/CODE (message)".
std::string Describe(const Outcome& outcome);

}  // namespace ota::testvectors

#endif  // OTA_TEST_VECTORS_VECTOR_CHECK_H_
