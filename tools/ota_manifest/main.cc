// ota-manifest: make update keys, and create, verify and show signed
// manifests. See `ota-manifest help`.
#include <iostream>
#include <string>
#include <vector>

#include "tools/ota_manifest/commands.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return ota::tools::Main(args, std::cout, std::cerr);
}
