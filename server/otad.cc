// otad: the update server. Serves the admin gRPC services and the device
// API on PostgreSQL and a content-addressed blob folder.
//
//   otad --database_url=postgresql://... --blob_dir=/var/lib/otad/blobs
//   otad migrate --database_url=...
//
// The database URL may instead come from the OTAD_DATABASE_URL environment
// variable, so a password need not appear on a command line.
#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <memory>
#include <thread>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/base/clock.h"
#include "common/base/file.h"
#include "common/base/log.h"
#include "common/crypto/ecdsa.h"
#include "common/crypto/x509.h"
#include "common/manifest/trust_store.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"
#include "server/api/services.h"
#include "server/auth/access_gate.h"
#include "server/auth/access_store.h"
#include "server/auth/key_list_store.h"
#include "server/blobs/blob_store.h"
#include "server/campaigns/campaigns.h"
#include "server/cluster/events.h"
#include "server/cluster/lease.h"
#include "server/gateway/admin_services.h"
#include "server/gateway/api_descriptors.h"
#include "server/gateway/gateway.h"
#include "server/http/http_server.h"
#include "server/http/payload_handler.h"
#include "server/notify/campaign_fanout.h"
#include "server/notify/device_hub.h"
#include "server/observe/grpc_metrics.h"
#include "server/store/database.h"
#include "server/web/web_ui.h"

ABSL_FLAG(std::string, grpc_address, "127.0.0.1:7400",
          "host:port for gRPC; port 0 picks a free port (printed at start)");
ABSL_FLAG(std::string, http_address, "127.0.0.1:7480",
          "host:port for payload downloads, the REST API (/v1/, /openapi.json), the operator "
          "page (/), /metrics and /healthz; port 0 picks one");
ABSL_FLAG(int, http_threads, 2,
          "HTTP worker threads (this many for payloads and as many for the rest)");
ABSL_FLAG(int, http_idle_timeout_seconds, 30, "close HTTP connections idle this long");
ABSL_FLAG(int, http_connection_limit, 4096, "HTTP connections at most");
ABSL_FLAG(std::string, payload_url_key_file, "",
          "file holding the HMAC key for expiring payload URLs; empty: payloads are public "
          "(the key may also come from OTAD_PAYLOAD_URL_KEY)");
ABSL_FLAG(std::string, database_url, "",
          "PostgreSQL URL; default: the OTAD_DATABASE_URL environment variable");
ABSL_FLAG(std::string, blob_dir, "./otad-blobs", "folder of the content-addressed blob store");
ABSL_FLAG(int, db_pool_size, 16, "PostgreSQL connections at most");
ABSL_FLAG(int, database_wait_seconds, 30,
          "how long to wait at start for the database to accept connections");
ABSL_FLAG(uint64_t, max_asset_size, uint64_t{16} << 30, "largest asset accepted, in bytes");
ABSL_FLAG(int, keepalive_seconds, 30, "keepalive period on idle device streams");
ABSL_FLAG(int, deployment_poll_seconds, 30,
          "how often an idle device stream looks for a deployment made elsewhere");
ABSL_FLAG(bool, grpc_small_streams, true,
          "tune gRPC for many idle device streams (small flow-control windows and read "
          "buffers, no BDP probing, HTTP/2 pings to find dead peers); false keeps gRPC's "
          "defaults");
ABSL_FLAG(std::vector<std::string>, grpc_channel_arg, {},
          "extra integer gRPC server channel arguments, name=value, comma-separated "
          "(e.g. grpc.http2.lookahead_bytes=65536); they win over --grpc_small_streams");
ABSL_FLAG(int, stream_threads, 8, "threads for the database work of opening device streams");
ABSL_FLAG(int, engine_tick_ms, 1000, "rollout engine period; 0 turns the engine off");
ABSL_FLAG(bool, insecure, false,
          "development mode: admin calls need no token and TLS is not required (a warning is "
          "logged at every start)");
