#include "server/filter/filter.h"

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/base/check.h"

namespace ota::server {
namespace filter_internal {

enum class Type { kString, kInteger, kBoolean };

enum class FieldId {
  kDeviceId,
  kVendorId,
  kClassId,
  kOnline,
  kInstalledSequence,
  kInstalledVersion,
  kInstalledSlot,
  kInstalledSha256,
  kInstalledComponent,
  kAttribute,
};

struct FieldSpec {
  FieldId id;
  absl::string_view name;    // as written in a filter; "attr." is a prefix
  absl::string_view column;  // in the `devices` table
  Type type;
};

constexpr FieldSpec kFieldSpecs[] = {
    {FieldId::kDeviceId, "device_id", "device_id", Type::kString},
    {FieldId::kVendorId, "vendor_id", "vendor_id", Type::kString},
    {FieldId::kClassId, "class_id", "class_id", Type::kString},
    {FieldId::kOnline, "online", "online", Type::kBoolean},
    {FieldId::kInstalledSequence, "installed.sequence", "installed_sequence",
     Type::kInteger},
    {FieldId::kInstalledVersion, "installed.version", "installed_version",
     Type::kString},
    {FieldId::kInstalledSlot, "installed.slot", "installed_slot",
     Type::kString},
    {FieldId::kInstalledSha256, "installed.sha256", "installed_sha256",
     Type::kString},
    {FieldId::kInstalledComponent, "installed.component",
     "installed_component", Type::kString},
    {FieldId::kAttribute, "attr.", "attributes", Type::kString},
};

struct Field {
  const FieldSpec* spec = nullptr;
  std::string attribute_key;  // for attr.KEY only
};

struct Value {
  Type type = Type::kString;
  std::string string_value;
  int64_t integer_value = 0;
  bool boolean_value = false;
};

enum class Op { kEq, kNe, kLt, kLe, kGt, kGe, kIn, kNotIn };

struct Node {
  enum class Kind { kOr, kAnd, kNot, kCompare, kExists, kBooleanField };

  Kind kind = Kind::kCompare;
  std::vector<Node> children;  // kOr and kAnd: two or more; kNot: one
  Field field;                 // kCompare, kExists, kBooleanField
  Op op = Op::kEq;             // kCompare
  std::vector<Value> values;   // kCompare: one, or the list of kIn / kNotIn
};

}  // namespace filter_internal

namespace {

using filter_internal::Field;
using filter_internal::FieldId;
using filter_internal::FieldSpec;
using filter_internal::kFieldSpecs;
using filter_internal::Node;
using filter_internal::Op;
using filter_internal::Type;
using filter_internal::Value;

constexpr absl::string_view kAttributePrefix = "attr.";
constexpr size_t kMaxAttributeKeyLength = 63;
// Tokens quoted in error messages are cut to this many bytes, so that an
// error about a 4 KiB string does not repeat it.
constexpr size_t kMaxQuotedLength = 40;

absl::Status Error(size_t offset, absl::string_view reason) {
  return absl::InvalidArgumentError(
      absl::StrCat("filter: at ", offset, ": ", reason));
}

// ---------------------------------------------------------------------------
// Tokens.

enum class TokenKind { kEnd, kWord, kString, kInteger, kPunct, kInvalid };

struct Token {
  TokenKind kind = TokenKind::kEnd;
  size_t offset = 0;
  absl::string_view text;    // as written, quotes included
  std::string string_value;  // kString, unescaped
  int64_t integer_value = 0;
};

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsLower(char c) { return c >= 'a' && c <= 'z'; }
bool IsLetter(char c) { return IsLower(c) || (c >= 'A' && c <= 'Z'); }
bool IsWordStart(char c) { return IsLetter(c) || c == '_'; }
bool IsWordPart(char c) { return IsWordStart(c) || IsDigit(c) || c == '.'; }

// `text` cut at kMaxQuotedLength bytes, on a UTF-8 character boundary.
std::string Clip(absl::string_view text) {
  if (text.size() <= kMaxQuotedLength) return std::string(text);
  size_t end = kMaxQuotedLength;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xc0) == 0x80) {
    --end;
  }
  return absl::StrCat(text.substr(0, end), "...");
}

std::string DescribeByte(char c) {
  if (c > ' ' && c < 0x7f) return absl::StrCat("'", absl::string_view(&c, 1), "'");
  return absl::StrFormat("byte 0x%02X", static_cast<unsigned char>(c));
}

