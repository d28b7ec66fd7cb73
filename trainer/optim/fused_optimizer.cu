// CUDA twin of fused_optimizer_cpu.cpp; see fused_optimizer_cuda.h.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "trainer/optim/fused_optimizer_cuda.h"

namespace imprint::cuda {
namespace {

struct LaunchArgs {
  void* param[kMaxTensors];
  const void* grad[kMaxTensors];
  float* master[kMaxTensors];
  float* exp_avg[kMaxTensors];
  float* exp_avg_sq[kMaxTensors];
  float* max_exp_avg_sq[kMaxTensors];
  int64_t numel[kMaxTensors];
  int group[kMaxTensors];
  int tensor_index[kMaxTensors];  // position in the caller's full tensor list
  unsigned char block_tensor[kMaxBlocks];
  int block_chunk[kMaxBlocks];   // chunk within its tensor
  int block_global[kMaxBlocks];  // chunk index over all tensors (partials slot)
};
static_assert(sizeof(LaunchArgs) <= 4096, "kernel arguments must fit the 4 KB limit of older drivers");

template <typename T>
__device__ __forceinline__ float load(const void* p, int64_t i);
template <>
__device__ __forceinline__ float load<float>(const void* p, int64_t i) {
  return static_cast<const float*>(p)[i];
}
template <>
__device__ __forceinline__ float load<__nv_bfloat16>(const void* p, int64_t i) {
  return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
}
template <>
__device__ __forceinline__ float load<__half>(const void* p, int64_t i) {
  return __half2float(static_cast<const __half*>(p)[i]);
}
template <typename T>
__device__ __forceinline__ void store(void* p, int64_t i, float v);
template <>
__device__ __forceinline__ void store<float>(void* p, int64_t i, float v) {
  static_cast<float*>(p)[i] = v;
}
template <>
__device__ __forceinline__ void store<__nv_bfloat16>(void* p, int64_t i, float v) {
  static_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16_rn(v);
}
template <>
__device__ __forceinline__ void store<__half>(void* p, int64_t i, float v) {
  static_cast<__half*>(p)[i] = __float2half_rn(v);
}

// Block-wide sum in a fixed tree order: deterministic for a fixed kThreads.
__device__ float block_sum(float x) {
  __shared__ float buf[kThreads];
  buf[threadIdx.x] = x;
  __syncthreads();
  for (int s = kThreads / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) buf[threadIdx.x] += buf[threadIdx.x + s];
    __syncthreads();
  }
  const float total = buf[0];
  __syncthreads();
  return total;
}

struct ChunkRange {
  int t;
  int64_t begin, end;
};
__device__ __forceinline__ ChunkRange chunk_of(const LaunchArgs& a) {
  const int t = a.block_tensor[blockIdx.x];
  const int64_t begin = static_cast<int64_t>(a.block_chunk[blockIdx.x]) * kChunk;
  const int64_t end = min(begin + kChunk, a.numel[t]);
  return {t, begin, end};
}

template <typename T>
__global__ void grad_sq_kernel(LaunchArgs a, float* partials) {
  const ChunkRange c = chunk_of(a);
  float acc = 0.0f;
  for (int64_t i = c.begin + threadIdx.x; i < c.end; i += kThreads) {
    const float g = load<T>(a.grad[c.t], i);
    acc += g * g;
  }
  acc = block_sum(acc);
  if (threadIdx.x == 0) partials[a.block_global[blockIdx.x]] = acc;
}

// One block: the global norm, the gradient factor and the skip flag; then, in one thread, this step's
// constants from the device's own count of applied updates (so a skipped step needs no host round trip).
__global__ void finish_step_kernel(const float* partials, int64_t chunks, float loss_scale, float max_norm,
                                   StepHypers h, float* scalars, OptimStep* steps, int* step_count) {
  float acc = 0.0f;
  for (int64_t i = threadIdx.x; i < chunks; i += kThreads) acc += partials[i];
  acc = block_sum(acc);
  if (threadIdx.x == 0) {
    const float norm = sqrtf(acc);
    const bool skip = !isfinite(norm);
    scalars[0] = norm;
    scalars[1] = gradient_scale(norm, loss_scale, max_norm);
    scalars[2] = skip ? 1.0f : 0.0f;
    if (!skip) {
      const int t = *step_count + 1;
      for (int g = 0; g < h.groups; ++g) steps[g] = step_constants(h.group[g], static_cast<double>(t));
      *step_count = t;
    }
  }
}

template <typename T>
__global__ void adamw_kernel(LaunchArgs a, const float* scalars, const OptimStep* steps) {
  if (scalars[2] != 0.0f) return;  // non-finite gradient: the step is skipped on every rank alike
  const ChunkRange c = chunk_of(a);
  const float scale = scalars[1];
  const OptimStep s = steps[a.group[c.t]];
  float* master = a.master[c.t];
  float* m = a.exp_avg[c.t];
  float* v = a.exp_avg_sq[c.t];
  float* vmax = a.max_exp_avg_sq[c.t];
  for (int64_t i = c.begin + threadIdx.x; i < c.end; i += kThreads) {
    float p = master ? master[i] : load<T>(a.param[c.t], i);
    float unused = 0.0f;
    adamw_update(p, load<T>(a.grad[c.t], i) * scale, m[i], v[i], vmax ? vmax[i] : unused, s);
    if (master) master[i] = p;
    store<T>(a.param[c.t], i, p);
  }
}

template <typename T>
__global__ void lamb_moments_kernel(LaunchArgs a, const float* scalars, const OptimStep* steps, float* p_sq,
                                    float* u_sq) {
  if (scalars[2] != 0.0f) return;
  const ChunkRange c = chunk_of(a);
  const float scale = scalars[1];
  const OptimStep s = steps[a.group[c.t]];
  const float* master = a.master[c.t];
  float* m = a.exp_avg[c.t];
  float* v = a.exp_avg_sq[c.t];
  float pp = 0.0f, uu = 0.0f;
  for (int64_t i = c.begin + threadIdx.x; i < c.end; i += kThreads) {
    const float p = master ? master[i] : load<T>(a.param[c.t], i);
    const float u = lamb_moments(p, load<T>(a.grad[c.t], i) * scale, m[i], v[i], s);
    pp += p * p;
    uu += u * u;
  }
  pp = block_sum(pp);
  uu = block_sum(uu);
  if (threadIdx.x == 0) {
    p_sq[a.block_global[blockIdx.x]] = pp;
    u_sq[a.block_global[blockIdx.x]] = uu;
  }
}

// One thread per tensor: sums its chunks' partials in chunk order.
__global__ void lamb_trust_kernel(const float* p_sq, const float* u_sq, const int* chunk_begin, const float* decays,
                                  int tensors, const float* scalars, float* trust) {
  const int t = blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= tensors || scalars[2] != 0.0f) return;
  float pp = 0.0f, uu = 0.0f;
  for (int c = chunk_begin[t]; c < chunk_begin[t + 1]; ++c) pp += p_sq[c], uu += u_sq[c];
  trust[t] = decays[t] != 0.0f ? lamb_trust_ratio(sqrtf(pp), sqrtf(uu)) : 1.0f;
}

