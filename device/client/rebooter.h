// Restarting the device into the slot the boot header names. A real device
// runs its reboot command; a simulated one exits so that its supervisor
// (the simulated fleet) plays the bootloader and starts it again.
#ifndef OTA_DEVICE_CLIENT_REBOOTER_H_
#define OTA_DEVICE_CLIENT_REBOOTER_H_

#include "absl/status/status.h"

namespace ota::device {

class Rebooter {
 public:
  virtual ~Rebooter() = default;
  // Starts the reboot. Returns only if it could not (or, in tests, when the
  // fake records the request).
  virtual absl::Status Reboot() = 0;
};

}  // namespace ota::device

#endif  // OTA_DEVICE_CLIENT_REBOOTER_H_
