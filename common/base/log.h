// Structured logs: one line per event in logfmt, on stderr, so that a
// person can read them and a collector (Loki, Vector, journald) can index
// them by key:
//
//   ts=2026-11-30T05:11:34.123Z level=info event=campaign.state
//       campaign_id=0f3a... from=ACTIVE to=PAUSED reason="maintenance window"
//
//   LogEvent(LogLevel::kInfo, "campaign.state",
//            {{"campaign_id", id}, {"from", "ACTIVE"}, {"to", "PAUSED"}});
//
// Values with spaces, quotes, '=' or control characters are quoted and
// escaped; a line is written with one write call, so lines of concurrent
// threads never interleave.
#ifndef OTA_COMMON_BASE_LOG_H_
#define OTA_COMMON_BASE_LOG_H_

#include <cstdint>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace ota::common {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

using LogField = std::pair<absl::string_view, std::string>;

// The line LogEvent writes (without the trailing newline), at `unix_ms`.
std::string FormatLogLine(int64_t unix_ms, LogLevel level, absl::string_view event,
                          absl::Span<const LogField> fields);

// Writes an event at the current time to stderr.
void LogEvent(LogLevel level, absl::string_view event, absl::Span<const LogField> fields);

}  // namespace ota::common

#endif  // OTA_COMMON_BASE_LOG_H_
