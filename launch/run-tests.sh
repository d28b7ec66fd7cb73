#!/usr/bin/env bash
# Install dependencies, build everything (library, CLI, tests, benchmarks, CUDA kernels when nvcc is
# present) and run the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash launch/setup.sh --tests
bash launch/build.sh
cd build
ctest --output-on-failure -j2 --timeout 900
