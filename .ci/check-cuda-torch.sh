#!/usr/bin/env bash
# Compile-and-link check of every CUDA target against a CUDA build of libtorch: the one inside the PyPI
# `torch` wheel (a build against Debian's libtorch, CPU-only, or against only the CPU half of the wheel's,
# cmake/torch.cmake, cannot compile the torch glue of the CUDA optimizer or the NCCL backend). Builds
# imprint, every GPU test (the CUDA optimizer's kernels and torch glue, the NCCL collectives) and the GPU
# benchmarks. Nothing here runs on a GPU: the GPU tests RUN in the default build
# (kernels; SKIPPED without a GPU) and under launch/smoke-gpu.sh --tests where a GPU is.
# Needs nvcc (/usr/local/cuda); skips, saying so, without it.
#
# Link note: without the venv, the wheel's libtorch_cuda.so needs cuDNN, cuBLAS, NVSHMEM... from other wheels
# that are not downloaded; the link uses --allow-shlib-undefined so that only those libraries' symbols may stay
# unresolved, while every symbol imprint's own objects need must still resolve.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v nvcc >/dev/null && [ ! -x /usr/local/cuda/bin/nvcc ]; then
  echo "check-cuda-torch: SKIPPED (no nvcc found)"; exit 0
fi
# The default build is already one (launch/build.sh builds against the venv's whole CUDA libtorch where nvcc
# is found): its CUDA targets, built by the README's test command, are the check.
if grep -q "torch-CUDA glue=ON" build-configure.log 2>/dev/null; then
  targets=(imprint imprint_cuda_tests cuda_optimizer_bench)
  if grep -q "NCCL=ON" build-configure.log; then targets+=(imprint_nccl_tests nccl_allreduce_bench); fi
  cmake --build build -j"${IMPRINT_BUILD_JOBS:-2}" --target "${targets[@]}"
  echo "check-cuda-torch: OK (${targets[*]} compiled and linked in build/ against $(grep -o 'libtorch .*' build-configure.log | head -1))"
  exit 0
fi
# Otherwise a build of its own (build-cuda-torch/), against the torch of the project venv (.venv/,
# launch/setup.sh: the same pinned wheel); without one, the wheel alone, downloaded and unpacked into a cache.
root=""
for d in .venv/lib/python3*/site-packages/torch; do
  [ -f "$d/share/cmake/Torch/TorchConfig.cmake" ] && root=$(cd "$d/.." && pwd)
done
if [ -n "$root" ]; then
  wheel="the project venv's torch"
else
  cache="${IMPRINT_TORCH_WHEEL_DIR:-$HOME/.cache/imprint/torch-wheel}"
  mkdir -p "$cache"
  if ! ls "$cache"/torch-*.whl >/dev/null 2>&1; then
    python3 -m pip --version >/dev/null 2>&1 || apt-get install -y -qq python3-pip >/dev/null
    echo "check-cuda-torch: downloading the torch wheel (no dependencies) into $cache"
    python3 -m pip download --no-deps -q -d "$cache" "$(grep '^torch==' launch/requirements.txt)"
  fi
  wheel=$(ls "$cache"/torch-*.whl | head -1)
  root="$cache/unpacked"
  if [ ! -f "$root/torch/share/cmake/Torch/TorchConfig.cmake" ]; then
    rm -rf "$root"; mkdir -p "$root"
    python3 - "$wheel" "$root" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for n in z.namelist():
        if n.startswith(("torch/include/", "torch/lib/", "torch/share/", "torch/version.py")):
            z.extract(n, sys.argv[2])
PY
  fi
  wheel=$(basename "$wheel")
fi
echo "check-cuda-torch: $(grep -E "^__version__|^cuda" "$root/torch/version.py" | tr '\n' ' ')"
export TORCH_CUDA_ARCH_LIST="8.0;9.0"
cmake -S . -B build-cuda-torch -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$root/torch/share/cmake" -DTORCH_LIBRARY="$root/torch/lib/libtorch.so" \
  -DIMPRINT_CUDA=ON -DIMPRINT_BUILD_TESTS=ON -DIMPRINT_BUILD_BENCH=ON \
  -DCMAKE_EXE_LINKER_FLAGS=-Wl,--allow-shlib-undefined >build-cuda-torch.log 2>&1 || { tail -40 build-cuda-torch.log; exit 1; }
grep "imprint:" build-cuda-torch.log
grep -q "torch-CUDA glue=ON" build-cuda-torch.log || { echo "check-cuda-torch: the wheel's torch has no CUDA target"; exit 1; }
targets=(imprint imprint_cuda_tests cuda_optimizer_bench)
if grep -q "NCCL=ON" build-cuda-torch.log; then targets+=(imprint_nccl_tests nccl_allreduce_bench); fi
cmake --build build-cuda-torch -j"${IMPRINT_BUILD_JOBS:-2}" --target "${targets[@]}"
echo "check-cuda-torch: OK (${targets[*]} compiled and linked against $wheel)"