ABSL_FLAG(bool, plaintext, false,
          "serve without TLS although tokens are checked, e.g. behind a TLS-terminating proxy "
          "(a warning is logged at every start); without TLS one of --plaintext or --insecure "
          "is needed");
ABSL_FLAG(std::string, tls_cert_file, "",
          "PEM certificate (chain) for TLS on the gRPC port; with --tls_key_file");
ABSL_FLAG(std::string, tls_key_file, "", "PEM private key of --tls_cert_file");
ABSL_FLAG(std::string, device_ca_cert_file, "",
          "PEM certificate of the fleet CA: devices authenticate with certificates it issued, "
          "and AccessService.IssueDeviceCertificate issues them");
ABSL_FLAG(std::string, device_ca_key_file, "", "PEM private key of --device_ca_cert_file");
ABSL_FLAG(std::string, root_keys_file, "",
          "PEM public keys (or certificates) of the root keys that sign update key lists");
ABSL_FLAG(std::string, name, "", "token create: the token's name");
ABSL_FLAG(std::string, role, "", "token create: viewer, operator, publisher or admin");
ABSL_FLAG(int64_t, expires_unix, 0, "token create: when the token stops working; 0 never");

namespace ota::server {
namespace {

std::string DatabaseUrl() {
  std::string url = absl::GetFlag(FLAGS_database_url);
  if (url.empty()) {
    const char* env = std::getenv("OTAD_DATABASE_URL");
    if (env != nullptr) url = env;
  }
  return url;
}

absl::StatusOr<std::unique_ptr<Database>> OpenDatabase() {
  const std::string url = DatabaseUrl();
  if (url.empty()) {
    return absl::InvalidArgumentError("no database: pass --database_url or set OTAD_DATABASE_URL");
  }
  const absl::Time deadline =
      absl::Now() + absl::Seconds(absl::GetFlag(FLAGS_database_wait_seconds));
  while (true) {
    auto db = Database::Open(url, absl::GetFlag(FLAGS_db_pool_size));
    if (db.ok() || !absl::IsUnavailable(db.status()) || absl::Now() > deadline) return db;
    std::cerr << "otad: waiting for the database: " << db.status().message() << "\n";
    absl::SleepFor(absl::Seconds(1));
  }
}

// Channel arguments for a server that holds tens of thousands of mostly
// idle device streams, one per connection. gRPC's defaults size every
// connection for bulk transfer: 64 KiB stream windows grown further by BDP
// probing, 8 KiB+ read buffers, a 4 KiB HPACK table each way; at fleet
// scale that is memory held by connections that send a keepalive every
// half minute. Uploads still work with these, at a lower peak rate.
void TuneForIdleStreams(grpc::ServerBuilder* builder) {
  builder->AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  builder->AddChannelArgument(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 16 << 10);
  builder->AddChannelArgument(GRPC_ARG_HTTP2_WRITE_BUFFER_SIZE, 16 << 10);
  builder->AddChannelArgument(GRPC_ARG_HTTP2_HPACK_TABLE_SIZE_DECODER, 1024);
  builder->AddChannelArgument(GRPC_ARG_HTTP2_HPACK_TABLE_SIZE_ENCODER, 1024);
  builder->AddChannelArgument(GRPC_ARG_TCP_READ_CHUNK_SIZE, 4096);
  builder->AddChannelArgument(GRPC_ARG_TCP_MIN_READ_CHUNK_SIZE, 1024);
  // A device holds one stream, but an HTTP/2 proxy in front (Envoy)
  // multiplexes many devices onto one connection.
  builder->AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, 4096);
  // Pings find peers that vanished without closing (a device losing power)
  // so their streams and memory are released; clients may ping every 10 s.
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 120 * 1000);
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20 * 1000);
  builder->AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10 * 1000);
  builder->AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 3);
}

