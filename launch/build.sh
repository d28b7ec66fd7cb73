#!/usr/bin/env bash
# Configures and builds imprint into build/ (Release). Extra arguments are passed to the build step,
# e.g. `--target imprint`. IMPRINT_WERROR=1 (CI sets it) makes compiler warnings errors.
set -euo pipefail
cd "$(dirname "$0")/.."
generator=()
command -v ninja >/dev/null && [ ! -f build/Makefile ] && generator=(-G Ninja)
werror=OFF
[ "${IMPRINT_WERROR:-0}" = 1 ] && werror=ON
cmake -S . -B build "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DIMPRINT_WERROR=$werror >build-configure.log 2>&1 || {
  cat build-configure.log; exit 1; }
grep "imprint:" build-configure.log || true
cmake --build build -j"${IMPRINT_BUILD_JOBS:-2}" "$@"
