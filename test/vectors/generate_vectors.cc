// Writes the manifest test vectors into a directory:
//
//   bazel run //test/vectors:generate_vectors -- $PWD/test/vectors/data
//
// One trusted update certificate, a payload, one <name>.manifest per vector
// and index.textproto with each vector's device and expected verdict. Keys
// are made afresh on every run, so the bytes differ between runs while the
// verdicts stay the same; the generator checks every verdict before it
// finishes and exits non-zero if one is off.
#include <google/protobuf/text_format.h>

#include <functional>
#include <iostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/base/file.h"
#include "common/crypto/bytes.h"
#include "common/crypto/ecdsa.h"
#include "common/crypto/sha256.h"
#include "common/crypto/x509.h"
#include "common/manifest/manifest.h"
#include "common/manifest/payload_digest.h"
#include "common/manifest/uuid.h"
#include "test/vectors/vector_check.h"
#include "test/vectors/vectors.pb.h"

namespace ota::testvectors {
namespace {

using ota::v1::Manifest;
using ota::v1::SignedManifest;

// Fixed instants keep the verdicts independent of when the test runs.
constexpr int64_t kCreated = 1790000000;  // 2026-09-21
constexpr int64_t kNow = 1800000000;      // 2027-01-15
constexpr uint32_t kChunk = 4096;
constexpr size_t kPayloadSize = 10000;

class Generator {
 public:
  explicit Generator(std::string dir) : dir_(std::move(dir)) {}

