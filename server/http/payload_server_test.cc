// The payload server with curl, a real HTTP client, as devices and caches
// would use it.
#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/base/clock.h"
#include "common/base/file.h"
#include "common/crypto/bytes.h"
#include "common/crypto/sha256.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"
#include "server/http/http_server.h"
#include "server/http/payload_handler.h"

namespace ota::server {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kNow = 1800000000;

struct CurlResult {
  int status = 0;
  std::map<std::string, std::string> headers;  // lowercase names
  std::string body;
};

class PayloadServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(std::getenv("TEST_TMPDIR"), "/",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_TRUE(common::MakeDirs(dir_).ok());
    blobs_ = *BlobStore::Open(dir_ + "/blobs");
    data_.resize(3 << 20);
    for (size_t i = 0; i < data_.size(); ++i) data_[i] = static_cast<char>((i * 2654435761u) >> 13);
    sha_ = common::HexEncode(common::Sha256Digest(data_));
    auto w = *blobs_->StartUpload(sha_, data_.size(), 0);
    ASSERT_TRUE(w->Append(data_).ok());
    ASSERT_TRUE(w->Finish().ok());
  }

  void StartServer(const std::string& url_key = "", int idle_timeout = 30) {
    handler_ = std::make_unique<PayloadHandler>(blobs_.get(), &clock_, url_key);
    HttpServerOptions options;
    options.address = "127.0.0.1:0";
    options.idle_timeout_seconds = idle_timeout;
    options.metrics = &registry_;
    auto server = HttpServer::Start(
        options, {{kPayloadPrefix, [this](const HttpRequest& r) { return handler_->Handle(r); }},
                  {"/healthz", [](const HttpRequest&) { return HttpResponse::Text(200, "ok\n"); }}});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    base_ = absl::StrCat("http://127.0.0.1:", server_->port());
  }

  // Runs curl with `args` and returns the last response's status, headers
  // and body.
  CurlResult Curl(const std::string& args, const std::string& out_file = "") {
    const std::string headers = dir_ + "/headers";
    const std::string body = out_file.empty() ? dir_ + "/body" : out_file;
    if (out_file.empty()) std::remove(body.c_str());
    std::string cmd = absl::StrCat("curl -s -S -D ", headers, " -o ", body, " ", args,
                                   " > ", dir_, "/curl.out 2>&1");
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd << "\n" << *common::ReadFile(dir_ + "/curl.out");
    CurlResult r;
    std::string text = common::ReadFile(headers).value_or("");
    for (absl::string_view line : absl::StrSplit(text, "\r\n")) {
      if (absl::StartsWith(line, "HTTP/")) {
        r.headers.clear();
        std::vector<std::string> parts = absl::StrSplit(line, ' ');
        if (parts.size() >= 2) r.status = std::atoi(parts[1].c_str());
        continue;
      }
      size_t colon = line.find(':');
      if (colon == absl::string_view::npos) continue;
      r.headers[absl::AsciiStrToLower(line.substr(0, colon))] =
          std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
    }
    r.body = common::ReadFile(body).value_or("");
    return r;
  }

  std::string Url() const { return absl::StrCat(base_, kPayloadPrefix, sha_); }

  std::string dir_, data_, sha_, base_;
  common::FakeClock clock_{kNow * 1000};
  prometheus::Registry registry_;
  std::unique_ptr<BlobStore> blobs_;
  std::unique_ptr<PayloadHandler> handler_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(PayloadServerTest, FullGet) {
  StartServer();
  CurlResult r = Curl(Url());
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, data_);
  EXPECT_EQ(r.headers["etag"], "\"" + sha_ + "\"");
  EXPECT_EQ(r.headers["accept-ranges"], "bytes");
  EXPECT_EQ(r.headers["cache-control"], "public, max-age=31536000, immutable");
  EXPECT_EQ(r.headers["content-length"], absl::StrCat(data_.size()));
}

TEST_F(PayloadServerTest, EveryRangeForm) {
  StartServer();
  CurlResult r = Curl("-r 10-19 " + Url());
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.headers["content-range"], absl::StrCat("bytes 10-19/", data_.size()));
  EXPECT_EQ(r.body, data_.substr(10, 10));

  r = Curl("-r 3000000- " + Url());
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, data_.substr(3000000));

  r = Curl("-r -100 " + Url());
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.headers["content-range"],
            absl::StrCat("bytes ", data_.size() - 100, "-", data_.size() - 1, "/", data_.size()));
  EXPECT_EQ(r.body, data_.substr(data_.size() - 100));

  r = Curl(absl::StrCat("-r ", data_.size(), "- ", Url()));
  EXPECT_EQ(r.status, 416);
  EXPECT_EQ(r.headers["content-range"], absl::StrCat("bytes */", data_.size()));

  // Several ranges: ignored, the whole body.
  r = Curl("-r 0-1,5-6 " + Url());
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.size(), data_.size());
  // Malformed: ignored.
  r = Curl("-H 'Range: bytes=9-5' " + Url());
  EXPECT_EQ(r.status, 200);
}