// How an error message names what it found.
std::string Describe(const Token& token) {
  switch (token.kind) {
    case TokenKind::kEnd:
      return "end of input";
    case TokenKind::kWord:
    case TokenKind::kPunct:
      return absl::StrCat("\"", Clip(token.text), "\"");
    case TokenKind::kString:
      return absl::StrCat("string ", Clip(token.text));
    case TokenKind::kInteger:
      return absl::StrCat("integer ", Clip(token.text));
    case TokenKind::kInvalid:
      return DescribeByte(token.text[0]);
  }
  return "";
}

// Length of the well-formed UTF-8 sequence of two to four bytes at `pos`,
// or 0. Overlong forms and surrogates are refused, as PostgreSQL does.
size_t MultiByteCharLength(absl::string_view text, size_t pos) {
  unsigned char lead = static_cast<unsigned char>(text[pos]);
  size_t length;
  uint32_t code_point;
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
    code_point = lead & 0x1f;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    code_point = lead & 0x0f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    code_point = lead & 0x07;
  } else {
    return 0;
  }
  if (text.size() - pos < length) return 0;
  for (size_t i = 1; i < length; ++i) {
    unsigned char next = static_cast<unsigned char>(text[pos + i]);
    if ((next & 0xc0) != 0x80) return 0;
    code_point = (code_point << 6) | (next & 0x3f);
  }
  if (length == 3 &&
      (code_point < 0x800 || (code_point >= 0xd800 && code_point <= 0xdfff))) {
    return 0;
  }
  if (length == 4 && (code_point < 0x10000 || code_point > 0x10ffff)) return 0;
  return length;
}

// Splits the input into tokens one at a time, so errors come in the order a
// reader meets them.
class Lexer {
 public:
  explicit Lexer(absl::string_view text) : text_(text) {}

  absl::Status Next(Token* token) {
    while (pos_ < text_.size() && IsSpace(text_[pos_])) ++pos_;
    *token = Token();
    token->offset = pos_;
    if (pos_ == text_.size()) {
      token->kind = TokenKind::kEnd;
      return absl::OkStatus();
    }
    char c = text_[pos_];
    if (c == '"') return LexString(token);
    if (IsDigit(c)) return LexInteger(token);
    size_t start = pos_;
    if (IsWordStart(c)) {
      while (pos_ < text_.size() && IsWordPart(text_[pos_])) ++pos_;
      token->kind = TokenKind::kWord;
    } else if (c == '(' || c == ')' || c == ',') {
      ++pos_;
      token->kind = TokenKind::kPunct;
    } else if (c == '<' || c == '>') {
      ++pos_;
      if (pos_ < text_.size() && text_[pos_] == '=') ++pos_;
      token->kind = TokenKind::kPunct;
    } else if ((c == '=' || c == '!') && pos_ + 1 < text_.size() &&
               text_[pos_ + 1] == '=') {
      pos_ += 2;
      token->kind = TokenKind::kPunct;
    } else {
      // Left for the parser, which knows what it expected instead.
      ++pos_;
      token->kind = TokenKind::kInvalid;
    }
    token->text = text_.substr(start, pos_ - start);
    return absl::OkStatus();
  }

 private:
  absl::Status LexString(Token* token) {
    size_t start = pos_++;
    std::string value;
    while (true) {
      if (pos_ == text_.size()) {
        return Error(start,
                     "expected '\"' to end the string that starts here, "
                     "found end of input");
      }
      char c = text_[pos_];
      unsigned char byte = static_cast<unsigned char>(c);
      if (c == '"') {
        ++pos_;
        break;
      }
      if (c == '\\') {
        if (pos_ + 1 == text_.size()) {
          return Error(pos_,
                       "expected \\\" or \\\\ after a backslash, found end of "
                       "input");
        }
        char escaped = text_[pos_ + 1];
        if (escaped != '"' && escaped != '\\') {
          return Error(pos_, absl::StrCat("expected \\\" or \\\\ after a "
                                          "backslash, found ",
                                          DescribeByte(escaped)));
        }
        value.push_back(escaped);
        pos_ += 2;
        continue;
      }
      // Control characters and malformed UTF-8 are refused because
      // PostgreSQL cannot hold some of them (NUL) or refuses them as a
      // parameter, which would make ToSql() disagree with Matches().
      if (byte < 0x20 || byte == 0x7f) {
        return Error(pos_, absl::StrCat("expected a printable character in "
                                        "the string, found ",
                                        DescribeByte(c)));
      }
      if (byte < 0x80) {
        value.push_back(c);
        ++pos_;
        continue;
      }
      size_t length = MultiByteCharLength(text_, pos_);
      if (length == 0) {
        return Error(pos_, absl::StrCat("expected UTF-8 text in the string, "
                                        "found ",
                                        DescribeByte(c)));
      }
      value.append(text_.data() + pos_, length);
      pos_ += length;
    }
    token->kind = TokenKind::kString;
    token->text = text_.substr(start, pos_ - start);
    token->string_value = std::move(value);
    return absl::OkStatus();
  }

