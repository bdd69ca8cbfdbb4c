// otad's services through a real gRPC channel, on a real PostgreSQL.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdlib>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/base/clock.h"
#include "common/base/file.h"
#include "common/crypto/bytes.h"
#include "common/crypto/ecdsa.h"
#include "common/crypto/sha256.h"
#include "common/crypto/x509.h"
#include "common/manifest/manifest.h"
#include "common/manifest/payload_digest.h"
#include "common/manifest/uuid.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/api/services.h"
#include "test/pg/postgres_test.h"

namespace ota::server {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;

constexpr int64_t kNow = 1800000000;

// The code and message of a gRPC status, for exact assertions.
MATCHER_P2(GrpcIs, code, message_matcher, "") {
  *result_listener << "status " << arg.error_code() << " " << arg.error_message();
  return arg.error_code() == code &&
         ::testing::ExplainMatchResult(message_matcher, arg.error_message(), result_listener);
}
MATCHER(GrpcOk, "") {
  *result_listener << "status " << arg.error_code() << " " << arg.error_message();
  return arg.ok();
}

class ServicesTest : public ota::testing::PostgresTest {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(std::string url, cluster_->CreateDatabase());
    ASSERT_OK_AND_ASSIGN(db_, Database::Open(url, 4));
    ASSERT_TRUE(db_->Migrate().ok());
    blob_dir_ = absl::StrCat(std::getenv("TEST_TMPDIR"), "/blobs-",
                             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_OK_AND_ASSIGN(blobs_, BlobStore::Open(blob_dir_));
    ServiceOptions options;
    options.max_asset_size = 64 << 20;
    options.keepalive_seconds = 1;
    // Far beyond any wait below: a deployment that arrives came by a wake.
    options.deployment_poll_seconds = 60;
    ServiceDeps deps{db_.get(), blobs_.get(), &clock_, options, &hub_};
    certificates_ = std::make_unique<CertificateServiceImpl>(deps);
    assets_ = std::make_unique<AssetServiceImpl>(deps);
    manifests_ = std::make_unique<ManifestServiceImpl>(deps);
    registry_ = std::make_unique<DeviceRegistryServiceImpl>(deps);
    devices_ = std::make_unique<DeviceServiceImpl>(deps);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(certificates_.get());
    builder.RegisterService(assets_.get());
    builder.RegisterService(manifests_.get());
    builder.RegisterService(registry_.get());
    builder.RegisterService(devices_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(port, 0);
    channel_target_ = absl::StrCat("127.0.0.1:", port);
    channel_ = grpc::CreateChannel(channel_target_, grpc::InsecureChannelCredentials());
    cert_stub_ = ota::v1::CertificateService::NewStub(channel_);
    asset_stub_ = ota::v1::AssetService::NewStub(channel_);
    manifest_stub_ = ota::v1::ManifestService::NewStub(channel_);
    registry_stub_ = ota::v1::DeviceRegistryService::NewStub(channel_);
    device_stub_ = ota::v1::DeviceService::NewStub(channel_);

    key_ = *common::EcdsaP256PrivateKey::Generate();
    cert_ = *common::Certificate::SelfSigned(
        {"gw-3610 update key", "example.com", kNow - 1000, kNow + 100000, false}, key_);
    vendor_ = common::Uuid5(common::kDnsNamespaceUuid, "example.com");
    class_ = common::Uuid5(vendor_, "gw-3610");
    payload_.resize(200000);
    for (size_t i = 0; i < payload_.size(); ++i) payload_[i] = static_cast<char>(i * 13 + 1);
    payload_sha_ = common::HexEncode(common::Sha256Digest(payload_));
  }

  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now());
  }

  grpc::Status RegisterCert(const common::Certificate& cert, ota::v1::Certificate* out) {
    grpc::ClientContext ctx;
    ota::v1::RegisterCertificateRequest req;
    req.set_certificate_der(cert.der());
    req.set_description("release key");
    return cert_stub_->RegisterCertificate(&ctx, req, out);
  }

  // Streams `data` as an upload from `offset`, in chunks of `chunk`.
  grpc::Status Upload(const std::string& sha, uint64_t size, const std::string& data,
                      uint64_t offset, ota::v1::UploadAssetResponse* out,
                      size_t chunk = 64 << 10) {
    grpc::ClientContext ctx;
    auto writer = asset_stub_->UploadAsset(&ctx, out);
    ota::v1::UploadAssetRequest req;
    req.mutable_header()->set_sha256(sha);
    req.mutable_header()->set_size(size);
    req.mutable_header()->set_name("rootfs.img");
    req.mutable_header()->set_offset(offset);
    writer->Write(req);
    for (size_t off = 0; off < data.size(); off += chunk) {
      ota::v1::UploadAssetRequest c;
      c.set_chunk(data.substr(off, chunk));
      if (!writer->Write(c)) break;
    }
    writer->WritesDone();
    return writer->Finish();
  }

  ota::v1::Manifest ValidManifest() {
    ota::v1::Manifest m;
    m.set_format_version(1);
    m.set_sequence_number(7);
    m.set_vendor_id(vendor_);
    m.set_class_id(class_);
    m.set_created_unix(kNow - 10);
    m.set_version("2.0.0");
    common::PayloadHasher h(65536);
    h.Update(payload_);
    common::SetPayloadDigests(h.Finish(), m.mutable_payload());
    m.mutable_payload()->add_uris("http://127.0.0.1/payloads/x");
    m.mutable_payload()->set_format(ota::v1::PAYLOAD_FORMAT_FULL);
    return m;
  }

  std::string Signed(const ota::v1::Manifest& m, const common::EcdsaP256PrivateKey& key) {
    return common::SignManifest(m, {&key})->SerializeAsString();
  }

  grpc::Status UploadManifest(const std::string& bytes, ota::v1::ManifestRecord* out,
                              bool validate_only = false) {
    grpc::ClientContext ctx;
    ota::v1::UploadManifestRequest req;
    req.set_signed_manifest(bytes);
    req.set_validate_only(validate_only);
    return manifest_stub_->UploadManifest(&ctx, req, out);
  }