  int Run() {
    trusted_ = *common::EcdsaP256PrivateKey::Generate();
    untrusted_ = *common::EcdsaP256PrivateKey::Generate();
    common::CertificateSpec spec{"gw-3610 update key", "example.com", kCreated - 86400,
                                 kCreated + 20LL * 365 * 86400, false};
    absl::StatusOr<common::Certificate> cert =
        common::Certificate::SelfSigned(spec, trusted_);
    if (!cert.ok()) return Fail(cert.status());
    vendor_ = common::Uuid5(common::kDnsNamespaceUuid, "example.com");
    class_ = common::Uuid5(vendor_, "gw-3610");
    for (size_t i = 0; i < kPayloadSize; ++i) {
      payload_.push_back(static_cast<char>((i * 131 + 17) & 0xff));
    }
    if (absl::Status s = common::MakeDirs(dir_); !s.ok()) return Fail(s);
    if (absl::Status s = Write("trusted.der", cert->der()); !s.ok()) return Fail(s);
    if (absl::Status s = Write("payload.bin", payload_); !s.ok()) return Fail(s);
    set_.set_trusted_certificate("trusted.der");

    const std::string factory = common::Sha256Digest("factory image");
    Add("valid", "a well-formed manifest, newer than the installed image",
        Sign(Base()), "", ota::v1::REASON_UNSPECIFIED, "OK");
    Add("valid_with_payload", "valid, and the payload matches every digest",
        Sign(Base()), "payload.bin", ota::v1::REASON_UNSPECIFIED, "OK");
    {
      SignedManifest sm = Sign(Base());
      std::string* b = sm.mutable_manifest();
      (*b)[b->size() / 2] ^= 0x01;
      Add("manifest_byte_flipped", "one bit flipped in the signed manifest bytes", sm, "",
          ota::v1::REASON_SIGNATURE_INVALID, "DATA_LOSS");
    }
    {
      SignedManifest sm = Sign(Base());
      std::string* sig = sm.mutable_signatures(0)->mutable_signature();
      (*sig)[sig->size() - 2] ^= 0x01;
      Add("signature_byte_flipped", "one bit flipped inside the DER signature", sm, "",
          ota::v1::REASON_SIGNATURE_INVALID, "DATA_LOSS");
    }
    Add("unknown_key", "signed by a key the device does not trust",
        Sign(Base(), &untrusted_), "", ota::v1::REASON_UNKNOWN_KEY, "PERMISSION_DENIED");
    Add("wrong_vendor", "for another vendor",
        Sign(Base([](Manifest* m) {
          m->set_vendor_id(common::Uuid5(common::kDnsNamespaceUuid, "example.org"));
        })),
        "", ota::v1::REASON_VENDOR_MISMATCH, "FAILED_PRECONDITION");
    Add("wrong_class", "for another model of the vendor",
        Sign(Base([this](Manifest* m) { m->set_class_id(common::Uuid5(vendor_, "gw-9999")); })),
        "", ota::v1::REASON_CLASS_MISMATCH, "FAILED_PRECONDITION");
    Add("wrong_device", "restricted to another device",
        Sign(Base([](Manifest* m) { m->add_device_ids("device-0002"); })), "",
        ota::v1::REASON_DEVICE_MISMATCH, "FAILED_PRECONDITION");
    Add("older_sequence", "sequence below the installed one, no downgrade authorization",
        Sign(Base([](Manifest* m) { m->set_sequence_number(9); })), "",
        ota::v1::REASON_ROLLBACK, "FAILED_PRECONDITION");
    Add("equal_sequence", "sequence equal to the installed one",
        Sign(Base([](Manifest* m) { m->set_sequence_number(10); })), "",
        ota::v1::REASON_SEQUENCE_NOT_NEWER, "FAILED_PRECONDITION");
    Add("expired", "expired before the check",
        Sign(Base([](Manifest* m) { m->set_expires_unix(kNow - 1); })), "",
        ota::v1::REASON_EXPIRED, "FAILED_PRECONDITION");
    Add("downgrade_authorized", "older sequence with a signed downgrade covering the device",
        Sign(Base([](Manifest* m) {
          m->set_sequence_number(5);
          m->mutable_downgrade()->set_max_installed_sequence(10);
          m->mutable_downgrade()->set_reason("10 breaks radio calibration");
        })),
        "", ota::v1::REASON_UNSPECIFIED, "OK");
    Add("downgrade_not_covering", "signed downgrade that covers only older installed images",
        Sign(Base([](Manifest* m) {
          m->set_sequence_number(5);
          m->mutable_downgrade()->set_max_installed_sequence(9);
        })),
        "", ota::v1::REASON_DOWNGRADE_NOT_AUTHORIZED, "FAILED_PRECONDITION");
    Add("delta_valid", "a delta whose precursor is the installed image",
        Sign(Base([&factory](Manifest* m) {
          m->mutable_payload()->set_format(ota::v1::PAYLOAD_FORMAT_ZSTD_DELTA);
          m->mutable_payload()->set_precursor_sha256(factory);
        })),
        "", ota::v1::REASON_UNSPECIFIED, "OK");
    Add("wrong_precursor", "a delta made against another image",
        Sign(Base([](Manifest* m) {
          m->mutable_payload()->set_format(ota::v1::PAYLOAD_FORMAT_ZSTD_DELTA);
          m->mutable_payload()->set_precursor_sha256(common::Sha256Digest("other image"));
        })),
        "", ota::v1::REASON_PRECURSOR_MISMATCH, "FAILED_PRECONDITION");
    Add("too_large_for_slot", "the image does not fit the inactive slot",
        Sign(Base()), "", ota::v1::REASON_PAYLOAD_TOO_LARGE, "FAILED_PRECONDITION",
        /*slot_size=*/8192);
    {
      std::string bytes = Sign(Base()).SerializeAsString();
      AddRaw("truncated", "the encoding cut in half", bytes.substr(0, bytes.size() / 2),
             ota::v1::REASON_MALFORMED, "INVALID_ARGUMENT");
      // Field 15 is unknown to SignedManifest; 300 KiB of it pushes the file
      // past the limit while every other byte stays valid.
      std::string pad(300 << 10, 'x');
      std::string big = bytes;
      big.push_back(static_cast<char>((15 << 3) | 2));
      for (uint64_t n = pad.size(); ; n >>= 7) {
        if (n < 0x80) { big.push_back(static_cast<char>(n)); break; }
        big.push_back(static_cast<char>((n & 0x7f) | 0x80));
      }
      big += pad;
      AddRaw("oversized", "a valid manifest padded past 256 KiB", big,
             ota::v1::REASON_TOO_LARGE, "INVALID_ARGUMENT");
    }
    AddRaw("empty", "zero bytes", "", ota::v1::REASON_EMPTY, "INVALID_ARGUMENT");
    {
      SignedManifest sm = Sign(Base());
      SignedManifest other = Sign(Base([](Manifest* m) { m->set_sequence_number(12); }));
      sm.mutable_signatures(0)->set_signature(other.signatures(0).signature());
      Add("signature_over_other_bytes", "a valid signature, but of another manifest", sm, "",
          ota::v1::REASON_SIGNATURE_INVALID, "DATA_LOSS");
    }
    {
      SignedManifest sm = Sign(Base());
      sm.clear_signatures();
      Add("no_signature", "the signature list is empty", sm, "",
          ota::v1::REASON_SIGNATURE_MISSING, "INVALID_ARGUMENT");
    }
    Add("unsupported_version", "format_version 2, signed by the trusted key",
        SignRaw(Base([](Manifest* m) { m->set_format_version(2); })), "",
        ota::v1::REASON_UNSUPPORTED_VERSION, "INVALID_ARGUMENT");
    Add("payload_size_mismatch", "declares one byte more than the payload has",
        Sign(Base([this](Manifest* m) { SetDigests(payload_ + "!", m); })), "payload.bin",
        ota::v1::REASON_PAYLOAD_SIZE_MISMATCH, "DATA_LOSS");
    Add("payload_chunk_mismatch", "declares digests of other bytes of the same size",
        Sign(Base([this](Manifest* m) {
          std::string other = payload_;
          other[0] ^= 0x55;
          SetDigests(other, m);
        })),
        "payload.bin", ota::v1::REASON_CHUNK_DIGEST_MISMATCH, "DATA_LOSS");

    std::string text;
    google::protobuf::TextFormat::PrintToString(set_, &text);
    text = "# Made by //test/vectors:generate_vectors; regenerate rather than edit.\n" + text;
    if (absl::Status s = Write(kIndexFile, text); !s.ok()) return Fail(s);

    absl::StatusOr<std::vector<Outcome>> outcomes = CheckVectorSet(dir_);
    if (!outcomes.ok()) return Fail(outcomes.status());
    int wrong = 0;
    for (const Outcome& o : *outcomes) {
      if (!Matches(o)) {
        std::cerr << "verdict off: " << Describe(o) << "\n";
        ++wrong;
      }
    }
    std::cout << "wrote " << set_.vectors_size() << " vectors to " << dir_ << "\n";
    return wrong == 0 ? 0 : 1;
  }

