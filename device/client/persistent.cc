#include "device/client/persistent.h"

namespace ota::device {

absl::Status ReportOutbox::Open() {
  absl::StatusOr<Outbox> loaded = file_.Load();
  if (!loaded.ok()) return loaded.status();
  absl::MutexLock lock(&mu_);
  outbox_ = *std::move(loaded);
  if (outbox_.next_seq() == 0) outbox_.set_next_seq(1);
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> ReportOutbox::Add(ota::v1::StatusReport report) {
  absl::MutexLock lock(&mu_);
  Outbox next = outbox_;
  uint64_t seq = next.next_seq();
  report.set_seq(seq);
  *next.add_pending() = std::move(report);
  next.set_next_seq(seq + 1);
  if (absl::Status s = file_.Save(next); !s.ok()) return s;
  outbox_ = std::move(next);
  return seq;
}

std::vector<ota::v1::StatusReport> ReportOutbox::Pending(size_t max) const {
  absl::MutexLock lock(&mu_);
  std::vector<ota::v1::StatusReport> out;
  for (const auto& r : outbox_.pending()) {
    if (out.size() >= max) break;
    out.push_back(r);
  }
  return out;
}

absl::Status ReportOutbox::Ack(uint64_t acked_seq) {
  absl::MutexLock lock(&mu_);
  Outbox next;
  next.set_next_seq(outbox_.next_seq());
  for (const auto& r : outbox_.pending()) {
    if (r.seq() > acked_seq) *next.add_pending() = r;
  }
  if (next.pending_size() == outbox_.pending_size()) return absl::OkStatus();
  if (absl::Status s = file_.Save(next); !s.ok()) return s;
  outbox_ = std::move(next);
  return absl::OkStatus();
}

uint64_t ReportOutbox::LastSeq() const {
  absl::MutexLock lock(&mu_);
  return outbox_.next_seq() == 0 ? 0 : outbox_.next_seq() - 1;
}

size_t ReportOutbox::size() const {
  absl::MutexLock lock(&mu_);
  return outbox_.pending_size();
}

}  // namespace ota::device