  void PublishPrerequisites() {
    ota::v1::Certificate c;
    ASSERT_THAT(RegisterCert(cert_, &c), GrpcOk());
    ota::v1::UploadAssetResponse r;
    ASSERT_THAT(Upload(payload_sha_, payload_.size(), payload_, 0, &r), GrpcOk());
    ASSERT_TRUE(r.complete());
  }

  // An ACTIVE campaign over every device of the test's vendor and class,
  // whose signed manifest is `manifest_size` bytes or more. Returns its id.
  std::string StartCampaign(size_t manifest_size = 0) {
    ota::v1::Manifest m = ValidManifest();
    m.set_description(std::string(manifest_size, 'd'));
    ota::v1::SignedManifest sm;
    sm.set_manifest(m.SerializeAsString());
    const std::string bytes = sm.SerializeAsString();
    const std::string manifest_id = common::HexEncode(common::Sha256Digest(bytes));
    EXPECT_TRUE(db_->Transact([&](pqxx::work& txn) {
      txn.exec_params("INSERT INTO assets (sha256, size, complete, created_unix, updated_unix) "
                      "VALUES ($1, 10, true, 0, 0) ON CONFLICT DO NOTHING", payload_sha_);
      txn.exec_params("INSERT INTO manifests (manifest_id, signed_manifest, vendor_id, class_id, "
                      "sequence_number, payload_sha256, payload_size, signing_key_ids, "
                      "created_unix) VALUES ($1, $2, $3, $4, 7, $5, 10, '{}', 0)",
                      manifest_id, pqxx::binarystring(bytes.data(), bytes.size()),
                      common::UuidToString(vendor_), common::UuidToString(class_), payload_sha_);
      return absl::OkStatus();
    }).ok());
    CampaignStore campaigns(db_.get(), &clock_);
    ota::v1::CreateCampaignRequest req;
    req.set_name(absl::StrCat("campaign-", manifest_size));
    req.set_manifest_id(manifest_id);
    absl::StatusOr<ota::v1::Campaign> c = campaigns.Create(req);
    EXPECT_TRUE(c.ok()) << c.status();
    EXPECT_TRUE(campaigns.Start(c->campaign_id()).ok());
    return c->campaign_id();
  }

  // One pass of the rollout engine, waking streams through the hub as
  // otad does.
  void TickEngine() {
    Engine engine(db_.get(), &clock_,
                  [this](const std::string&, const std::vector<std::string>& ids) {
                    hub_.Wake(ids);
                  });
    ASSERT_TRUE(engine.Tick().ok());
  }

  ota::v1::ConnectRequest Hello(const std::string& device_id) {
    ota::v1::ConnectRequest req;
    req.set_device_id(device_id);
    req.set_vendor_id(vendor_);
    req.set_class_id(class_);
    req.mutable_installed()->set_active_slot("a");
    req.mutable_installed()->set_sequence_number(3);
    return req;
  }

  // Reads until a deployment arrives; false when the stream ends first.
  static bool ReadDeployment(grpc::ClientReaderInterface<ota::v1::ServerMessage>* reader,
                             ota::v1::Deployment* out) {
    ota::v1::ServerMessage msg;
    while (reader->Read(&msg)) {
      if (msg.has_deployment()) {
        *out = msg.deployment();
        return true;
      }
    }
    return false;
  }

  // Waits until `n` streams are registered with the hub.
  void AwaitStreams(size_t n) {
    for (int i = 0; i < 500 && hub_.connected() != n; ++i) absl::SleepFor(absl::Milliseconds(10));
    ASSERT_EQ(hub_.connected(), n);
  }

  common::FakeClock clock_{kNow * 1000};
  DeviceHub hub_;
  std::unique_ptr<Database> db_;
  std::string blob_dir_;
  std::unique_ptr<BlobStore> blobs_;
  std::unique_ptr<CertificateServiceImpl> certificates_;
  std::unique_ptr<AssetServiceImpl> assets_;
  std::unique_ptr<ManifestServiceImpl> manifests_;
  std::unique_ptr<DeviceRegistryServiceImpl> registry_;
  std::unique_ptr<DeviceServiceImpl> devices_;
  std::unique_ptr<grpc::Server> server_;
  std::string channel_target_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<ota::v1::CertificateService::Stub> cert_stub_;
  std::unique_ptr<ota::v1::AssetService::Stub> asset_stub_;
  std::unique_ptr<ota::v1::ManifestService::Stub> manifest_stub_;
  std::unique_ptr<ota::v1::DeviceRegistryService::Stub> registry_stub_;
  std::unique_ptr<ota::v1::DeviceService::Stub> device_stub_;
  common::EcdsaP256PrivateKey key_ = *common::EcdsaP256PrivateKey::Generate();
  common::Certificate cert_ = *common::Certificate::SelfSigned(
      {"x", "", 0, 1, false}, *common::EcdsaP256PrivateKey::Generate());
  std::string vendor_, class_, payload_, payload_sha_;
};
// ---------------------------------------------------------- certificates

