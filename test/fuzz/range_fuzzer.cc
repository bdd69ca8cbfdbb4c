// Fuzzes ParseRange and ContentRange (server/http/range.h).
//
// Input: 8 bytes of representation size (little-endian; short inputs give
// small sizes), then the Range header's value. Aborts when a partial range
// does not lie within the representation.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "server/http/range.h"
#include "test/fuzz/invariant.h"

using ota::fuzz::Require;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using ota::server::ByteRange;
  uint64_t file_size = 0;
  size_t n = size < 8 ? size : 8;
  for (size_t i = 0; i < n; ++i) file_size |= uint64_t{data[i]} << (8 * i);
  absl::string_view header(reinterpret_cast<const char*>(data) + n, size - n);

  ByteRange r = ota::server::ParseRange(header, file_size);
  std::string content_range = ota::server::ContentRange(r, file_size);
  switch (r.kind) {
    case ByteRange::kWhole:
      break;
    case ByteRange::kPartial:
      Require(file_size > 0, "a partial range of an empty representation");
      Require(r.first <= r.last, "a partial range ends before it starts");
      Require(r.last < file_size, "a partial range ends past the end");
      Require(r.length() >= 1 && r.length() <= file_size,
              "a partial range's length is outside 1..size");
      Require(content_range == absl::StrCat("bytes ", r.first, "-", r.last,
                                            "/", file_size),
              "Content-Range does not name the range");
      break;
    case ByteRange::kUnsatisfiable:
      Require(content_range == absl::StrCat("bytes */", file_size),
              "Content-Range of an unsatisfiable range");
      break;
    default:
      Require(false, "unknown range kind");
  }
  // An absent header always means the whole representation.
  if (header.empty()) Require(r.kind == ByteRange::kWhole, "empty header");
  return 0;
}
