#!/usr/bin/env bash
# Installs every system dependency imprint needs on Debian 12 / Ubuntu.
# Idempotent: when everything is present it checks and returns in about a second.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libtorch-dev                       # libtorch 1.13 (CPU) with CMake config
  libopenmpi-dev openmpi-bin         # launcher and CPU collectives
  libhdf5-dev                        # sharded datasets
  libyaml-cpp-dev libspdlog-dev libcli11-dev nlohmann-json3-dev
  libgtest-dev libbenchmark-dev
  libpng-dev libjpeg-dev libsndfile1-dev libsoxr-dev
  python3-h5py python3-torch         # interop tests and the DDP reference benchmark
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} system packages present"
  exit 0
fi

echo "setup: installing ${#missing[@]} package(s): ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