TEST_F(ServicesTest, RegisterGetListRevokeCertificate) {
  ota::v1::Certificate c;
  ASSERT_THAT(RegisterCert(cert_, &c), GrpcOk());
  EXPECT_EQ(c.key_id(), key_.PublicKey().KeyId());
  EXPECT_EQ(c.subject(), "CN=gw-3610 update key,O=example.com");
  EXPECT_EQ(c.fingerprint(), common::HexEncode(cert_.Fingerprint()));
  EXPECT_EQ(c.created_unix(), kNow);

  ota::v1::Certificate dup;
  EXPECT_THAT(RegisterCert(cert_, &dup),
              GrpcIs(grpc::StatusCode::ALREADY_EXISTS,
                     "a certificate for key " + c.key_id() + " is already registered"));

  grpc::ClientContext g;
  ota::v1::GetCertificateRequest get;
  get.set_key_id(c.key_id());
  ota::v1::Certificate got;
  ASSERT_THAT(cert_stub_->GetCertificate(&g, get, &got), GrpcOk());
  EXPECT_EQ(got.certificate_der(), cert_.der());

  clock_.AdvanceMillis(5000);
  grpc::ClientContext r;
  ota::v1::RevokeCertificateRequest rev;
  rev.set_key_id(c.key_id());
  rev.set_reason("key leaked");
  ota::v1::Certificate revoked;
  ASSERT_THAT(cert_stub_->RevokeCertificate(&r, rev, &revoked), GrpcOk());
  EXPECT_TRUE(revoked.revoked());
  EXPECT_EQ(revoked.revoked_unix(), kNow + 5);
  EXPECT_EQ(revoked.revocation_reason(), "key leaked");
  grpc::ClientContext r2;
  EXPECT_THAT(cert_stub_->RevokeCertificate(&r2, rev, &revoked),
              GrpcIs(grpc::StatusCode::FAILED_PRECONDITION,
                     "certificate " + c.key_id() + " is already revoked"));

  grpc::ClientContext l1, l2;
  ota::v1::ListCertificatesRequest list;
  ota::v1::ListCertificatesResponse resp;
  ASSERT_THAT(cert_stub_->ListCertificates(&l1, list, &resp), GrpcOk());
  EXPECT_THAT(resp.certificates(), SizeIs(0));
  list.set_include_revoked(true);
  ASSERT_THAT(cert_stub_->ListCertificates(&l2, list, &resp), GrpcOk());
  EXPECT_THAT(resp.certificates(), SizeIs(1));
}

TEST_F(ServicesTest, CertificateBadInput) {
  ota::v1::Certificate out;
  grpc::ClientContext c1;
  ota::v1::RegisterCertificateRequest req;
  EXPECT_THAT(cert_stub_->RegisterCertificate(&c1, req, &out),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, "certificate_der is empty"));
  grpc::ClientContext c2;
  req.set_certificate_der("garbage");
  EXPECT_THAT(cert_stub_->RegisterCertificate(&c2, req, &out),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
                     HasSubstr("certificate_der: certificate does not parse as DER X.509")));
  auto old = *common::Certificate::SelfSigned({"old", "", 0, kNow - 1, false}, key_);
  EXPECT_THAT(RegisterCert(old, &out),
              GrpcIs(grpc::StatusCode::FAILED_PRECONDITION,
                     absl::StrCat("certificate CN=old expired at ", kNow - 1)));
  grpc::ClientContext c3;
  ota::v1::GetCertificateRequest get;
  get.set_key_id("../etc");
  EXPECT_THAT(cert_stub_->GetCertificate(&c3, get, &out),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("key_id \"../etc\" is not")));
  grpc::ClientContext c4;
  get.set_key_id(std::string(64, 'a'));
  EXPECT_THAT(cert_stub_->GetCertificate(&c4, get, &out),
              GrpcIs(grpc::StatusCode::NOT_FOUND,
                     "certificate " + std::string(64, 'a') + " does not exist"));
}

TEST_F(ServicesTest, CertificatePaging) {
  for (int i = 0; i < 5; ++i) {
    auto k = *common::EcdsaP256PrivateKey::Generate();
    auto c = *common::Certificate::SelfSigned({"k", "", kNow - 1, kNow + 100, false}, k);
    ota::v1::Certificate out;
    ASSERT_THAT(RegisterCert(c, &out), GrpcOk());
  }
  std::set<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    grpc::ClientContext ctx;
    ota::v1::ListCertificatesRequest req;
    req.set_page_size(2);
    req.set_page_token(token);
    ota::v1::ListCertificatesResponse resp;
    ASSERT_THAT(cert_stub_->ListCertificates(&ctx, req, &resp), GrpcOk());
    for (const auto& c : resp.certificates()) seen.insert(c.key_id());
    token = resp.next_page_token();
    ++pages;
  } while (!token.empty());
  EXPECT_EQ(seen.size(), 5u);
  EXPECT_EQ(pages, 3);
}

// ---------------------------------------------------------------- assets

TEST_F(ServicesTest, UploadDedupAndBlobOnDisk) {
  ota::v1::UploadAssetResponse r;
  ASSERT_THAT(Upload(payload_sha_, payload_.size(), payload_, 0, &r), GrpcOk());
  EXPECT_TRUE(r.complete());
  EXPECT_EQ(r.asset().sha256(), payload_sha_);
  EXPECT_EQ(r.asset().download_path(), "/payloads/" + payload_sha_);
  EXPECT_TRUE(blobs_->Exists(payload_sha_));
  // The same bytes again: answered from the header alone.
  ota::v1::UploadAssetResponse again;
  ASSERT_THAT(Upload(payload_sha_, payload_.size(), "", 0, &again), GrpcOk());
  EXPECT_TRUE(again.complete());
}

TEST_F(ServicesTest, InterruptedUploadResumesFromReportedOffset) {
  ota::v1::UploadAssetResponse r;
  ASSERT_THAT(Upload(payload_sha_, payload_.size(), payload_.substr(0, 70000), 0, &r), GrpcOk());
  EXPECT_FALSE(r.complete());
  EXPECT_EQ(r.bytes_received(), 70000u);

  grpc::ClientContext ctx;
  ota::v1::GetUploadStatusRequest req;
  req.set_sha256(payload_sha_);
  ota::v1::GetUploadStatusResponse st;
  ASSERT_THAT(asset_stub_->GetUploadStatus(&ctx, req, &st), GrpcOk());
  EXPECT_EQ(st.bytes_received(), 70000u);
  EXPECT_FALSE(st.complete());
  grpc::ClientContext g;
  ota::v1::GetAssetRequest get;
  get.set_sha256(payload_sha_);
  ota::v1::Asset a;
  EXPECT_THAT(asset_stub_->GetAsset(&g, get, &a),
              GrpcIs(grpc::StatusCode::NOT_FOUND, HasSubstr("is still being uploaded")));

  ASSERT_THAT(Upload(payload_sha_, payload_.size(), payload_.substr(st.bytes_received()),
                     st.bytes_received(), &r),
              GrpcOk());
  EXPECT_TRUE(r.complete());
  EXPECT_EQ(*common::ReadFile(blobs_->BlobPath(payload_sha_)), payload_);
}

