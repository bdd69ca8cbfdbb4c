#include "server/gateway/openapi.h"

#include <map>
#include <set>

#include <google/protobuf/struct.pb.h>

#include "absl/strings/str_cat.h"
#include "common/base/check.h"
#include "server/gateway/errors.h"

namespace ota::server::gateway {

using google::protobuf::Descriptor;
using google::protobuf::EnumDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::ListValue;
using google::protobuf::Struct;
using google::protobuf::Value;

namespace {

constexpr char kErrorSchema[] = "Error";

Value Str(absl::string_view s) {
  Value v;
  v.set_string_value(std::string(s));
  return v;
}

Value Bool(bool b) {
  Value v;
  v.set_bool_value(b);
  return v;
}

Value Object(std::initializer_list<std::pair<std::string, Value>> fields) {
  Value v;
  auto* m = v.mutable_struct_value()->mutable_fields();
  for (const auto& [k, f] : fields) (*m)[k] = f;
  return v;
}

Value& Field(Value* object, const std::string& key) {
  return (*object->mutable_struct_value()->mutable_fields())[key];
}

Value Ref(const std::string& name) {
  return Object({{"$ref", Str(absl::StrCat("#/components/schemas/", name))}});
}

// Collects component schemas of the messages and enums it is asked about.
class Schemas {
 public:
  explicit Schemas(const ProtoComments* comments) : comments_(comments) {}

  // `schema` with a description when `d` has a comment. A $ref takes none:
  // OpenAPI 3.0 ignores what stands beside it.
  template <typename D>
  Value Describe(Value schema, const D* d) const {
    if (comments_ == nullptr || !schema.has_struct_value() ||
        schema.struct_value().fields().count("$ref")) {
      return schema;
    }
    std::string text = comments_->Of(d);
    if (!text.empty()) Field(&schema, "description") = Str(text);
    return schema;
  }

  // The schema of one value of `field` (the element type when repeated).
  Value Element(const FieldDescriptor* field) {
    switch (field->type()) {
      case FieldDescriptor::TYPE_INT32:
      case FieldDescriptor::TYPE_SINT32:
      case FieldDescriptor::TYPE_SFIXED32:
        return Object({{"type", Str("integer")}, {"format", Str("int32")}});
      case FieldDescriptor::TYPE_UINT32:
      case FieldDescriptor::TYPE_FIXED32:
        return Object({{"type", Str("integer")}, {"format", Str("int64")}});
      case FieldDescriptor::TYPE_INT64:
      case FieldDescriptor::TYPE_SINT64:
      case FieldDescriptor::TYPE_SFIXED64:
        return Object({{"type", Str("string")}, {"format", Str("int64")}});
      case FieldDescriptor::TYPE_UINT64:
      case FieldDescriptor::TYPE_FIXED64:
        return Object({{"type", Str("string")}, {"format", Str("uint64")}});
      case FieldDescriptor::TYPE_DOUBLE:
        return Object({{"type", Str("number")}, {"format", Str("double")}});
      case FieldDescriptor::TYPE_FLOAT:
        return Object({{"type", Str("number")}, {"format", Str("float")}});
      case FieldDescriptor::TYPE_BOOL:
        return Object({{"type", Str("boolean")}});
      case FieldDescriptor::TYPE_STRING:
        return Object({{"type", Str("string")}});
      case FieldDescriptor::TYPE_BYTES:
        return Object({{"type", Str("string")}, {"format", Str("byte")}});
      case FieldDescriptor::TYPE_ENUM:
        return Enum(field->enum_type());
      case FieldDescriptor::TYPE_MESSAGE:
      case FieldDescriptor::TYPE_GROUP:
        return Message(field->message_type());
    }
    return Value();
  }

  // The schema of `field` itself: arrays for repeated fields, objects with
  // additionalProperties for maps.
  Value Of(const FieldDescriptor* field) {
    if (field->is_map()) {
      return Object({{"type", Str("object")},
                     {"additionalProperties", Element(field->message_type()->map_value())}});
    }
    if (field->is_repeated()) return Object({{"type", Str("array")}, {"items", Element(field)}});
    return Element(field);
  }

  Value Enum(const EnumDescriptor* type) {
    const std::string& name = type->full_name();
    if (!schemas_.count(name)) {
      Value values;
      for (int i = 0; i < type->value_count(); ++i) {
        *values.mutable_list_value()->add_values() = Str(type->value(i)->name());
      }
      schemas_[name] = Describe(Object({{"type", Str("string")}, {"enum", values}}), type);
    }
    return Ref(name);
  }