 private:
  int Fail(const absl::Status& s) {
    std::cerr << s << "\n";
    return 1;
  }

  absl::Status Write(const std::string& name, absl::string_view data) {
    return common::WriteFileAtomically(absl::StrCat(dir_, "/", name), data);
  }

  void SetDigests(const std::string& data, Manifest* m) {
    common::PayloadHasher h(kChunk);
    h.Update(data);
    common::SetPayloadDigests(h.Finish(), m->mutable_payload());
  }

  Manifest Base(const std::function<void(Manifest*)>& mutate = nullptr) {
    Manifest m;
    m.set_format_version(common::kManifestFormatVersion);
    m.set_sequence_number(11);
    m.set_vendor_id(vendor_);
    m.set_class_id(class_);
    m.set_created_unix(kCreated);
    m.set_component("rootfs");
    m.set_version("1.1.0");
    m.set_description("test vector");
    m.mutable_payload()->add_uris("http://127.0.0.1/payloads/payload.bin");
    m.mutable_payload()->set_format(ota::v1::PAYLOAD_FORMAT_FULL);
    SetDigests(payload_, &m);
    if (mutate) mutate(&m);
    return m;
  }

  SignedManifest Sign(const Manifest& m, const common::EcdsaP256PrivateKey* key = nullptr) {
    absl::StatusOr<SignedManifest> sm = common::SignManifest(m, {key ? key : &trusted_});
    if (!sm.ok()) {
      std::cerr << "cannot sign: " << sm.status() << "\n";
      std::exit(1);
    }
    return *sm;
  }

  // Signs without SignManifest's validation, for vectors a correct signer
  // would never make.
  SignedManifest SignRaw(const Manifest& m) {
    SignedManifest sm;
    sm.set_manifest(m.SerializeAsString());
    (void)common::AddSignature(trusted_, &sm);
    return sm;
  }

  Vector* NewVector(const std::string& name, const std::string& description,
                    ota::v1::ReasonCode reason, const std::string& code,
                    uint64_t slot_size) {
    Vector* v = set_.add_vectors();
    v->set_name(name);
    v->set_description(description);
    DeviceUnderTest* d = v->mutable_device();
    d->set_device_id("device-0001");
    d->set_vendor_id(common::UuidToString(vendor_));
    d->set_class_id(common::UuidToString(class_));
    d->set_installed_sequence(10);
    d->set_installed_sha256(common::HexEncode(common::Sha256Digest("factory image")));
    d->set_slot_size(slot_size);
    v->set_now_unix(kNow);
    v->set_expected_reason(reason);
    v->set_expected_code(code);
    return v;
  }

  void Add(const std::string& name, const std::string& description, const SignedManifest& sm,
           const std::string& payload_file, ota::v1::ReasonCode reason,
           const std::string& code, uint64_t slot_size = 0) {
    NewVector(name, description, reason, code, slot_size)->set_payload_file(payload_file);
    (void)Write(name + ".manifest", sm.SerializeAsString());
  }

  void AddRaw(const std::string& name, const std::string& description, const std::string& bytes,
              ota::v1::ReasonCode reason, const std::string& code) {
    NewVector(name, description, reason, code, 0);
    (void)Write(name + ".manifest", bytes);
  }

  std::string dir_;
  common::EcdsaP256PrivateKey trusted_ = *common::EcdsaP256PrivateKey::Generate();
  common::EcdsaP256PrivateKey untrusted_ = *common::EcdsaP256PrivateKey::Generate();
  std::string vendor_, class_, payload_;
  VectorSet set_;
};

}  // namespace
}  // namespace ota::testvectors

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: generate_vectors <output directory>\n";
    return 2;
  }
  return ota::testvectors::Generator(argv[1]).Run();
}
