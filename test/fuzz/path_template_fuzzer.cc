// Fuzzes the REST path templates (server/gateway/path_template.h): Parse,
// then Match against the path in the input and against a path built from
// the template itself.
//
// Input: the template, a newline, then the path. Aborts when a parsed
// template does not match a path made by filling in its variables and
// wildcards (with the input's path, percent-encoded), when a variable
// `{field}` so filled does not bind that value decoded, or when a match
// binds other fields than the template names.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "server/gateway/path_template.h"
#include "test/fuzz/invariant.h"

namespace {

using ota::fuzz::Require;

using ota::server::gateway::PathBinding;
using ota::server::gateway::PathTemplate;
using ota::server::gateway::PercentDecode;

// One segment of a path that the template segment `s` matches; `value`
// (percent-encoded) stands for "*".
std::string Fill(absl::string_view s, absl::string_view value) {
  if (s == "*") return std::string(value);
  if (s == "**") return absl::StrCat(value, "/w");
  return std::string(s);
}

// Every byte as %XX, so that any value survives as one segment.
std::string PercentEncode(absl::string_view raw) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : raw) {
    out += '%';
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

// A path that `t` must match: each variable and wildcard filled in with
// `value`, each literal as written (Match decodes both sides alike), the
// verb kept. `expected` receives, per variable in order, the value a
// single-segment variable `{field}` must bind, or nothing for the others.
std::string MatchingPath(const PathTemplate& t, absl::string_view value,
                         std::vector<std::optional<std::string>>* expected) {
  const std::string encoded = value.empty() ? "v" : PercentEncode(value);
  const std::string decoded = value.empty() ? "v" : std::string(value);
  absl::string_view body = t.text();
  if (!t.verb().empty()) body.remove_suffix(t.verb().size() + 1);
  body.remove_prefix(1);  // the leading '/'
  std::vector<std::string> pieces;
  size_t start = 0;
  int depth = 0;
  for (size_t i = 0; i <= body.size(); ++i) {
    if (i == body.size() || (body[i] == '/' && depth == 0)) {
      absl::string_view piece = body.substr(start, i - start);
      if (absl::StartsWith(piece, "{")) {
        absl::string_view inner = piece.substr(1, piece.size() - 2);
        size_t eq = inner.find('=');
        if (eq == absl::string_view::npos) {
          pieces.push_back(encoded);
          expected->push_back(decoded);
        } else {
          expected->push_back(std::nullopt);
          std::vector<std::string> parts;
          for (absl::string_view s : absl::StrSplit(inner.substr(eq + 1), '/')) {
            parts.push_back(Fill(s, encoded));
          }
          pieces.push_back(absl::StrJoin(parts, "/"));
        }
      } else {
        pieces.push_back(Fill(piece, encoded));
      }
      start = i + 1;
    } else if (body[i] == '{') {
      ++depth;
    } else if (body[i] == '}') {
      --depth;
    }
  }
  std::string path = absl::StrCat("/", absl::StrJoin(pieces, "/"));
  if (!t.verb().empty()) absl::StrAppend(&path, ":", t.verb());
  return path;
}

void CheckBindings(const PathTemplate& t,
                   const std::vector<PathBinding>& bindings,
                   absl::string_view path) {
  std::vector<std::string> variables = t.variables();
  Require(bindings.size() == variables.size(),
          "a match binds another number of fields",
          absl::StrCat(t.text(), "\n", path));
  for (size_t i = 0; i < bindings.size(); ++i) {
    Require(bindings[i].field_path == variables[i],
            "a match binds another field", absl::StrCat(t.text(), "\n", path));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view input(reinterpret_cast<const char*>(data), size);
  size_t newline = input.find('\n');
  absl::string_view text = input.substr(0, newline);
  absl::string_view path =
      newline == absl::string_view::npos ? "" : input.substr(newline + 1);

  absl::StatusOr<std::string> decoded = PercentDecode(path);
  if (decoded.ok()) Require(decoded->size() <= path.size(), "decoding grew");

  absl::StatusOr<PathTemplate> t = PathTemplate::Parse(text);
  if (!t.ok()) {
    Require(t.status().code() == absl::StatusCode::kInvalidArgument,
            "a refusal that is not INVALID_ARGUMENT", text);
    return 0;
  }
  Require(t->text() == text, "text() differs from the template", text);
  Require(!t->MoreSpecificThan(*t), "a template is more specific than itself",
          text);
  std::vector<std::string> variables = t->variables();
  for (size_t i = 0; i < variables.size(); ++i) {
    for (size_t j = i + 1; j < variables.size(); ++j) {
      Require(variables[i] != variables[j], "a field bound twice", text);
    }
  }
  (void)t->OpenApiPath();

  std::optional<std::vector<PathBinding>> m = t->Match(path);
  if (m) CheckBindings(*t, *m, path);

  std::vector<std::optional<std::string>> expected;
  const std::string filled = MatchingPath(*t, path.substr(0, 64), &expected);
  std::optional<std::vector<PathBinding>> own = t->Match(filled);
  Require(own.has_value(), "the template does not match its own filled path",
          absl::StrCat(text, "\n", filled));
  CheckBindings(*t, *own, filled);
  Require(expected.size() == own->size(), "variables counted differently",
          absl::StrCat(text, "\n", filled));
  for (size_t i = 0; i < expected.size(); ++i) {
    if (!expected[i]) continue;
    Require((*own)[i].value == *expected[i],
            "a variable does not bind the value it was given",
            absl::StrCat(text, "\n", filled, "\n", (*own)[i].value));
  }
  return 0;
}