  absl::Status LexInteger(Token* token) {
    constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
    size_t start = pos_;
    int64_t value = 0;
    bool overflow = false;
    while (pos_ < text_.size() && IsDigit(text_[pos_])) {
      int digit = text_[pos_++] - '0';
      if (value > (kMax - digit) / 10) overflow = true;
      if (!overflow) value = value * 10 + digit;
    }
    token->text = text_.substr(start, pos_ - start);
    if (overflow) {
      return Error(start, absl::StrCat("expected an integer up to ", kMax,
                                       ", found ", Clip(token->text)));
    }
    token->kind = TokenKind::kInteger;
    token->integer_value = value;
    return absl::OkStatus();
  }

  absl::string_view text_;
  size_t pos_ = 0;
};

// ---------------------------------------------------------------------------
// Parsing.

bool IsKeyword(absl::string_view word) {
  return word == "and" || word == "or" || word == "not" || word == "in" ||
         word == "exists" || word == "true" || word == "false";
}

bool IsAttributeKey(absl::string_view key) {
  if (key.empty() || key.size() > kMaxAttributeKeyLength) return false;
  if (!IsLower(key[0])) return false;
  for (char c : key) {
    if (!IsLower(c) && !IsDigit(c) && c != '_') return false;
  }
  return true;
}

std::string FieldName(const Field& field) {
  if (field.spec->id == FieldId::kAttribute) {
    return absl::StrCat(kAttributePrefix, field.attribute_key);
  }
  return std::string(field.spec->name);
}

absl::string_view TypeNoun(Type type) {
  switch (type) {
    case Type::kString:
      return "a string";
    case Type::kInteger:
      return "an integer";
    case Type::kBoolean:
      return "true or false";
  }
  return "";
}

absl::string_view TypeField(Type type) {
  switch (type) {
    case Type::kString:
      return "a string field";
    case Type::kInteger:
      return "an integer field";
    case Type::kBoolean:
      return "a boolean field";
  }
  return "";
}

bool IsOrdering(Op op) {
  return op == Op::kLt || op == Op::kLe || op == Op::kGt || op == Op::kGe;
}

// Adds `child` to an and/or node, splicing in the children of a node of the
// same kind so that `(a or b) or c` and `a or b or c` are the same filter.
void AddOperand(Node* parent, Node child) {
  if (child.kind == parent->kind) {
    for (Node& grandchild : child.children) {
      parent->children.push_back(std::move(grandchild));
    }
  } else {
    parent->children.push_back(std::move(child));
  }
}

class Parser {
 public:
  explicit Parser(absl::string_view text) : lexer_(text) {}

  // Sets `*root` to null for an empty filter.
  absl::Status Parse(std::shared_ptr<const Node>* root) {
    if (absl::Status s = Advance(); !s.ok()) return s;
    if (token_.kind == TokenKind::kEnd) {
      root->reset();
      return absl::OkStatus();
    }
    Node node;
    if (absl::Status s = ParseOr(&node); !s.ok()) return s;
    if (token_.kind != TokenKind::kEnd) {
      return Error(token_.offset,
                   absl::StrCat("expected \"and\", \"or\" or end of input, "
                                "found ",
                                Describe(token_)));
    }
    *root = std::make_shared<const Node>(std::move(node));
    return absl::OkStatus();
  }

 private:
  absl::Status Advance() {
    previous_ = token_.text;
    return lexer_.Next(&token_);
  }

  bool AtWord(absl::string_view word) const {
    return token_.kind == TokenKind::kWord && token_.text == word;
  }
  bool AtPunct(absl::string_view punct) const {
    return token_.kind == TokenKind::kPunct && token_.text == punct;
  }

  // Counts one more level of "(" or "not" at the current token.
  absl::Status Enter() {
    if (nesting_ == kMaxFilterNesting) {
      return Error(token_.offset,
                   absl::StrCat("expected at most ", kMaxFilterNesting,
                                " levels of nesting, found ", Describe(token_),
                                " at level ", kMaxFilterNesting + 1));
    }
    ++nesting_;
    return absl::OkStatus();
  }

  absl::Status ParseOr(Node* out) { return ParseChain(Node::Kind::kOr, out); }

