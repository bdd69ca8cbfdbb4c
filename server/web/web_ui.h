// Serves the operator web page: GET / is index.html, GET /ui/<name> is one
// of the page's files. The page itself talks only to the REST gateway.
//
//   WebUi ui(EmbeddedWebFiles());
//   routes: {"/", [&ui](const HttpRequest& r) { return ui.Handle(r); }}
//
// Mounted at "/", the handler is the fallback for every path no other route
// takes, so anything that is not "/" or a known file is 404. Every answer
// carries a strong ETag (of the file's SHA-256) and `Cache-Control:
// no-cache`, so a browser revalidates each time and gets 304 while the
// file is unchanged.
#ifndef OTA_SERVER_WEB_WEB_UI_H_
#define OTA_SERVER_WEB_WEB_UI_H_

#include <map>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "server/http/http_server.h"
#include "server/web/web_files.h"

namespace ota::server::web {

// The Content-Type for a file name, by its extension;
// application/octet-stream for an unknown one.
absl::string_view ContentTypeFor(absl::string_view name);

class WebUi {
 public:
  // `files` must outlive the WebUi; one of them should be index.html.
  explicit WebUi(absl::Span<const WebFile> files);

  // Answers GET and HEAD (405 for other methods): 200 with the file, 304
  // when If-None-Match names its ETag, 404 for an unknown path.
  HttpResponse Handle(const HttpRequest& request) const;

 private:
  struct Entry {
    absl::string_view bytes;
    absl::string_view content_type;
    std::string etag;
  };
  std::map<std::string, Entry, std::less<>> files_;
};

}  // namespace ota::server::web

#endif  // OTA_SERVER_WEB_WEB_UI_H_
