#!/usr/bin/env bash
# Installs every system dependency imprint needs on Debian 12 / Ubuntu, and the project's Python venv.
# Idempotent: when everything is present it checks and returns in a few seconds.
#   .venv/    a Python venv over Debian's Python (so it sees numpy, h5py, matplotlib) with the pinned PyPI
#             packages of launch/requirements.txt: torch 2.x, whose bundled libtorch launch/build.sh builds
#             against (about 5 GB with its CUDA libraries; a download of ~3 GB the first time), and the
#             safetensors and TensorBoard readers the tests check exports with. If it cannot be made (no
#             PyPI), build.sh falls back to Debian's libtorch 1.13, saying so.
#   --tests   also what the test suite needs beyond building: a throwaway Slurm (slurmctld, slurmd, munge)
#             for the preemption tests (tests/slurm/, tests/multihost/), iproute2 and iptables for the emulated
#             hosts of the multi-host tests (network namespaces; iptables slows their link, tests/multihost/),
#             and clang-format (the style check, tests/lint/). Optional: what cannot be installed makes its
#             tests skip, visibly. No daemon is enabled or started by this script.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libtorch-dev                       # libtorch 1.13 (CPU): the fallback when .venv/ cannot be made
  libopenmpi-dev openmpi-bin         # launcher and CPU collectives
  libhdf5-dev                        # sharded datasets
  libyaml-cpp-dev libspdlog-dev libcli11-dev nlohmann-json3-dev
  libgtest-dev libbenchmark-dev
  libpng-dev libjpeg-dev libsndfile1-dev libsoxr-dev
  python3-h5py python3-torch         # interop tests and the DDP reference benchmark
  python3-matplotlib python3-venv    # launch/plot_run.py; the project venv (.venv/, below)
  python3-pil python3-fonttools fontconfig           # the font recipe's renderer (recipes/fonts/)
  fonts-dejavu-core fonts-dejavu-extra fonts-liberation  # its small set (run.sh --small, CI); the full
                                                         # recipe installs the rest (run.sh --install)
  espeak-ng flite                    # the voices recipe's small set (recipes/voices/run.sh --small, CI);
                                     # the full recipe installs festival and its voices (run.sh --install)
  sox                                # its held-out channel: GSM round trips (recipes/voices/robustness.sh)
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

project_venv() {
  local root venv
  root="$(cd "$(dirname "$0")/.." && pwd)"
  venv="$root/.venv"
  if [ -f "$venv/requirements.txt" ] && cmp -s "$venv/requirements.txt" "$root/launch/requirements.txt" &&
    "$venv/bin/python" -c "import torch, safetensors, tensorboard, numpy" 2>/dev/null; then
    echo "setup: project venv $venv ready (torch $("$venv/bin/python" -c 'import torch; print(torch.__version__)'))"
    return 0
  fi
  echo "setup: making the project venv $venv (launch/requirements.txt: torch and its CUDA libraries, ~3 GB" \
    "to download the first time; safetensors, tensorboard)"
  { /usr/bin/python3 -m venv --system-site-packages "$venv" &&
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$root/launch/requirements.txt" &&
    cp "$root/launch/requirements.txt" "$venv/requirements.txt"; } ||
    echo "setup: WARNING: could not make the project venv; launch/build.sh will build against Debian's" \
      "libtorch 1.13, and the export and TensorBoard tests will be reported as skipped"
}

if [ ${#missing[@]} -eq 0 ] && [ ${#missing_optional[@]} -eq 0 ]; then
  echo "setup: all $(( ${#packages[@]} + ${#optional[@]} )) system packages present"
  project_venv
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
project_venv
echo "setup: done"
