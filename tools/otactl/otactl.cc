// otactl: the operator's command line for otad.
//
//   otactl [--server=HOST:PORT] [--ca=FILE] [--token=SECRET] [--json] <noun> <verb> [args]
//
//   cert register FILE [--description=TEXT]     cert list [--all]
//   cert get KEY_ID                             cert revoke KEY_ID [--reason=TEXT]
//   asset upload FILE [--name=NAME]             asset list
//   asset get SHA256                            asset delete SHA256
//   manifest upload FILE [--validate-only]      manifest list [--class=UUID]
//   manifest get MANIFEST_ID
//   device register ID --vendor=UUID --class=UUID [--attr=k=v ...]
//   device list [--filter=EXPR] [--online]      device get ID
//   device set-attr ID k=v ... [--remove=k ...] device delete ID
//   device cert ID --csr=FILE [--validity=SECONDS]   (certificate and CA chain, PEM, to stdout)
//   campaign create --name=N --manifest=ID [--filter=EXPR] [--wave=COUNT|PCT% ...]
//            [--success-ratio=R] [--failure-ratio=R] [--soak=SECONDS] [--start-at=UNIX]
//            [--cap=ATTRIBUTE:COUNT]   (at most COUNT downloads at once per attribute value)
//   campaign start|pause|resume|stop ID [--reason=TEXT]
//   campaign get ID    campaign list    campaign deployments ID    campaign watch ID
//   token create --name=N --role=viewer|operator|publisher|admin [--expires-at=UNIX]
//   token list [--all]                          token revoke TOKEN_ID
//   audit list [--actor=NAME]
//   keylist publish FILE (from ota-manifest key-list)   keylist get [VERSION]
//
// The bearer token comes from --token=SECRET or OTACTL_TOKEN; the first
// admin token from `otad token create` on the server. --ca=FILE (or
// OTACTL_CA) speaks TLS, trusting that CA for otad's certificate.
//
// Exit codes: 0 success; 1 the server refused (its code and message are
// printed); 2 usage error; 3 a local file could not be read; 4 the server
// could not be reached.
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <google/protobuf/util/json_util.h>

#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/base/file.h"
#include "common/crypto/bytes.h"
#include "common/crypto/sha256.h"
#include "common/manifest/uuid.h"
#include "ota/v1/access_service.grpc.pb.h"
#include "ota/v1/asset_service.grpc.pb.h"
#include "ota/v1/campaign_service.grpc.pb.h"
#include "ota/v1/certificate_service.grpc.pb.h"
#include "ota/v1/device_registry_service.grpc.pb.h"
#include "ota/v1/manifest_service.grpc.pb.h"

namespace ota::tools {
namespace {

constexpr int kOk = 0, kRefused = 1, kUsage = 2, kLocal = 3, kUnreachable = 4;
constexpr size_t kUploadChunk = 1 << 20;

struct Args {
  std::vector<std::string> positional;
  std::multimap<std::string, std::string> flags;  // --name=value or --name
  std::string Flag(const std::string& name, const std::string& fallback = "") const {
    auto it = flags.find(name);
    return it == flags.end() ? fallback : it->second;
  }
  bool Has(const std::string& name) const { return flags.count(name) > 0; }
  std::vector<std::string> All(const std::string& name) const {
    std::vector<std::string> out;
    auto [a, b] = flags.equal_range(name);
    for (auto it = a; it != b; ++it) out.push_back(it->second);
    return out;
  }
};

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string s = argv[i];
    if (absl::StartsWith(s, "--")) {
      size_t eq = s.find('=');
      if (eq == std::string::npos) {
        a.flags.emplace(s.substr(2), "");
      } else {
        a.flags.emplace(s.substr(2, eq - 2), s.substr(eq + 1));
      }
    } else {
      a.positional.push_back(s);
    }
  }
  return a;
}

class Cli {
 public:
  explicit Cli(const Args& args) : args_(args), json_(args.Has("json")) {
    std::string server = args.Flag("server");
    if (server.empty()) {
      const char* env = std::getenv("OTACTL_SERVER");
      server = env != nullptr ? env : "127.0.0.1:7400";
    }
    std::string ca = args.Flag("ca");
    if (ca.empty()) {
      const char* env = std::getenv("OTACTL_CA");
      if (env != nullptr) ca = env;
    }
    std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
    if (!ca.empty()) {
      // TLS, trusting the CA in this file for otad's certificate.
      absl::StatusOr<std::string> pem = common::ReadFile(ca, 1 << 20);
      if (!pem.ok()) {
        std::cerr << "otactl: --ca: " << pem.status().message() << "\n";
        std::exit(kLocal);
      }
      grpc::SslCredentialsOptions tls;
      tls.pem_root_certs = *pem;
      credentials = grpc::SslCredentials(tls);
    }
    channel_ = grpc::CreateChannel(server, credentials);
    server_ = server;
    token_ = args.Flag("token");
    if (token_.empty()) {
      const char* env = std::getenv("OTACTL_TOKEN");
      if (env != nullptr) token_ = env;
    }
  }

