#!/usr/bin/env bash
# Single-GPU smoke test: builds imprint against a CUDA build of libtorch into build-gpu/ and trains the
# smoke configs on one GPU, in float32 and in bf16, printing what it used (GPU, driver, CUDA, libtorch,
# NCCL) and each run's throughput and loss. docs/running.md ("One GPU").
#
#   bash launch/smoke-gpu.sh [--tests] [--bench] [--steps N]
#
# libtorch: $IMPRINT_TORCH_PREFIX (a folder with share/cmake/Torch), else the torch of the project venv
# (.venv/, launch/setup.sh), else of `python3` (the PyPI wheel carries a CUDA libtorch). NCCL: the wheel's
# nvidia-nccl package, else /usr/include + the system's libnccl. The other dependencies are
# launch/setup.sh's. Extra CMake arguments: $IMPRINT_CMAKE_ARGS.
# --tests also builds and runs the GPU tests (CUDA optimizer, NCCL collectives) with ctest, and checks that a
# run stopped and resumed on the GPU ends in the same state as an uninterrupted one.
# --bench also builds and runs the GPU benchmarks (docs/benchmarks.md).
set -euo pipefail
cd "$(dirname "$0")/.."
failed=0
tests=0; bench=0; steps=100
while [ $# -gt 0 ]; do
  case "$1" in
    --tests) tests=1; shift ;;
    --bench) bench=1; shift ;;
    --steps) steps="$2"; shift 2 ;;
    *) echo "smoke-gpu: unknown option $1 (expected --tests, --bench, --steps N)" >&2; exit 2 ;;
  esac
done
fail() { echo "smoke-gpu: $*" >&2; exit 5; }
command -v nvidia-smi >/dev/null || fail "nvidia-smi not found: this machine has no NVIDIA driver"
nvidia-smi -L >/dev/null 2>&1 || fail "nvidia-smi sees no GPU"
command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ] || fail "nvcc not found (install the CUDA toolkit)"
export PATH="$PATH:/usr/local/cuda/bin"

py=python3
[ -x .venv/bin/python ] && py=.venv/bin/python
if [ -n "${IMPRINT_TORCH_PREFIX:-}" ]; then
  torch_cmake="$IMPRINT_TORCH_PREFIX/share/cmake"
else
  torch_cmake=$("$py" -c 'import torch; assert torch.version.cuda, "CPU-only torch"; print(torch.utils.cmake_prefix_path)' 2>/dev/null) ||
    fail "no CUDA libtorch: set IMPRINT_TORCH_PREFIX, or give python3 a CUDA build of torch (pip install torch)"
fi
[ -f "$torch_cmake/Torch/TorchConfig.cmake" ] || fail "$torch_cmake/Torch/TorchConfig.cmake not found"
nccl_args=()
nccl_dir=$("$py" -c 'import nvidia.nccl, os; print(list(nvidia.nccl.__path__)[0])' 2>/dev/null || true)
if [ -n "$nccl_dir" ] && [ -f "$nccl_dir/include/nccl.h" ]; then
  # The NCCL libtorch itself loads: one NCCL in the process.
  nccl_args=(-DNCCL_INCLUDE_DIR="$nccl_dir/include" -DNCCL_LIBRARY="$(ls "$nccl_dir"/lib/libnccl.so* | head -1)")
fi
arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d '. ')

echo "smoke-gpu: GPU        $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | head -1)"
echo "smoke-gpu: nvcc       $(nvcc --version | tail -1)"
echo "smoke-gpu: libtorch   $torch_cmake"
echo "smoke-gpu: NCCL       ${nccl_dir:-system}"
echo "smoke-gpu: arch       sm_$arch"

generator=()
command -v ninja >/dev/null && [ ! -f build-gpu/Makefile ] && generator=(-G Ninja)
# shellcheck disable=SC2086
cmake -S . -B build-gpu "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$torch_cmake" \
  -DIMPRINT_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$arch" -DIMPRINT_BUILD_TESTS=$([ $tests = 1 ] && echo ON || echo OFF) \
  -DIMPRINT_BUILD_BENCH=$([ $bench = 1 ] && echo ON || echo OFF) "${nccl_args[@]}" ${IMPRINT_CMAKE_ARGS:-} >build-gpu-configure.log 2>&1 || {
  tail -40 build-gpu-configure.log; fail "configure failed (build-gpu-configure.log)"; }
