// otad's gRPC services for certificates, assets, manifests, the device
// registry and the device-facing API. Handlers are thin: validate the
// request, call a store, convert the status in ToGrpc.
//
//   ServiceDeps deps{db, blobs, &clock, options};
//   CertificateServiceImpl certificates(deps);
//   builder.RegisterService(&certificates);
#ifndef OTA_SERVER_API_SERVICES_H_
#define OTA_SERVER_API_SERVICES_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include "absl/synchronization/mutex.h"
#include "common/base/clock.h"
#include "common/crypto/ecdsa.h"
#include "common/crypto/x509.h"
#include "ota/v1/access_service.grpc.pb.h"
#include "ota/v1/asset_service.grpc.pb.h"
#include "ota/v1/campaign_service.grpc.pb.h"
#include "ota/v1/certificate_service.grpc.pb.h"
#include "ota/v1/device.grpc.pb.h"
#include "ota/v1/device_registry_service.grpc.pb.h"
#include "ota/v1/manifest_service.grpc.pb.h"
#include "server/auth/access_gate.h"
#include "server/auth/key_list_store.h"
#include "server/blobs/blob_store.h"
#include "server/campaigns/campaigns.h"
#include "server/notify/device_hub.h"
#include "server/observe/grpc_metrics.h"
#include "server/store/database.h"
#include "server/store/stores.h"

namespace prometheus {
class Registry;
}

namespace ota::server {

struct ServiceOptions {
  // Largest asset accepted, in bytes.
  uint64_t max_asset_size = uint64_t{16} << 30;
  // Keepalive period on idle Connect streams.
  int keepalive_seconds = 30;
  // How often an idle stream looks for a deployment on its own (a
  // deployment made by another otad replica is found this way).
  int deployment_poll_seconds = 30;
  // Devices must call with a certificate of the fleet CA naming them (set
  // when otad has TLS and a fleet CA).
  bool require_device_certificates = false;
  // Threads for the database work of opening and closing device streams.
  int stream_threads = 8;
  // Threads that look up deployments for woken streams, and how many
  // devices one lookup takes at most.
  int lookup_threads = 2;
  int lookup_batch = 1000;
  // ReportStatus calls stored in one transaction at most, and how many
  // such transactions may be under way at once (while one waits for its
  // commit to reach the disk, the next batch fills).
  int report_batch = 1000;
  int report_writers = 4;
};

// What every service needs. Not owned.
struct ServiceDeps;

// The first line of every admin method: the call's access verdict.
grpc::Status Admit(const ServiceDeps& deps, const grpc::ServerContextBase* context);

struct ServiceDeps {
  Database* db;
  BlobStore* blobs;
  const common::Clock* clock;
  ServiceOptions options;
  // Connected device streams, which the rollout engine wakes; when null,
  // DeviceServiceImpl keeps a hub of its own (nobody else can wake it then).
  DeviceHub* hub = nullptr;
  // Called after an operator action that the engine should act on at once.
  std::function<void()> wake_engine;
  // Called with a campaign's id after an operator changed it (a resumed
  // campaign's waiting deployments can go out again); may be empty.
  std::function<void(const std::string&)> campaign_changed;
  // This process among the otad replicas; empty for a single replica.
  std::string replica_id;
  // Who may call what; null admits every call (tests of the services
  // alone).
  const AccessGate* gate = nullptr;
  // Where the services' counters go (/metrics); may be null.
  prometheus::Registry* metrics = nullptr;
  // The per-method gRPC metrics, for the methods that report their calls
  // themselves (DeviceService.Connect); may be null.
  GrpcMetrics* grpc_metrics = nullptr;
};

class CertificateServiceImpl final : public ota::v1::CertificateService::Service {
 public:
  explicit CertificateServiceImpl(const ServiceDeps& deps)
      : deps_(deps), store_(deps.db) {}