int Migrate() {
  auto db = OpenDatabase();
  if (!db.ok()) {
    std::cerr << "otad: " << db.status() << "\n";
    return 1;
  }
  auto applied = (*db)->Migrate();
  if (!applied.ok()) {
    std::cerr << "otad: migration failed: " << applied.status() << "\n";
    return 1;
  }
  std::cout << "otad: applied " << applied->size() << " migration(s)"
            << (applied->empty() ? "" : ": " + absl::StrJoin(*applied, ", ")) << "\n";
  return 0;
}

// `otad token create --name=N --role=R`: the first admin token comes from
// here, with direct access to the database; the secret goes to stdout.
int CreateToken() {
  auto db = OpenDatabase();
  if (!db.ok()) {
    std::cerr << "otad: " << db.status() << "\n";
    return 1;
  }
  if (auto applied = (*db)->Migrate(); !applied.ok()) {
    std::cerr << "otad: migration failed: " << applied.status() << "\n";
    return 1;
  }
  absl::StatusOr<ota::v1::Role> role = ParseRole(absl::GetFlag(FLAGS_role));
  if (!role.ok()) {
    std::cerr << "otad: " << role.status().message() << "\n";
    return 2;
  }
  AccessStore access(db->get(), &common::RealClock());
  auto created = access.CreateToken(absl::GetFlag(FLAGS_name), *role,
                                    absl::GetFlag(FLAGS_expires_unix), "otad token create");
  if (!created.ok()) {
    std::cerr << "otad: " << created.status() << "\n";
    return 1;
  }
  std::cout << created->secret() << std::endl;
  return 0;
}