  Value Message(const Descriptor* type) {
    const std::string& name = type->full_name();
    if (name == "google.protobuf.Timestamp") {
      return Object({{"type", Str("string")}, {"format", Str("date-time")}});
    }
    if (name == "google.protobuf.Duration" || name == "google.protobuf.FieldMask") {
      return Object({{"type", Str("string")}});
    }
    if (name == "google.protobuf.Struct" || name == "google.protobuf.Empty") {
      return Object({{"type", Str("object")}});
    }
    if (name == "google.protobuf.Value") return Object({});
    if (name == "google.protobuf.ListValue") {
      return Object({{"type", Str("array")}, {"items", Object({})}});
    }
    if (name == "google.protobuf.Any") {
      return Object({{"type", Str("object")},
                     {"properties", Object({{"@type", Object({{"type", Str("string")}})}})},
                     {"additionalProperties", Bool(true)}});
    }
    if (type->file()->name() == "google/protobuf/wrappers.proto") {
      return Element(type->FindFieldByName("value"));
    }
    if (!schemas_.count(name)) {
      schemas_[name] = Value();  // marks it seen, for recursive types
      Value properties = Object({});
      for (int i = 0; i < type->field_count(); ++i) {
        const FieldDescriptor* f = type->field(i);
        Field(&properties, f->json_name()) = Describe(Of(f), f);
      }
      schemas_[name] = Describe(Object({{"type", Str("object")}, {"properties", properties}}), type);
    }
    return Ref(name);
  }

  Value Components() const {
    Value out = Object({});
    for (const auto& [name, schema] : schemas_) Field(&out, name) = schema;
    Field(&out, kErrorSchema) = Object(
        {{"type", Str("object")},
         {"properties",
          Object({{"code", Object({{"type", Str("integer")}, {"format", Str("int32")}})},
                  {"status", Object({{"type", Str("string")}})},
                  {"message", Object({{"type", Str("string")}})}})}});
    return out;
  }

