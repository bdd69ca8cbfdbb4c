// Every vector, committed and freshly generated, reaches its verdict.
#include <cstdlib>
#include <string>

#include "common/status/reason.h"
#include "gtest/gtest.h"
#include "test/vectors/vector_check.h"

namespace ota::testvectors {
namespace {

// The verdicts the list asks for, by vector name.
const std::map<std::string, ota::v1::ReasonCode>& Required() {
  static const auto* required = new std::map<std::string, ota::v1::ReasonCode>{
      {"valid", ota::v1::REASON_UNSPECIFIED},
      {"manifest_byte_flipped", ota::v1::REASON_SIGNATURE_INVALID},
      {"signature_byte_flipped", ota::v1::REASON_SIGNATURE_INVALID},
      {"unknown_key", ota::v1::REASON_UNKNOWN_KEY},
      {"wrong_vendor", ota::v1::REASON_VENDOR_MISMATCH},
      {"wrong_class", ota::v1::REASON_CLASS_MISMATCH},
      {"wrong_device", ota::v1::REASON_DEVICE_MISMATCH},
      {"older_sequence", ota::v1::REASON_ROLLBACK},
      {"equal_sequence", ota::v1::REASON_SEQUENCE_NOT_NEWER},
      {"expired", ota::v1::REASON_EXPIRED},
      {"downgrade_authorized", ota::v1::REASON_UNSPECIFIED},
      {"downgrade_not_covering", ota::v1::REASON_DOWNGRADE_NOT_AUTHORIZED},
      {"wrong_precursor", ota::v1::REASON_PRECURSOR_MISMATCH},
      {"truncated", ota::v1::REASON_MALFORMED},
      {"oversized", ota::v1::REASON_TOO_LARGE},
      {"empty", ota::v1::REASON_EMPTY},
      {"signature_over_other_bytes", ota::v1::REASON_SIGNATURE_INVALID},
      {"payload_size_mismatch", ota::v1::REASON_PAYLOAD_SIZE_MISMATCH},
  };
  return *required;
}

void ExpectAllVerdicts(const std::string& dir) {
  absl::StatusOr<std::vector<Outcome>> outcomes = CheckVectorSet(dir);
  ASSERT_TRUE(outcomes.ok()) << outcomes.status();
  std::map<std::string, ota::v1::ReasonCode> seen;
  for (const Outcome& o : *outcomes) {
    EXPECT_TRUE(Matches(o)) << Describe(o);
    seen[o.vector.name()] = common::ReasonOf(o.status);
  }
  for (const auto& [name, reason] : Required()) {
    ASSERT_EQ(seen.count(name), 1u) << "missing vector " << name << " in " << dir;
    EXPECT_EQ(seen[name], reason) << name;
  }
}

TEST(VectorsTest, CommittedSet) { ExpectAllVerdicts("test/vectors/data"); }

TEST(VectorsTest, FreshlyGeneratedSet) {
  std::string dir = std::string(std::getenv("TEST_TMPDIR")) + "/fresh";
  std::string cmd = "test/vectors/generate_vectors " + dir + " > /dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  ExpectAllVerdicts(dir);
}

}  // namespace
}  // namespace ota::testvectors
