#include "server/notify/device_hub.h"

namespace ota::server {

std::shared_ptr<DeviceHub::Waker> DeviceHub::Attach(const std::string& device_id) {
  auto waker = std::make_shared<Waker>();
  absl::MutexLock lock(&mu_);
  streams_[device_id] = waker;
  return waker;
}

void DeviceHub::Detach(const std::string& device_id, const std::shared_ptr<Waker>& waker) {
  absl::MutexLock lock(&mu_);
  auto it = streams_.find(device_id);
  if (it != streams_.end() && it->second == waker) streams_.erase(it);
}

void DeviceHub::Wake(const std::vector<std::string>& device_ids) {
  absl::MutexLock lock(&mu_);
  for (const std::string& id : device_ids) {
    auto it = streams_.find(id);
    if (it != streams_.end()) it->second->wake_ = true;
  }
}

size_t DeviceHub::connected() const {
  absl::MutexLock lock(&mu_);
  return streams_.size();
}

}  // namespace ota::server
