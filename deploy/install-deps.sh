#!/usr/bin/env bash
# Installs the Debian 12 packages this project builds, tests and runs with.
# Safe to run again: it installs only what is missing and runs
# `apt-get update` only when something is.
set -euo pipefail

packages=(
  # build
  bazel-bootstrap bazel-rules-java g++ pkg-config python3
  protobuf-compiler protobuf-compiler-grpc libprotobuf-dev libgrpc++-dev
  golang-github-gogo-googleapis-dev libabsl-dev libssl-dev libpqxx-dev
  libmicrohttpd-dev libcurl4-openssl-dev prometheus-cpp-dev libzstd-dev
  # tests and benchmarks (chromium: the web page's browser test)
  libgtest-dev libgmock-dev libbenchmark-dev openssl curl chromium
  # fuzz targets (test/fuzz/): clang with libFuzzer and the sanitizers
  clang-14 libclang-rt-14-dev make
  # U-Boot in QEMU for test/uboot/ (the boot script run for real)
  u-boot-qemu qemu-system-arm u-boot-tools
  # run (procps: the demo's pkill)
  postgresql procps
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# Node.js and npm drive the browser test (test/web). A machine may have
# them from elsewhere than Debian; Debian's are installed only when the
# commands are missing.
for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    missing+=("$([[ $tool == node ]] && echo nodejs || echo npm)")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "missing packages: ${missing[*]}; run as root to install them" >&2
  exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
