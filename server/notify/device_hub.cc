#include "server/notify/device_hub.h"

namespace ota::server {

std::shared_ptr<DeviceHub::Waker> DeviceHub::Attach(const std::string& device_id,
                                                    Callbacks callbacks) {
  auto waker = std::make_shared<Waker>(std::move(callbacks));
  std::shared_ptr<Waker> old;
  {
    absl::MutexLock lock(&mu_);
    std::shared_ptr<Waker>& slot = streams_[device_id];
    old = std::move(slot);
    slot = waker;
  }
  if (old != nullptr) {
    old->replaced_ = true;
    if (old->callbacks_.on_replaced) old->callbacks_.on_replaced();
  }
  return waker;
}

void DeviceHub::Detach(const std::string& device_id, const std::shared_ptr<Waker>& waker) {
  absl::MutexLock lock(&mu_);
  auto it = streams_.find(device_id);
  if (it != streams_.end() && it->second == waker) streams_.erase(it);
}

void DeviceHub::Wake(const std::vector<std::string>& device_ids) {
  std::vector<std::shared_ptr<Waker>> woken;
  {
    absl::MutexLock lock(&mu_);
    for (const std::string& id : device_ids) {
      auto it = streams_.find(id);
      if (it == streams_.end()) continue;
      it->second->wake_ = true;
      if (it->second->callbacks_.on_wake) woken.push_back(it->second);
    }
  }
  for (const auto& w : woken) w->callbacks_.on_wake();
}

size_t DeviceHub::Offer(const std::shared_ptr<const SharedDeployment>& shared,
                        const std::vector<std::pair<std::string, std::string>>& deployments) {
  std::vector<std::pair<std::shared_ptr<Waker>, const std::string*>> offered;
  offered.reserve(deployments.size());
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [device_id, deployment_id] : deployments) {
      auto it = streams_.find(device_id);
      if (it == streams_.end() || !it->second->callbacks_.on_deployment) continue;
      offered.emplace_back(it->second, &deployment_id);
    }
  }
  size_t taken = 0;
  for (const auto& [w, deployment_id] : offered) {
    if (w->callbacks_.on_deployment(*deployment_id, shared)) ++taken;
  }
  return taken;
}

std::vector<std::string> DeviceHub::ConnectedIds() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> ids;
  ids.reserve(streams_.size());
  for (const auto& [id, waker] : streams_) ids.push_back(id);
  return ids;
}

size_t DeviceHub::connected() const {
  absl::MutexLock lock(&mu_);
  return streams_.size();
}

}  // namespace ota::server