  grpc::Status RegisterCertificate(grpc::ServerContext*, const ota::v1::RegisterCertificateRequest*,
                                   ota::v1::Certificate*) override;
  grpc::Status ListCertificates(grpc::ServerContext*, const ota::v1::ListCertificatesRequest*,
                                ota::v1::ListCertificatesResponse*) override;
  grpc::Status GetCertificate(grpc::ServerContext*, const ota::v1::GetCertificateRequest*,
                              ota::v1::Certificate*) override;
  grpc::Status RevokeCertificate(grpc::ServerContext*, const ota::v1::RevokeCertificateRequest*,
                                 ota::v1::Certificate*) override;

 private:
  ServiceDeps deps_;
  CertificateStore store_;
};

class AssetServiceImpl final : public ota::v1::AssetService::Service {
 public:
  explicit AssetServiceImpl(const ServiceDeps& deps)
      : deps_(deps), store_(deps.db), manifests_(deps.db) {}

  grpc::Status UploadAsset(grpc::ServerContext*,
                           grpc::ServerReader<ota::v1::UploadAssetRequest>*,
                           ota::v1::UploadAssetResponse*) override;
  grpc::Status GetUploadStatus(grpc::ServerContext*, const ota::v1::GetUploadStatusRequest*,
                               ota::v1::GetUploadStatusResponse*) override;
  grpc::Status GetAsset(grpc::ServerContext*, const ota::v1::GetAssetRequest*,
                        ota::v1::Asset*) override;
  grpc::Status ListAssets(grpc::ServerContext*, const ota::v1::ListAssetsRequest*,
                          ota::v1::ListAssetsResponse*) override;
  grpc::Status DeleteAsset(grpc::ServerContext*, const ota::v1::DeleteAssetRequest*,
                           ota::v1::DeleteAssetResponse*) override;

 private:
  absl::Status Upload(grpc::ServerReader<ota::v1::UploadAssetRequest>* reader,
                      const ota::v1::UploadAssetHeader& header,
                      ota::v1::UploadAssetResponse* response);

  ServiceDeps deps_;
  AssetStore store_;
  ManifestStore manifests_;
  absl::Mutex mu_;
  std::set<std::string> uploading_ ABSL_GUARDED_BY(mu_);
};

class ManifestServiceImpl final : public ota::v1::ManifestService::Service {
 public:
  explicit ManifestServiceImpl(const ServiceDeps& deps)
      : deps_(deps), store_(deps.db), certificates_(deps.db), assets_(deps.db) {}

  grpc::Status UploadManifest(grpc::ServerContext*, const ota::v1::UploadManifestRequest*,
                              ota::v1::ManifestRecord*) override;
  grpc::Status GetManifest(grpc::ServerContext*, const ota::v1::GetManifestRequest*,
                           ota::v1::ManifestRecord*) override;
  grpc::Status ListManifests(grpc::ServerContext*, const ota::v1::ListManifestsRequest*,
                             ota::v1::ListManifestsResponse*) override;

 private:
  absl::StatusOr<ota::v1::ManifestRecord> Accept(const ota::v1::UploadManifestRequest& request);

  ServiceDeps deps_;
  ManifestStore store_;
  CertificateStore certificates_;
  AssetStore assets_;
};

class DeviceRegistryServiceImpl final : public ota::v1::DeviceRegistryService::Service {
 public:
  explicit DeviceRegistryServiceImpl(const ServiceDeps& deps) : deps_(deps), store_(deps.db) {}

  grpc::Status RegisterDevice(grpc::ServerContext*, const ota::v1::RegisterDeviceRequest*,
                              ota::v1::Device*) override;
  grpc::Status GetDevice(grpc::ServerContext*, const ota::v1::GetDeviceRequest*,
                         ota::v1::Device*) override;
  grpc::Status ListDevices(grpc::ServerContext*, const ota::v1::ListDevicesRequest*,
                           ota::v1::ListDevicesResponse*) override;
  grpc::Status UpdateDeviceAttributes(grpc::ServerContext*,
                                      const ota::v1::UpdateDeviceAttributesRequest*,
                                      ota::v1::Device*) override;
  grpc::Status DeleteDevice(grpc::ServerContext*, const ota::v1::DeleteDeviceRequest*,
                            ota::v1::DeleteDeviceResponse*) override;

