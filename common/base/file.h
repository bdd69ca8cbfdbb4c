// Whole-file reads and crash-safe whole-file writes.
//
//   absl::StatusOr<std::string> bytes = ReadFile("fw.manifest");
//   absl::Status s = WriteFileAtomically("state.json", text, 0600);
//
// WriteFileAtomically writes a temporary file beside the target, fsyncs it,
// renames it over the target and fsyncs the directory: after a power cut
// the target holds either the old or the new content, never a mix.
#ifndef OTA_COMMON_BASE_FILE_H_
#define OTA_COMMON_BASE_FILE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ota::common {

// The whole content of `path`. NOT_FOUND when it does not exist;
// FAILED_PRECONDITION when it is larger than `max_size` (checked before
// reading); INTERNAL with the errno text for other failures.
absl::StatusOr<std::string> ReadFile(const std::string& path,
                                     size_t max_size = size_t{1} << 30);

// Replaces `path` with `data` atomically and durably; the file gets `mode`.
// INTERNAL with the errno text on failure, leaving `path` as it was.
absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view data, int mode = 0644);

// Creates `path` and missing parents with mode 0755. OK if it exists.
absl::Status MakeDirs(const std::string& path);

// True when `path` exists (any type).
bool PathExists(const std::string& path);

}  // namespace ota::common

#endif  // OTA_COMMON_BASE_FILE_H_
