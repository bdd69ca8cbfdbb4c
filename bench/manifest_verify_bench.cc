// Manifest verification benchmark: how many full VerifyManifest calls
// (envelope parse, ECDSA P-256 verify, body parse and validation) one thread
// completes per second on a realistic manifest, next to how many bare
// EcdsaP256PublicKey::Verify calls it completes over the same signed bytes.
//
//   bazel build -c opt //bench:manifest_verify_bench
//   bazel-bin/bench/manifest_verify_bench --seconds=3
//
// The manifest describes a 512 MiB payload in 512 chunks of 1 MiB and
// carries one signature. bench/manifest_verify.sh runs this next to
// `openssl speed ecdsap256` and prints the ratios.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/crypto/ecdsa.h"
#include "common/crypto/sha256.h"
#include "common/manifest/limits.h"
#include "common/manifest/manifest.h"
#include "common/manifest/payload_digest.h"
#include "common/manifest/uuid.h"
#include "common/manifest/verifier.h"
#include "ota/v1/manifest.pb.h"

ABSL_FLAG(double, seconds, 3.0,
          "Wall time spent on each measured operation, in seconds.");

namespace ota::common {
namespace {

constexpr uint64_t kPayloadSize = uint64_t{512} << 20;
constexpr uint32_t kChunkSize = kDefaultChunkSize;
constexpr int64_t kCreatedUnix = 1800000000;
constexpr int64_t kNowUnix = kCreatedUnix + 3600;

// What one measured operation achieved.
struct Rate {
  int64_t calls = 0;
  double seconds = 0;
  double PerSecond() const { return calls / seconds; }
  double MicrosPerCall() const { return seconds * 1e6 / calls; }
};

// Calls `op` back to back until `seconds` of wall time have passed. `op`
// returns false on a failed call, which ends the run with an error.
template <typename Op>
absl::StatusOr<Rate> RunFor(double seconds, Op op) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  const Clock::time_point deadline =
      start + std::chrono::duration_cast<Clock::duration>(
                  std::chrono::duration<double>(seconds));
  Rate rate;
  Clock::time_point now = start;
  do {
    if (absl::Status s = op(); !s.ok()) return s;
    ++rate.calls;
    now = Clock::now();
  } while (now < deadline);
  rate.seconds = std::chrono::duration<double>(now - start).count();
  return rate;
}

// A manifest as a release would publish it: a full image of kPayloadSize
// bytes with one digest per kChunkSize chunk.
ota::v1::Manifest RealisticManifest() {
  const std::string vendor = Uuid5(kDnsNamespaceUuid, "example.com");
  ota::v1::Manifest m;
  m.set_format_version(kManifestFormatVersion);
  m.set_sequence_number(42);
  m.set_vendor_id(vendor);
  m.set_class_id(Uuid5(vendor, "gw-3610"));
  m.set_created_unix(kCreatedUnix);
  m.set_component("rootfs");
  m.set_version("2.4.1");
  m.set_description("Gateway rootfs 2.4.1");

  PayloadDigests digests;
  digests.size = kPayloadSize;
  digests.chunk_size = kChunkSize;
  digests.sha256 = Sha256Digest("whole payload");
  const uint64_t chunks = (kPayloadSize + kChunkSize - 1) / kChunkSize;
  for (uint64_t i = 0; i < chunks; ++i) {
    digests.chunks.push_back(Sha256Digest(absl::StrCat("chunk ", i)));
  }
  ota::v1::Payload* payload = m.mutable_payload();
  SetPayloadDigests(digests, payload);
  payload->add_uris(
      "https://updates.example.com/gw-3610/rootfs/2.4.1/payload.bin");
  payload->set_format(ota::v1::PAYLOAD_FORMAT_FULL);
  return m;
}

// One row of the table; bench/manifest_verify.sh reads calls/s (column 4).
void PrintRow(const char* name, const Rate& rate) {
  absl::PrintF("%-16s %10d %9.3f %12.1f %10.2f\n", name, rate.calls,
               rate.seconds, rate.PerSecond(), rate.MicrosPerCall());
}

int Run(double seconds) {
  absl::StatusOr<EcdsaP256PrivateKey> key = EcdsaP256PrivateKey::Generate();
  if (!key.ok()) {
    std::fprintf(stderr, "key generation: %s\n", key.status().ToString().c_str());
    return 1;
  }
  const EcdsaP256PublicKey public_key = key->PublicKey();
  TrustStore trust;
  trust.AddKey(public_key, 0, 0, "benchmark release key");

  const ota::v1::Manifest manifest = RealisticManifest();
  absl::StatusOr<ota::v1::SignedManifest> signed_manifest =
      SignManifest(manifest, {&*key});
  if (!signed_manifest.ok()) {
    std::fprintf(stderr, "signing: %s\n",
                 signed_manifest.status().ToString().c_str());
    return 1;
  }
  const std::string bytes = signed_manifest->SerializeAsString();
  const std::string& body = signed_manifest->manifest();
  const std::string& signature = signed_manifest->signatures(0).signature();

  // Both operations must succeed on these bytes, or the rates mean nothing.
  auto verify_manifest = [&]() -> absl::Status {
    return VerifyManifest(bytes, trust, kNowUnix).status();
  };
  auto ecdsa_verify = [&]() -> absl::Status {
    return public_key.Verify(body, signature);
  };
  for (int i = 0; i < 50; ++i) {
    if (absl::Status s = verify_manifest(); !s.ok()) {
      std::fprintf(stderr, "VerifyManifest: %s\n", s.ToString().c_str());
      return 1;
    }
    if (absl::Status s = ecdsa_verify(); !s.ok()) {
      std::fprintf(stderr, "Verify: %s\n", s.ToString().c_str());
      return 1;
    }
  }

  absl::StatusOr<Rate> full = RunFor(seconds, verify_manifest);
  if (!full.ok()) {
    std::fprintf(stderr, "VerifyManifest: %s\n", full.status().ToString().c_str());
    return 1;
  }
  absl::StatusOr<Rate> raw = RunFor(seconds, ecdsa_verify);
  if (!raw.ok()) {
    std::fprintf(stderr, "Verify: %s\n", raw.status().ToString().c_str());
    return 1;
  }

  const ota::v1::Payload& payload = manifest.payload();
  absl::PrintF("Manifest verification, one thread, %.1f s per row\n", seconds);
  absl::PrintF(
      "manifest: %d bytes encoded (signed body %d bytes); payload %d bytes in "
      "%d chunks of %d bytes; 1 ECDSA P-256 signature (%d bytes DER)\n\n",
      bytes.size(), body.size(), payload.size(), payload.chunk_sha256_size(),
      payload.chunk_size(), signature.size());
  absl::PrintF("%-16s %10s %9s %12s %10s\n", "row", "calls", "seconds",
               "calls/s", "us/call");
  PrintRow("verify_manifest", *full);
  PrintRow("ecdsa_verify", *raw);
  absl::PrintF(
      "\nverify_manifest: VerifyManifest(bytes, trust, now): envelope parse, "
      "ECDSA verify, body parse and validation\n"
      "ecdsa_verify:    EcdsaP256PublicKey::Verify(body, signature): SHA-256 "
      "of the body and the ECDSA verify alone\n"
      "full/raw: %.3f\n",
      full->PerSecond() / raw->PerSecond());
  return 0;
}

}  // namespace
}  // namespace ota::common

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const double seconds = absl::GetFlag(FLAGS_seconds);
  if (!(seconds > 0)) {
    std::fprintf(stderr, "--seconds must be positive\n");
    return 2;
  }
  return ota::common::Run(seconds);
}