 private:
  ServiceDeps deps_;
  DeviceStore store_;
};

// Status reports accepted in one ReportStatus call at most.
inline constexpr int kMaxReportsPerCall = 1000;

// The device-facing API on gRPC's callback API, so that tens of thousands
// of idle Connect streams cost no thread each:
//  - Connect validates the request at once; the database work of a new
//    stream (registration, rollback detection) and of a closed one runs on
//    a small work queue.
//  - A stream attaches to the DeviceHub; a Wake posts the device to a
//    lookup queue, whose threads find the deployments of many devices in one
//    transaction (NextDeployments) and hand each to its stream. A campaign
//    wave comes through DeviceHub::Offer instead (CampaignFanout): one
//    transaction per campaign event for every stream here.
//  - Connect is a raw method (ByteBuffer in and out), so that a deployment
//    message references its campaign's manifest bytes, serialized once
//    (SharedDeployment), rather than copying them into every stream's write.
//  - Keepalives and the periodic look for deployments made elsewhere come
//    from two timer wheels, one thread each, for all streams.
//  - A stream has at most one write in flight and holds at most one pending
//    deployment (the latest) and one pending keepalive, so a client that does
//    not read blocks nobody and costs bounded memory.
//  - A newer stream of the same device ends the older one (ABORTED).
//  - ReportStatus calls are group-committed: a writer thread stores the
//    reports of every call waiting into one transaction, and each call is
//    answered only after that transaction committed. A few writers overlap
//    one batch's commit with the next batch.
class DeviceServiceImpl final
    : public ota::v1::DeviceService::WithRawCallbackMethod_Connect<
          ota::v1::DeviceService::WithCallbackMethod_ReportStatus<ota::v1::DeviceService::Service>> {
 public:
  // Connect's calls are many and long-lived, so the stream counts itself
  // in deps.grpc_metrics and passes its final status to deps.gate (each
  // when not null) in place of the interceptors: leave kConnectMethod out
  // of theirs (GrpcMetrics::Interceptors, AccessGate::Interceptors).
  static constexpr char kConnectMethod[] = "/ota.v1.DeviceService/Connect";

  explicit DeviceServiceImpl(const ServiceDeps& deps);
  // Stops the timers and threads; streams still open get no more messages.
  // Destroy the grpc::Server first.
  ~DeviceServiceImpl() override;

  // `request` is a serialized ConnectRequest; the stream writes serialized
  // ServerMessages.
  grpc::ServerWriteReactor<grpc::ByteBuffer>* Connect(grpc::CallbackServerContext* context,
                                                      const grpc::ByteBuffer* request) override;
  grpc::ServerUnaryReactor* ReportStatus(grpc::CallbackServerContext* context,
                                         const ota::v1::ReportStatusRequest* request,
                                         ota::v1::ReportStatusResponse* response) override;

  // Streams open now (registered ones; those still being set up are not
  // counted).
  size_t open_streams() const;

 private:
  class Stream;
  class Streams;
  class ReportWriter;

  ServiceDeps deps_;
  DeviceStore store_;
  std::unique_ptr<DeviceHub> own_hub_;  // when deps.hub is null
  std::unique_ptr<Streams> streams_;
  std::unique_ptr<ReportWriter> reports_;
};

class CampaignServiceImpl final : public ota::v1::CampaignService::Service {
 public:
  explicit CampaignServiceImpl(const ServiceDeps& deps)
      : deps_(deps), store_(deps.db, deps.clock, deps.replica_id) {}

