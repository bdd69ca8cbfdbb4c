// The operator web page's files (server/web/files/), compiled into otad by
// the `web_files` genrule so that the binary needs nothing beside it.
//
//   for (const WebFile& f : EmbeddedWebFiles()) ... f.name ... f.bytes ...
#ifndef OTA_SERVER_WEB_WEB_FILES_H_
#define OTA_SERVER_WEB_WEB_FILES_H_

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace ota::server::web {

// One file: its base name ("app.js") and its bytes.
struct WebFile {
  absl::string_view name;
  absl::string_view bytes;
};

// Every embedded file, sorted by name; the storage is static.
absl::Span<const WebFile> EmbeddedWebFiles();

}  // namespace ota::server::web

#endif  // OTA_SERVER_WEB_WEB_FILES_H_