TEST_F(ServicesTest, UploadBadInput) {
  ota::v1::UploadAssetResponse r;
  std::string wrong = payload_;
  wrong[100] ^= 1;
  EXPECT_THAT(Upload(payload_sha_, payload_.size(), wrong, 0, &r),
              GrpcIs(grpc::StatusCode::DATA_LOSS, HasSubstr("not the declared " + payload_sha_)));
  EXPECT_FALSE(blobs_->Exists(payload_sha_));
  // The digest's record keeps its first declared size.
  EXPECT_THAT(Upload(payload_sha_, 10, "", 0, &r),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
                     "asset " + payload_sha_ + " is recorded with size 200000, not 10"));
  std::string tiny_sha = common::HexEncode(common::Sha256Digest("0123456789"));
  EXPECT_THAT(Upload(tiny_sha, 10, "0123456789+", 0, &r),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
                     "upload passes the declared size 10 (11 bytes sent)"));
  EXPECT_THAT(Upload("ABC", 10, "", 0, &r),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
                     "header.sha256 \"ABC\" is not a SHA-256 in lowercase hex (64 characters)"));
  EXPECT_THAT(Upload(payload_sha_, 0, "", 0, &r),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, "header.size is zero"));
  EXPECT_THAT(Upload(payload_sha_, uint64_t{1} << 40, "", 0, &r),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("above the limit")));
  std::string other_sha = common::HexEncode(common::Sha256Digest("other"));
  EXPECT_THAT(Upload(other_sha, 100, "", 50, &r),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, "offset 50 is past the 0 bytes received"));

  grpc::ClientContext ctx;
  auto writer = asset_stub_->UploadAsset(&ctx, &r);
  ota::v1::UploadAssetRequest chunk;
  chunk.set_chunk("data first");
  writer->Write(chunk);
  writer->WritesDone();
  EXPECT_THAT(writer->Finish(), GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
                                       "the first upload message must be a header"));
}

TEST_F(ServicesTest, DeleteAssetRefusedWhileAManifestUsesIt) {
  PublishPrerequisites();
  ota::v1::ManifestRecord rec;
  ASSERT_THAT(UploadManifest(Signed(ValidManifest(), key_), &rec), GrpcOk());
  grpc::ClientContext ctx;
  ota::v1::DeleteAssetRequest del;
  del.set_sha256(payload_sha_);
  ota::v1::DeleteAssetResponse resp;
  EXPECT_THAT(asset_stub_->DeleteAsset(&ctx, del, &resp),
              GrpcIs(grpc::StatusCode::FAILED_PRECONDITION,
                     "asset " + payload_sha_ + " is the payload of manifest " + rec.manifest_id()));
  EXPECT_TRUE(blobs_->Exists(payload_sha_));

  std::string unused = "unused payload";
  std::string unused_sha = common::HexEncode(common::Sha256Digest(unused));
  ota::v1::UploadAssetResponse up;
  ASSERT_THAT(Upload(unused_sha, unused.size(), unused, 0, &up), GrpcOk());
  grpc::ClientContext c2;
  del.set_sha256(unused_sha);
  ASSERT_THAT(asset_stub_->DeleteAsset(&c2, del, &resp), GrpcOk());
  EXPECT_FALSE(blobs_->Exists(unused_sha));
  grpc::ClientContext c3;
  EXPECT_THAT(asset_stub_->DeleteAsset(&c3, del, &resp),
              GrpcIs(grpc::StatusCode::NOT_FOUND, "asset " + unused_sha + " does not exist"));
}

// ------------------------------------------------------------- manifests

TEST_F(ServicesTest, UploadManifestStoresParsedFields) {
  PublishPrerequisites();
  ota::v1::ManifestRecord rec;
  std::string bytes = Signed(ValidManifest(), key_);
  ASSERT_THAT(UploadManifest(bytes, &rec), GrpcOk());
  EXPECT_EQ(rec.manifest_id(), common::HexEncode(common::Sha256Digest(bytes)));
  EXPECT_EQ(rec.vendor_id(), "cfbff0d1-9375-5685-968c-48ce8b15ae17");
  EXPECT_EQ(rec.payload_sha256(), payload_sha_);
  EXPECT_EQ(rec.signing_key_ids(0), key_.PublicKey().KeyId());

  ota::v1::ManifestRecord dup;
  EXPECT_THAT(UploadManifest(bytes, &dup),
              GrpcIs(grpc::StatusCode::ALREADY_EXISTS,
                     "manifest " + rec.manifest_id() + " is already uploaded"));

  grpc::ClientContext g;
  ota::v1::GetManifestRequest get;
  get.set_manifest_id(rec.manifest_id());
  ota::v1::ManifestRecord got;
  ASSERT_THAT(manifest_stub_->GetManifest(&g, get, &got), GrpcOk());
  EXPECT_EQ(got.signed_manifest().SerializeAsString(), bytes);
  EXPECT_EQ(got.manifest().sequence_number(), 7u);

  grpc::ClientContext l;
  ota::v1::ListManifestsRequest list;
  list.set_class_id(common::UuidToString(class_));
  ota::v1::ListManifestsResponse resp;
  ASSERT_THAT(manifest_stub_->ListManifests(&l, list, &resp), GrpcOk());
  ASSERT_THAT(resp.manifests(), SizeIs(1));
  EXPECT_EQ(resp.manifests(0).manifest().payload().chunk_sha256_size(), 0);
  grpc::ClientContext l2;
  list.set_class_id(common::UuidToString(vendor_));
  ASSERT_THAT(manifest_stub_->ListManifests(&l2, list, &resp), GrpcOk());
  EXPECT_THAT(resp.manifests(), SizeIs(0));
}

