// Fuzzes the device filter language (server/filter/filter.h): Parse, then
// for an accepted filter ToString, ToSql and Matches.
//
// Input: the filter text. Aborts when an accepted filter breaks a promise
// of filter.h: ToString's text must parse to the same filter (same text,
// SQL and matches) and stay within kMaxFilterLength; ToSql must number its
// placeholders in order, one per parameter, and write no literal into the
// SQL text; "not (...)" around it must match exactly the other devices.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "server/filter/filter.h"
#include "test/fuzz/invariant.h"

namespace {

using ota::fuzz::Require;

using ota::server::DeviceFilter;
using ota::server::FilterableDevice;

// A few devices that differ in every field, some with attributes the seeds
// name, so that Matches is exercised both ways.
std::vector<FilterableDevice> Devices() {
  std::vector<FilterableDevice> devices(3);
  devices[0].device_id = "gw-7-0001";
  devices[0].online = true;
  devices[0].installed_sequence = 41;
  devices[0].installed_slot = "a";
  devices[0].attributes = {{"region", "eu"}, {"gateway", "gw-7"}};
  devices[1].device_id = "b";
  devices[1].installed_sequence = 42;
  devices[1].installed_version = "2.0.0";
  devices[1].installed_component = "rootfs";
  devices[1].attributes = {{"region", "us"}, {"a", ""}};
  devices[2].device_id = "a";
  devices[2].vendor_id = "cfbff0d1-9375-5685-968c-48ce8b15ae17";
  devices[2].installed_sequence = UINT64_MAX;
  return devices;
}

// Placeholders $first, $first+1, ... each appear, and none beyond.
void CheckSql(const std::string& sql, const std::vector<std::string>& params,
              int first, const std::string& text) {
  Require(sql.find('\'') == std::string::npos, "a quote in the SQL text",
          text);
  Require(sql.find(';') == std::string::npos, "a ';' in the SQL text", text);
  for (size_t i = 0; i < params.size(); ++i) {
    Require(absl::StrContains(sql, absl::StrCat("$", first + i, "::")),
            "a parameter without its placeholder", text);
  }
  Require(!absl::StrContains(sql, absl::StrCat("$", first + params.size(), "::")),
          "a placeholder without its parameter", text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<FilterableDevice>* const devices =
      new std::vector<FilterableDevice>(Devices());
  const std::string text(reinterpret_cast<const char*>(data), size);

  absl::StatusOr<DeviceFilter> filter = DeviceFilter::Parse(text);
  if (!filter.ok()) {
    Require(filter.status().code() == absl::StatusCode::kInvalidArgument,
            "a refusal that is not INVALID_ARGUMENT", text);
    Require(absl::StartsWith(filter.status().message(), "filter: at "),
            "a refusal without its offset", text);
    return 0;
  }
  Require(text.size() <= ota::server::kMaxFilterLength,
          "a filter over the length limit was accepted", text);

  const std::string normal = filter->ToString();
  Require(normal.size() <= ota::server::kMaxFilterLength,
          "ToString is over the length limit", text);
  absl::StatusOr<DeviceFilter> again = DeviceFilter::Parse(normal);
  Require(again.ok(), "ToString's text does not parse",
          absl::StrCat(text, "\n", normal, "\n", again.status().ToString()));
  Require(again->ToString() == normal, "ToString is not stable",
          absl::StrCat(text, "\n", normal, "\n", again->ToString()));

  std::vector<std::string> params{"caller's"};
  const std::string sql = filter->ToSql(2, &params);
  CheckSql(sql, std::vector<std::string>(params.begin() + 1, params.end()), 2,
           text);
  std::vector<std::string> params_again{"caller's"};
  Require(again->ToSql(2, &params_again) == sql && params_again == params,
          "the reparsed filter gives other SQL", text);

  for (const FilterableDevice& device : *devices) {
    Require(filter->Matches(device) == again->Matches(device),
            "the reparsed filter matches differently", text);
  }

  // The negation matches exactly the other devices (when it still fits the
  // limits).
  if (normal.empty()) return 0;
  absl::StatusOr<DeviceFilter> negated =
      DeviceFilter::Parse(absl::StrCat("not (", normal, ")"));
  if (negated.ok()) {
    for (const FilterableDevice& device : *devices) {
      Require(negated->Matches(device) != filter->Matches(device),
              "the negation matches the same device", text);
    }
  }
  return 0;
}