  // or := and ("or" and)*;  and := unary ("and" unary)*
  absl::Status ParseChain(Node::Kind kind, Node* out) {
    absl::string_view keyword = kind == Node::Kind::kOr ? "or" : "and";
    auto parse_operand = [&](Node* operand) {
      return kind == Node::Kind::kOr ? ParseChain(Node::Kind::kAnd, operand)
                                     : ParseUnary(operand);
    };
    Node first;
    if (absl::Status s = parse_operand(&first); !s.ok()) return s;
    if (!AtWord(keyword)) {
      *out = std::move(first);
      return absl::OkStatus();
    }
    Node chain;
    chain.kind = kind;
    AddOperand(&chain, std::move(first));
    while (AtWord(keyword)) {
      if (absl::Status s = Advance(); !s.ok()) return s;
      Node next;
      if (absl::Status s = parse_operand(&next); !s.ok()) return s;
      AddOperand(&chain, std::move(next));
    }
    *out = std::move(chain);
    return absl::OkStatus();
  }

  // unary := "not" unary | primary
  absl::Status ParseUnary(Node* out) {
    if (!AtWord("not")) return ParsePrimary(out);
    if (absl::Status s = Enter(); !s.ok()) return s;
    if (absl::Status s = Advance(); !s.ok()) return s;
    Node operand;
    if (absl::Status s = ParseUnary(&operand); !s.ok()) return s;
    --nesting_;
    out->kind = Node::Kind::kNot;
    out->children.push_back(std::move(operand));
    return absl::OkStatus();
  }

  absl::Status ParsePrimary(Node* out) {
    if (AtPunct("(")) {
      size_t open = token_.offset;
      if (absl::Status s = Enter(); !s.ok()) return s;
      if (absl::Status s = Advance(); !s.ok()) return s;
      if (absl::Status s = ParseOr(out); !s.ok()) return s;
      if (!AtPunct(")")) {
        return Error(token_.offset,
                     absl::StrCat("expected \"and\", \"or\" or \")\" to close "
                                  "the \"(\" at ",
                                  open, ", found ", Describe(token_)));
      }
      --nesting_;
      return Advance();
    }
    if (AtWord("exists")) return ParseExists(out);
    if (token_.kind == TokenKind::kWord && !IsKeyword(token_.text)) {
      Field field;
      if (absl::Status s = ResolveField(&field); !s.ok()) return s;
      if (absl::Status s = Advance(); !s.ok()) return s;
      return ParseComparison(std::move(field), out);
    }
    std::string after =
        previous_.empty() ? "" : absl::StrCat(" after \"", previous_, "\"");
    return Error(token_.offset,
                 absl::StrCat("expected a field, \"not\", \"exists\" or \"(\"",
                              after, ", found ", Describe(token_)));
  }

  // Resolves the word at the current token to a field.
  absl::Status ResolveField(Field* field) {
    absl::string_view name = token_.text;
    if (absl::StartsWith(name, kAttributePrefix)) {
      absl::string_view key = name.substr(kAttributePrefix.size());
      if (!IsAttributeKey(key)) {
        return Error(token_.offset,
                     absl::StrCat("expected an attribute key matching "
                                  "[a-z][a-z0-9_]{0,62} after \"attr.\", "
                                  "found ",
                                  key.empty() ? "nothing"
                                              : absl::StrCat("\"", Clip(key),
                                                             "\"")));
      }
      field->spec = &kFieldSpecs[static_cast<int>(FieldId::kAttribute)];
      field->attribute_key = std::string(key);
      return absl::OkStatus();
    }
    for (const FieldSpec& spec : kFieldSpecs) {
      if (spec.id != FieldId::kAttribute && spec.name == name) {
        field->spec = &spec;
        return absl::OkStatus();
      }
    }
    return Error(token_.offset,
                 absl::StrCat("expected a field (device_id, vendor_id, "
                              "class_id, online, installed.sequence, "
                              "installed.version, installed.slot, "
                              "installed.sha256, installed.component or "
                              "attr.KEY), found ",
                              Describe(token_)));
  }

  // "exists" "(" attr ")"
  absl::Status ParseExists(Node* out) {
    if (absl::Status s = Advance(); !s.ok()) return s;
    if (!AtPunct("(")) {
      return Error(token_.offset,
                   absl::StrCat("expected \"(\" after \"exists\", found ",
                                Describe(token_)));
    }
    if (absl::Status s = Advance(); !s.ok()) return s;
    if (token_.kind != TokenKind::kWord ||
        !absl::StartsWith(token_.text, kAttributePrefix)) {
      return Error(token_.offset,
                   absl::StrCat("expected an attribute (attr.KEY) after "
                                "\"exists(\", found ",
                                Describe(token_)));
    }
    if (absl::Status s = ResolveField(&out->field); !s.ok()) return s;
    if (absl::Status s = Advance(); !s.ok()) return s;
    if (!AtPunct(")")) {
      return Error(token_.offset,
                   absl::StrCat("expected \")\" after \"exists(",
                                FieldName(out->field), "\", found ",
                                Describe(token_)));
    }
    out->kind = Node::Kind::kExists;
    return Advance();
  }