TEST_F(ServicesTest, UploadManifestRefusals) {
  PublishPrerequisites();
  ota::v1::ManifestRecord rec;
  auto stranger = *common::EcdsaP256PrivateKey::Generate();
  EXPECT_THAT(UploadManifest(Signed(ValidManifest(), stranger), &rec),
              GrpcIs(grpc::StatusCode::PERMISSION_DENIED,
                     HasSubstr("REASON_UNKNOWN_KEY: no signature is by a trusted key")));
  std::string bytes = Signed(ValidManifest(), key_);
  std::string flipped = bytes;
  flipped[30] ^= 1;
  EXPECT_THAT(UploadManifest(flipped, &rec),
              GrpcIs(grpc::StatusCode::DATA_LOSS, HasSubstr("REASON_SIGNATURE_INVALID")));
  EXPECT_THAT(UploadManifest("", &rec),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, "REASON_EMPTY: signed_manifest is empty"));

  ota::v1::Manifest missing = ValidManifest();
  common::PayloadHasher h(65536);
  h.Update("never uploaded");
  common::SetPayloadDigests(h.Finish(), missing.mutable_payload());
  EXPECT_THAT(UploadManifest(Signed(missing, key_), &rec),
              GrpcIs(grpc::StatusCode::FAILED_PRECONDITION,
                     HasSubstr("is not uploaded")));

  ota::v1::Manifest bad_chunks = ValidManifest();
  bad_chunks.mutable_payload()->set_chunk_sha256(1, std::string(32, 'x'));
  EXPECT_THAT(UploadManifest(Signed(bad_chunks, key_), &rec),
              GrpcIs(grpc::StatusCode::FAILED_PRECONDITION,
                     HasSubstr("REASON_CHUNK_DIGEST_MISMATCH: stored payload: chunk 1")));

  ASSERT_THAT(UploadManifest(bytes, &rec, /*validate_only=*/true), GrpcOk());
  grpc::ClientContext g;
  ota::v1::GetManifestRequest get;
  get.set_manifest_id(rec.manifest_id());
  ota::v1::ManifestRecord got;
  EXPECT_THAT(manifest_stub_->GetManifest(&g, get, &got),
              GrpcIs(grpc::StatusCode::NOT_FOUND, HasSubstr("does not exist")));

  grpc::ClientContext r;
  ota::v1::RevokeCertificateRequest rev;
  rev.set_key_id(key_.PublicKey().KeyId());
  ota::v1::Certificate revoked;
  ASSERT_THAT(cert_stub_->RevokeCertificate(&r, rev, &revoked), GrpcOk());
  EXPECT_THAT(UploadManifest(bytes, &rec),
              GrpcIs(grpc::StatusCode::PERMISSION_DENIED,
                     HasSubstr("REASON_CERTIFICATE_INVALID: signing key")));
}

// --------------------------------------------------------------- devices

TEST_F(ServicesTest, DeviceRegistry) {
  for (auto [id, region] : {std::pair{"dev-1", "eu"}, {"dev-2", "us"}, {"dev-3", "eu"}}) {
    grpc::ClientContext ctx;
    ota::v1::RegisterDeviceRequest req;
    req.set_device_id(id);
    req.set_vendor_id(common::UuidToString(vendor_));
    req.set_class_id(common::HexEncode(class_));
    (*req.mutable_attributes())["region"] = region;
    ota::v1::Device d;
    ASSERT_THAT(registry_stub_->RegisterDevice(&ctx, req, &d), GrpcOk());
    EXPECT_EQ(d.class_id(), "ad06a868-7abd-56fa-938b-9aa0b273ccf9");
    EXPECT_FALSE(d.online());
  }
  grpc::ClientContext dup_ctx;
  ota::v1::RegisterDeviceRequest dup;
  dup.set_device_id("dev-1");
  dup.set_vendor_id(common::UuidToString(vendor_));
  dup.set_class_id(common::UuidToString(class_));
  ota::v1::Device d;
  EXPECT_THAT(registry_stub_->RegisterDevice(&dup_ctx, dup, &d),
              GrpcIs(grpc::StatusCode::ALREADY_EXISTS, "device dev-1 is already registered"));
  grpc::ClientContext bad_ctx;
  dup.set_device_id("dev 1");
  EXPECT_THAT(registry_stub_->RegisterDevice(&bad_ctx, dup, &d),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
                     "device_id \"dev 1\" has a character outside [A-Za-z0-9._:-]"));
  grpc::ClientContext bad_uuid;
  dup.set_device_id("dev-9");
  dup.set_class_id("nope");
  EXPECT_THAT(registry_stub_->RegisterDevice(&bad_uuid, dup, &d),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("class_id: \"nope\" is not a UUID")));

  grpc::ClientContext l;
  ota::v1::ListDevicesRequest list;
  list.set_filter("attr.region == \"eu\"");
  ota::v1::ListDevicesResponse resp;
  ASSERT_THAT(registry_stub_->ListDevices(&l, list, &resp), GrpcOk());
  std::vector<std::string> ids;
  for (const auto& dev : resp.devices()) ids.push_back(dev.device_id());
  EXPECT_THAT(ids, UnorderedElementsAre("dev-1", "dev-3"));
  EXPECT_EQ(resp.total_size(), 2);

  grpc::ClientContext bad_filter;
  list.set_filter("attr.region ==");
  EXPECT_THAT(registry_stub_->ListDevices(&bad_filter, list, &resp),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("filter: at 14:")));

  grpc::ClientContext u;
  ota::v1::UpdateDeviceAttributesRequest upd;
  upd.set_device_id("dev-2");
  (*upd.mutable_set_attributes())["region"] = "eu";
  (*upd.mutable_set_attributes())["gateway"] = "gw-7";
  ASSERT_THAT(registry_stub_->UpdateDeviceAttributes(&u, upd, &d), GrpcOk());
  EXPECT_EQ(d.attributes().at("region"), "eu");
  grpc::ClientContext u2;
  upd.clear_set_attributes();
  upd.add_remove_attributes("gateway");
  ASSERT_THAT(registry_stub_->UpdateDeviceAttributes(&u2, upd, &d), GrpcOk());
  EXPECT_EQ(d.attributes().count("gateway"), 0u);
  grpc::ClientContext u3;
  upd.add_remove_attributes("Bad-Key");
  EXPECT_THAT(registry_stub_->UpdateDeviceAttributes(&u3, upd, &d),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
                     "remove_attributes key \"Bad-Key\" does not match [a-z][a-z0-9_]{0,62}"));

  grpc::ClientContext del;
  ota::v1::DeleteDeviceRequest dreq;
  dreq.set_device_id("dev-3");
  ota::v1::DeleteDeviceResponse dresp;
  ASSERT_THAT(registry_stub_->DeleteDevice(&del, dreq, &dresp), GrpcOk());
  grpc::ClientContext del2;
  EXPECT_THAT(registry_stub_->DeleteDevice(&del2, dreq, &dresp),
              GrpcIs(grpc::StatusCode::NOT_FOUND, "device dev-3 does not exist"));
}