  int Run() {
    const auto& p = args_.positional;
    if (p.size() < 2) return Usage("");
    const std::string noun = p[0], verb = p[1];
    if (noun == "cert") return Cert(verb);
    if (noun == "asset") return Asset(verb);
    if (noun == "manifest") return Manifest(verb);
    if (noun == "device") return Device(verb);
    if (noun == "campaign") return CampaignCmd(verb);
    if (noun == "token") return Token(verb);
    if (noun == "audit") return Audit(verb);
    if (noun == "keylist") return KeyList(verb);
    return Usage(absl::StrCat("unknown noun \"", noun, "\""));
  }

 private:
  int Usage(const std::string& why) {
    if (!why.empty()) std::cerr << "otactl: " << why << "\n";
    std::cerr << "usage: otactl [--server=HOST:PORT] [--token=SECRET] [--json] "
                 "<cert|asset|manifest|device|campaign|token|audit|keylist> <verb> [args]; "
                 "see the header of tools/otactl/otactl.cc or the README\n";
    return kUsage;
  }

  int Failed(const grpc::Status& s) {
    std::cerr << "otactl: " << GrpcCodeName(s.error_code()) << ": " << s.error_message() << "\n";
    return s.error_code() == grpc::StatusCode::UNAVAILABLE ? kUnreachable : kRefused;
  }

  static std::string GrpcCodeName(grpc::StatusCode code) {
    static const char* kNames[] = {"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT",
                                   "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
                                   "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
                                   "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
                                   "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
                                   "UNAUTHENTICATED"};
    int c = static_cast<int>(code);
    return c >= 0 && c <= 16 ? kNames[c] : absl::StrCat(c);
  }

  void Print(const google::protobuf::Message& m) {
    std::string out;
    google::protobuf::util::JsonPrintOptions o;
    o.add_whitespace = true;
    (void)google::protobuf::util::MessageToJsonString(m, &out, o);
    std::cout << out;
  }

  // Adds the bearer token, when there is one, to a call.
  void Authorize(grpc::ClientContext* ctx) const {
    if (!token_.empty()) ctx->AddMetadata("authorization", "Bearer " + token_);
  }

