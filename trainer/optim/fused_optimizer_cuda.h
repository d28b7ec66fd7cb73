// The CUDA side of the fused optimizer, in plain pointers so that it builds with nvcc alone (no CUDA build
// of libtorch needed): multi-tensor-apply kernels in the style of Apex's multi_tensor_apply — lists of
// tensor pointers travel in the kernel arguments, each block takes one chunk of one tensor, and one launch
// covers up to kMaxTensors tensors / kMaxBlocks chunks. The element math is update_rules.h, shared with
// the CPU loop (fused_optimizer_cpu.cpp), which is what the tests compare against.
//
// No host synchronisation: the gradient norm, the clipping/unscaling factor, the skip-on-non-finite flag and
// the step's bias corrections (from an update counter kept on the device) are computed on the device and
// read there by the update kernels.
#pragma once
#include <cuda_runtime_api.h>

#include <cstdint>
#include <vector>

#include "trainer/optim/update_rules.h"

namespace imprint::cuda {

constexpr int kMaxTensors = 32;  // tensors per launch
constexpr int kMaxBlocks = 192;  // chunks per launch (keeps the argument block under 4 KB)
constexpr int kMaxGroups = 4;    // parameter groups (distinct OptimStep constants)
constexpr int kChunk = 16384;    // elements per block
constexpr int kThreads = 256;

enum class ParamType { F32, BF16, F16 };

// Device pointers of one parameter, its gradient and its optimizer state.
struct TensorRef {
  void* param;       // ParamType elements
  const void* grad;  // same type as param
  float* master;     // float32 master weights when param is BF16/F16, else nullptr
  float* exp_avg;
  float* exp_avg_sq;
  float* max_exp_avg_sq;  // AMSGrad only, else nullptr
  int64_t numel;
  int group;  // index into the OptimStep array
};

// OptimStep in floats (it is 12 floats and an int), for laying it out in the float workspace.
constexpr int kStepFloats = (sizeof(OptimStep) + sizeof(float) - 1) / sizeof(float);

// Device scratch the step needs; sizes from workspace_floats(). Keep it between steps.
struct Workspace {
  float* chunk_partials;    // 2 * total chunks
  float* tensor_trust;      // 2 per tensor: LAMB trust ratios, then each tensor's weight decay
  int* tensor_chunk_begin;  // tensors + 1 offsets
  float* scalars;           // [0] raw grad norm, [1] grad scale, [2] skip flag (1 = skip)
  OptimStep* steps;         // kMaxGroups: this step's constants, written on the device by begin_step
  int* step_count;          // updates applied so far (skipped steps excluded); the bias corrections use it
};

// This step's hyper-parameters per group, passed by value in the kernel arguments (no copy to wait for).
struct StepHypers {
  OptimHyper group[kMaxGroups];
  int groups;
};

int64_t total_chunks(const std::vector<TensorRef>& tensors);
size_t workspace_floats(const std::vector<TensorRef>& tensors);
// Lays `base` (workspace_floats() floats of device memory) out as `*out`, zeroes it (the update counter
// starts at 0) and uploads the chunk table and each tensor's weight decay (indexed by TensorRef::group).
// Once per tensor list; synchronises `stream`.
cudaError_t prepare_workspace(const std::vector<TensorRef>& tensors, const std::vector<float>& group_weight_decay,
                              float* base, cudaStream_t stream, Workspace* out);

// Global gradient norm (deterministic: per-chunk partials summed in a fixed order); on the device, the
// factor every gradient is multiplied by (unscale by loss_scale, clip to max_norm), the skip flag, and, when
// not skipped, this step's constants and the incremented update counter.
cudaError_t begin_step(const std::vector<TensorRef>& tensors, ParamType type, float loss_scale, float max_norm,
                       const StepHypers& hypers, const Workspace& ws, cudaStream_t stream);

// One AdamW step over every tensor after begin_step; does nothing when the skip flag is set.
cudaError_t adamw_step(const std::vector<TensorRef>& tensors, ParamType type, const Workspace& ws, cudaStream_t stream);

// One LAMB step (moments + norms, trust ratios, update) after begin_step; does nothing when the skip flag is
// set. Tensors of a group with weight_decay == 0 keep trust ratio 1, as in the CPU version.
cudaError_t lamb_step(const std::vector<TensorRef>& tensors, ParamType type, const Workspace& ws, cudaStream_t stream);

}  // namespace imprint::cuda