TEST_F(ServicesTest, ConnectRegistersAndTracksOnline) {
  grpc::ClientContext ctx;
  ota::v1::ConnectRequest req;
  req.set_device_id("gw-0001");
  req.set_vendor_id(vendor_);
  req.set_class_id(class_);
  req.mutable_installed()->set_active_slot("a");
  req.mutable_installed()->set_sequence_number(3);
  req.mutable_installed()->set_image_sha256(common::Sha256Digest("image"));
  (*req.mutable_attributes())["region"] = "eu";
  auto reader = device_stub_->Connect(&ctx, req);
  ota::v1::ServerMessage msg;
  ASSERT_TRUE(reader->Read(&msg));
  EXPECT_TRUE(msg.has_keepalive());
  EXPECT_EQ(msg.keepalive().server_time_ms(), kNow * 1000);

  grpc::ClientContext g;
  ota::v1::GetDeviceRequest get;
  get.set_device_id("gw-0001");
  ota::v1::Device d;
  ASSERT_THAT(registry_stub_->GetDevice(&g, get, &d), GrpcOk());
  EXPECT_TRUE(d.online());
  EXPECT_EQ(d.installed().sequence_number(), 3u);
  EXPECT_EQ(d.installed().image_sha256(), common::Sha256Digest("image"));
  EXPECT_EQ(d.attributes().at("region"), "eu");
  EXPECT_EQ(d.first_seen_unix(), kNow);

  ctx.TryCancel();
  while (reader->Read(&msg)) {
  }
  bool offline = false;
  for (int i = 0; i < 100 && !offline; ++i) {
    grpc::ClientContext g2;
    ASSERT_THAT(registry_stub_->GetDevice(&g2, get, &d), GrpcOk());
    offline = !d.online();
    if (!offline) absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_TRUE(offline);
}

TEST_F(ServicesTest, PreRegisteredDeviceMustConnectAsItsClass) {
  grpc::ClientContext reg;
  ota::v1::RegisterDeviceRequest r;
  r.set_device_id("gw-7");
  r.set_vendor_id(common::UuidToString(vendor_));
  r.set_class_id(common::HexEncode(class_));
  ota::v1::Device d;
  ASSERT_THAT(registry_stub_->RegisterDevice(&reg, r, &d), GrpcOk());
  grpc::ClientContext ctx;
  ota::v1::ConnectRequest req;
  req.set_device_id("gw-7");
  req.set_vendor_id(vendor_);
  req.set_class_id(vendor_);  // not its class
  auto reader = device_stub_->Connect(&ctx, req);
  ota::v1::ServerMessage msg;
  EXPECT_FALSE(reader->Read(&msg));
  EXPECT_THAT(reader->Finish(),
              GrpcIs(grpc::StatusCode::FAILED_PRECONDITION,
                     HasSubstr("device gw-7 is registered as vendor cfbff0d1-9375-5685-968c-48ce8b15ae17 "
                               "class ad06a868-7abd-56fa-938b-9aa0b273ccf9; it connected as")));
  // Registered without a class: the first Connect sets it.
  grpc::ClientContext reg2;
  r.set_device_id("gw-8");
  r.clear_vendor_id();
  r.clear_class_id();
  ASSERT_THAT(registry_stub_->RegisterDevice(&reg2, r, &d), GrpcOk());
  EXPECT_EQ(d.class_id(), "");
}

TEST_F(ServicesTest, ConnectBadInput) {
  grpc::ClientContext ctx;
  ota::v1::ConnectRequest req;
  req.set_device_id("gw-0001");
  req.set_vendor_id("short");
  req.set_class_id(class_);
  auto reader = device_stub_->Connect(&ctx, req);
  ota::v1::ServerMessage msg;
  EXPECT_FALSE(reader->Read(&msg));
  EXPECT_THAT(reader->Finish(),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
                     "vendor_id and class_id must be 16 bytes (got 5 and 16)"));
}

// --------------------------------------------------------------- outage

TEST_F(ServicesTest, DatabaseRestartFailsCallsThenRecoversWithNothingLost) {
  ota::v1::Certificate a;
  ASSERT_THAT(RegisterCert(cert_, &a), GrpcOk());
  ASSERT_TRUE(cluster_->Stop().ok());
  auto other_key = *common::EcdsaP256PrivateKey::Generate();
  auto other = *common::Certificate::SelfSigned({"b", "", kNow - 1, kNow + 100, false}, other_key);
  ota::v1::Certificate b;
  EXPECT_THAT(RegisterCert(other, &b),
              GrpcIs(grpc::StatusCode::UNAVAILABLE, HasSubstr("database")));
  ASSERT_TRUE(cluster_->Restart().ok());
  grpc::ClientContext l;
  ota::v1::ListCertificatesRequest list;
  ota::v1::ListCertificatesResponse resp;
  ASSERT_THAT(cert_stub_->ListCertificates(&l, list, &resp), GrpcOk());
  ASSERT_THAT(resp.certificates(), SizeIs(1));
  EXPECT_EQ(resp.certificates(0).key_id(), a.key_id());
  ASSERT_THAT(RegisterCert(other, &b), GrpcOk());
}