template <typename T>
__global__ void lamb_update_kernel(LaunchArgs a, const float* scalars, const OptimStep* steps, const float* trust) {
  if (scalars[2] != 0.0f) return;
  const ChunkRange c = chunk_of(a);
  const OptimStep s = steps[a.group[c.t]];
  const float step = s.lr * trust[a.tensor_index[c.t]];
  float* master = a.master[c.t];
  const float* m = a.exp_avg[c.t];
  const float* v = a.exp_avg_sq[c.t];
  for (int64_t i = c.begin + threadIdx.x; i < c.end; i += kThreads) {
    float p = master ? master[i] : load<T>(a.param[c.t], i);
    p -= step * lamb_direction(p, m[i], v[i], s);
    if (master) master[i] = p;
    store<T>(a.param[c.t], i, p);
  }
}

// Packs tensors and their chunks into LaunchArgs and calls launch(args, blocks) whenever a pack is full.
template <typename Launch>
cudaError_t for_each_pack(const std::vector<TensorRef>& tensors, Launch&& launch) {
  LaunchArgs a{};
  int n_tensors = 0, n_blocks = 0, global = 0;
  auto flush = [&]() -> cudaError_t {
    if (n_blocks > 0) {
      launch(a, n_blocks);
      const cudaError_t e = cudaGetLastError();
      if (e != cudaSuccess) return e;
    }
    n_tensors = 0;
    n_blocks = 0;
    return cudaSuccess;
  };
  for (size_t t = 0; t < tensors.size(); ++t) {
    const TensorRef& r = tensors[t];
    const int chunks = static_cast<int>((r.numel + kChunk - 1) / kChunk);
    if (r.grad == nullptr) {  // an unused parameter: no gradient, no update (as on the CPU)
      global += chunks;
      continue;
    }
    for (int c = 0; c < chunks; ++c) {
      if (c == 0 || n_tensors == 0) {
        if (n_tensors == kMaxTensors)
          if (cudaError_t e = flush(); e != cudaSuccess) return e;
        a.param[n_tensors] = r.param;
        a.grad[n_tensors] = r.grad;
        a.master[n_tensors] = r.master;
        a.exp_avg[n_tensors] = r.exp_avg;
        a.exp_avg_sq[n_tensors] = r.exp_avg_sq;
        a.max_exp_avg_sq[n_tensors] = r.max_exp_avg_sq;
        a.numel[n_tensors] = r.numel;
        a.group[n_tensors] = r.group;
        a.tensor_index[n_tensors] = static_cast<int>(t);
        ++n_tensors;
      }
      a.block_tensor[n_blocks] = static_cast<unsigned char>(n_tensors - 1);
      a.block_chunk[n_blocks] = c;
      a.block_global[n_blocks] = global + c;
      ++n_blocks;
      if (n_blocks == kMaxBlocks) {
        // The tensor continues in the next pack: keep it as that pack's first entry.
        const int last = n_tensors - 1;
        LaunchArgs keep = a;
        if (cudaError_t e = flush(); e != cudaSuccess) return e;
        if (c + 1 < chunks) {
          a.param[0] = keep.param[last];
          a.grad[0] = keep.grad[last];
          a.master[0] = keep.master[last];
          a.exp_avg[0] = keep.exp_avg[last];
          a.exp_avg_sq[0] = keep.exp_avg_sq[last];
          a.max_exp_avg_sq[0] = keep.max_exp_avg_sq[last];
          a.numel[0] = keep.numel[last];
          a.group[0] = keep.group[last];
          a.tensor_index[0] = keep.tensor_index[last];
          n_tensors = 1;
        }
      }
    }
    global += chunks;
  }
  return flush();
}