int Serve() {
  // Signals are taken by a thread of their own, so shutdown is orderly.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto db = OpenDatabase();
  if (!db.ok()) {
    std::cerr << "otad: " << db.status() << "\n";
    return 1;
  }
  if (auto applied = (*db)->Migrate(); !applied.ok()) {
    std::cerr << "otad: migration failed: " << applied.status() << "\n";
    return 1;
  }
  auto blobs = BlobStore::Open(absl::GetFlag(FLAGS_blob_dir));
  if (!blobs.ok()) {
    std::cerr << "otad: " << blobs.status() << "\n";
    return 1;
  }
  ServiceOptions options;
  options.max_asset_size = absl::GetFlag(FLAGS_max_asset_size);
  options.keepalive_seconds = absl::GetFlag(FLAGS_keepalive_seconds);
  options.deployment_poll_seconds = absl::GetFlag(FLAGS_deployment_poll_seconds);
  // With TLS and a fleet CA, a device is who its certificate says.
  options.require_device_certificates = !absl::GetFlag(FLAGS_tls_cert_file).empty() &&
                                        !absl::GetFlag(FLAGS_device_ca_cert_file).empty();
  options.stream_threads = absl::GetFlag(FLAGS_stream_threads);
  DeviceHub hub;
  // The rollout engine: a tick every period, or at once when woken.
  absl::Mutex engine_mu;
  bool engine_wake = false;
  bool engine_stop = false;
  auto wake_engine = [&] {
    absl::MutexLock lock(&engine_mu);
    engine_wake = true;
  };
  // Other replicas on the same database hear of campaign changes and
  // chosen deployments through ClusterEvents; this one sends a campaign's
  // chosen deployments to the devices whose streams it holds, one
  // transaction per campaign event (CampaignFanout).
  const std::string replica_id = ClusterEvents::NewReplicaId();
  Database* database = db->get();
  prometheus::Registry metrics;
  CampaignFanout fanout(database, &common::RealClock(), &hub, &metrics);
  auto wake_campaign_devices = [&fanout](const std::string& campaign_id) {
    fanout.CampaignReady(campaign_id);
  };
  ServiceDeps deps{db->get(), blobs->get(), &common::RealClock(), options, &hub, wake_engine};
  deps.campaign_changed = wake_campaign_devices;
  deps.replica_id = replica_id;
  deps.metrics = &metrics;
  // Who may call what.
  const bool insecure = absl::GetFlag(FLAGS_insecure);
  if (insecure) {
    std::cerr << "otad: WARNING: development mode (--insecure): admin calls need no token\n";
    common::LogEvent(common::LogLevel::kWarning, "security.insecure",
                     {{"message", "admin calls need no token; for development only"}});
  }
  // The TLS certificate and key, for the gRPC and the HTTP port alike.
  std::string tls_cert_pem, tls_key_pem;
  if (absl::GetFlag(FLAGS_tls_cert_file).empty()) {
    if (!insecure && !absl::GetFlag(FLAGS_plaintext)) {
      std::cerr << "otad: no TLS certificate: pass --tls_cert_file and --tls_key_file, or "
                   "--plaintext (tokens without TLS), or --insecure (development)\n";
      return 2;
    }
    std::cerr << "otad: WARNING: no TLS: tokens cross the network in clear text and devices "
                 "are not authenticated\n";
    common::LogEvent(common::LogLevel::kWarning, "security.plaintext",
                     {{"message", "no TLS (--tls_cert_file): bearer tokens cross the network in "
                                  "clear text and devices are not authenticated"}});
  } else {
    auto cert = common::ReadFile(absl::GetFlag(FLAGS_tls_cert_file), 1 << 20);
    auto key = common::ReadFile(absl::GetFlag(FLAGS_tls_key_file), 1 << 20);
    if (!cert.ok() || !key.ok()) {
      std::cerr << "otad: TLS: " << (cert.ok() ? key.status() : cert.status()) << "\n";
      return 1;
    }
    tls_cert_pem = *std::move(cert);
    tls_key_pem = *std::move(key);
  }
  AccessStore access(db->get(), &common::RealClock());
  AccessGate gate(&access, /*enforce=*/!insecure);
  deps.gate = &gate;
  std::optional<DeviceCa> device_ca;
  if (!absl::GetFlag(FLAGS_device_ca_cert_file).empty()) {
    auto cert_pem = common::ReadFile(absl::GetFlag(FLAGS_device_ca_cert_file), 1 << 20);
    auto key_pem = common::ReadFile(absl::GetFlag(FLAGS_device_ca_key_file), 1 << 20);
    if (!cert_pem.ok() || !key_pem.ok()) {
      std::cerr << "otad: fleet CA: "
                << (cert_pem.ok() ? key_pem.status() : cert_pem.status()) << "\n";
      return 1;
    }
    auto cert = common::Certificate::Parse(*cert_pem);
    auto key = common::EcdsaP256PrivateKey::FromPem(*key_pem);
    if (!cert.ok() || !key.ok()) {
      std::cerr << "otad: fleet CA: " << (cert.ok() ? key.status() : cert.status()) << "\n";
      return 1;
    }
    device_ca.emplace(DeviceCa{*std::move(cert), *std::move(key)});
  }
  common::TrustStore roots;
  if (!absl::GetFlag(FLAGS_root_keys_file).empty()) {
    auto pem = common::ReadFile(absl::GetFlag(FLAGS_root_keys_file), 1 << 20);
    if (!pem.ok()) {
      std::cerr << "otad: root keys: " << pem.status() << "\n";
      return 1;
    }
    if (absl::Status s = roots.AddPem(*pem, absl::GetFlag(FLAGS_root_keys_file)); !s.ok()) {
      std::cerr << "otad: root keys: " << s << "\n";
      return 1;
    }
  }
  KeyListStore key_lists(db->get(), &common::RealClock(), &roots);
  AccessServiceImpl access_service(deps, &access, device_ca ? &*device_ca : nullptr, &key_lists);
  std::unique_ptr<ClusterEvents> events = ClusterEvents::Start(
      DatabaseUrl(), replica_id, [&](const ClusterEvent& e) {
        if (e.kind == ClusterEvents::kCampaignChanged) {
          wake_engine();
          wake_campaign_devices(e.campaign_id);
        } else if (e.kind == ClusterEvents::kDeploymentsReady) {
          fanout.CampaignReady(e.campaign_id, e.devices);
        } else if (e.kind == ClusterEvents::kResync) {
          wake_engine();
        }
      });
  GrpcMetrics grpc_metrics(&metrics);
  deps.grpc_metrics = &grpc_metrics;
  CertificateServiceImpl certificates(deps);
  AssetServiceImpl assets(deps);
  ManifestServiceImpl manifests(deps);
  DeviceRegistryServiceImpl registry(deps);
  DeviceServiceImpl devices(deps);
  CampaignServiceImpl campaigns(deps);

  // Gauges read when /metrics is scraped.
  prometheus::Gauge& connected_gauge = prometheus::BuildGauge()
                                           .Name("otad_connected_devices")
                                           .Help("Devices with a Connect stream open here")
                                           .Register(metrics)
                                           .Add({});
  auto& deployments_gauge = prometheus::BuildGauge()
                                .Name("otad_deployments")
                                .Help("Deployments of open campaigns, by state")
                                .Register(metrics);
  prometheus::Gauge& leader_gauge = prometheus::BuildGauge()
                                        .Name("otad_engine_leader")
                                        .Help("1 while this replica runs the rollout engine")
                                        .Register(metrics)
                                        .Add({});
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  if (!tls_cert_pem.empty()) {
    grpc::SslServerCredentialsOptions tls;
    tls.pem_key_cert_pairs.push_back({tls_key_pem, tls_cert_pem});
    if (device_ca) {
      // Devices present certificates of the fleet CA; operators, tokens.
      tls.pem_root_certs = device_ca->certificate.ToPem();
      tls.client_certificate_request = GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY;
    }
    credentials = grpc::SslServerCredentials(tls);
  }
  builder.AddListeningPort(absl::GetFlag(FLAGS_grpc_address), credentials, &port);
  builder.SetMaxReceiveMessageSize(8 << 20);
  // Connect streams count and audit themselves (deps.grpc_metrics,
  // deps.gate): an interceptor is allocated per call and lives as long as
  // the call, and fleets hold their streams open for days.
  auto interceptors = grpc_metrics.Interceptors({DeviceServiceImpl::kConnectMethod});
  for (auto& i : gate.Interceptors({DeviceServiceImpl::kConnectMethod})) {
    interceptors.push_back(std::move(i));
  }
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  if (absl::GetFlag(FLAGS_grpc_small_streams)) TuneForIdleStreams(&builder);
  for (const std::string& arg : absl::GetFlag(FLAGS_grpc_channel_arg)) {
    std::pair<std::string, std::string> kv = absl::StrSplit(arg, absl::MaxSplits('=', 1));
    int value = 0;
    if (kv.first.empty() || !absl::SimpleAtoi(kv.second, &value)) {
      std::cerr << "otad: --grpc_channel_arg wants name=integer, got " << arg << "\n";
      return 1;
    }
    builder.AddChannelArgument(kv.first, value);
  }
  for (grpc::Service* s : std::initializer_list<grpc::Service*>{
           &certificates, &assets, &manifests, &registry, &devices, &campaigns,
           &access_service}) {
    builder.RegisterService(s);
  }
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::cerr << "otad: cannot listen on " << absl::GetFlag(FLAGS_grpc_address) << "\n";
    return 1;
  }
  std::string address = absl::GetFlag(FLAGS_grpc_address);
  address = absl::StrCat(address.substr(0, address.rfind(':')), ":", port);

  std::string url_key;
  if (const char* env = std::getenv("OTAD_PAYLOAD_URL_KEY"); env != nullptr) url_key = env;
  if (!absl::GetFlag(FLAGS_payload_url_key_file).empty()) {
    auto key = common::ReadFile(absl::GetFlag(FLAGS_payload_url_key_file), 4096);
    if (!key.ok()) {
      std::cerr << "otad: payload URL key: " << key.status() << "\n";
      return 1;
    }
    url_key = std::string(absl::StripTrailingAsciiWhitespace(*key));
  }
  // The REST gateway calls the services through gRPC, in process.
  grpc::ChannelArguments gateway_channel;
  gateway_channel.SetMaxReceiveMessageSize(64 << 20);
  gateway::GatewayOptions gateway_options;
  gateway_options.descriptor_set = std::string(gateway::ApiDescriptorSet());
  auto gateway = gateway::Gateway::Create(server->InProcessChannel(gateway_channel),
                                          gateway::AdminServices(), gateway_options);
  if (!gateway.ok()) {
    std::cerr << "otad: REST gateway: " << gateway.status() << "\n";
    return 1;
  }
  auto rest = [g = gateway->get()](const HttpRequest& r) { return g->Handle(r); };
  web::WebUi web_ui(web::EmbeddedWebFiles());
  PayloadHandler payloads(blobs->get(), &common::RealClock(), url_key);
  HttpServerOptions http_options;
  http_options.address = absl::GetFlag(FLAGS_http_address);
  http_options.threads = absl::GetFlag(FLAGS_http_threads);
  http_options.idle_timeout_seconds = absl::GetFlag(FLAGS_http_idle_timeout_seconds);
  http_options.connection_limit = absl::GetFlag(FLAGS_http_connection_limit);
  http_options.metrics = &metrics;
  // REST, the page and payloads over https with the same certificate.
  http_options.tls_cert_pem = tls_cert_pem;
  http_options.tls_key_pem = tls_key_pem;
  auto http = HttpServer::Start(
      http_options,
      {{kPayloadPrefix, [&payloads](const HttpRequest& r) { return payloads.Handle(r); },
        HttpRoute::kPayload},
       {"/v1/", rest},
       {"/openapi.json", rest},
       {"/", [&web_ui](const HttpRequest& r) { return web_ui.Handle(r); }},
       {"/metrics",
        [&](const HttpRequest&) {
          connected_gauge.Set(static_cast<double>(hub.connected()));
          std::map<int, int64_t> by_state;
          (void)database->Transact([&](pqxx::work& txn) {
            by_state.clear();
            for (const auto& row : txn.exec(
                     "SELECT d.state, count(*) FROM deployments d JOIN campaigns c "
                     "ON c.campaign_id = d.campaign_id WHERE c.state IN (2, 3, 4) "
                     "GROUP BY d.state")) {
              by_state[row[0].as<int>()] = row[1].as<int64_t>();
            }
            return absl::OkStatus();
          });
          for (int st = ota::v1::DEPLOYMENT_STATE_PENDING; st <= ota::v1::DeploymentState_MAX;
               ++st) {
            if (!ota::v1::DeploymentState_IsValid(st)) continue;
            deployments_gauge
                .Add({{"state", ota::v1::DeploymentState_Name(
                                    static_cast<ota::v1::DeploymentState>(st))
                                    .substr(sizeof("DEPLOYMENT_STATE_") - 1)}})
                .Set(static_cast<double>(by_state[st]));
          }
          HttpResponse r = HttpResponse::Text(
              200, prometheus::TextSerializer().Serialize(metrics.Collect()));
          r.headers = {{"Content-Type", "text/plain; version=0.0.4"}};
          return r;
        }},
       {"/healthz", [database](const HttpRequest&) {
          absl::Status s = database->Transact([](pqxx::work& txn) {
            txn.exec("SELECT 1");
            return absl::OkStatus();
          });
          return s.ok() ? HttpResponse::Text(200, "ok\n")
                        : HttpResponse::Text(503, absl::StrCat(s.message(), "\n"));
        }}});
  if (!http.ok()) {
    std::cerr << "otad: " << http.status() << "\n";
    return 1;
  }
  std::string http_address = absl::GetFlag(FLAGS_http_address);
  http_address = absl::StrCat(http_address.substr(0, http_address.rfind(':')), ":",
                              (*http)->port());
  std::cout << "otad: gRPC listening on " << address << std::endl;
  std::cout << "otad: HTTP listening on " << http_address << " ("
            << (http_options.tls_cert_pem.empty() ? "plaintext" : "TLS") << ", "
            << (url_key.empty() ? "payloads public)" : "payload URLs signed)") << std::endl;

  std::cout << "otad: replica " << replica_id << std::endl;

  // One replica at a time runs the engine: the one holding the lease.
  Engine engine(
      db->get(), &common::RealClock(),
      [&fanout](const std::string& campaign_id, const std::vector<std::string>& ids) {
        fanout.CampaignReady(campaign_id, ids);
      },
      replica_id);
  const int tick_ms = absl::GetFlag(FLAGS_engine_tick_ms);
  std::thread engine_thread([&] {
    if (tick_ms <= 0) return;
    AdvisoryLease lease(DatabaseUrl(), AdvisoryLease::kEngineKey);
    bool leading = false;
    bool told = false;
    while (true) {
      if (lease.Hold() != leading || !told) {
        leading = lease.held();
        told = true;
        std::cout << (leading ? "otad: rollout engine: leading"
                              : "otad: rollout engine: standing by")
                  << std::endl;
        leader_gauge.Set(leading ? 1 : 0);
        common::LogEvent(common::LogLevel::kInfo, "engine.leadership",
                         {{"replica", replica_id}, {"leading", leading ? "true" : "false"}});
      }
      {
        absl::MutexLock lock(&engine_mu);
        engine_mu.AwaitWithTimeout(
            absl::Condition(+[](bool* w) { return *w; }, &engine_wake),
            absl::Milliseconds(tick_ms));
        if (engine_stop) return;
        engine_wake = false;
      }
      if (!leading) continue;
      if (absl::Status s = engine.Tick(); !s.ok()) {
        common::LogEvent(common::LogLevel::kError, "engine.tick",
                         {{"replica", replica_id}, {"error", s.ToString()}});
      }
    }
  });

  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    std::cout << "otad: signal " << sig << ", shutting down" << std::endl;
    // HTTP first, then the gateway: its in-process channel would hold
    // Shutdown up to its deadline.
    http->reset();
    gateway->reset();
    server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  });
  server->Wait();
  waiter.join();
  {
    absl::MutexLock lock(&engine_mu);
    engine_stop = true;
    engine_wake = true;
  }
  engine_thread.join();
  events.reset();
  std::cout << "otad: stopped" << std::endl;
  return 0;
}

}  // namespace
}  // namespace ota::server

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "otad [serve|migrate|token create] --database_url=... --blob_dir=...");
  std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  // Debian's Abseil is built as a debug build (no NDEBUG), where every
  // Mutex acquisition also updates a process-wide lock-order graph under a
  // global lock: 7-10 % of otad's CPU while a campaign wave goes out. The
  // tests keep the check; the server does without it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  std::string command = rest.size() > 1 ? rest[1] : "serve";
  if (rest.size() > 2 && command != "token") {
    std::cerr << "otad: unexpected argument " << rest[2] << "\n";
    return 2;
  }
  if (command == "migrate") return ota::server::Migrate();
  if (command == "token") {
    if (rest.size() != 3 || std::string(rest[2]) != "create") {
      std::cerr << "otad: usage: otad token create --name=NAME --role=ROLE [--expires_unix=N]\n";
      return 2;
    }
    return ota::server::CreateToken();
  }
  if (command == "serve") return ota::server::Serve();
  std::cerr << "otad: unknown command " << command << " (serve or migrate)\n";
  return 2;
}
