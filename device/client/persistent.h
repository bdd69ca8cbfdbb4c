// Small crash-safe files for ota-device: a protobuf message per file,
// replaced whole with fsync and rename (common/base/file.h), and the outbox
// of status reports built on it.
//
//   ProtoFile<Journal> journal(state_dir + "/journal.pb");
//   absl::StatusOr<Journal> j = journal.Load();   // empty message if absent
//   absl::Status s = journal.Save(*j);
#ifndef OTA_DEVICE_CLIENT_PERSISTENT_H_
#define OTA_DEVICE_CLIENT_PERSISTENT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/base/file.h"
#include "device/client/state.pb.h"
#include "ota/v1/device.pb.h"

namespace ota::device {

template <typename Message>
class ProtoFile {
 public:
  explicit ProtoFile(std::string path) : path_(std::move(path)) {}

  // The stored message; an empty one when the file does not exist.
  // DATA_LOSS when it exists but does not parse.
  absl::StatusOr<Message> Load() const {
    absl::StatusOr<std::string> bytes = common::ReadFile(path_, 64 << 20);
    if (absl::IsNotFound(bytes.status())) return Message();
    if (!bytes.ok()) return bytes.status();
    Message m;
    if (!m.ParseFromString(*bytes)) {
      return absl::DataLossError(absl::StrCat(path_, " does not parse"));
    }
    return m;
  }

  // Replaces the file with `message`, durably.
  absl::Status Save(const Message& message) const {
    return common::WriteFileAtomically(path_, message.SerializeAsString(), 0600);
  }

  // Removes the file (the state it held is over). OK if absent.
  absl::Status Clear() const { return Save(Message()); }

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Status reports waiting for the server's acknowledgement. Each report gets
// the next seq and is on disk before Add returns; Ack drops what the server
// holds. Thread-safe.
class ReportOutbox {
 public:
  explicit ReportOutbox(std::string path) : file_(std::move(path)) {}

  // Reads the outbox from disk. Must be called once before use.
  absl::Status Open();

  // Numbers `report`, stores it durably and returns its seq.
  absl::StatusOr<uint64_t> Add(ota::v1::StatusReport report);

  // Reports not yet acknowledged, oldest first, at most `max`.
  std::vector<ota::v1::StatusReport> Pending(size_t max) const;

  // Drops every report with seq <= `acked_seq`.
  absl::Status Ack(uint64_t acked_seq);

  size_t size() const;

  // The seq of the newest report ever added (0 when none).
  uint64_t LastSeq() const;

 private:
  ProtoFile<Outbox> file_;
  mutable absl::Mutex mu_;
  Outbox outbox_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ota::device

#endif  // OTA_DEVICE_CLIENT_PERSISTENT_H_
