#include <openssl/rand.h>

#include "common/base/check.h"
#include "common/crypto/random.h"

namespace ota::common {

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  OTA_CHECK(RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) == 1);
  return out;
}

}  // namespace ota::common