template <typename F>
cudaError_t dispatch(ParamType type, F&& f) {
  switch (type) {
    case ParamType::F32:
      return f(float{});
    case ParamType::BF16:
      return f(__nv_bfloat16{});
    case ParamType::F16:
      return f(__half{});
  }
  return cudaErrorInvalidValue;
}

int blocks_for(int n) { return (n + kThreads - 1) / kThreads; }

}  // namespace

int64_t total_chunks(const std::vector<TensorRef>& tensors) {
  int64_t n = 0;
  for (const auto& r : tensors) n += (r.numel + kChunk - 1) / kChunk;
  return n;
}

size_t workspace_floats(const std::vector<TensorRef>& tensors) {
  // partials (2 per chunk), trust + decay (2 per tensor), chunk offsets (tensors + 1 ints), 4 scalars,
  // the groups' step constants, the applied-update counter
  return 2 * total_chunks(tensors) + 2 * tensors.size() + (tensors.size() + 1) + 4 + kStepFloats * kMaxGroups + 1;
}

cudaError_t prepare_workspace(const std::vector<TensorRef>& tensors, const std::vector<float>& group_weight_decay,
                              float* base, cudaStream_t stream, Workspace* out) {
  const size_t chunks = total_chunks(tensors), n = tensors.size();
  Workspace ws;
  ws.chunk_partials = base;
  ws.tensor_trust = base + 2 * chunks;
  ws.tensor_chunk_begin = reinterpret_cast<int*>(base + 2 * chunks + 2 * n);
  ws.scalars = base + 2 * chunks + 2 * n + (n + 1);
  ws.steps = reinterpret_cast<OptimStep*>(ws.scalars + 4);
  ws.step_count = reinterpret_cast<int*>(ws.scalars + 4 + kStepFloats * kMaxGroups);
  std::vector<int> begin(n + 1, 0);
  for (size_t t = 0; t < n; ++t) begin[t + 1] = begin[t] + static_cast<int>((tensors[t].numel + kChunk - 1) / kChunk);
  std::vector<float> decay(n);
  for (size_t t = 0; t < n; ++t) {
    if (tensors[t].group < 0 || static_cast<size_t>(tensors[t].group) >= group_weight_decay.size())
      return cudaErrorInvalidValue;
    decay[t] = group_weight_decay[tensors[t].group];
  }
  cudaError_t e;
  if ((e = cudaMemsetAsync(base, 0, workspace_floats(tensors) * sizeof(float), stream)) != cudaSuccess) return e;
  if ((e = cudaMemcpyAsync(ws.tensor_chunk_begin, begin.data(), begin.size() * sizeof(int), cudaMemcpyHostToDevice,
                           stream)) != cudaSuccess)
    return e;
  if ((e = cudaMemcpyAsync(ws.tensor_trust + n, decay.data(), n * sizeof(float), cudaMemcpyHostToDevice, stream)) !=
      cudaSuccess)
    return e;
  // `begin` and `decay` are host temporaries; this runs once per optimizer, not per step.
  if ((e = cudaStreamSynchronize(stream)) != cudaSuccess) return e;
  *out = ws;
  return cudaSuccess;
}