  // What follows a field: an operator and a value, [not] in and a list, or
  // nothing for a boolean field.
  absl::Status ParseComparison(Field field, Node* out) {
    static constexpr struct {
      absl::string_view text;
      Op op;
    } kOperators[] = {{"==", Op::kEq}, {"!=", Op::kNe}, {"<", Op::kLt},
                      {"<=", Op::kLe}, {">", Op::kGt},  {">=", Op::kGe}};
    const Type type = field.spec->type;
    const std::string name = FieldName(field);
    out->kind = Node::Kind::kCompare;
    out->field = std::move(field);
    if (token_.kind == TokenKind::kPunct) {
      for (const auto& candidate : kOperators) {
        if (token_.text != candidate.text) continue;
        if (type == Type::kBoolean && IsOrdering(candidate.op)) {
          return Error(token_.offset,
                       absl::StrCat("expected \"==\", \"!=\", \"in\" or "
                                    "\"not in\" after ",
                                    name, " (", TypeField(type), "), found ",
                                    Describe(token_)));
        }
        out->op = candidate.op;
        std::string after = absl::StrCat("\"", candidate.text, "\"");
        if (absl::Status s = Advance(); !s.ok()) return s;
        out->values.emplace_back();
        return ParseValue(type, name, after, &out->values.back());
      }
    }
    if (AtWord("in")) {
      out->op = Op::kIn;
      return ParseList(type, name, out);
    }
    if (AtWord("not")) {
      if (absl::Status s = Advance(); !s.ok()) return s;
      if (!AtWord("in")) {
        return Error(token_.offset,
                     absl::StrCat("expected \"in\" after \"not\", found ",
                                  Describe(token_)));
      }
      out->op = Op::kNotIn;
      return ParseList(type, name, out);
    }
    if (type == Type::kBoolean) {
      out->kind = Node::Kind::kBooleanField;
      return absl::OkStatus();
    }
    return Error(token_.offset,
                 absl::StrCat("expected an operator (\"==\", \"!=\", \"<\", "
                              "\"<=\", \">\", \">=\", \"in\" or \"not in\") "
                              "after ",
                              name, ", found ", Describe(token_)));
  }

  // A literal of `type` for field `name`, which follows `after`.
  absl::Status ParseValue(Type type, absl::string_view name,
                          absl::string_view after, Value* value) {
    bool is_literal = true;
    if (token_.kind == TokenKind::kString) {
      value->type = Type::kString;
      value->string_value = token_.string_value;
    } else if (token_.kind == TokenKind::kInteger) {
      value->type = Type::kInteger;
      value->integer_value = token_.integer_value;
    } else if (AtWord("true") || AtWord("false")) {
      value->type = Type::kBoolean;
      value->boolean_value = AtWord("true");
    } else {
      is_literal = false;
    }
    if (!is_literal) {
      return Error(token_.offset,
                   absl::StrCat("expected a value after ", after, ", found ",
                                Describe(token_)));
    }
    if (value->type != type) {
      return Error(token_.offset,
                   absl::StrCat("expected ", TypeNoun(type), " after ", after,
                                " (", name, " is ", TypeField(type),
                                "), found ", Describe(token_)));
    }
    return Advance();
  }

  // "(" value ("," value)* ")", at the "in".
  absl::Status ParseList(Type type, absl::string_view name, Node* out) {
    if (absl::Status s = Advance(); !s.ok()) return s;
    if (!AtPunct("(")) {
      return Error(token_.offset,
                   absl::StrCat("expected \"(\" after \"in\", found ",
                                Describe(token_)));
    }
    if (absl::Status s = Advance(); !s.ok()) return s;
    if (AtPunct(")")) {
      return Error(token_.offset,
                   "expected at least one value in the list, found \")\"");
    }
    while (true) {
      size_t offset = token_.offset;
      Value value;
      if (absl::Status s = ParseValue(type, name,
                                      out->values.empty() ? "\"(\"" : "\",\"",
                                      &value);
          !s.ok()) {
        return s;
      }
      if (out->values.size() == kMaxFilterListSize) {
        return Error(offset, absl::StrCat("expected at most ",
                                          kMaxFilterListSize,
                                          " values in the list, found more"));
      }
      out->values.push_back(std::move(value));
      if (AtPunct(",")) {
        if (absl::Status s = Advance(); !s.ok()) return s;
        continue;
      }
      if (AtPunct(")")) return Advance();
      return Error(token_.offset,
                   absl::StrCat("expected \",\" or \")\" in the list, found ",
                                Describe(token_)));
    }
  }

