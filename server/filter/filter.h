// The device filter language: which devices a campaign targets and which
// devices ListDevices returns. One parsed filter is evaluated two ways that
// always agree: in memory against one device (Matches), and in PostgreSQL as
// a WHERE clause over the `devices` table (ToSql).
//
//   absl::StatusOr<DeviceFilter> filter = DeviceFilter::Parse(
//       "class_id == \"ad06a868-7abd-56fa-938b-9aa0b273ccf9\" and "
//       "attr.region in (\"eu\", \"us\")");
//   if (!filter.ok()) return filter.status();  // INVALID_ARGUMENT
//   bool targeted = filter->Matches(device);
//
//   std::vector<std::string> params = {"100"};  // $1 is the caller's
//   std::string sql = absl::StrCat(
//       "SELECT device_id FROM devices WHERE ", filter->ToSql(2, &params),
//       " ORDER BY device_id LIMIT $1::bigint");
//
// The language:
//
//   filter     := empty | or
//   or         := and ("or" and)*
//   and        := unary ("and" unary)*
//   unary      := "not" unary | primary
//   primary    := "(" or ")" | "exists" "(" attr ")" | field
//               | field op value | field ["not"] "in" "(" value ("," value)* ")"
//   op         := "==" | "!=" | "<" | "<=" | ">" | ">="
//   value      := string | integer | "true" | "false"
//
// Strings are double-quoted UTF-8 with \" and \\ as the only escapes and no
// control characters; integers are decimal, 0 to 2^63-1. Keywords are
// lowercase. The fields and their types:
//
//   device_id, vendor_id, class_id            string
//   installed.version, installed.slot,
//   installed.sha256, installed.component     string
//   installed.sequence                        integer
//   online                                    boolean
//   attr.KEY, KEY matching [a-z][a-z0-9_]{0,62}  string (absent when unset)
//
// Every field takes ==, !=, in and not in with values of its own type.
// Strings and integers also take the ordering operators; strings order by
// bytes (COLLATE "C" in SQL), never by locale. A bare field is allowed only
// for booleans (`online`, `not online`). An absent attribute makes ==, in and
// the ordering operators false, and != and not in true.
#ifndef OTA_SERVER_FILTER_FILTER_H_
#define OTA_SERVER_FILTER_FILTER_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ota::server {

// Limits on what Parse accepts. Each exists so that a hostile filter cannot
// exhaust the server: the length bounds the work of every later step, the
// nesting bounds recursion (parser, Matches, ToSql, ToString), and the list
// size bounds the number of SQL parameters one comparison produces.
inline constexpr size_t kMaxFilterLength = 4096;  // bytes
inline constexpr int kMaxFilterNesting = 64;      // "(" and "not" levels
inline constexpr int kMaxFilterListSize = 1000;   // values in one `in` list

// What a filter can see of one device; mirrors the columns of `devices`.
struct FilterableDevice {
  std::string device_id;
  std::string vendor_id;
  std::string class_id;
  bool online = false;
  uint64_t installed_sequence = 0;
  std::string installed_version;
  std::string installed_slot;
  std::string installed_sha256;
  std::string installed_component;
  // The merged attributes (reported, overridden by assigned).
  std::map<std::string, std::string> attributes;
};

namespace filter_internal {
struct Node;
}  // namespace filter_internal

// A parsed, type-checked device filter. Immutable; copies are cheap and may
// be used from several threads at once.
class DeviceFilter {
 public:
  // The empty filter, which matches every device.
  DeviceFilter() = default;

  // Parses and type-checks `text`. An empty or whitespace-only `text` gives
  // the filter that matches every device. Otherwise INVALID_ARGUMENT with the
  // message "filter: at <offset>: <reason>", where <offset> is the 0-based
  // byte position of the offending token (inside a string literal: of the
  // offending byte; at the end: the length of `text`) and <reason> says what
  // was expected and what was found, for example
  //   filter: at 17: expected a value after "==", found end of input
  static absl::StatusOr<DeviceFilter> Parse(absl::string_view text);

  // True when `device` matches the filter.
  bool Matches(const FilterableDevice& device) const;

  // A PostgreSQL boolean expression over the `devices` table that is true
  // exactly for the rows Matches() accepts, never NULL. Placeholders are
  // numbered $first_param, $first_param + 1, ... and their values are
  // appended to `params` in that order, as text (the SQL casts each one,
  // e.g. `$3::bigint`); a placeholder may appear more than once, as the
  // attribute key of an `in` list does. No literal and no attribute key is
  // ever written into the SQL text itself. The empty filter gives "TRUE" and
  // no parameters. `params` must not be null.
  std::string ToSql(int first_param, std::vector<std::string>* params) const;

  // The normalized text form: spaces around keywords and operators, none
  // inside parentheses, no redundant parentheses, strings re-escaped,
  // integers without leading zeros. Parse() accepts it and gives the same
  // filter. When that form would exceed kMaxFilterLength, optional spaces
  // are dropped instead, which never makes it longer than the text this
  // filter was parsed from. The empty filter gives "".
  std::string ToString() const;

 private:
  explicit DeviceFilter(std::shared_ptr<const filter_internal::Node> root)
      : root_(std::move(root)) {}

  // Null for the empty filter.
  std::shared_ptr<const filter_internal::Node> root_;
};

}  // namespace ota::server

#endif  // OTA_SERVER_FILTER_FILTER_H_