  grpc::Status CreateCampaign(grpc::ServerContext*, const ota::v1::CreateCampaignRequest*,
                              ota::v1::Campaign*) override;
  grpc::Status GetCampaign(grpc::ServerContext*, const ota::v1::GetCampaignRequest*,
                           ota::v1::Campaign*) override;
  grpc::Status ListCampaigns(grpc::ServerContext*, const ota::v1::ListCampaignsRequest*,
                             ota::v1::ListCampaignsResponse*) override;
  grpc::Status StartCampaign(grpc::ServerContext*, const ota::v1::StartCampaignRequest*,
                             ota::v1::Campaign*) override;
  grpc::Status PauseCampaign(grpc::ServerContext*, const ota::v1::PauseCampaignRequest*,
                             ota::v1::Campaign*) override;
  grpc::Status ResumeCampaign(grpc::ServerContext*, const ota::v1::ResumeCampaignRequest*,
                              ota::v1::Campaign*) override;
  grpc::Status StopCampaign(grpc::ServerContext*, const ota::v1::StopCampaignRequest*,
                            ota::v1::Campaign*) override;
  grpc::Status WatchCampaign(grpc::ServerContext*, const ota::v1::WatchCampaignRequest*,
                             grpc::ServerWriter<ota::v1::CampaignEvent>*) override;
  grpc::Status ListDeployments(grpc::ServerContext*, const ota::v1::ListDeploymentsRequest*,
                               ota::v1::ListDeploymentsResponse*) override;

 private:
  grpc::Status Answer(absl::StatusOr<ota::v1::Campaign> result, ota::v1::Campaign* response);

  ServiceDeps deps_;
  CampaignStore store_;
};

// The fleet CA that issues device certificates for mutual TLS.
struct DeviceCa {
  common::Certificate certificate;
  common::EcdsaP256PrivateKey key;
  // Longest validity given, seconds.
  int64_t max_validity_seconds = int64_t{5} * 365 * 24 * 3600;
};

// Tokens, the audit log, device certificates (with a fleet CA) and the
// root-signed update key lists.
class AccessServiceImpl final : public ota::v1::AccessService::Service {
 public:
  // `ca` may be null: no device certificates are issued then; `key_lists`
  // may be null: key lists are not served then.
  AccessServiceImpl(const ServiceDeps& deps, AccessStore* store, const DeviceCa* ca = nullptr,
                    KeyListStore* key_lists = nullptr)
      : deps_(deps), store_(store), ca_(ca), key_lists_(key_lists), devices_(deps.db) {}

  grpc::Status CreateToken(grpc::ServerContext*, const ota::v1::CreateTokenRequest*,
                           ota::v1::CreateTokenResponse*) override;
  grpc::Status ListTokens(grpc::ServerContext*, const ota::v1::ListTokensRequest*,
                          ota::v1::ListTokensResponse*) override;
  grpc::Status RevokeToken(grpc::ServerContext*, const ota::v1::RevokeTokenRequest*,
                           ota::v1::AccessToken*) override;
  grpc::Status ListAuditEvents(grpc::ServerContext*, const ota::v1::ListAuditEventsRequest*,
                               ota::v1::ListAuditEventsResponse*) override;
  grpc::Status IssueDeviceCertificate(grpc::ServerContext*,
                                      const ota::v1::IssueDeviceCertificateRequest*,
                                      ota::v1::IssueDeviceCertificateResponse*) override;
  grpc::Status PublishKeyList(grpc::ServerContext*, const ota::v1::PublishKeyListRequest*,
                              ota::v1::KeyListRecord*) override;
  grpc::Status GetKeyList(grpc::ServerContext*, const ota::v1::GetKeyListRequest*,
                          ota::v1::KeyListRecord*) override;

 private:
  ServiceDeps deps_;
  AccessStore* store_;
  const DeviceCa* ca_;
  KeyListStore* key_lists_;
  DeviceStore devices_;
};

// Input checks shared by the services; each returns INVALID_ARGUMENT naming
// the field.
absl::Status CheckDeviceId(absl::string_view field, absl::string_view id);
absl::Status CheckAttributeKey(absl::string_view field, absl::string_view key);
absl::Status CheckSha256Hex(absl::string_view field, absl::string_view hex);

}  // namespace ota::server

#endif  // OTA_SERVER_API_SERVICES_H_