TEST_F(PayloadServerTest, ResumeWithCurl) {
  StartServer();
  const std::string out = dir_ + "/partial.bin";
  ASSERT_TRUE(common::WriteFileAtomically(out, data_.substr(0, 1234567)).ok());
  CurlResult r = Curl("-C - " + Url(), out);
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.headers["content-range"], absl::StrCat("bytes 1234567-", data_.size() - 1, "/",
                                                     data_.size()));
  EXPECT_EQ(r.body, data_);
}

TEST_F(PayloadServerTest, IfRangeAndIfNoneMatch) {
  StartServer();
  CurlResult r = Curl("-r 0-9 -H 'If-Range: \"0000\"' " + Url());
  EXPECT_EQ(r.status, 200) << "a stale If-Range gets the whole body";
  EXPECT_EQ(r.body, data_);
  r = Curl("-r 0-9 -H 'If-Range: \"" + sha_ + "\"' " + Url());
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, data_.substr(0, 10));
  r = Curl("-H 'If-None-Match: \"x\", W/\"" + sha_ + "\"' " + Url());
  EXPECT_EQ(r.status, 304);
  EXPECT_EQ(r.body, "");
}

TEST_F(PayloadServerTest, Head) {
  StartServer();
  CurlResult r = Curl("-I " + Url());
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-length"], absl::StrCat(data_.size()));
  // curl -I writes the headers as its output; no payload byte follows them.
  EXPECT_TRUE(absl::EndsWith(r.body, "\r\n\r\n")) << r.body;
  EXPECT_LT(r.body.size(), 1000u);
}

TEST_F(PayloadServerTest, MissingTraversalAndMethods) {
  StartServer();
  std::string other = common::HexEncode(common::Sha256Digest("absent"));
  EXPECT_EQ(Curl(absl::StrCat(base_, kPayloadPrefix, other)).status, 404);
  CurlResult r = Curl(absl::StrCat("--path-as-is ", base_, "/payloads/../../../../etc/passwd"));
  EXPECT_EQ(r.status, 404);
  EXPECT_THAT(r.body, ::testing::Not(HasSubstr("root:")));
  r = Curl(absl::StrCat(base_, "/payloads/%2e%2e%2f%2e%2e%2fetc%2fpasswd"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(Curl(absl::StrCat(base_, "/payloads/", absl::AsciiStrToUpper(sha_))).status, 404);
  r = Curl("-X POST " + Url());
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers["allow"], "GET, HEAD");
  EXPECT_EQ(Curl(base_ + "/nothing-here").status, 404);
  EXPECT_EQ(Curl(base_ + "/healthz").body, "ok\n");
}

TEST_F(PayloadServerTest, ConcurrentDownloadsOfOneBlob) {
  StartServer();
  std::string cmd;
  for (int i = 0; i < 8; ++i) {
    absl::StrAppend(&cmd, "curl -s -o ", dir_, "/c", i, " ", Url(), " & ");
  }
  cmd += "wait";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(*common::ReadFile(absl::StrCat(dir_, "/c", i)), data_) << i;
  }
  std::string metrics = prometheus::TextSerializer().Serialize(registry_.Collect());
  EXPECT_THAT(metrics, HasSubstr("otad_http_requests_total{code=\"200\"} 8"));
}

TEST_F(PayloadServerTest, SignedUrls) {
  StartServer("url-secret");
  const std::string path = absl::StrCat(kPayloadPrefix, sha_);
  CurlResult r = Curl(Url());
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.body, "this server needs a signed URL (expires and sig)\n");
  std::string good = SignPayloadPath("url-secret", path, kNow + 60);
  r = Curl("'" + Url() + "?" + good + "'");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, data_);
  std::string wrong_key = SignPayloadPath("other", path, kNow + 60);
  r = Curl("'" + Url() + "?" + wrong_key + "'");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.body, "the URL signature is wrong\n");
  // The expiry is signed: moving it is a wrong signature.
  std::string moved = good;
  moved.replace(moved.find(absl::StrCat(kNow + 60)), 10, absl::StrCat(kNow + 9000));
  EXPECT_EQ(Curl("'" + Url() + "?" + moved + "'").status, 403);
  clock_.SetMillis((kNow + 61) * 1000);
  r = Curl("'" + Url() + "?" + good + "'");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.body, "the URL has expired\n");
}

TEST_F(PayloadServerTest, IdleConnectionIsClosed) {
  StartServer("", /*idle_timeout=*/1);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(server_->port());
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  // Send half a request line and go silent, as a slow client would.
  ASSERT_EQ(write(fd, "GET /pay", 8), 8);
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 10000), 1) << "the server kept an idle connection past 10 s";
  char buf[16];
  EXPECT_LE(read(fd, buf, sizeof(buf)), 0) << "closed without an answer";
  close(fd);
}

TEST_F(PayloadServerTest, OversizedHeadersAreRefused) {
  StartServer();
  std::string big(40000, 'x');
  CurlResult r = Curl("-H 'X-Big: " + big + "' " + Url());
  EXPECT_EQ(r.status, 431);
}

}  // namespace
}  // namespace ota::server