 private:
  const ProtoComments* comments_;
  std::map<std::string, Value> schemas_;
};

// Query parameters for the scalar fields of `type` under `prefix`, skipping
// the fields in `taken`; nested messages add "a.b" names.
void QueryParameters(const Descriptor* type, const std::string& prefix,
                     const std::set<std::string>& taken, std::set<const Descriptor*>* open,
                     Schemas* schemas, ListValue* out) {
  if (open->count(type)) return;  // a recursive type: stop
  open->insert(type);
  for (int i = 0; i < type->field_count(); ++i) {
    const FieldDescriptor* f = type->field(i);
    const std::string name = prefix + f->name();
    if (taken.count(name) || f->is_map()) continue;
    if (f->type() == FieldDescriptor::TYPE_MESSAGE && !f->is_repeated() &&
        f->message_type()->file()->package() != "google.protobuf") {
      QueryParameters(f->message_type(), name + ".", taken, open, schemas, out);
      continue;
    }
    if (f->type() == FieldDescriptor::TYPE_MESSAGE) {
      // Well-known types with a scalar JSON form only.
      Value schema = schemas->Element(f);
      const auto& fields = schema.struct_value().fields();
      if (!fields.count("type") || fields.at("type").string_value() == "object" ||
          fields.at("type").string_value() == "array") {
        continue;
      }
    }
    *out->add_values() = schemas->Describe(Object({{"name", Str(name)},
                                                   {"in", Str("query")},
                                                   {"required", Bool(false)},
                                                   {"schema", schemas->Of(f)}}),
                                           f);
  }
  open->erase(type);
}

Value Operation(const Route& route, Schemas* schemas) {
  const auto* method = route.method;
  const auto* input = method->input_type();
  std::string id = absl::StrCat(method->service()->name(), "_", method->name());
  if (route.binding > 0) absl::StrAppend(&id, "_", route.binding);
  Value op = Object({{"operationId", Str(id)}});
  *Field(&op, "tags").mutable_list_value()->add_values() = Str(method->service()->name());

  ListValue* parameters = Field(&op, "parameters").mutable_list_value();
  std::set<std::string> taken;
  for (const std::string& variable : route.path.variables()) {
    taken.insert(variable);
    const FieldDescriptor* f = nullptr;
    const Descriptor* type = input;
    for (size_t start = 0;;) {
      size_t dot = variable.find('.', start);
      f = type->FindFieldByName(variable.substr(start, dot - start));
      OTA_CHECK(f != nullptr);  // RoutesForServices checked the path
      if (dot == std::string::npos) break;
      type = f->message_type();
      start = dot + 1;
    }
    *parameters->add_values() = schemas->Describe(Object({{"name", Str(variable)},
                                                          {"in", Str("path")},
                                                          {"required", Bool(true)},
                                                          {"schema", schemas->Of(f)}}),
                                                  f);
  }
  if (route.body != "*") {
    if (!route.body.empty()) taken.insert(route.body);
    std::set<const Descriptor*> open;
    QueryParameters(input, "", taken, &open, schemas, parameters);
  }

  if (!route.body.empty()) {
    Value schema = route.body == "*" ? schemas->Message(input)
                                     : schemas->Of(input->FindFieldByName(route.body));
    Field(&op, "requestBody") = Object(
        {{"required", Bool(true)},
         {"content", Object({{"application/json", Object({{"schema", schema}})}})}});
  }

  Value result = route.response_body.empty()
                     ? schemas->Message(method->output_type())
                     : schemas->Of(method->output_type()->FindFieldByName(route.response_body));
  Value content = Object({});
  if (method->server_streaming()) {
    Field(&content, "application/x-ndjson") = Object({{"schema", result}});
    Field(&content, "text/event-stream") = Object({{"schema", Object({{"type", Str("string")}})}});
  } else {
    Field(&content, "application/json") = Object({{"schema", result}});
  }
  Value error = Object({{"description", Str("An error, with the HTTP status of its gRPC code")},
                        {"content", Object({{"application/json",
                                             Object({{"schema", Ref(kErrorSchema)}})}})}});
  op = schemas->Describe(op, method);
  Field(&op, "responses") = Object(
      {{"200",
        Object({{"description",
                 Str(method->server_streaming()
                         ? "A stream of " + method->output_type()->name() +
                               " (server-sent events with Accept: text/event-stream, "
                               "newline-delimited JSON otherwise)"
                         : method->output_type()->name())},
                {"content", content}})},
       {"default", error}});
  return op;
}

// JSON with object keys sorted, so the document reads the same every time.
void Write(const Value& v, int indent, std::string* out) {
  const std::string pad(indent + 2, ' ');
  switch (v.kind_case()) {
    case Value::kStructValue: {
      std::map<std::string, const Value*> sorted;
      for (const auto& [k, f] : v.struct_value().fields()) sorted[k] = &f;
      if (sorted.empty()) {
        out->append("{}");
        return;
      }
      out->append("{\n");
      bool first = true;
      for (const auto& [k, f] : sorted) {
        if (!first) out->append(",\n");
        first = false;
        absl::StrAppend(out, pad, JsonQuote(k), ": ");
        Write(*f, indent + 2, out);
      }
      absl::StrAppend(out, "\n", std::string(indent, ' '), "}");
      return;
    }
    case Value::kListValue: {
      if (v.list_value().values().empty()) {
        out->append("[]");
        return;
      }
      out->append("[\n");
      bool first = true;
      for (const Value& e : v.list_value().values()) {
        if (!first) out->append(",\n");
        first = false;
        out->append(pad);
        Write(e, indent + 2, out);
      }
      absl::StrAppend(out, "\n", std::string(indent, ' '), "]");
      return;
    }
    case Value::kStringValue:
      out->append(JsonQuote(v.string_value()));
      return;
    case Value::kBoolValue:
      out->append(v.bool_value() ? "true" : "false");
      return;
    case Value::kNumberValue:
      absl::StrAppend(out, v.number_value());
      return;
    default:
      out->append("null");
  }
}

}  // namespace

std::string OpenApiDocument(const std::vector<Route>& routes, const std::string& title,
                            const std::string& version, const ProtoComments* comments) {
  Schemas schemas(comments);
  Value paths = Object({});
  std::map<std::string, const google::protobuf::ServiceDescriptor*> tags;
  for (const Route& route : routes) {
    Value& item = Field(&paths, route.path.OpenApiPath());
    if (!item.has_struct_value()) item = Object({});
    std::string method = route.http_method;
    for (char& c : method) c = static_cast<char>(tolower(c));
    Field(&item, method) = Operation(route, &schemas);
    tags[route.method->service()->name()] = route.method->service();
  }
  Value tag_list;
  tag_list.mutable_list_value();
  for (const auto& [name, service] : tags) {
    *tag_list.mutable_list_value()->add_values() =
        schemas.Describe(Object({{"name", Str(name)}}), service);
  }
  Value doc = Object({{"openapi", Str("3.0.3")},
                      {"info", Object({{"title", Str(title)}, {"version", Str(version)}})},
                      {"tags", tag_list},
                      {"paths", paths},
                      {"components", Object({{"schemas", schemas.Components()}})}});
  std::string out;
  Write(doc, 0, &out);
  out.push_back('\n');
  return out;
}

}  // namespace ota::server::gateway