  Lexer lexer_;
  Token token_;
  absl::string_view previous_;  // text of the token before token_
  int nesting_ = 0;
};

// ---------------------------------------------------------------------------
// Matching.

// Negative, zero or positive as `a` orders before, equal to or after `b`.
template <typename T>
int ThreeWay(const T& a, const T& b) {
  return a < b ? -1 : (b < a ? 1 : 0);
}

bool MatchesComparison(const Node& node, const FilterableDevice& device) {
  const std::string* text = nullptr;
  switch (node.field.spec->id) {
    case FieldId::kDeviceId:
      text = &device.device_id;
      break;
    case FieldId::kVendorId:
      text = &device.vendor_id;
      break;
    case FieldId::kClassId:
      text = &device.class_id;
      break;
    case FieldId::kInstalledVersion:
      text = &device.installed_version;
      break;
    case FieldId::kInstalledSlot:
      text = &device.installed_slot;
      break;
    case FieldId::kInstalledSha256:
      text = &device.installed_sha256;
      break;
    case FieldId::kInstalledComponent:
      text = &device.installed_component;
      break;
    case FieldId::kAttribute: {
      auto it = device.attributes.find(node.field.attribute_key);
      if (it == device.attributes.end()) {
        return node.op == Op::kNe || node.op == Op::kNotIn;
      }
      text = &it->second;
      break;
    }
    case FieldId::kOnline:
    case FieldId::kInstalledSequence:
      break;
  }
  // std::string compares bytes as unsigned char, as COLLATE "C" does.
  auto compare = [&](const Value& value) -> int {
    switch (node.field.spec->type) {
      case Type::kString:
        return ThreeWay(*text, value.string_value);
      case Type::kInteger:
        // The literal is never negative, so it fits in uint64_t.
        return ThreeWay(device.installed_sequence,
                        static_cast<uint64_t>(value.integer_value));
      case Type::kBoolean:
        return ThreeWay(device.online, value.boolean_value);
    }
    return 0;
  };
  auto any_equal = [&] {
    for (const Value& value : node.values) {
      if (compare(value) == 0) return true;
    }
    return false;
  };
  switch (node.op) {
    case Op::kEq:
      return compare(node.values[0]) == 0;
    case Op::kNe:
      return compare(node.values[0]) != 0;
    case Op::kLt:
      return compare(node.values[0]) < 0;
    case Op::kLe:
      return compare(node.values[0]) <= 0;
    case Op::kGt:
      return compare(node.values[0]) > 0;
    case Op::kGe:
      return compare(node.values[0]) >= 0;
    case Op::kIn:
      return any_equal();
    case Op::kNotIn:
      return !any_equal();
  }
  return false;
}

bool MatchesNode(const Node& node, const FilterableDevice& device) {
  switch (node.kind) {
    case Node::Kind::kOr:
      for (const Node& child : node.children) {
        if (MatchesNode(child, device)) return true;
      }
      return false;
    case Node::Kind::kAnd:
      for (const Node& child : node.children) {
        if (!MatchesNode(child, device)) return false;
      }
      return true;
    case Node::Kind::kNot:
      return !MatchesNode(node.children[0], device);
    case Node::Kind::kExists:
      return device.attributes.count(node.field.attribute_key) > 0;
    case Node::Kind::kBooleanField:
      return device.online;  // the only boolean field
    case Node::Kind::kCompare:
      return MatchesComparison(node, device);
  }
  return false;
}

// ---------------------------------------------------------------------------
// SQL.

// Writes the SQL for one filter. Every expression it writes is TRUE or
// FALSE, never NULL, so NOT and the comparisons for absent attributes mean
// the same as in MatchesNode.
class SqlWriter {
 public:
  SqlWriter(int first_param, std::vector<std::string>* params)
      : next_param_(first_param), params_(params) {}

  std::string Write(const Node& node) {
    switch (node.kind) {
      case Node::Kind::kOr:
      case Node::Kind::kAnd: {
        std::vector<std::string> parts;
        for (const Node& child : node.children) parts.push_back(Write(child));
        return absl::StrCat(
            "(",
            absl::StrJoin(parts,
                          node.kind == Node::Kind::kOr ? " OR " : " AND "),
            ")");
      }
      case Node::Kind::kNot:
        return absl::StrCat("NOT (", Write(node.children[0]), ")");
      case Node::Kind::kExists:
        // `->` gives SQL NULL only for a missing key.
        return absl::StrCat("(attributes -> ",
                            Param(node.field.attribute_key, Type::kString),
                            ") IS NOT NULL");
      case Node::Kind::kBooleanField:
        return std::string(node.field.spec->column);
      case Node::Kind::kCompare:
        return node.field.spec->id == FieldId::kAttribute
                   ? WriteAttributeComparison(node)
                   : WriteColumnComparison(node);
    }
    return "FALSE";
  }

