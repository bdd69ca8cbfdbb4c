#include "server/gateway/request_fields.h"

#include <cmath>
#include <limits>

#include <google/protobuf/util/json_util.h>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "server/gateway/path_template.h"

namespace ota::server::gateway {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

namespace {

absl::Status BadValue(const FieldDescriptor* field, absl::string_view value,
                      absl::string_view expected) {
  return absl::InvalidArgumentError(absl::StrCat("field \"", field->name(), "\": \"", value,
                                                 "\" is not ", expected));
}

template <typename T>
bool ParseInt(absl::string_view value, T* out) {
  return absl::SimpleAtoi(value, out);
}

}  // namespace

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseQuery(
    absl::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  for (absl::string_view pair : absl::StrSplit(query, '&', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> nv =
        absl::StrSplit(pair, absl::MaxSplits('=', 1));
    auto decode = [](absl::string_view s) {
      return PercentDecode(absl::StrReplaceAll(s, {{"+", " "}}));
    };
    absl::StatusOr<std::string> name = decode(nv.first);
    if (!name.ok()) return name.status();
    absl::StatusOr<std::string> value = decode(nv.second);
    if (!value.ok()) return value.status();
    out.emplace_back(*std::move(name), *std::move(value));
  }
  return out;
}

absl::StatusOr<std::vector<const FieldDescriptor*>> ResolveFieldPath(const Descriptor* type,
                                                                     absl::string_view field_path) {
  std::vector<const FieldDescriptor*> fields;
  for (absl::string_view part : absl::StrSplit(field_path, '.')) {
    if (type == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "field \"", field_path, "\": \"", fields.back()->name(), "\" is not a message"));
    }
    const FieldDescriptor* field = type->FindFieldByName(std::string(part));
    for (int i = 0; field == nullptr && i < type->field_count(); ++i) {
      if (type->field(i)->json_name() == part) field = type->field(i);
    }
    if (field == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown field \"", field_path, "\" in ", type->full_name()));
    }
    if (!fields.empty() && (fields.back()->is_repeated())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "field \"", field_path, "\": \"", fields.back()->name(), "\" is repeated"));
    }
    fields.push_back(field);
    type = field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE ? field->message_type() : nullptr;
  }
  return fields;
}

absl::Status SetFieldFromText(Message* message, absl::string_view field_path,
                              absl::string_view value) {
  absl::StatusOr<std::vector<const FieldDescriptor*>> path =
      ResolveFieldPath(message->GetDescriptor(), field_path);
  if (!path.ok()) return path.status();
  for (size_t i = 0; i + 1 < path->size(); ++i) {
    message = message->GetReflection()->MutableMessage(message, (*path)[i]);
  }
  const FieldDescriptor* field = path->back();
  const Reflection* r = message->GetReflection();
  const bool repeated = field->is_repeated();
  if (field->is_map()) {
    return absl::InvalidArgumentError(
        absl::StrCat("field \"", field_path, "\" is a map; send it in a JSON body"));
  }
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string v(value);
      if (field->type() == FieldDescriptor::TYPE_BYTES) {
        std::string padded(value);
        if (!absl::Base64Unescape(padded, &v) && !absl::WebSafeBase64Unescape(padded, &v)) {
          return BadValue(field, value, "base64");
        }
      }
      repeated ? r->AddString(message, field, v) : r->SetString(message, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_INT32: {
      int32_t v;
      if (!ParseInt(value, &v)) return BadValue(field, value, "a 32-bit integer");
      repeated ? r->AddInt32(message, field, v) : r->SetInt32(message, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_INT64: {
      int64_t v;
      if (!ParseInt(value, &v)) return BadValue(field, value, "a 64-bit integer");
      repeated ? r->AddInt64(message, field, v) : r->SetInt64(message, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_UINT32: {
      uint32_t v;
      if (!ParseInt(value, &v)) return BadValue(field, value, "an unsigned 32-bit integer");
      repeated ? r->AddUInt32(message, field, v) : r->SetUInt32(message, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_UINT64: {
      uint64_t v;
      if (!ParseInt(value, &v)) return BadValue(field, value, "an unsigned 64-bit integer");
      repeated ? r->AddUInt64(message, field, v) : r->SetUInt64(message, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_DOUBLE: {
      double v;
      if (!absl::SimpleAtod(value, &v)) return BadValue(field, value, "a number");
      repeated ? r->AddDouble(message, field, v) : r->SetDouble(message, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_FLOAT: {
      float v;
      if (!absl::SimpleAtof(value, &v)) return BadValue(field, value, "a number");
      repeated ? r->AddFloat(message, field, v) : r->SetFloat(message, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_BOOL: {
      bool v;
      if (value == "true" || value == "1") {
        v = true;
      } else if (value == "false" || value == "0") {
        v = false;
      } else {
        return BadValue(field, value, "true or false");
      }
      repeated ? r->AddBool(message, field, v) : r->SetBool(message, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_ENUM: {
      const google::protobuf::EnumValueDescriptor* e =
          field->enum_type()->FindValueByName(std::string(value));
      int number = 0;
      if (e == nullptr && absl::SimpleAtoi(value, &number)) {
        e = field->enum_type()->FindValueByNumber(number);
      }
      if (e == nullptr) {
        return BadValue(field, value, absl::StrCat("a value of ", field->enum_type()->full_name()));
      }
      repeated ? r->AddEnum(message, field, e) : r->SetEnum(message, field, e);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      // Well-known types whose JSON form is a scalar take that form.
      const google::protobuf::Descriptor* type = field->message_type();
      const bool wrapper = type->file()->name() == "google/protobuf/wrappers.proto";
      const bool scalar_json = type->full_name() == "google.protobuf.Timestamp" ||
                               type->full_name() == "google.protobuf.Duration" ||
                               type->full_name() == "google.protobuf.FieldMask";
      if (!wrapper && !scalar_json) {
        return absl::InvalidArgumentError(absl::StrCat(
            "field \"", field_path, "\" is a message; name one of its fields"));
      }
      Message* sub = repeated ? r->AddMessage(message, field) : r->MutableMessage(message, field);
      if (wrapper) return SetFieldFromText(sub, "value", value);
      std::string json = "\"";
      for (char c : value) {
        if (c == '"' || c == '\\') json.push_back('\\');
        json.push_back(c);
      }
      json.push_back('"');
      if (!google::protobuf::util::JsonStringToMessage(json, sub).ok()) {
        return BadValue(field, value, absl::StrCat("a ", type->full_name(), " in JSON form"));
      }
      return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError(absl::StrCat("field \"", field_path, "\" cannot be set"));
}

}  // namespace ota::server::gateway
