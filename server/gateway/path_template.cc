#include "server/gateway/path_template.h"

#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace ota::server::gateway {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsIdentifier(absl::string_view s) {
  if (s.empty() || !(absl::ascii_isalpha(s[0]) || s[0] == '_')) return false;
  for (char c : s) {
    if (!(absl::ascii_isalnum(c) || c == '_')) return false;
  }
  return true;
}

absl::Status Bad(absl::string_view text, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("path template \"", text, "\": ", why));
}

}  // namespace

absl::StatusOr<std::string> PercentDecode(absl::string_view text, bool keep_slash) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    int hi = i + 2 < text.size() ? HexValue(text[i + 1]) : -1;
    int lo = hi >= 0 ? HexValue(text[i + 2]) : -1;
    if (lo < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad percent escape at position ", i, " of \"", text, "\""));
    }
    char c = static_cast<char>(hi * 16 + lo);
    if (keep_slash && c == '/') {
      out.append(text.data() + i, 3);
    } else {
      out.push_back(c);
    }
    i += 2;
  }
  return out;
}

absl::StatusOr<PathTemplate> PathTemplate::Parse(absl::string_view text) {
  PathTemplate t;
  t.text_ = std::string(text);
  if (text.empty() || text[0] != '/') return Bad(text, "must start with '/'");

  // The verb is the text after the last ':' outside braces that follows the
  // last '/' outside braces.
  int depth = 0;
  size_t last_slash = 0;
  size_t colon = absl::string_view::npos;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '{') {
      if (++depth > 1) return Bad(text, "nested variables are not allowed");
    } else if (c == '}') {
      if (--depth < 0) return Bad(text, "'}' without '{'");
    } else if (depth == 0 && c == '/') {
      last_slash = i;
      colon = absl::string_view::npos;
    } else if (depth == 0 && c == ':') {
      colon = i;
    }
  }
  if (depth != 0) return Bad(text, "'{' without '}'");
  absl::string_view body = text.substr(1);
  if (colon != absl::string_view::npos && colon > last_slash) {
    absl::string_view verb = text.substr(colon + 1);
    if (verb.empty()) return Bad(text, "empty verb after ':'");
    for (char c : verb) {
      if (!(absl::ascii_isalnum(c) || c == '_' || c == '-' || c == '.' || c == '~')) {
        return Bad(text, absl::StrCat("bad character '", std::string(1, c), "' in verb"));
      }
    }
    t.verb_ = std::string(verb);
    body = text.substr(1, colon - 1);
  }

  // Splits at '/' outside braces.
  std::vector<absl::string_view> pieces;
  size_t start = 0;
  depth = 0;
  for (size_t i = 0; i <= body.size(); ++i) {
    if (i == body.size() || (body[i] == '/' && depth == 0)) {
      pieces.push_back(body.substr(start, i - start));
      start = i + 1;
    } else if (body[i] == '{') {
      ++depth;
    } else if (body[i] == '}') {
      --depth;
    }
  }

  auto add_segment = [&](absl::string_view s, int variable) -> absl::Status {
    Segment seg;
    seg.variable = variable;
    if (s.empty()) return Bad(text, "empty segment");
    if (s == "*") {
      seg.kind = Segment::kAny;
    } else if (s == "**") {
      seg.kind = Segment::kRest;
    } else {
      for (char c : s) {
        if (absl::string_view("{}*=:/?#").find(c) != absl::string_view::npos) {
          return Bad(text, absl::StrCat("reserved character '", std::string(1, c),
                                        "' in literal \"", s, "\""));
        }
      }
      absl::StatusOr<std::string> decoded = PercentDecode(s);
      if (!decoded.ok()) return Bad(text, decoded.status().message());
      seg.literal = *decoded;
    }
    t.segments_.push_back(std::move(seg));
    return absl::OkStatus();
  };

  for (absl::string_view piece : pieces) {
    if (!piece.empty() && piece[0] == '{') {
      if (piece.back() != '}') return Bad(text, absl::StrCat("variable \"", piece, "\" is not closed"));
      absl::string_view inner = piece.substr(1, piece.size() - 2);
      size_t eq = inner.find('=');
      absl::string_view field = inner.substr(0, eq);
      for (absl::string_view part : absl::StrSplit(field, '.')) {
        if (!IsIdentifier(part)) {
          return Bad(text, absl::StrCat("bad field path \"", field, "\""));
        }
      }
      for (const Variable& v : t.variables_) {
        if (v.field_path == field) return Bad(text, absl::StrCat("field \"", field, "\" bound twice"));
      }
      Variable var;
      var.field_path = std::string(field);
      var.first = t.segments_.size();
      int index = static_cast<int>(t.variables_.size());
      if (eq == absl::string_view::npos) {
        if (auto s = add_segment("*", index); !s.ok()) return s;
      } else {
        absl::string_view pattern = inner.substr(eq + 1);
        if (pattern.empty()) return Bad(text, absl::StrCat("empty pattern for \"", field, "\""));
        for (absl::string_view s : absl::StrSplit(pattern, '/')) {
          if (auto st = add_segment(s, index); !st.ok()) return st;
        }
      }
      var.end = t.segments_.size();
      t.variables_.push_back(std::move(var));
    } else if (absl::StrContains(piece, '{') || absl::StrContains(piece, '}')) {
      return Bad(text, absl::StrCat("a variable must be a whole segment: \"", piece, "\""));
    } else if (auto s = add_segment(piece, -1); !s.ok()) {
      return s;
    }
  }
  for (size_t i = 0; i + 1 < t.segments_.size(); ++i) {
    if (t.segments_[i].kind == Segment::kRest) return Bad(text, "'**' must be the last segment");
  }
  return t;
}