cudaError_t begin_step(const std::vector<TensorRef>& tensors, ParamType type, float loss_scale, float max_norm,
                       const StepHypers& hypers, const Workspace& ws, cudaStream_t stream) {
  if (hypers.groups < 1 || hypers.groups > kMaxGroups) return cudaErrorInvalidValue;
  const int64_t chunks = total_chunks(tensors);
  // Chunks of unused parameters keep a zero partial.
  cudaError_t e = cudaMemsetAsync(ws.chunk_partials, 0, chunks * sizeof(float), stream);
  if (e != cudaSuccess) return e;
  e = dispatch(type, [&](auto tag) {
    using T = decltype(tag);
    return for_each_pack(tensors, [&](const LaunchArgs& a, int blocks) {
      grad_sq_kernel<T><<<blocks, kThreads, 0, stream>>>(a, ws.chunk_partials);
    });
  });
  if (e != cudaSuccess) return e;
  finish_step_kernel<<<1, kThreads, 0, stream>>>(ws.chunk_partials, chunks, loss_scale, max_norm, hypers, ws.scalars,
                                                 ws.steps, ws.step_count);
  return cudaGetLastError();
}

cudaError_t adamw_step(const std::vector<TensorRef>& tensors, ParamType type, const Workspace& ws,
                       cudaStream_t stream) {
  return dispatch(type, [&](auto tag) {
    using T = decltype(tag);
    return for_each_pack(tensors, [&](const LaunchArgs& a, int blocks) {
      adamw_kernel<T><<<blocks, kThreads, 0, stream>>>(a, ws.scalars, ws.steps);
    });
  });
}

cudaError_t lamb_step(const std::vector<TensorRef>& tensors, ParamType type, const Workspace& ws, cudaStream_t stream) {
  const int64_t chunks = total_chunks(tensors);
  const int n = static_cast<int>(tensors.size());
  float* p_sq = ws.chunk_partials;
  float* u_sq = ws.chunk_partials + chunks;
  const float* decays = ws.tensor_trust + n;  // uploaded by prepare_workspace
  cudaError_t e = cudaMemsetAsync(ws.chunk_partials, 0, 2 * chunks * sizeof(float), stream);
  if (e != cudaSuccess) return e;
  e = dispatch(type, [&](auto tag) {
    using T = decltype(tag);
    return for_each_pack(tensors, [&](const LaunchArgs& a, int blocks) {
      lamb_moments_kernel<T><<<blocks, kThreads, 0, stream>>>(a, ws.scalars, ws.steps, p_sq, u_sq);
    });
  });
  if (e != cudaSuccess) return e;
  lamb_trust_kernel<<<blocks_for(n), kThreads, 0, stream>>>(p_sq, u_sq, ws.tensor_chunk_begin, decays, n, ws.scalars,
                                                            ws.tensor_trust);
  if ((e = cudaGetLastError()) != cudaSuccess) return e;
  return dispatch(type, [&](auto tag) {
    using T = decltype(tag);
    return for_each_pack(tensors, [&](const LaunchArgs& a, int blocks) {
      lamb_update_kernel<T><<<blocks, kThreads, 0, stream>>>(a, ws.scalars, ws.steps, ws.tensor_trust);
    });
  });
}

}  // namespace imprint::cuda
