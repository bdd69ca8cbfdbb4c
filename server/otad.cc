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
#include <memory>
#include <thread>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/ascii.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/base/clock.h"
#include "common/base/file.h"
#include "server/api/services.h"
#include "server/campaigns/campaigns.h"
#include "server/notify/device_hub.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"
#include "server/blobs/blob_store.h"
#include "server/http/http_server.h"
#include "server/http/payload_handler.h"
#include "server/store/database.h"

ABSL_FLAG(std::string, grpc_address, "127.0.0.1:7400",
          "host:port for gRPC; port 0 picks a free port (printed at start)");
ABSL_FLAG(std::string, http_address, "127.0.0.1:7480",
          "host:port for payload downloads, /metrics and /healthz; port 0 picks one");
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
ABSL_FLAG(int, engine_tick_ms, 1000, "rollout engine period; 0 turns the engine off");

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
  DeviceHub hub;
  // The rollout engine: a tick every period, or at once when woken.
  absl::Mutex engine_mu;
  bool engine_wake = false;
  bool engine_stop = false;
  auto wake_engine = [&] {
    absl::MutexLock lock(&engine_mu);
    engine_wake = true;
  };
  ServiceDeps deps{db->get(), blobs->get(), &common::RealClock(), options, &hub, wake_engine};
  CertificateServiceImpl certificates(deps);
  AssetServiceImpl assets(deps);
  ManifestServiceImpl manifests(deps);
  DeviceRegistryServiceImpl registry(deps);
  DeviceServiceImpl devices(deps);
  CampaignServiceImpl campaigns(deps);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(absl::GetFlag(FLAGS_grpc_address), grpc::InsecureServerCredentials(),
                           &port);
  builder.SetMaxReceiveMessageSize(8 << 20);
  for (grpc::Service* s : std::initializer_list<grpc::Service*>{
           &certificates, &assets, &manifests, &registry, &devices, &campaigns}) {
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
  prometheus::Registry metrics;
  PayloadHandler payloads(blobs->get(), &common::RealClock(), url_key);
  HttpServerOptions http_options;
  http_options.address = absl::GetFlag(FLAGS_http_address);
  http_options.threads = absl::GetFlag(FLAGS_http_threads);
  http_options.idle_timeout_seconds = absl::GetFlag(FLAGS_http_idle_timeout_seconds);
  http_options.connection_limit = absl::GetFlag(FLAGS_http_connection_limit);
  http_options.metrics = &metrics;
  Database* database = db->get();
  auto http = HttpServer::Start(
      http_options,
      {{kPayloadPrefix, [&payloads](const HttpRequest& r) { return payloads.Handle(r); },
        HttpRoute::kPayload},
       {"/metrics",
        [&metrics](const HttpRequest&) {
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
  std::cout << "otad: HTTP listening on " << http_address
            << (url_key.empty() ? " (payloads public)" : " (payload URLs signed)") << std::endl;

  Engine engine(db->get(), &common::RealClock(),
                [&hub](const std::vector<std::string>& ids) { hub.Wake(ids); });
  const int tick_ms = absl::GetFlag(FLAGS_engine_tick_ms);
  std::thread engine_thread([&] {
    if (tick_ms <= 0) return;
    while (true) {
      {
        absl::MutexLock lock(&engine_mu);
        engine_mu.AwaitWithTimeout(
            absl::Condition(+[](bool* w) { return *w; }, &engine_wake),
            absl::Milliseconds(tick_ms));
        if (engine_stop) return;
        engine_wake = false;
      }
      if (absl::Status s = engine.Tick(); !s.ok()) {
        std::cerr << "otad: rollout engine: " << s << "\n";
      }
    }
  });

  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    std::cout << "otad: signal " << sig << ", shutting down" << std::endl;
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
  std::cout << "otad: stopped" << std::endl;
  return 0;
}

}  // namespace
}  // namespace ota::server

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("otad [serve|migrate] --database_url=... --blob_dir=...");
  std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  std::string command = rest.size() > 1 ? rest[1] : "serve";
  if (rest.size() > 2) {
    std::cerr << "otad: unexpected argument " << rest[2] << "\n";
    return 2;
  }
  if (command == "migrate") return ota::server::Migrate();
  if (command == "serve") return ota::server::Serve();
  std::cerr << "otad: unknown command " << command << " (serve or migrate)\n";
  return 2;
}
