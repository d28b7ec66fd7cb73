#!/usr/bin/env bash
# Configures and builds imprint into build/ (Release). Extra arguments are passed to the build step,
# e.g. `--target imprint`.
set -euo pipefail
cd "$(dirname "$0")/.."
generator=()
command -v ninja >/dev/null && [ ! -f build/Makefile ] && generator=(-G Ninja)
cmake -S . -B build "${generator[@]}" -DCMAKE_BUILD_TYPE=Release >build-configure.log 2>&1 || {
  cat build-configure.log; exit 1; }
grep "imprint:" build-configure.log || true
cmake --build build -j"${IMPRINT_BUILD_JOBS:-2}" "$@"
