// ota-bootsim: plays the bootloader on the host. See device/boot/bootsim.h.
#include <iostream>
#include <string>
#include <vector>

#include "device/boot/bootsim.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return ota::device::RunBootsim(args, std::cout, std::cerr);
}
