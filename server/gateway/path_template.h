// URL path templates of google.api.http rules (google/api/http.proto):
// literal segments, `*` (one segment), `**` (the rest of the path, last
// only), variables `{field}` and `{field=pattern/*}` binding a request
// field, nested field paths `a.b`, and a `:verb` suffix.
//
//   auto t = PathTemplate::Parse("/v1/campaigns/{campaign_id}:start");
//   auto m = t->Match("/v1/campaigns/c%2D1:start");
//   // m->at(0) is {"campaign_id", "c-1"}
//
// Match takes the path as the client sent it, percent-encoded. A
// single-segment variable's value is fully decoded (%2F becomes '/'); a
// multi-segment variable keeps %2F encoded so its '/' separators stay
// distinguishable, as http.proto specifies.
#ifndef OTA_SERVER_GATEWAY_PATH_TEMPLATE_H_
#define OTA_SERVER_GATEWAY_PATH_TEMPLATE_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ota::server::gateway {

// A value the path gives a request field.
struct PathBinding {
  // Dotted field path, e.g. "policy.download_cap.attribute".
  std::string field_path;
  std::string value;
};

class PathTemplate {
 public:
  // INVALID_ARGUMENT, naming the problem, when `text` is not a template:
  // no leading '/', an empty segment, unbalanced or nested braces, a bad
  // field path, a variable bound twice, `**` anywhere but last, an empty
  // verb, or a reserved character in a literal.
  static absl::StatusOr<PathTemplate> Parse(absl::string_view text);

  // The bindings when `path` (percent-encoded, without the query) matches;
  // nothing otherwise, also when a variable's value has a bad escape.
  std::optional<std::vector<PathBinding>> Match(absl::string_view path) const;

  // The template as parsed.
  const std::string& text() const { return text_; }
  // The verb without its ':', or empty.
  const std::string& verb() const { return verb_; }
  // The field paths of the variables, in order.
  std::vector<std::string> variables() const;
  // The path in OpenAPI form: each variable as "{field.path}".
  std::string OpenApiPath() const;
  // Orders overlapping templates: a verb, then more literal segments, then
  // fewer wildcards make a template more specific.
  bool MoreSpecificThan(const PathTemplate& other) const;

 private:
  struct Segment {
    enum Kind { kLiteral, kAny, kRest } kind = kLiteral;
    std::string literal;
    // Index into variables_ of the variable this segment belongs to, or -1.
    int variable = -1;
  };
  struct Variable {
    std::string field_path;
    size_t first = 0;  // segments [first, end)
    size_t end = 0;
  };

  std::string text_;
  std::vector<Segment> segments_;
  std::vector<Variable> variables_;
  std::string verb_;
};

// Decodes %XX escapes. With `keep_slash`, %2F and %2f stay as they are.
// INVALID_ARGUMENT on a truncated or non-hex escape.
absl::StatusOr<std::string> PercentDecode(absl::string_view text, bool keep_slash = false);

}  // namespace ota::server::gateway

#endif  // OTA_SERVER_GATEWAY_PATH_TEMPLATE_H_