std::optional<std::vector<PathBinding>> PathTemplate::Match(absl::string_view path) const {
  if (path.empty() || path[0] != '/') return std::nullopt;
  path.remove_prefix(1);
  if (!verb_.empty()) {
    const std::string suffix = absl::StrCat(":", verb_);
    if (!absl::EndsWith(path, suffix)) return std::nullopt;
    path.remove_suffix(suffix.size());
  }
  std::vector<absl::string_view> parts = absl::StrSplit(path, '/');
  // [begin, end) of `parts` each template segment took.
  std::vector<std::pair<size_t, size_t>> taken;
  size_t j = 0;
  for (const Segment& seg : segments_) {
    switch (seg.kind) {
      case Segment::kLiteral: {
        if (j >= parts.size()) return std::nullopt;
        absl::StatusOr<std::string> decoded = PercentDecode(parts[j]);
        if (!decoded.ok() || *decoded != seg.literal) return std::nullopt;
        taken.emplace_back(j, j + 1);
        ++j;
        break;
      }
      case Segment::kAny:
        if (j >= parts.size() || parts[j].empty()) return std::nullopt;
        taken.emplace_back(j, j + 1);
        ++j;
        break;
      case Segment::kRest:
        taken.emplace_back(j, parts.size());
        j = parts.size();
        break;
    }
  }
  if (j != parts.size()) return std::nullopt;

  std::vector<PathBinding> bindings;
  for (const Variable& v : variables_) {
    size_t begin = taken[v.first].first;
    size_t end = taken[v.end - 1].second;
    bool single = v.end - v.first == 1 && segments_[v.first].kind != Segment::kRest;
    std::string raw = absl::StrJoin(parts.begin() + begin, parts.begin() + end, "/");
    absl::StatusOr<std::string> value = PercentDecode(raw, /*keep_slash=*/!single);
    if (!value.ok()) return std::nullopt;
    bindings.push_back({v.field_path, *std::move(value)});
  }
  return bindings;
}

std::vector<std::string> PathTemplate::variables() const {
  std::vector<std::string> out;
  for (const Variable& v : variables_) out.push_back(v.field_path);
  return out;
}

std::string PathTemplate::OpenApiPath() const {
  std::string out;
  for (size_t i = 0; i < segments_.size(); ++i) {
    const Segment& seg = segments_[i];
    if (seg.variable >= 0) {
      const Variable& v = variables_[seg.variable];
      if (i == v.first) absl::StrAppend(&out, "/{", v.field_path, "}");
      continue;
    }
    absl::StrAppend(&out, "/",
                    seg.kind == Segment::kAny    ? "*"
                    : seg.kind == Segment::kRest ? "**"
                                                 : seg.literal);
  }
  if (!verb_.empty()) absl::StrAppend(&out, ":", verb_);
  return out;
}

bool PathTemplate::MoreSpecificThan(const PathTemplate& other) const {
  auto key = [](const PathTemplate& t) {
    int literals = 0, wildcards = 0;
    for (const Segment& s : t.segments_) {
      if (s.kind == Segment::kLiteral) ++literals;
      if (s.kind == Segment::kRest) wildcards += 2;
      if (s.kind == Segment::kAny) ++wildcards;
    }
    return std::make_tuple(!t.verb_.empty(), literals, -wildcards);
  };
  return key(*this) > key(other);
}

}  // namespace ota::server::gateway