 private:
  static absl::string_view SqlOperator(Op op) {
    switch (op) {
      case Op::kEq:
        return "=";
      case Op::kNe:
        return "<>";
      case Op::kLt:
        return "<";
      case Op::kLe:
        return "<=";
      case Op::kGt:
        return ">";
      case Op::kGe:
        return ">=";
      case Op::kIn:
        return "IN";
      case Op::kNotIn:
        return "NOT IN";
    }
    return "";
  }

  // Appends `value` to the parameters; returns its cast placeholder.
  std::string Param(std::string value, Type type) {
    params_->push_back(std::move(value));
    absl::string_view cast = type == Type::kString    ? "text"
                             : type == Type::kInteger ? "bigint"
                                                      : "boolean";
    return absl::StrCat("$", next_param_++, "::", cast);
  }

  std::string Param(const Value& value) {
    switch (value.type) {
      case Type::kString:
        return Param(value.string_value, value.type);
      case Type::kInteger:
        return Param(absl::StrCat(value.integer_value), value.type);
      case Type::kBoolean:
        return Param(value.boolean_value ? "true" : "false", value.type);
    }
    return "";
  }

  // The columns are NOT NULL, so plain comparisons are never NULL. Strings
  // order by bytes, as in MatchesNode, whatever the database's collation.
  std::string WriteColumnComparison(const Node& node) {
    std::string column(node.field.spec->column);
    if (node.field.spec->type == Type::kString && IsOrdering(node.op)) {
      absl::StrAppend(&column, " COLLATE \"C\"");
    }
    if (node.op == Op::kIn || node.op == Op::kNotIn) {
      std::vector<std::string> list;
      for (const Value& value : node.values) list.push_back(Param(value));
      return absl::StrCat(column, " ", SqlOperator(node.op), " (",
                          absl::StrJoin(list, ", "), ")");
    }
    return absl::StrCat(column, " ", SqlOperator(node.op), " ",
                        Param(node.values[0]));
  }

  // Equality is containment, which the GIN jsonb_path_ops index serves and
  // which is FALSE (not NULL) for an absent key; ordering is wrapped in
  // COALESCE for the same reason.
  std::string WriteAttributeComparison(const Node& node) {
    std::string key = Param(node.field.attribute_key, Type::kString);
    auto contains = [&](const Value& value) {
      return absl::StrCat("attributes @> jsonb_build_object(", key, ", ",
                          Param(value), ")");
    };
    switch (node.op) {
      case Op::kEq:
        return contains(node.values[0]);
      case Op::kNe:
        return absl::StrCat("NOT (", contains(node.values[0]), ")");
      case Op::kLt:
      case Op::kLe:
      case Op::kGt:
      case Op::kGe:
        return absl::StrCat("COALESCE((attributes ->> ", key,
                            ") COLLATE \"C\" ", SqlOperator(node.op), " ",
                            Param(node.values[0]), ", FALSE)");
      case Op::kIn:
      case Op::kNotIn: {
        std::vector<std::string> any;
        for (const Value& value : node.values) any.push_back(contains(value));
        std::string in = absl::StrCat("(", absl::StrJoin(any, " OR "), ")");
        return node.op == Op::kIn ? in : absl::StrCat("NOT ", in);
      }
    }
    return "FALSE";
  }

  int next_param_;
  std::vector<std::string>* params_;
};

// ---------------------------------------------------------------------------
// Text.

struct TextToken {
  std::string text;
  bool is_word = false;     // a field or keyword
  bool is_integer = false;
};

class TextWriter {
 public:
  void Write(const Node& node) {
    switch (node.kind) {
      case Node::Kind::kOr:
      case Node::Kind::kAnd: {
        const bool is_or = node.kind == Node::Kind::kOr;
        for (size_t i = 0; i < node.children.size(); ++i) {
          if (i > 0) Word(is_or ? "or" : "and");
          WriteOperand(node.children[i], is_or ? kAndBinding : kNotBinding);
        }
        return;
      }
      case Node::Kind::kNot:
        Word("not");
        WriteOperand(node.children[0], kNotBinding);
        return;
      case Node::Kind::kExists:
        Word("exists");
        Punct("(");
        Word(FieldName(node.field));
        Punct(")");
        return;
      case Node::Kind::kBooleanField:
        Word(FieldName(node.field));
        return;
      case Node::Kind::kCompare:
        WriteComparison(node);
        return;
    }
  }