TEST_F(ServicesTest, ReportStatusIsIdempotentAndAcksWhatIsStored) {
  grpc::ClientContext c0;
  ota::v1::ReportStatusRequest req;
  req.set_device_id("gw-9");
  req.add_reports()->set_seq(1);
  req.mutable_reports(0)->set_state(ota::v1::DEPLOYMENT_STATE_DOWNLOADING);
  ota::v1::ReportStatusResponse resp;
  EXPECT_THAT(device_stub_->ReportStatus(&c0, req, &resp),
              GrpcIs(grpc::StatusCode::NOT_FOUND, "device gw-9 does not exist"));

  grpc::ClientContext reg;
  ota::v1::RegisterDeviceRequest r;
  r.set_device_id("gw-9");
  r.set_vendor_id(common::UuidToString(vendor_));
  r.set_class_id(common::UuidToString(class_));
  ota::v1::Device d;
  ASSERT_THAT(registry_stub_->RegisterDevice(&reg, r, &d), GrpcOk());

  auto* second = req.add_reports();
  second->set_seq(2);
  second->set_state(ota::v1::DEPLOYMENT_STATE_SUCCEEDED);
  second->mutable_installed()->set_sequence_number(8);
  second->mutable_installed()->set_active_slot("b");
  for (int attempt = 0; attempt < 2; ++attempt) {  // the second is a resend
    grpc::ClientContext ctx;
    ASSERT_THAT(device_stub_->ReportStatus(&ctx, req, &resp), GrpcOk());
    EXPECT_EQ(resp.acked_seq(), 2u);
  }
  int64_t stored = 0;
  ASSERT_TRUE(db_->Transact([&](pqxx::work& txn) {
    stored = txn.exec("SELECT count(*) FROM status_reports")[0][0].as<int64_t>();
    return absl::OkStatus();
  }).ok());
  EXPECT_EQ(stored, 2);
  grpc::ClientContext g;
  ota::v1::GetDeviceRequest get;
  get.set_device_id("gw-9");
  ASSERT_THAT(registry_stub_->GetDevice(&g, get, &d), GrpcOk());
  EXPECT_EQ(d.installed().sequence_number(), 8u);
  EXPECT_EQ(d.installed().active_slot(), "b");

  // A report made before the device's last Connect (its seq is not above
  // the Connect's report_seq) is stored but does not roll its state back.
  {
    grpc::ClientContext cctx;
    ota::v1::ConnectRequest hello;
    hello.set_device_id("gw-9");
    hello.set_vendor_id(vendor_);
    hello.set_class_id(class_);
    hello.mutable_installed()->set_active_slot("a");
    hello.mutable_installed()->set_sequence_number(9);
    hello.set_report_seq(5);
    auto reader = device_stub_->Connect(&cctx, hello);
    ota::v1::ServerMessage msg;
    ASSERT_TRUE(reader->Read(&msg));
    ota::v1::ReportStatusRequest late;
    late.set_device_id("gw-9");
    auto* old = late.add_reports();
    old->set_seq(4);
    old->set_state(ota::v1::DEPLOYMENT_STATE_ROLLED_BACK);
    old->mutable_installed()->set_active_slot("b");
    old->mutable_installed()->set_sequence_number(8);
    grpc::ClientContext lctx;
    ASSERT_THAT(device_stub_->ReportStatus(&lctx, late, &resp), GrpcOk());
    EXPECT_EQ(resp.acked_seq(), 4u);
    grpc::ClientContext g2;
    ASSERT_THAT(registry_stub_->GetDevice(&g2, get, &d), GrpcOk());
    EXPECT_EQ(d.installed().active_slot(), "a");
    EXPECT_EQ(d.installed().sequence_number(), 9u);
    cctx.TryCancel();
  }

  grpc::ClientContext bad;
  req.mutable_reports(1)->set_seq(1);
  EXPECT_THAT(device_stub_->ReportStatus(&bad, req, &resp),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
                     "reports[1].seq 1 does not increase (previous 1)"));
}

// ------------------------------------------------------------- streams

TEST_F(ServicesTest, WakeSendsTheDeploymentWithoutWaitingForAPoll) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  auto reader = device_stub_->Connect(&ctx, Hello("gw-wake"));
  ota::v1::ServerMessage msg;
  ASSERT_TRUE(reader->Read(&msg));
  ASSERT_TRUE(msg.has_keepalive());
  AwaitStreams(1);

  const std::string campaign = StartCampaign();
  const absl::Time woken = absl::Now();
  TickEngine();
  ota::v1::Deployment d;
  ASSERT_TRUE(ReadDeployment(reader.get(), &d));
  // The poll is 60 s away; only the wake explains an arrival this soon.
  EXPECT_LT(absl::Now() - woken, absl::Seconds(5));
  EXPECT_EQ(d.campaign_id(), campaign);
  EXPECT_FALSE(d.manifest().manifest().empty());

  // A device that gets a deployment while offline receives it when it
  // connects.
  grpc::ClientContext reg;
  ota::v1::RegisterDeviceRequest r;
  r.set_device_id("gw-late");
  r.set_vendor_id(common::UuidToString(vendor_));
  r.set_class_id(common::UuidToString(class_));
  ota::v1::Device dev;
  ASSERT_THAT(registry_stub_->RegisterDevice(&reg, r, &dev), GrpcOk());
  TickEngine();
  grpc::ClientContext late_ctx;
  late_ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  auto late = device_stub_->Connect(&late_ctx, Hello("gw-late"));
  ASSERT_TRUE(ReadDeployment(late.get(), &d));
  EXPECT_EQ(d.campaign_id(), campaign);
  ctx.TryCancel();
  late_ctx.TryCancel();
}

