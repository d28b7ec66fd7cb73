#!/usr/bin/env bash
# Configures and builds imprint into build/ (Release). Extra arguments are passed to the build step,
# e.g. `--target imprint`. IMPRINT_WERROR=1 (CI sets it) makes compiler warnings errors, =0 not; unset, the
# build keeps its setting (off in a new build/).
# libtorch (docs/running.md, "Which libtorch"): the one in the project venv's torch (.venv/, made by
# launch/setup.sh; PyPI's wheel, 2.x) when there is one, else Debian's libtorch-dev (1.13). From the venv:
#   - where nvcc is found (the CUDA kernels are built), the whole CUDA libtorch through torch's own CMake
#     config, with the wheel's NCCL (the one libtorch itself loads: one NCCL per process): a GPU build;
#   - otherwise only its CPU half (cmake/torch.cmake): no CUDA libraries loaded at every start.
# IMPRINT_TORCH=debian or =venv asks for one of them; IMPRINT_CUDA=OFF builds no CUDA (and the CPU half).
set -euo pipefail
cd "$(dirname "$0")/.."
generator=()
command -v ninja >/dev/null && [ ! -f build/Makefile ] && generator=(-G Ninja)
# -Werror only when asked either way: unset keeps what build/ was configured with, so that the main job run after
# the tests (or the other way round) does not recompile everything for a flag.
werror=()
case "${IMPRINT_WERROR:-}" in
  1) werror=(-DIMPRINT_WERROR=ON) ;;
  0) werror=(-DIMPRINT_WERROR=OFF) ;;
esac
cuda="${IMPRINT_CUDA:-AUTO}"
venv_torch=""
for d in "$PWD"/.venv/lib/python3*/site-packages/torch; do
  [ -f "$d/lib/libtorch_cpu.so" ] && venv_torch=$d
done
case "${IMPRINT_TORCH:-auto}" in
  debian) venv_torch="" ;;
  venv)
    [ -n "$venv_torch" ] || { echo "build: IMPRINT_TORCH=venv but .venv/ has no torch (run launch/setup.sh)" >&2; exit 1; } ;;
  auto)
    [ -n "$venv_torch" ] || echo "build: no torch in .venv/ (launch/setup.sh makes it): building against Debian's libtorch" ;;
  *) echo "build: IMPRINT_TORCH must be debian or venv, not '$IMPRINT_TORCH'" >&2; exit 1 ;;
esac
have_nvcc=0
{ command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ]; } && [ "$cuda" != OFF ] && have_nvcc=1
torch_args=()
if [ -z "$venv_torch" ]; then
  choice="debian"
elif [ $have_nvcc = 1 ] && [ -f "$venv_torch/lib/libtorch_cuda.so" ]; then
  choice="venv-cuda"
  torch_args=(-DCMAKE_PREFIX_PATH="$venv_torch/share/cmake")
  nccl=$(realpath -m "$venv_torch/../nvidia/nccl")
  if [ -f "$nccl/include/nccl.h" ]; then
    torch_args+=(-DNCCL_INCLUDE_DIR="$nccl/include" -DNCCL_LIBRARY="$(find "$nccl/lib" -name 'libnccl.so*' | head -1)")
  fi
  # The CUDA libraries of the wheels (cudart 13.x, NCCL, cuDNN...) ahead of the toolkit's in /usr/local/cuda,
  # at link time (libtorch_cuda needs their newer symbols) and at run time (one of each per process).
  wheel_libs=$(find "$(realpath "$venv_torch/..")/nvidia" -mindepth 2 -maxdepth 2 -name lib -type d | sort | paste -sd:)
  torch_args+=(-DCMAKE_EXE_LINKER_FLAGS="-Wl,-rpath,$wheel_libs -Wl,-rpath-link,$wheel_libs")
  # torch's config adds -gencode flags for these to every CUDA target; a cache entry, not the environment, so
  # that CMake's own re-runs (a CMakeLists.txt changed) keep them: its default list includes archs nvcc 13 dropped.
  torch_args+=(-DTORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST:-8.0;9.0}")
else
  choice="venv-cpu"
  torch_args=(-DIMPRINT_TORCH_CPU_FROM="$venv_torch")
fi
# Another libtorch than the last configure's: start the CMake cache afresh (Torch_DIR, Caffe2_DIR and the
# NCCL paths are cached and would otherwise keep pointing at the old one).
if [ -f build/CMakeCache.txt ] && [ "$(cat build/.imprint-torch 2>/dev/null)" != "$choice $venv_torch" ]; then
  echo "build: libtorch changed to $choice: reconfiguring build/ from scratch"
  rm -f build/CMakeCache.txt
fi
cmake -S . -B build "${generator[@]}" -DCMAKE_BUILD_TYPE=Release "${werror[@]}" -DIMPRINT_CUDA="$cuda" \
  "${torch_args[@]}" >build-configure.log 2>&1 || {
  cat build-configure.log; exit 1; }
echo "$choice $venv_torch" >build/.imprint-torch
grep "imprint:" build-configure.log || true
cmake --build build -j"${IMPRINT_BUILD_JOBS:-2}" "$@"