  // One space between tokens except inside parentheses and before a comma.
  std::string Pretty() const {
    std::string out;
    for (size_t i = 0; i < tokens_.size(); ++i) {
      if (i > 0) {
        const std::string& previous = tokens_[i - 1].text;
        const std::string& current = tokens_[i].text;
        bool tight = previous == "(" || current == ")" || current == "," ||
                     (previous == "exists" && current == "(");
        if (!tight) out.push_back(' ');
      }
      out += tokens_[i].text;
    }
    return out;
  }

  // A space only where two tokens would otherwise run together.
  std::string Compact() const {
    std::string out;
    for (size_t i = 0; i < tokens_.size(); ++i) {
      if (i > 0 && tokens_[i - 1].is_word &&
          (tokens_[i].is_word || tokens_[i].is_integer)) {
        out.push_back(' ');
      }
      out += tokens_[i].text;
    }
    return out;
  }

 private:
  // Binding strength, loosest first.
  enum Precedence { kOrBinding, kAndBinding, kNotBinding, kAtomBinding };

  static Precedence PrecedenceOf(const Node& node) {
    switch (node.kind) {
      case Node::Kind::kOr:
        return kOrBinding;
      case Node::Kind::kAnd:
        return kAndBinding;
      case Node::Kind::kNot:
        return kNotBinding;
      default:
        return kAtomBinding;
    }
  }

  void WriteOperand(const Node& node, Precedence at_least) {
    if (PrecedenceOf(node) >= at_least) {
      Write(node);
      return;
    }
    Punct("(");
    Write(node);
    Punct(")");
  }

  void WriteComparison(const Node& node) {
    static constexpr absl::string_view kText[] = {"==", "!=", "<", "<=",
                                                  ">",  ">="};
    Word(FieldName(node.field));
    if (node.op == Op::kIn || node.op == Op::kNotIn) {
      if (node.op == Op::kNotIn) Word("not");
      Word("in");
      Punct("(");
      for (size_t i = 0; i < node.values.size(); ++i) {
        if (i > 0) Punct(",");
        WriteValue(node.values[i]);
      }
      Punct(")");
      return;
    }
    Punct(kText[static_cast<int>(node.op)]);
    WriteValue(node.values[0]);
  }

  void WriteValue(const Value& value) {
    switch (value.type) {
      case Type::kString: {
        std::string quoted = "\"";
        for (char c : value.string_value) {
          if (c == '"' || c == '\\') quoted.push_back('\\');
          quoted.push_back(c);
        }
        quoted.push_back('"');
        tokens_.push_back({std::move(quoted), false, false});
        return;
      }
      case Type::kInteger:
        tokens_.push_back({absl::StrCat(value.integer_value), false, true});
        return;
      case Type::kBoolean:
        Word(value.boolean_value ? "true" : "false");
        return;
    }
  }

  void Word(std::string text) { tokens_.push_back({std::move(text), true, false}); }
  void Punct(absl::string_view text) {
    tokens_.push_back({std::string(text), false, false});
  }

  std::vector<TextToken> tokens_;
};

}  // namespace

absl::StatusOr<DeviceFilter> DeviceFilter::Parse(absl::string_view text) {
  // Checked before anything else, so that no work depends on an unbounded
  // input.
  if (text.size() > kMaxFilterLength) {
    return Error(kMaxFilterLength,
                 absl::StrCat("expected at most ", kMaxFilterLength,
                              " bytes, found ", text.size()));
  }
  std::shared_ptr<const Node> root;
  Parser parser(text);
  if (absl::Status s = parser.Parse(&root); !s.ok()) return s;
  return DeviceFilter(std::move(root));
}

bool DeviceFilter::Matches(const FilterableDevice& device) const {
  return root_ == nullptr || MatchesNode(*root_, device);
}

std::string DeviceFilter::ToSql(int first_param,
                                std::vector<std::string>* params) const {
  OTA_CHECK(params != nullptr);
  if (root_ == nullptr) return "TRUE";
  return SqlWriter(first_param, params).Write(*root_);
}

std::string DeviceFilter::ToString() const {
  if (root_ == nullptr) return "";
  TextWriter writer;
  writer.Write(*root_);
  std::string pretty = writer.Pretty();
  if (pretty.size() <= kMaxFilterLength) return pretty;
  return writer.Compact();
}

}  // namespace ota::server