grep "imprint:" build-gpu-configure.log
grep -q "torch-CUDA glue=ON" build-gpu-configure.log || fail "the libtorch found has no CUDA target"
targets=(imprint)
[ $tests = 1 ] && targets+=(imprint_cuda_tests imprint_nccl_tests)
[ $bench = 1 ] && targets+=(cuda_optimizer_bench nccl_allreduce_bench)
cmake --build build-gpu -j"${IMPRINT_BUILD_JOBS:-$(nproc)}" --target "${targets[@]}"
./build-gpu/imprint --version

gpus=$(nvidia-smi -L | wc -l)
if [ $tests = 1 ]; then
  (cd build-gpu && ctest --output-on-failure -R '^(FusedOptimizerCuda|nccl\.)' --timeout 300) || failed=1
  # Resume on the GPU: two uninterrupted runs (is training bitwise repeatable here?) and one stopped half way
  # and resumed (CUDA RNG state, optimizer counter on the device); the final checkpoints' state digests.
  work=runs/smoke-gpu-resume; rm -rf "$work"
  digest() { ./build-gpu/imprint inspect "$1"/checkpoints/step-00000060.ckpt | grep -o 'state digest: [0-9a-f]*'; }
  common=(--config configs/smoke-image.yaml --set train.device=cuda --set train.steps=60 --set train.eval_every=0)
  ./build-gpu/imprint train "${common[@]}" --run-dir "$work/a" >"$work-a.log" 2>&1
  ./build-gpu/imprint train "${common[@]}" --run-dir "$work/b" >"$work-b.log" 2>&1
  ./build-gpu/imprint train "${common[@]}" --set train.stop_at=30 --run-dir "$work/c" >"$work-c.log" 2>&1
  ./build-gpu/imprint train "${common[@]}" --run-dir "$work/c" --resume >>"$work-c.log" 2>&1
  a=$(digest "$work/a"); b=$(digest "$work/b"); c=$(digest "$work/c")
  echo "smoke-gpu: resume: uninterrupted $a | again $b | stopped at 30 and resumed $c"
  if [ "$a" = "$b" ]; then
    [ "$a" = "$c" ] && echo "smoke-gpu: resume: EXACT" || { echo "smoke-gpu: resume: DIFFERS"; failed=1; }
  else
    echo "smoke-gpu: resume: not comparable: two uninterrupted GPU runs already differ (non-deterministic kernels)"
  fi
fi

if [ $bench = 1 ]; then
  ./build-gpu/bench/cuda_optimizer_bench 256 1,64 || failed=1
  mpirun --allow-run-as-root -np "$gpus" ./build-gpu/bench/nccl_allreduce_bench 1024 || failed=1
fi

for modality in image audio; do
  for precision in fp32 bf16; do
    run="runs/smoke-gpu-$modality-$precision"
    rm -rf "$run"
    echo "smoke-gpu: train $modality, $precision, $steps steps on cuda:0"
    ./build-gpu/imprint train --config "configs/smoke-$modality.yaml" --run-dir "$run" \
      --set train.device=cuda --set train.precision=$precision --set train.steps="$steps" \
      --set train.log_every=$((steps / 4)) --set train.eval_every=0 2>&1 | grep -E "step +[0-9]+/|device|held-out|error" || true
    python3 - "$run/metrics.jsonl" "$modality" "$precision" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"samples_per_s"' in l]
if not rows: sys.exit("smoke-gpu: no training records in " + sys.argv[1])
sps = sorted(r["samples_per_s"] for r in rows[1:] or rows)
print(f"smoke-gpu: {sys.argv[2]} {sys.argv[3]}: loss {rows[0]['loss']:.4f} -> {rows[-1]['loss']:.4f}, "
      f"median {sps[len(sps) // 2]:.0f} samples/s after the first log interval")
PY
  done
done
[ $failed = 0 ] || { echo "smoke-gpu: FAILED (see above)"; exit 1; }
echo "smoke-gpu: OK"
