// The web page's file server over a real HTTP server, with curl as the
// client: the right file and Content-Type for each path, ETag and
// revalidation, 404 and 405.
#include "server/web/web_ui.h"

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/base/file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/http/http_server.h"
#include "server/web/web_files.h"

namespace ota::server::web {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

struct CurlResult {
  int status = 0;
  std::map<std::string, std::string> headers;  // lowercase names
  std::string body;
};

constexpr WebFile kFiles[] = {
    {"app.js", "export const answer = 42;\n"},
    {"index.html", "<!doctype html><title>t</title>\n"},
    {"style.css", "body { margin: 0 }\n"},
};

class WebUiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(std::getenv("TEST_TMPDIR"), "/",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_TRUE(common::MakeDirs(dir_).ok());
    HttpServerOptions options;
    options.address = "127.0.0.1:0";
    auto server = HttpServer::Start(
        options, {{"/", [this](const HttpRequest& r) { return ui_.Handle(r); }},
                  {"/healthz", [](const HttpRequest&) { return HttpResponse::Text(200, "ok\n"); }}});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    base_ = absl::StrCat("http://127.0.0.1:", server_->port());
  }

  // Runs curl with `args` and returns the response's status, headers and body.
  CurlResult Curl(const std::string& args) {
    const std::string headers = dir_ + "/headers";
    const std::string body = dir_ + "/body";
    std::remove(body.c_str());
    std::string cmd = absl::StrCat("curl -s -S -D ", headers, " -o ", body, " ", args, " > ",
                                   dir_, "/curl.out 2>&1");
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd << "\n" << *common::ReadFile(dir_ + "/curl.out");
    CurlResult r;
    for (absl::string_view line :
         absl::StrSplit(common::ReadFile(headers).value_or(""), "\r\n")) {
      if (absl::StartsWith(line, "HTTP/")) {
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

  WebUi ui_{kFiles};
  std::unique_ptr<HttpServer> server_;
  std::string dir_, base_;
};

TEST_F(WebUiTest, RootIsIndexHtml) {
  CurlResult r = Curl(base_ + "/");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "<!doctype html><title>t</title>\n");
  EXPECT_EQ(r.headers["content-type"], "text/html; charset=utf-8");
  EXPECT_EQ(r.headers["cache-control"], "no-cache");
  EXPECT_THAT(r.headers["etag"], MatchesRegex("\"[0-9a-f]{32}\""));
}

TEST_F(WebUiTest, FilesUnderUiWithTheirContentTypes) {
  CurlResult js = Curl(base_ + "/ui/app.js");
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.body, "export const answer = 42;\n");
  EXPECT_EQ(js.headers["content-type"], "text/javascript; charset=utf-8");
  EXPECT_EQ(js.headers["cache-control"], "no-cache");
  EXPECT_EQ(js.headers["x-content-type-options"], "nosniff");

  CurlResult css = Curl(base_ + "/ui/style.css");
  EXPECT_EQ(css.status, 200);
  EXPECT_EQ(css.body, "body { margin: 0 }\n");
  EXPECT_EQ(css.headers["content-type"], "text/css; charset=utf-8");
  EXPECT_NE(css.headers["etag"], js.headers["etag"]);

  CurlResult index = Curl(base_ + "/ui/index.html");
  EXPECT_EQ(index.status, 200);
  EXPECT_EQ(index.headers["etag"], Curl(base_ + "/").headers["etag"]);
}

TEST_F(WebUiTest, RevalidationWithTheEtagIsNotModified) {
  const std::string etag = Curl(base_ + "/ui/app.js").headers["etag"];
  CurlResult same = Curl(absl::StrCat("-H 'If-None-Match: ", etag, "' ", base_, "/ui/app.js"));
  EXPECT_EQ(same.status, 304);
  EXPECT_EQ(same.body, "");
  EXPECT_EQ(same.headers["etag"], etag);
  EXPECT_EQ(same.headers["cache-control"], "no-cache");

  CurlResult weak =
      Curl(absl::StrCat("-H 'If-None-Match: \"0\", W/", etag, "' ", base_, "/ui/app.js"));
  EXPECT_EQ(weak.status, 304);

  CurlResult other = Curl(absl::StrCat("-H 'If-None-Match: \"0\"' ", base_, "/ui/app.js"));
  EXPECT_EQ(other.status, 200);
  EXPECT_EQ(other.body, "export const answer = 42;\n");
}

TEST_F(WebUiTest, UnknownPathsAreNotFound) {
  for (const char* path : {"/ui/missing.js", "/ui/", "/ui", "/index.html", "/ui/../BUILD",
                           "/ui/sub/app.js", "/campaigns"}) {
    CurlResult r = Curl(absl::StrCat("--path-as-is ", base_, path));
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_EQ(r.body, "not found\n") << path;
  }
  // Longer routes still win.
  EXPECT_EQ(Curl(base_ + "/healthz").body, "ok\n");
}

TEST_F(WebUiTest, HeadHasTheHeadersAndOtherMethodsAreRefused) {
  CurlResult head = Curl("-I " + base_ + "/ui/style.css");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.headers["content-type"], "text/css; charset=utf-8");
  EXPECT_EQ(head.headers["content-length"], "19");

  CurlResult post = Curl("-X POST -d x " + base_ + "/");
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(post.headers["allow"], "GET, HEAD");
}

TEST(ContentTypeFor, ByExtension) {
  EXPECT_EQ(ContentTypeFor("a.html"), "text/html; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("a.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("a.svg"), "image/svg+xml");
  EXPECT_EQ(ContentTypeFor("README"), "application/octet-stream");
}

// The files built into otad: the page and the modules it loads.
TEST(EmbeddedWebFiles, HoldThePage) {
  std::map<std::string, std::string> files;
  for (const WebFile& f : EmbeddedWebFiles()) files[std::string(f.name)] = std::string(f.bytes);
  ASSERT_EQ(files.count("index.html"), 1u);
  EXPECT_THAT(files["index.html"], HasSubstr("<script type=\"module\" src=\"/ui/app.js\">"));
  EXPECT_THAT(files["index.html"], HasSubstr("href=\"/ui/style.css\""));
  EXPECT_EQ(files.count("app.js"), 1u);
  EXPECT_EQ(files.count("style.css"), 1u);
  // Every module that a file imports is embedded too.
  for (const auto& [name, text] : files) {
    for (absl::string_view part : absl::StrSplit(text, "from \"./")) {
      if (part.data() == text.data()) continue;
      std::string imported(part.substr(0, part.find('"')));
      EXPECT_EQ(files.count(imported), 1u) << name << " imports " << imported;
    }
  }
}

}  // namespace
}  // namespace ota::server::web