TEST_F(ServicesTest, AClientThatDoesNotReadBlocksNoOtherStream) {
  // The slow device's channel takes no more than a sliver before its
  // application reads, and the deployment is far larger than that, so the
  // server's write to it stays in flight.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 1024);
  auto slow_channel = grpc::CreateCustomChannel(channel_target_, grpc::InsecureChannelCredentials(),
                                                args);
  auto slow_stub = ota::v1::DeviceService::NewStub(slow_channel);
  grpc::ClientContext slow_ctx;
  auto slow = slow_stub->Connect(&slow_ctx, Hello("gw-slow"));
  AwaitStreams(1);  // registered; it never reads a message
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  auto reader = device_stub_->Connect(&ctx, Hello("gw-fast"));
  ota::v1::ServerMessage msg;
  ASSERT_TRUE(reader->Read(&msg));
  AwaitStreams(2);

  StartCampaign(/*manifest_size=*/200 << 10);
  const absl::Time woken = absl::Now();
  TickEngine();
  ota::v1::Deployment d;
  ASSERT_TRUE(ReadDeployment(reader.get(), &d));
  EXPECT_LT(absl::Now() - woken, absl::Seconds(5));
  EXPECT_GT(d.ByteSizeLong(), size_t{200} << 10);
  // Keepalives keep coming on the healthy stream while the slow one holds
  // its write.
  ASSERT_TRUE(reader->Read(&msg));
  EXPECT_TRUE(msg.has_keepalive());
  EXPECT_EQ(hub_.connected(), 2u);

  // The slow device reads at last and finds the deployment.
  ASSERT_TRUE(ReadDeployment(slow.get(), &d));
  slow_ctx.TryCancel();
  ctx.TryCancel();
}

TEST_F(ServicesTest, ANewerStreamOfTheSameDeviceEndsTheOlder) {
  grpc::ClientContext first_ctx;
  first_ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  auto first = device_stub_->Connect(&first_ctx, Hello("gw-twice"));
  ota::v1::ServerMessage msg;
  ASSERT_TRUE(first->Read(&msg));
  AwaitStreams(1);

  grpc::ClientContext second_ctx;
  second_ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  auto second = device_stub_->Connect(&second_ctx, Hello("gw-twice"));
  ASSERT_TRUE(second->Read(&msg));
  while (first->Read(&msg)) {
  }
  EXPECT_THAT(first->Finish(), GrpcIs(grpc::StatusCode::ABORTED,
                                      "device gw-twice connected again on a newer stream"));
  // The newer stream lives on, and the device stays online.
  ASSERT_TRUE(second->Read(&msg));
  EXPECT_TRUE(msg.has_keepalive());
  EXPECT_EQ(hub_.connected(), 1u);
  grpc::ClientContext g;
  ota::v1::GetDeviceRequest get;
  get.set_device_id("gw-twice");
  ota::v1::Device d;
  absl::SleepFor(absl::Milliseconds(200));  // a wrong "offline" would land by now
  ASSERT_THAT(registry_stub_->GetDevice(&g, get, &d), GrpcOk());
  EXPECT_TRUE(d.online());
  second_ctx.TryCancel();
}

TEST_F(ServicesTest, ConcurrentReportsAreBatchedDurableAndStoredOnce) {
  constexpr int kDevices = 8, kSeqs = 12, kCallers = 32;
  for (int i = 0; i < kDevices; ++i) {
    grpc::ClientContext reg;
    ota::v1::RegisterDeviceRequest r;
    r.set_device_id(absl::StrCat("gw-r", i));
    ota::v1::Device d;
    ASSERT_THAT(registry_stub_->RegisterDevice(&reg, r, &d), GrpcOk());
  }
  // Every caller sends every seq of one device, in calls of 1 to 4 reports:
  // each report reaches the server four times over, often in one batch.
  std::atomic<int> failed{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < kCallers; ++t) {
    callers.emplace_back([&, t] {
      const std::string id = absl::StrCat("gw-r", t % kDevices);
      for (int seq = 1; seq <= kSeqs;) {
        ota::v1::ReportStatusRequest req;
        req.set_device_id(id);
        const int n = 1 + (t + seq) % 4;
        for (int k = 0; k < n && seq <= kSeqs; ++k, ++seq) {
          ota::v1::StatusReport* r = req.add_reports();
          r->set_seq(seq);
          r->set_state(ota::v1::DEPLOYMENT_STATE_DOWNLOADING);
          r->set_bytes_done(seq);
        }
        grpc::ClientContext ctx;
        ota::v1::ReportStatusResponse resp;
        grpc::Status s = device_stub_->ReportStatus(&ctx, req, &resp);
        // Acknowledged means stored: at least this call's last seq.
        if (!s.ok() || resp.acked_seq() < req.reports(req.reports_size() - 1).seq()) failed++;
      }
    });
  }
  for (std::thread& t : callers) t.join();
  EXPECT_EQ(failed.load(), 0);
  // An unknown device fails its own call only.
  grpc::ClientContext unknown;
  ota::v1::ReportStatusRequest req;
  req.set_device_id("gw-nobody");
  req.add_reports()->set_seq(1);
  req.mutable_reports(0)->set_state(ota::v1::DEPLOYMENT_STATE_DOWNLOADING);
  ota::v1::ReportStatusResponse resp;
  EXPECT_THAT(device_stub_->ReportStatus(&unknown, req, &resp),
              GrpcIs(grpc::StatusCode::NOT_FOUND, "device gw-nobody does not exist"));

  int64_t rows = 0, devices = 0, max_seq = 0;
  ASSERT_TRUE(db_->Transact([&](pqxx::work& txn) {
    pqxx::row r = txn.exec1(
        "SELECT count(*), count(DISTINCT device_id), max(seq) FROM status_reports");
    rows = r[0].as<int64_t>();
    devices = r[1].as<int64_t>();
    max_seq = r[2].as<int64_t>();
    return absl::OkStatus();
  }).ok());
  EXPECT_EQ(rows, kDevices * kSeqs);
  EXPECT_EQ(devices, kDevices);
  EXPECT_EQ(max_seq, kSeqs);
}

}  // namespace
}  // namespace ota::server
