#!/usr/bin/env bash
# Installs every system dependency imprint needs on Debian 12 / Ubuntu.
# Idempotent: when everything is present it checks and returns in about a second.
#   --tests   also what the test suite needs beyond building: a throwaway Slurm (slurmctld, slurmd, munge)
#             for the preemption tests (tests/slurm/, tests/multihost/), iproute2 and iptables for the emulated
#             hosts of the multi-host tests (network namespaces; iptables slows their link, tests/multihost/),
#             clang-format (the style check, tests/lint/), and .venv-tests/, a Python venv over Debian's Python
#             (so it sees python3-torch and numpy) with PyPI's safetensors and tensorboard, whose readers check
#             imprint's exports and event files. Optional: what cannot be installed makes its tests skip,
#             visibly. No daemon is enabled or started by this script.
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
  python3-matplotlib python3-venv    # launch/plot_run.py; the test venv (safetensors, tensorboard readers)
  python3-pil python3-fonttools fontconfig           # the font recipe's renderer (recipes/fonts/)
  fonts-dejavu-core fonts-dejavu-extra fonts-liberation  # its small set (run.sh --small, CI); the full
                                                         # recipe installs the rest (run.sh --install)
  espeak-ng flite                    # the voices recipe's small set (recipes/voices/run.sh --small, CI);
                                     # the full recipe installs festival and its voices (run.sh --install)
)
optional=()
if [ "${1:-}" = "--tests" ]; then
  optional=(slurmctld slurmd slurm-client munge clang-format iproute2 iptables)
fi

missing_of() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}
missing=($(missing_of "${packages[@]}"))
missing_optional=($(missing_of ${optional[@]+"${optional[@]}"}))

test_venv() {
  [ "${1:-}" = "--tests" ] || return 0
  local venv
  venv="$(cd "$(dirname "$0")/.." && pwd)/.venv-tests"
  if "$venv/bin/python" -c "import safetensors, tensorboard, torch, numpy" 2>/dev/null; then
    echo "setup: test venv $venv ready"
    return 0
  fi
  echo "setup: making the test venv $venv (safetensors, tensorboard from PyPI)"
  { /usr/bin/python3 -m venv --system-site-packages "$venv" &&
    "$venv/bin/python" -m pip install -q --disable-pip-version-check safetensors tensorboard; } ||
    echo "setup: WARNING: could not make the test venv; the export and TensorBoard tests will be reported as skipped"
}

if [ ${#missing[@]} -eq 0 ] && [ ${#missing_optional[@]} -eq 0 ]; then
  echo "setup: all $(( ${#packages[@]} + ${#optional[@]} )) system packages present"
  test_venv "$@"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${#missing[@]} package(s): ${missing[*]}"
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ ${#missing_optional[@]} -gt 0 ]; then
  echo "setup: installing ${#missing_optional[@]} test package(s): ${missing_optional[*]}"
  $SUDO apt-get install -y -qq --no-install-recommends "${missing_optional[@]}" >/dev/null ||
    echo "setup: WARNING: could not install ${missing_optional[*]}; the Slurm, multi-host and style tests that need them will be reported as skipped"
fi
test_venv "$@"
echo "setup: done"