  std::unique_ptr<grpc::ClientContext> Ctx(int seconds = 30) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    Authorize(ctx.get());
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
    return ctx;
  }

  std::string Arg(size_t i) const {
    return i < args_.positional.size() ? args_.positional[i] : "";
  }

  static std::string Time(int64_t unix) {
    if (unix == 0) return "-";
    return absl::FormatTime("%Y-%m-%d %H:%M", absl::FromUnixSeconds(unix), absl::UTCTimeZone());
  }

  // ------------------------------------------------------------ certs
  int Cert(const std::string& verb) {
    auto stub = v1::CertificateService::NewStub(channel_);
    if (verb == "register") {
      if (Arg(2).empty()) return Usage("cert register needs a certificate file");
      absl::StatusOr<std::string> der = common::ReadFile(Arg(2), 1 << 20);
      if (!der.ok()) {
        std::cerr << "otactl: " << der.status().message() << "\n";
        return kLocal;
      }
      v1::RegisterCertificateRequest req;
      req.set_certificate_der(*der);
      req.set_description(args_.Flag("description"));
      v1::Certificate c;
      grpc::Status s = stub->RegisterCertificate(Ctx().get(), req, &c);
      if (!s.ok()) return Failed(s);
      if (json_) {
        c.clear_certificate_der();
        Print(c);
      } else {
        std::cout << "registered " << c.key_id() << "  " << c.subject() << "\n";
      }
      return kOk;
    }
    if (verb == "list") {
      v1::ListCertificatesRequest req;
      req.set_include_revoked(args_.Has("all"));
      std::vector<v1::Certificate> all;
      do {
        v1::ListCertificatesResponse resp;
        grpc::Status s = stub->ListCertificates(Ctx().get(), req, &resp);
        if (!s.ok()) return Failed(s);
        for (auto& c : *resp.mutable_certificates()) {
          c.clear_certificate_der();
          all.push_back(c);
        }
        req.set_page_token(resp.next_page_token());
      } while (!req.page_token().empty());
      if (json_) {
        v1::ListCertificatesResponse out;
        for (auto& c : all) *out.add_certificates() = c;
        Print(out);
        return kOk;
      }
      std::cout << std::left << std::setw(66) << "KEY ID" << std::setw(18) << "EXPIRES"
                << "SUBJECT\n";
      for (const auto& c : all) {
        std::cout << std::setw(66) << c.key_id() << std::setw(18) << Time(c.not_after_unix())
                  << c.subject() << (c.revoked() ? "  (revoked)" : "") << "\n";
      }
      return kOk;
    }
    if (verb == "get" || verb == "revoke") {
      if (Arg(2).empty()) return Usage(absl::StrCat("cert ", verb, " needs a key id"));
      v1::Certificate c;
      grpc::Status s;
      if (verb == "get") {
        v1::GetCertificateRequest req;
        req.set_key_id(Arg(2));
        s = stub->GetCertificate(Ctx().get(), req, &c);
      } else {
        v1::RevokeCertificateRequest req;
        req.set_key_id(Arg(2));
        req.set_reason(args_.Flag("reason"));
        s = stub->RevokeCertificate(Ctx().get(), req, &c);
      }
      if (!s.ok()) return Failed(s);
      c.clear_certificate_der();
      Print(c);
      return kOk;
    }
    return Usage(absl::StrCat("unknown verb cert ", verb));
  }

  // ----------------------------------------------------------- assets
  int Asset(const std::string& verb) {
    auto stub = v1::AssetService::NewStub(channel_);
    if (verb == "upload") return Upload(stub.get());
    if (verb == "list") {
      v1::ListAssetsRequest req;
      v1::ListAssetsResponse all;
      do {
        v1::ListAssetsResponse resp;
        grpc::Status s = stub->ListAssets(Ctx().get(), req, &resp);
        if (!s.ok()) return Failed(s);
        for (auto& a : resp.assets()) *all.add_assets() = a;
        req.set_page_token(resp.next_page_token());
      } while (!req.page_token().empty());
      if (json_) {
        Print(all);
        return kOk;
      }
      std::cout << std::left << std::setw(66) << "SHA256" << std::setw(14) << "SIZE" << "NAME\n";
      for (const auto& a : all.assets()) {
        std::cout << std::setw(66) << a.sha256() << std::setw(14) << a.size() << a.name() << "\n";
      }
      return kOk;
    }
    if (verb == "get") {
      v1::GetAssetRequest req;
      req.set_sha256(Arg(2));
      v1::Asset a;
      grpc::Status s = stub->GetAsset(Ctx().get(), req, &a);
      if (!s.ok()) return Failed(s);
      Print(a);
      return kOk;
    }
    if (verb == "delete") {
      v1::DeleteAssetRequest req;
      req.set_sha256(Arg(2));
      v1::DeleteAssetResponse resp;
      grpc::Status s = stub->DeleteAsset(Ctx().get(), req, &resp);
      if (!s.ok()) return Failed(s);
      if (!json_) std::cout << "deleted " << Arg(2) << "\n";
      return kOk;
    }
    return Usage(absl::StrCat("unknown verb asset ", verb));
  }

  // Uploads a file, resuming from what the server already holds, with a
  // progress bar on a terminal.
  int Upload(v1::AssetService::Stub* stub) {
    const std::string path = Arg(2);
    if (path.empty()) return Usage("asset upload needs a file");
    FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) {
      std::cerr << "otactl: cannot open " << path << "\n";
      return kLocal;
    }
    common::Sha256 hasher;
    std::string buf(kUploadChunk, '\0');
    uint64_t size = 0;
    size_t n;
    while ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0) {
      hasher.Update(absl::string_view(buf.data(), n));
      size += n;
    }
    const std::string sha = common::HexEncode(hasher.Finish());
    if (size == 0) {
      std::fclose(f);
      std::cerr << "otactl: " << path << " is empty\n";
      return kLocal;
    }
    uint64_t offset = 0;
    {
      v1::GetUploadStatusRequest req;
      req.set_sha256(sha);
      v1::GetUploadStatusResponse st;
      grpc::Status s = stub->GetUploadStatus(Ctx().get(), req, &st);
      if (s.ok() && !st.complete()) offset = st.bytes_received();
      if (!s.ok() && s.error_code() != grpc::StatusCode::NOT_FOUND) {
        std::fclose(f);
        return Failed(s);
      }
      if (offset > 0 && !json_) std::cerr << "resuming at byte " << offset << "\n";
    }
    const bool bar = !json_ && isatty(2);
    grpc::ClientContext ctx;
    Authorize(&ctx);
    v1::UploadAssetResponse resp;
    auto writer = stub->UploadAsset(&ctx, &resp);
    v1::UploadAssetRequest header;
    header.mutable_header()->set_sha256(sha);
    header.mutable_header()->set_size(size);
    header.mutable_header()->set_offset(offset);
    std::string name = args_.Flag("name");
    if (name.empty()) name = path.substr(path.rfind('/') + 1);
    header.mutable_header()->set_name(name);
    bool ok = writer->Write(header);
    std::fseek(f, static_cast<long>(offset), SEEK_SET);
    uint64_t sent = offset;
    const absl::Time start = absl::Now();
    while (ok && (n = std::fread(buf.data(), 1, buf.size(), f)) > 0) {
      v1::UploadAssetRequest chunk;
      chunk.set_chunk(buf.data(), n);
      ok = writer->Write(chunk);
      sent += n;
      if (bar) {
        double secs = absl::ToDoubleSeconds(absl::Now() - start);
        int pct = static_cast<int>(100 * sent / size);
        std::cerr << "\r[" << std::string(pct / 4, '#') << std::string(25 - pct / 4, ' ')
                  << "] " << std::setw(3) << pct << "%  "
                  << static_cast<int>((sent - offset) / 1e6 / (secs > 0 ? secs : 1)) << " MB/s";
      }
    }
    std::fclose(f);
    writer->WritesDone();
    grpc::Status s = writer->Finish();
    if (bar) std::cerr << "\n";
    if (!s.ok()) return Failed(s);
    if (json_) {
      Print(resp);
    } else if (resp.complete()) {
      std::cout << "uploaded " << resp.asset().sha256() << " (" << size << " bytes) at "
                << resp.asset().download_path() << "\n";
    } else {
      std::cout << "incomplete: the server holds " << resp.bytes_received() << " of " << size
                << " bytes; run the same command again to resume\n";
      return kRefused;
    }
    return kOk;
  }

  // -------------------------------------------------------- manifests
  int Manifest(const std::string& verb) {
    auto stub = v1::ManifestService::NewStub(channel_);
    if (verb == "upload") {
      absl::StatusOr<std::string> bytes = common::ReadFile(Arg(2), 1 << 20);
      if (!bytes.ok()) {
        std::cerr << "otactl: " << bytes.status().message() << "\n";
        return Arg(2).empty() ? Usage("manifest upload needs a file") : kLocal;
      }
      v1::UploadManifestRequest req;
      req.set_signed_manifest(*bytes);
      req.set_validate_only(args_.Has("validate-only"));
      v1::ManifestRecord rec;
      grpc::Status s = stub->UploadManifest(Ctx().get(), req, &rec);
      if (!s.ok()) return Failed(s);
      if (json_) {
        rec.clear_signed_manifest();
        rec.mutable_manifest()->mutable_payload()->clear_chunk_sha256();
        Print(rec);
      } else {
        std::cout << (req.validate_only() ? "valid " : "uploaded ") << rec.manifest_id()
                  << "  sequence " << rec.manifest().sequence_number() << "  version "
                  << rec.manifest().version() << "\n";
      }
      return kOk;
    }
    if (verb == "list") {
      v1::ListManifestsRequest req;
      req.set_class_id(args_.Flag("class"));
      req.set_vendor_id(args_.Flag("vendor"));
      v1::ListManifestsResponse all;
      do {
        v1::ListManifestsResponse resp;
        grpc::Status s = stub->ListManifests(Ctx().get(), req, &resp);
        if (!s.ok()) return Failed(s);
        for (auto& m : resp.manifests()) *all.add_manifests() = m;
        req.set_page_token(resp.next_page_token());
      } while (!req.page_token().empty());
      if (json_) {
        Print(all);
        return kOk;
      }
      std::cout << std::left << std::setw(66) << "MANIFEST ID" << std::setw(10) << "SEQUENCE"
                << std::setw(12) << "VERSION" << "CLASS\n";
      for (const auto& m : all.manifests()) {
        std::cout << std::setw(66) << m.manifest_id() << std::setw(10)
                  << m.manifest().sequence_number() << std::setw(12) << m.manifest().version()
                  << m.class_id() << "\n";
      }
      return kOk;
    }
    if (verb == "get") {
      v1::GetManifestRequest req;
      req.set_manifest_id(Arg(2));
      v1::ManifestRecord rec;
      grpc::Status s = stub->GetManifest(Ctx().get(), req, &rec);
      if (!s.ok()) return Failed(s);
      if (args_.Has("output")) {
        absl::Status w = common::WriteFileAtomically(
            args_.Flag("output"), rec.signed_manifest().SerializeAsString());
        if (!w.ok()) {
          std::cerr << "otactl: " << w.message() << "\n";
          return kLocal;
        }
      }
      rec.clear_signed_manifest();
      rec.mutable_manifest()->mutable_payload()->clear_chunk_sha256();
      Print(rec);
      return kOk;
    }
    return Usage(absl::StrCat("unknown verb manifest ", verb));
  }

  // ---------------------------------------------------------- devices
  // One device for people (JSON with --json).
  void Show(const v1::Device& d) {
    if (json_) {
      Print(d);
      return;
    }
    std::cout << "device " << d.device_id() << "  " << (d.online() ? "online" : "offline")
              << "  vendor " << d.vendor_id() << "  class " << d.class_id() << "\n";
    const v1::InstalledImage& in = d.installed();
    if (in.sequence_number() != 0 || !in.image_sha256().empty()) {
      std::cout << "  runs sequence " << in.sequence_number()
                << (in.version().empty() ? "" : " (" + in.version() + ")") << " from slot "
                << in.active_slot() << (in.trial() ? " on trial" : "") << ", image "
                << HexPrefix(in.image_sha256()) << "\n";
    } else {
      std::cout << "  has not connected yet\n";
    }
    std::map<std::string, std::string> attrs(d.attributes().begin(), d.attributes().end());
    std::vector<std::string> kv;
    for (const auto& [k, v] : attrs) kv.push_back(absl::StrCat(k, "=", v));
    if (!kv.empty()) std::cout << "  attributes " << absl::StrJoin(kv, " ") << "\n";
    if (d.last_seen_unix() != 0) std::cout << "  last seen " << Time(d.last_seen_unix()) << "\n";
  }

  static std::string HexPrefix(const std::string& bytes) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (size_t i = 0; i < bytes.size() && i < 8; ++i) {
      out += kHex[static_cast<unsigned char>(bytes[i]) >> 4];
      out += kHex[static_cast<unsigned char>(bytes[i]) & 15];
    }
    return bytes.size() > 8 ? out + "..." : out;
  }

  int Device(const std::string& verb) {
    auto stub = v1::DeviceRegistryService::NewStub(channel_);
    if (verb == "register") {
      v1::RegisterDeviceRequest req;
      req.set_device_id(Arg(2));
      req.set_vendor_id(args_.Flag("vendor"));
      req.set_class_id(args_.Flag("class"));
      for (const std::string& kv : args_.All("attr")) {
        std::pair<std::string, std::string> p = absl::StrSplit(kv, absl::MaxSplits('=', 1));
        (*req.mutable_attributes())[p.first] = p.second;
      }
      v1::Device d;
      grpc::Status s = stub->RegisterDevice(Ctx().get(), req, &d);
      if (!s.ok()) return Failed(s);
      Show(d);
      return kOk;
    }
    if (verb == "list") {
      v1::ListDevicesRequest req;
      req.set_filter(args_.Flag("filter"));
      req.set_online_only(args_.Has("online"));
      v1::ListDevicesResponse all;
      do {
        v1::ListDevicesResponse resp;
        grpc::Status s = stub->ListDevices(Ctx().get(), req, &resp);
        if (!s.ok()) return Failed(s);
        if (req.page_token().empty()) all.set_total_size(resp.total_size());
        for (auto& d : resp.devices()) *all.add_devices() = d;
        req.set_page_token(resp.next_page_token());
      } while (!req.page_token().empty());
      if (json_) {
        Print(all);
        return kOk;
      }
      std::cout << std::left << std::setw(24) << "DEVICE" << std::setw(8) << "ONLINE"
                << std::setw(6) << "SLOT" << std::setw(10) << "SEQUENCE" << std::setw(12)
                << "VERSION" << "LAST SEEN\n";
      for (const auto& d : all.devices()) {
        std::cout << std::setw(24) << d.device_id() << std::setw(8) << (d.online() ? "yes" : "no")
                  << std::setw(6) << d.installed().active_slot() << std::setw(10)
                  << d.installed().sequence_number() << std::setw(12) << d.installed().version()
                  << Time(d.last_seen_unix()) << "\n";
      }
      std::cout << all.total_size() << " device(s)\n";
      return kOk;
    }
    if (verb == "get") {
      v1::GetDeviceRequest req;
      req.set_device_id(Arg(2));
      v1::Device d;
      grpc::Status s = stub->GetDevice(Ctx().get(), req, &d);
      if (!s.ok()) return Failed(s);
      Show(d);
      return kOk;
    }
    if (verb == "set-attr") {
      v1::UpdateDeviceAttributesRequest req;
      req.set_device_id(Arg(2));
      for (size_t i = 3; i < args_.positional.size(); ++i) {
        std::pair<std::string, std::string> p =
            absl::StrSplit(args_.positional[i], absl::MaxSplits('=', 1));
        (*req.mutable_set_attributes())[p.first] = p.second;
      }
      for (const std::string& k : args_.All("remove")) req.add_remove_attributes(k);
      v1::Device d;
      grpc::Status s = stub->UpdateDeviceAttributes(Ctx().get(), req, &d);
      if (!s.ok()) return Failed(s);
      Show(d);
      return kOk;
    }
    if (verb == "cert") {
      // A certificate for the device's key, from its CSR, by otad's fleet CA.
      if (Arg(2).empty() || !args_.Has("csr")) return Usage("device cert ID --csr=FILE");
      absl::StatusOr<std::string> csr = common::ReadFile(args_.Flag("csr"), 1 << 20);
      if (!csr.ok()) {
        std::cerr << "otactl: " << csr.status().message() << "\n";
        return kLocal;
      }
      auto access = v1::AccessService::NewStub(channel_);
      v1::IssueDeviceCertificateRequest req;
      req.set_device_id(Arg(2));
      req.set_csr_pem(*csr);
      if (args_.Has("validity")) {
        int64_t seconds = 0;
        if (!absl::SimpleAtoi(args_.Flag("validity"), &seconds)) return Usage("--validity");
        req.set_validity_seconds(seconds);
      }
      v1::IssueDeviceCertificateResponse resp;
      grpc::Status s = access->IssueDeviceCertificate(Ctx().get(), req, &resp);
      if (!s.ok()) return Failed(s);
      if (json_) {
        Print(resp);
      } else {
        std::cout << resp.certificate_pem();
        for (const std::string& ca : resp.ca_chain_pem()) std::cout << ca;
        std::cerr << "serial " << resp.serial_number() << ", valid until "
                  << Time(resp.not_after_unix()) << "\n";
      }
      return kOk;
    }
    if (verb == "delete") {
      v1::DeleteDeviceRequest req;
      req.set_device_id(Arg(2));
      v1::DeleteDeviceResponse resp;
      grpc::Status s = stub->DeleteDevice(Ctx().get(), req, &resp);
      if (!s.ok()) return Failed(s);
      if (!json_) std::cout << "deleted " << Arg(2) << "\n";
      return kOk;
    }
    return Usage(absl::StrCat("unknown verb device ", verb));
  }

  // ---------------------------------------------------------- campaigns
  static std::string StateName(v1::CampaignState s) {
    std::string n = v1::CampaignState_Name(s);
    return n.substr(std::string("CAMPAIGN_STATE_").size());
  }
  static std::string DeploymentStateName(v1::DeploymentState s) {
    std::string n = v1::DeploymentState_Name(s);
    return n.substr(std::string("DEPLOYMENT_STATE_").size());
  }

  void Summary(const v1::Campaign& c) {
    const v1::CampaignStats& st = c.stats();
    std::cout << "campaign " << c.campaign_id() << "  \"" << c.name() << "\"  "
              << StateName(c.state()) << (c.state_reason().empty() ? "" : ": " + c.state_reason())
              << "\n  wave " << c.current_wave() << " of "
              << std::max(1, c.policy().waves_size()) << ", " << st.total_targeted()
              << " device(s) targeted, " << st.awaiting_wave() << " awaiting a wave";
    if (st.held_elsewhere() > 0) std::cout << ", " << st.held_elsewhere() << " held elsewhere";
    if (c.policy().download_cap().max_concurrent() > 0) {
      std::cout << "\n  at most " << c.policy().download_cap().max_concurrent()
                << " download(s) at once per " << c.policy().download_cap().attribute();
    }
    std::cout << "\n  ";
    for (const auto& sc : st.state_counts()) {
      std::cout << DeploymentStateName(sc.state()) << " " << sc.count() << "  ";
    }
    std::cout << "\n";
    for (const auto& w : st.waves()) {
      uint64_t done = 0;
      for (const auto& sc : w.state_counts()) {
        if (sc.state() >= v1::DEPLOYMENT_STATE_SUCCEEDED ||
            sc.state() == v1::DEPLOYMENT_STATE_REJECTED) {
          done += sc.count();
        }
      }
      int width = w.device_count() == 0 ? 0 : static_cast<int>(30 * done / w.device_count());
      std::cout << "  wave " << w.wave() << " [" << std::string(width, '#')
                << std::string(30 - width, ' ') << "] " << done << "/" << w.device_count()
                << " done, " << static_cast<int>(100 * w.success_ratio()) << "% succeeded\n";
    }
    for (const auto& r : st.failure_reasons()) {
      std::cout << "  failed: " << v1::ReasonCode_Name(r.reason()) << " x" << r.count() << "\n";
    }
    for (const auto& k : c.conflicts()) {
      std::cout << "  conflict: " << k.device_count() << " device(s) held by campaign \""
                << k.campaign_name() << "\"\n";
    }
  }

  int CampaignCmd(const std::string& verb) {
    auto stub = v1::CampaignService::NewStub(channel_);
    v1::Campaign c;
    grpc::Status s;
    if (verb == "create") {
      v1::CreateCampaignRequest req;
      req.set_name(args_.Flag("name"));
      req.set_description(args_.Flag("description"));
      req.set_manifest_id(args_.Flag("manifest"));
      req.set_device_filter(args_.Flag("filter"));
      v1::RolloutPolicy* p = req.mutable_policy();
      for (const std::string& w : args_.All("wave")) {
        double pct = 0;
        uint64_t count = 0;
        if (absl::EndsWith(w, "%") && absl::SimpleAtod(w.substr(0, w.size() - 1), &pct)) {
          p->add_waves()->set_percent(pct);
        } else if (absl::SimpleAtoi(w, &count)) {
          p->add_waves()->set_device_count(count);
        } else {
          return Usage(absl::StrCat("--wave=", w, " is neither a count nor a percentage"));
        }
      }
      double ratio = 0;
      int64_t n = 0;
      if (args_.Has("success-ratio")) {
        if (!absl::SimpleAtod(args_.Flag("success-ratio"), &ratio)) return Usage("--success-ratio");
        p->set_success_ratio(ratio);
      }
      if (args_.Has("failure-ratio")) {
        if (!absl::SimpleAtod(args_.Flag("failure-ratio"), &ratio)) return Usage("--failure-ratio");
        p->set_failure_ratio(ratio);
      } else {
        p->set_failure_ratio(1);
      }
      if (args_.Has("soak")) {
        if (!absl::SimpleAtoi(args_.Flag("soak"), &n)) return Usage("--soak");
        p->set_wave_soak_seconds(n);
      }
      if (args_.Has("start-at")) {
        if (!absl::SimpleAtoi(args_.Flag("start-at"), &n)) return Usage("--start-at");
        p->set_start_unix(n);
      }
      if (args_.Has("cap")) {
        const std::string cap = args_.Flag("cap");
        const size_t colon = cap.rfind(':');
        uint32_t most = 0;
        if (colon == std::string::npos || !absl::SimpleAtoi(cap.substr(colon + 1), &most)) {
          return Usage(absl::StrCat("--cap=", cap, " is not ATTRIBUTE:COUNT"));
        }
        p->mutable_download_cap()->set_attribute(cap.substr(0, colon));
        p->mutable_download_cap()->set_max_concurrent(most);
      }
      s = stub->CreateCampaign(Ctx().get(), req, &c);
    } else if (verb == "start" || verb == "pause" || verb == "resume" || verb == "stop" ||
               verb == "get") {
      if (Arg(2).empty()) return Usage(absl::StrCat("campaign ", verb, " needs a campaign id"));
      if (verb == "start") {
        v1::StartCampaignRequest req;
        req.set_campaign_id(Arg(2));
        s = stub->StartCampaign(Ctx().get(), req, &c);
      } else if (verb == "pause") {
        v1::PauseCampaignRequest req;
        req.set_campaign_id(Arg(2));
        req.set_reason(args_.Flag("reason"));
        s = stub->PauseCampaign(Ctx().get(), req, &c);
      } else if (verb == "resume") {
        v1::ResumeCampaignRequest req;
        req.set_campaign_id(Arg(2));
        s = stub->ResumeCampaign(Ctx().get(), req, &c);
      } else if (verb == "stop") {
        v1::StopCampaignRequest req;
        req.set_campaign_id(Arg(2));
        req.set_reason(args_.Flag("reason"));
        s = stub->StopCampaign(Ctx().get(), req, &c);
      } else {
        v1::GetCampaignRequest req;
        req.set_campaign_id(Arg(2));
        s = stub->GetCampaign(Ctx().get(), req, &c);
      }
    } else if (verb == "list") {
      v1::ListCampaignsRequest req;
      v1::ListCampaignsResponse resp;
      s = stub->ListCampaigns(Ctx().get(), req, &resp);
      if (!s.ok()) return Failed(s);
      if (json_) {
        Print(resp);
        return kOk;
      }
      std::cout << std::left << std::setw(34) << "CAMPAIGN" << std::setw(14) << "STATE"
                << std::setw(6) << "WAVE" << "NAME\n";
      for (const auto& k : resp.campaigns()) {
        std::cout << std::setw(34) << k.campaign_id() << std::setw(14) << StateName(k.state())
                  << std::setw(6) << k.current_wave() << k.name() << "\n";
      }
      return kOk;
    } else if (verb == "deployments") {
      v1::ListDeploymentsRequest req;
      req.set_campaign_id(Arg(2));
      v1::ListDeploymentsResponse all;
      do {
        v1::ListDeploymentsResponse resp;
        s = stub->ListDeployments(Ctx().get(), req, &resp);
        if (!s.ok()) return Failed(s);
        for (auto& d : resp.deployments()) *all.add_deployments() = d;
        req.set_page_token(resp.next_page_token());
      } while (!req.page_token().empty());
      if (json_) {
        Print(all);
        return kOk;
      }
      std::cout << std::left << std::setw(24) << "DEVICE" << std::setw(6) << "WAVE"
                << std::setw(14) << "STATE" << "REASON\n";
      for (const auto& d : all.deployments()) {
        std::cout << std::setw(24) << d.device_id() << std::setw(6) << d.wave() << std::setw(14)
                  << DeploymentStateName(d.state())
                  << (d.reason() ? v1::ReasonCode_Name(d.reason()) : "") << "\n";
      }
      return kOk;
    } else if (verb == "watch") {
      grpc::ClientContext ctx;
      Authorize(&ctx);
      v1::WatchCampaignRequest req;
      req.set_campaign_id(Arg(2));
      req.set_min_interval_ms(500);
      auto reader = stub->WatchCampaign(&ctx, req);
      v1::CampaignEvent e;
      while (reader->Read(&e)) {
        if (json_) {
          Print(e);
          continue;
        }
        if (e.kind() == v1::CAMPAIGN_EVENT_KIND_HEARTBEAT) continue;
        std::cout << "\n" << absl::FormatTime("%H:%M:%S", absl::FromUnixMillis(e.time_ms()),
                                              absl::UTCTimeZone())
                  << " ";
        Summary(e.campaign());
      }
      s = reader->Finish();
      if (!s.ok()) return Failed(s);
      return kOk;
    } else {
      return Usage(absl::StrCat("unknown verb campaign ", verb));
    }
    if (!s.ok()) return Failed(s);
    if (json_) {
      Print(c);
    } else {
      Summary(c);
    }
    return kOk;
  }

  // ------------------------------------------------------------ access
  static std::string RoleName(v1::Role r) {
    return absl::AsciiStrToLower(v1::Role_Name(r).substr(sizeof("ROLE_") - 1));
  }

  int Token(const std::string& verb) {
    auto stub = v1::AccessService::NewStub(channel_);
    if (verb == "create") {
      v1::CreateTokenRequest req;
      req.set_name(args_.Flag("name"));
      const std::string role = absl::AsciiStrToUpper(args_.Flag("role"));
      v1::Role r = v1::ROLE_UNSPECIFIED;
      if (!v1::Role_Parse("ROLE_" + role, &r) || r == v1::ROLE_UNSPECIFIED) {
        return Usage(absl::StrCat("--role=", args_.Flag("role"),
                                  " is not viewer, operator, publisher or admin"));
      }
      req.set_role(r);
      if (args_.Has("expires-at")) {
        int64_t at = 0;
        if (!absl::SimpleAtoi(args_.Flag("expires-at"), &at)) return Usage("--expires-at");
        req.set_expires_unix(at);
      }
      v1::CreateTokenResponse resp;
      grpc::Status s = stub->CreateToken(Ctx().get(), req, &resp);
      if (!s.ok()) return Failed(s);
      if (json_) {
        Print(resp);
      } else {
        std::cout << "token " << resp.token().token_id() << "  \"" << resp.token().name()
                  << "\"  " << RoleName(resp.token().role()) << "\n"
                  << "secret " << resp.secret() << "\n"
                  << "(the secret is shown only now; otad keeps its SHA-256)\n";
      }
      return kOk;
    }
    if (verb == "list") {
      v1::ListTokensRequest req;
      req.set_include_revoked(args_.Has("all"));
      v1::ListTokensResponse all;
      do {
        v1::ListTokensResponse resp;
        grpc::Status s = stub->ListTokens(Ctx().get(), req, &resp);
        if (!s.ok()) return Failed(s);
        for (auto& t : resp.tokens()) *all.add_tokens() = t;
        req.set_page_token(resp.next_page_token());
      } while (!req.page_token().empty());
      if (json_) {
        Print(all);
        return kOk;
      }
      std::cout << std::left << std::setw(18) << "TOKEN" << std::setw(20) << "NAME" << std::setw(11)
                << "ROLE" << std::setw(18) << "CREATED" << std::setw(18) << "LAST USED"
                << "STATE\n";
      for (const auto& t : all.tokens()) {
        std::cout << std::setw(18) << t.token_id() << std::setw(20) << t.name() << std::setw(11)
                  << RoleName(t.role()) << std::setw(18) << Time(t.created_unix()) << std::setw(18)
                  << Time(t.last_used_unix()) << (t.revoked() ? "revoked" : "active") << "\n";
      }
      return kOk;
    }
    if (verb == "revoke") {
      if (Arg(2).empty()) return Usage("token revoke needs a token id");
      v1::RevokeTokenRequest req;
      req.set_token_id(Arg(2));
      v1::AccessToken t;
      grpc::Status s = stub->RevokeToken(Ctx().get(), req, &t);
      if (!s.ok()) return Failed(s);
      if (json_) {
        Print(t);
      } else {
        std::cout << "revoked " << t.token_id() << "  \"" << t.name() << "\"\n";
      }
      return kOk;
    }
    return Usage(absl::StrCat("unknown verb token ", verb));
  }

  int KeyList(const std::string& verb) {
    auto stub = v1::AccessService::NewStub(channel_);
    v1::KeyListRecord r;
    grpc::Status s;
    if (verb == "publish") {
      if (Arg(2).empty()) return Usage("keylist publish needs a file (ota-manifest key-list -o)");
      absl::StatusOr<std::string> bytes = common::ReadFile(Arg(2), 1 << 20);
      if (!bytes.ok()) {
        std::cerr << "otactl: " << bytes.status().message() << "\n";
        return kLocal;
      }
      v1::PublishKeyListRequest req;
      if (!req.mutable_signed_key_list()->ParseFromString(*bytes)) {
        std::cerr << "otactl: " << Arg(2) << " is not a signed key list\n";
        return kLocal;
      }
      s = stub->PublishKeyList(Ctx().get(), req, &r);
    } else if (verb == "get") {
      v1::GetKeyListRequest req;
      uint64_t version = 0;
      if (!Arg(2).empty() && !absl::SimpleAtoi(Arg(2), &version)) return Usage("keylist get [VERSION]");
      req.set_version(version);
      s = stub->GetKeyList(Ctx().get(), req, &r);
    } else {
      return Usage(absl::StrCat("unknown verb keylist ", verb));
    }
    if (!s.ok()) return Failed(s);
    if (json_) {
      Print(r);
      return kOk;
    }
    std::cout << "key list version " << r.version() << ", published " << Time(r.published_unix())
              << ", " << r.key_list().threshold() << " of " << r.key_list().keys_size()
              << " key(s) must sign\n";
    for (const auto& k : r.key_list().keys()) {
      std::cout << "  " << k.key_id() << "  " << k.description() << "  until "
                << Time(k.expires_unix()) << "\n";
    }
    std::cout << "  signed by root key(s) " << absl::StrJoin(r.signing_key_ids(), ", ") << "\n";
    return kOk;
  }

  int Audit(const std::string& verb) {
    if (verb != "list") return Usage(absl::StrCat("unknown verb audit ", verb));
    auto stub = v1::AccessService::NewStub(channel_);
    v1::ListAuditEventsRequest req;
    req.set_actor(args_.Flag("actor"));
    req.set_page_size(100);
    v1::ListAuditEventsResponse resp;
    grpc::Status s = stub->ListAuditEvents(Ctx().get(), req, &resp);
    if (!s.ok()) return Failed(s);
    if (json_) {
      Print(resp);
      return kOk;
    }
    for (const auto& e : resp.events()) {
      std::cout << absl::FormatTime("%Y-%m-%d %H:%M:%E3S", absl::FromUnixMillis(e.time_ms()),
                                    absl::UTCTimeZone())
                << "  " << (e.actor().empty() ? "-" : e.actor()) << "  " << e.action() << "  "
                << (e.target().empty() ? "-" : e.target()) << "  "
                << GrpcCodeName(static_cast<grpc::StatusCode>(e.result_code()))
                << (e.result_message().empty() ? "" : ": " + e.result_message()) << "\n";
    }
    return kOk;
  }

  const Args& args_;
  bool json_;
  std::string token_;
  std::string server_;
  std::shared_ptr<grpc::Channel> channel_;
};

}  // namespace
}  // namespace ota::tools

int main(int argc, char** argv) {
  ota::tools::Args args = ota::tools::Parse(argc, argv);
  return ota::tools::Cli(args).Run();
}
